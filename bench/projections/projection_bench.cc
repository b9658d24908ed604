// Projection benchmarks (docs/projections.md):
//
//   BM_RawIterator          a raw RocksDB iterator over the log column family
//                           (key + value bytes touched): the physical limit.
//   BM_ScanAll              EventStore::ScanAll (decode + CRC32C per record).
//   BM_CatchUp/<kind>       a new async projection catching up from position 0
//                           to the end (1M events), default options; kind 0 =
//                           no-op Apply, 1 = a counter per event type (Get +
//                           Put per event through the writer's overlay).
//   BM_Rebuild              RebuildProjection() of the counter: wipe + replay
//                           of 1M events.
//   BM_LagUnderLoad/<rate>  an appender sustains <rate> events/s (0 = as fast
//                           as it can) in appends of 10 events for 3 s while
//                           an async counter projection follows; reports the
//                           lag (events) seen by a 1 ms sampler and the time
//                           to drain after the load stops.
//
// Goal: catch-up >= 0.5x the raw iterator's records/s.
//
// The 1M-event store is built once (buffered appends of 100 events to 1000
// streams, ~110-byte JSON payloads, then compacted) in
// $ANNALS_BENCH_DIR/projections (default /tmp/annals-bench/projections).
//
//   build-proj/bench/projections/projection_bench --benchmark_repetitions=3

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "benchmark/benchmark.h"
#include "eventstore/internal/store_access.h"

namespace {

constexpr int64_t kEvents = 1'000'000;
constexpr int kStreams = 1000;
constexpr int kPerAppend = 100;
const char* const kTypes[] = {"ItemAdded", "OrderPlaced", "OrderPaid", "OrderServed"};

std::string BenchDir() {
  const char* env = std::getenv("ANNALS_BENCH_DIR");
  return std::string(env != nullptr ? env : "/tmp/annals-bench");
}

std::string Payload(int64_t i) {
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "{\"sku\":\"sku-%03lld\",\"qty\":%lld,\"price_cents\":%lld,"
                "\"note\":\"benchmark payload of about one hundred bytes\"}",
                static_cast<long long>(i % 500), static_cast<long long>(1 + i % 5),
                static_cast<long long>(100 + i % 900));
  return buf;
}

void Die(const char* what, const absl::Status& s) {
  std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
  std::abort();
}

annals::EventStore& Store() {
  static annals::EventStore* store = [] {
    const std::string dir = BenchDir() + "/projections";
    const std::string marker = dir + "/READY";
    const bool ready = std::ifstream(marker).good();
    if (!ready) {
      std::system(("rm -rf '" + dir + "' && mkdir -p '" + BenchDir() + "'").c_str());
    }
    annals::Options options;
    options.durability = annals::Durability::kBuffered;
    auto opened = annals::EventStore::Open(dir, options);
    if (!opened.ok()) Die("open", opened.status());
    annals::EventStore* s = opened->release();
    if (!ready) {
      std::fprintf(stderr, "building %s (1M events, once)...\n", dir.c_str());
      std::vector<std::string> payloads(kPerAppend);
      std::vector<annals::NewEvent> events(kPerAppend);
      for (int64_t i = 0; i < kEvents; i += kPerAppend) {
        for (int j = 0; j < kPerAppend; ++j) {
          payloads[j] = Payload(i + j);
          events[j] = annals::NewEvent{.type = kTypes[(i + j) % 4], .payload = payloads[j]};
        }
        auto r = s->Append("order-" + std::to_string((i / kPerAppend) % kStreams),
                           annals::ExpectedVersion::Any(), events);
        if (!r.ok()) Die("append", r.status());
      }
      rocksdb::CompactRangeOptions compact;
      for (rocksdb::ColumnFamilyHandle* family : annals::internal::StoreAccess::AllFamilies(*s)) {
        if (!annals::internal::StoreAccess::Db(*s)
                 ->CompactRange(compact, family, nullptr, nullptr)
                 .ok())
          std::abort();
      }
      std::ofstream(marker) << "built\n";
    }
    return s;
  }();
  return *store;
}

class NoOp : public annals::Projection {
 public:
  explicit NoOp(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  absl::Status Apply(const annals::EventView&, annals::ReadModelWriter&) override {
    return absl::OkStatus();
  }

 private:
  std::string name_;
};

// One Get + one Put per event on a handful of keys (events per type).
class TypeCounter : public annals::Projection {
 public:
  explicit TypeCounter(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  absl::Status Apply(const annals::EventView& e, annals::ReadModelWriter& w) override {
    auto n = w.Get("per_type", e.type);
    if (!n.ok()) return n.status();
    return w.Put("per_type", e.type, std::to_string(n->has_value() ? std::stoll(**n) + 1 : 1));
  }

 private:
  std::string name_;
};

void BM_RawIterator(benchmark::State& state) {
  annals::EventStore& store = Store();
  rocksdb::DB* db = annals::internal::StoreAccess::Db(store);
  auto* log = annals::internal::StoreAccess::CoreFamily(store, annals::internal::kLogFamily);
  int64_t records = 0;
  for (auto _ : state) {
    rocksdb::ReadOptions ro;
    ro.adaptive_readahead = true;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, log));
    size_t bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      bytes += it->key().size() + it->value().size() + static_cast<uint8_t>(it->value()[0]);
      ++records;
    }
    if (!it->status().ok()) std::abort();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawIterator)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ScanAll(benchmark::State& state) {
  annals::EventStore& store = Store();
  int64_t records = 0;
  for (auto _ : state) {
    size_t bytes = 0;
    absl::Status s = store.ScanAll({}, [&](const annals::EventView& e) {
      bytes += e.payload.size();
      ++records;
      return true;
    });
    if (!s.ok()) Die("scan", s);
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScanAll)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CatchUp(benchmark::State& state) {
  annals::EventStore& store = Store();
  const uint64_t last = store.last_position();
  int64_t records = 0;
  static int run = 0;  // A new projection (name) per run, across repetitions.
  for (auto _ : state) {
    const std::string name = "catchup_" + std::to_string(state.range(0)) + "_" +
                             std::to_string(run++) + "_" + std::to_string(getpid());
    std::shared_ptr<annals::Projection> p;
    if (state.range(0) == 0) {
      p = std::make_shared<NoOp>(name);
    } else {
      p = std::make_shared<TypeCounter>(name);
    }
    auto runner = annals::ProjectionRunner::Start(store, p);
    if (!runner.ok()) Die("start", runner.status());
    if (!(*runner)->WaitForPosition(last, absl::Minutes(10))) std::abort();
    (*runner)->Stop();
    records += static_cast<int64_t>(last);
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CatchUp)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Rebuild(benchmark::State& state) {
  annals::EventStore& store = Store();
  TypeCounter counter("rebuild_counter");
  int64_t records = 0;
  for (auto _ : state) {
    absl::Status s = annals::RebuildProjection(store, counter);
    if (!s.ok()) Die("rebuild", s);
    records += static_cast<int64_t>(store.last_position());
  }
  state.counters["records_per_s"] =
      benchmark::Counter(static_cast<double>(records), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Rebuild)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LagUnderLoad(benchmark::State& state) {
  const double rate = static_cast<double>(state.range(0));
  constexpr int kBatch = 10;
  for (auto _ : state) {
    const std::string dir = BenchDir() + "/projections_lag";
    std::system(("rm -rf '" + dir + "'").c_str());
    annals::Options options;
    options.durability = annals::Durability::kBuffered;
    auto store = annals::EventStore::Open(dir, options);
    if (!store.ok()) Die("open", store.status());
    auto runner =
        annals::ProjectionRunner::Start(**store, std::make_shared<TypeCounter>("lag_counter"));
    if (!runner.ok()) Die("start", runner.status());

    std::atomic<bool> stop{false};
    std::atomic<int64_t> appended{0};
    const absl::Time start = absl::Now();
    std::thread appender([&] {
      std::vector<std::string> payloads(kBatch);
      std::vector<annals::NewEvent> events(kBatch);
      for (int64_t i = 0; !stop; i += kBatch) {
        for (int j = 0; j < kBatch; ++j) {
          payloads[j] = Payload(i + j);
          events[j] = annals::NewEvent{.type = kTypes[(i + j) % 4], .payload = payloads[j]};
        }
        auto r = (*store)->Append("order-" + std::to_string((i / kBatch) % kStreams),
                                  annals::ExpectedVersion::Any(), events);
        if (!r.ok()) Die("append", r.status());
        appended += kBatch;
        if (rate > 0) {
          const absl::Time due = start + absl::Seconds(static_cast<double>(i + kBatch) / rate);
          const absl::Time now = absl::Now();
          if (due > now) absl::SleepFor(due - now);
        }
      }
    });
    std::vector<uint64_t> lags;
    while (absl::Now() - start < absl::Seconds(3)) {
      lags.push_back((*runner)->status().lag);
      absl::SleepFor(absl::Milliseconds(1));
    }
    stop = true;
    appender.join();
    const absl::Time load_end = absl::Now();
    const uint64_t last = (*store)->last_position();
    if (!(*runner)->WaitForPosition(last, absl::Minutes(5))) std::abort();
    const double drain_ms = absl::ToDoubleMilliseconds(absl::Now() - load_end);
    std::sort(lags.begin(), lags.end());
    state.counters["append_events_per_s"] =
        static_cast<double>(appended.load()) / absl::ToDoubleSeconds(load_end - start);
    state.counters["lag_p50"] = static_cast<double>(lags[lags.size() / 2]);
    state.counters["lag_p99"] = static_cast<double>(lags[lags.size() * 99 / 100]);
    state.counters["lag_max"] = static_cast<double>(lags.back());
    state.counters["drain_ms"] = drain_ms;
    (*runner)->Stop();
  }
}
BENCHMARK(BM_LagUnderLoad)
    ->Arg(20'000)
    ->Arg(100'000)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
