// Aggregate load time against history length (1k, 10k, 100k, 1M events in one
// stream), with a full replay and with snapshots taken every 100 events.
//
// Goals (docs/aggregates.md): a full replay applies >= 1M events/s; with
// snapshots the 1M-event load is within 1.5x of the 1k-event load.
//
// The store (1.11M events) is built once with buffered durability, through
// Repository::Save() in batches of 100 events with snapshot_every = 100, and
// kept on disk between runs in $ANNALS_BENCH_DIR/aggregate_load (default
// /tmp/annals-bench/aggregate_load); delete it to rebuild.
//
//   build-agg/bench/aggregates/aggregate_load_bench --benchmark_repetitions=3

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "annals/aggregate.h"
#include "annals/event_registry.h"
#include "annals/repository.h"
#include "bench_account_generated.h"
#include "benchmark/benchmark.h"
#include "codec/internal/record_codec.h"
#include "common/coding.h"
#include "eventstore/internal/store_access.h"

namespace annals_bench {

extern const std::string_view kAccountSchema;

const annals::EventRegistry& Registry() {
  static const annals::EventRegistry* registry = [] {
    auto* r = new annals::EventRegistry();
    if (!r->AddSchema(kAccountSchema).ok() || !r->Register<Deposited>("Deposited").ok()) {
      std::abort();
    }
    return r;
  }();
  return *registry;
}

class Account : public annals::Aggregate<Account, AccountStateT> {
 public:
  using Events = annals::EventList<Deposited>;
  static const annals::AggregateSpec& Spec() {
    static const annals::AggregateSpec spec{.name = "account",
                                            .registry = &Registry(),
                                            .state_schema = kAccountSchema,
                                            .state_table = "annals_bench.AccountState"};
    return spec;
  }
  using Aggregate::Aggregate;

  absl::Status Deposit(int64_t cents, std::string memo) {
    if (cents <= 0) return absl::InvalidArgumentError("deposit must be positive");
    DepositedT e;
    e.amount_cents = cents;
    e.memo = std::move(memo);
    return Raise(e);
  }

 private:
  friend class annals::Aggregate<Account, AccountStateT>;
  void Apply(const Deposited& e) {
    AccountStateT& s = mutable_state();
    s.balance_cents += e.amount_cents();
    ++s.deposits;
    (void)e.memo();  // a real Apply reads its fields; keep the access
  }
};

namespace {

constexpr int64_t kSizes[] = {1'000, 10'000, 100'000, 1'000'000};
constexpr uint64_t kSnapshotEvery = 100;
constexpr std::string_view kReadyMarker = "READY-v1";

std::string StreamName(int64_t n) { return "account-" + std::to_string(n); }

std::string StoreDir() {
  const char* base = std::getenv("ANNALS_BENCH_DIR");
  std::string dir = base != nullptr ? base : "/tmp/annals-bench";
  ::mkdir(dir.c_str(), 0755);
  return dir + "/aggregate_load";
}

// Opens the cached store, building it the first time.
annals::EventStore& Store() {
  static annals::EventStore* store = [] {
    const std::string dir = StoreDir();
    const std::string marker = dir + "/" + std::string(kReadyMarker);
    const bool ready = std::ifstream(marker).good();
    if (!ready) std::system(("rm -rf '" + dir + "'").c_str());
    annals::Options options;
    options.durability = annals::Durability::kBuffered;
    auto opened = annals::EventStore::Open(dir, options);
    if (!opened.ok()) {
      std::fprintf(stderr, "cannot open %s: %s\n", dir.c_str(),
                   std::string(opened.status().message()).c_str());
      std::abort();
    }
    annals::EventStore* s = opened->release();
    if (!ready) {
      std::fprintf(stderr, "building %s (1.11M events, once)...\n", dir.c_str());
      annals::Repository<Account> repo(*s, {.snapshot_every = kSnapshotEvery, .keep_snapshots = 2});
      for (int64_t n : kSizes) {
        Account account(StreamName(n));
        for (int64_t i = 1; i <= n; ++i) {
          if (!account.Deposit(100 + i % 900, "deposit #" + std::to_string(i)).ok()) std::abort();
          if (i % kSnapshotEvery == 0 || i == n) {
            auto saved = repo.Save(account);
            if (!saved.ok()) {
              std::fprintf(stderr, "save: %s\n", std::string(saved.status().message()).c_str());
              std::abort();
            }
          }
        }
      }
      if (repo.stats().snapshot_failures != 0) std::abort();
      std::ofstream(marker) << "built\n";
    }
    const std::string compacted = dir + "/COMPACTED";
    if (!std::ifstream(compacted).good()) {
      // Settle the LSM tree (a long-running service's store has compacted
      // long ago); otherwise background compactions of the fresh data compete
      // with the measured loads.
      rocksdb::CompactRangeOptions compact;
      for (rocksdb::ColumnFamilyHandle* family : annals::internal::StoreAccess::AllFamilies(*s)) {
        if (!annals::internal::StoreAccess::Db(*s)
                 ->CompactRange(compact, family, nullptr, nullptr)
                 .ok())
          std::abort();
      }
      std::ofstream(compacted) << "compacted\n";
    }
    return s;
  }();
  return *store;
}

void BM_LoadAggregate(benchmark::State& state) {
  const int64_t n = state.range(0);
  const bool snapshots = state.range(1) != 0;
  annals::EventStore& store = Store();
  annals::Repository<Account> repo(store);  // snapshot_every 0: loads never write
  const std::string stream = StreamName(n);
  uint64_t replayed = 0;
  for (auto _ : state) {
    annals::LoadInfo info;
    auto account = repo.Load(stream, {.use_snapshots = snapshots}, &info);
    if (!account.ok() || account->version() != static_cast<uint64_t>(n)) {
      state.SkipWithError("load failed or wrong version");
      return;
    }
    benchmark::DoNotOptimize(account->state().balance_cents);
    replayed += info.events_replayed;
  }
  state.counters["events"] = static_cast<double>(n);
  state.counters["replayed_per_load"] =
      static_cast<double>(replayed) / static_cast<double>(state.iterations());
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(replayed), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_LoadAggregate)
    ->ArgNames({"events", "snapshots"})
    ->ArgsProduct({{1'000, 10'000, 100'000, 1'000'000}, {0, 1}})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// What a load's replay would cost if the stream's records were read with one
// log iterator (Seek once, Next while positions are consecutive) instead of
// EventStore::ScanStream()'s MultiGet per 128 positions: the same index walk,
// record decoding (with CRC check) and Apply(). Kept as evidence for a
// read-path change in the core (see docs/aggregates.md, "Benchmark").
void BM_LoadAggregateLogIterator(benchmark::State& state) {
  const int64_t n = state.range(0);
  annals::EventStore& store = Store();
  rocksdb::DB* db = annals::internal::StoreAccess::Db(store);
  const std::string stream = StreamName(n);
  std::string head_value;
  annals::internal::Head head;
  if (!db->Get(rocksdb::ReadOptions(),
               annals::internal::StoreAccess::CoreFamily(store, annals::internal::kHeadsFamily),
               stream, &head_value)
           .ok() ||
      !annals::internal::DecodeHead(head_value, &head)) {
    state.SkipWithError("no head");
    return;
  }
  for (auto _ : state) {
    Account account(stream);
    std::unique_ptr<rocksdb::Iterator> index(db->NewIterator(
        rocksdb::ReadOptions(),
        annals::internal::StoreAccess::CoreFamily(store, annals::internal::kStreamIndexFamily)));
    std::unique_ptr<rocksdb::Iterator> log(db->NewIterator(
        rocksdb::ReadOptions(),
        annals::internal::StoreAccess::CoreFamily(store, annals::internal::kLogFamily)));
    annals::EventView view;
    annals::codec_internal::RecordDecoder decoder;
    bool first = true;
    uint64_t last_position = 0;
    for (index->Seek(annals::internal::StreamIndexKey(head.stream_id, 1)); index->Valid();
         index->Next()) {
      if (annals::coding::DecodeBigEndian64(std::string_view(index->key().data(), 8)) !=
          head.stream_id) {
        break;
      }
      const uint64_t position =
          annals::coding::DecodeBigEndian64(std::string_view(index->value().data(), 8));
      if (first || position != last_position + 1) {
        log->Seek(annals::coding::BigEndian64(position));
      } else {
        log->Next();
      }
      first = false;
      last_position = position;
      if (!log->Valid() ||
          !decoder.Decode(std::string_view(log->value().data(), log->value().size()), true, &view)
               .ok() ||
          !account.ApplyStored(view).ok()) {
        state.SkipWithError("replay failed");
        return;
      }
    }
    if (account.version() != static_cast<uint64_t>(n)) {
      state.SkipWithError("wrong version");
      return;
    }
    benchmark::DoNotOptimize(account.state().balance_cents);
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoadAggregateLogIterator)
    ->ArgName("events")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// Apply rate without the store: events decoded and applied from memory.
void BM_ApplyInMemory(benchmark::State& state) {
  std::vector<std::string> payloads;
  Account source("account-mem");
  for (int i = 1; i <= 10'000; ++i) {
    if (!source.Deposit(100 + i, "deposit #" + std::to_string(i)).ok()) std::abort();
  }
  for (const annals::PendingEvent& e : source.pending_events()) payloads.push_back(e.payload);
  for (auto _ : state) {
    Account account("account-mem");
    uint64_t v = 0;
    for (const std::string& p : payloads) {
      if (!account.ApplyStored(++v, "Deposited", 1, p).ok()) std::abort();
    }
    benchmark::DoNotOptimize(account.state().balance_cents);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(payloads.size()));
}
BENCHMARK(BM_ApplyInMemory)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace annals_bench

BENCHMARK_MAIN();
