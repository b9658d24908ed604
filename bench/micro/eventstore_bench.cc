// Google Benchmark microbenchmarks of annals' hot paths: append (durable and
// buffered), stream read, global-log scan, and the record envelope codec.
// Stores live in fresh temporary directories under $TMPDIR (default /tmp);
// durable figures depend on the disk's fsync latency.
//
//   build-bench/bench/micro/annals_micro_bench --benchmark_filter=Append

#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "annals/statistics.h"
#include "codec/internal/record_codec.h"
#include "common/sha256.h"

namespace annals::bench {
namespace {

class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/annals-micro-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
  }
  return s;
}

std::unique_ptr<EventStore> OpenOrDie(const std::string& path, Durability d,
                                      std::shared_ptr<Statistics> statistics = nullptr,
                                      PayloadCompression compression = PayloadCompression::kNone) {
  Options o;
  o.durability = d;
  o.statistics = std::move(statistics);
  o.payload_compression = compression;
  auto store = EventStore::Open(path + "/store", o);
  if (!store.ok()) std::abort();
  return std::move(*store);
}

// Events with fresh ids (nil ids: the store generates UUIDv7s) and 200-byte
// random payloads.
std::vector<NewEvent> MakeEvents(const std::string& payload, size_t n) {
  std::vector<NewEvent> events(n);
  for (auto& e : events) {
    e.type = "BenchEvent";
    e.content_type = ContentType::kBytes;
    e.payload = payload;
  }
  return events;
}

void AppendLoop(benchmark::State& state, Durability durability,
                std::shared_ptr<Statistics> statistics = nullptr) {
  ScratchDir dir;
  auto store = OpenOrDie(dir.path(), durability, std::move(statistics));
  std::mt19937_64 rng(1);
  const std::string payload = RandomBytes(rng, 200);
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<NewEvent> events = MakeEvents(payload, batch);
  uint64_t version = 0;
  int stream = 0;
  std::string name = "s-0";
  for (auto _ : state) {
    if (version >= 1000) {
      name = "s-" + std::to_string(++stream);
      version = 0;
    }
    auto r = store->Append(name, ExpectedVersion::Exact(version), events);
    if (!r.ok()) state.SkipWithError("append failed");
    version += batch;
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_AppendDurable(benchmark::State& state) { AppendLoop(state, Durability::kSync); }
BENCHMARK(BM_AppendDurable)->Arg(1)->Arg(100)->UseRealTime();

void BM_AppendBuffered(benchmark::State& state) { AppendLoop(state, Durability::kBuffered); }
BENCHMARK(BM_AppendBuffered)->Arg(1)->Arg(100)->UseRealTime();

// A JSON document of about `bytes` bytes that compresses like real events
// (repeated field names, varying values): zstd level 1 keeps about a fifth.
std::string Document(std::mt19937_64& rng, size_t bytes) {
  std::string d = "{\"lines\":[";
  while (d.size() < bytes) {
    d += "{\"sku\":\"SKU-" + std::to_string(rng() % 500) +
         "\",\"qty\":" + std::to_string(rng() % 9 + 1) +
         ",\"price\":" + std::to_string(rng() % 10000) + ",\"note\":\"gift wrap\"},";
  }
  return d + "{}]}";
}

// Buffered appends of 100 JSON documents of 2 KiB, with payload compression
// off (0) or zstd (1): what compression costs the committer.
void BM_AppendBufferedDocuments(benchmark::State& state) {
  ScratchDir dir;
  const auto compression =
      state.range(0) != 0 ? PayloadCompression::kZstd : PayloadCompression::kNone;
  auto store = OpenOrDie(dir.path(), Durability::kBuffered, nullptr, compression);
  std::mt19937_64 rng(5);
  std::vector<std::string> payloads;
  for (int i = 0; i < 100; ++i) payloads.push_back(Document(rng, 2048));
  std::vector<NewEvent> events(payloads.size());
  for (size_t i = 0; i < events.size(); ++i) {
    events[i] = NewEvent{.type = "LinesAdded", .payload = payloads[i]};
  }
  uint64_t appended = 0;
  for (auto _ : state) {
    auto r = store->Append("s-" + std::to_string(appended / 1000), ExpectedVersion::Any(), events);
    if (!r.ok()) state.SkipWithError("append failed");
    appended += events.size();
  }
  state.SetItemsProcessed(static_cast<int64_t>(appended));
  state.SetBytesProcessed(static_cast<int64_t>(appended) * 2048);
  state.SetLabel(state.range(0) != 0 ? "zstd" : "none");
}
BENCHMARK(BM_AppendBufferedDocuments)->Arg(0)->Arg(1)->UseRealTime();

// The cost of Options::statistics on the append path: the same buffered
// appends with statistics off (second arg 0) and on (1), to be run side by
// side in one process with interleaved repetitions (docs/statistics.md):
//   annals_micro_bench --benchmark_filter=Statistics --benchmark_repetitions=10
//     --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
void BM_AppendBufferedStatistics(benchmark::State& state) {
  AppendLoop(state, Durability::kBuffered, state.range(1) != 0 ? CreateStatistics() : nullptr);
  state.SetLabel(state.range(1) != 0 ? "statistics_on" : "statistics_off");
}
BENCHMARK(BM_AppendBufferedStatistics)
    ->ArgNames({"batch", "stats"})
    ->ArgsProduct({{1, 100}, {0, 1}})
    ->UseRealTime();

// The same cost measured where a loaded machine cannot hide it: two stores,
// statistics off and on, take turns in blocks of appends within one
// iteration (the order alternates), and each block's CPU time is read from
// the appending thread's own clock (the committer is the appending thread
// when one thread appends, and waiting for a core is not counted). The
// ratio of each pair of blocks is taken, and the median over all pairs
// reported as on_over_off; off_ns/on_ns are CPU nanoseconds per append.
int64_t ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void BM_StatisticsCostPaired(benchmark::State& state) {
  const size_t batch = static_cast<size_t>(state.range(0));
  const size_t block = batch == 1 ? 200 : 4;  // Appends per store per iteration.
  ScratchDir dir_off, dir_on;
  std::unique_ptr<EventStore> stores[2] = {
      OpenOrDie(dir_off.path(), Durability::kBuffered),
      OpenOrDie(dir_on.path(), Durability::kBuffered, CreateStatistics())};
  std::mt19937_64 rng(1);
  const std::string payload = RandomBytes(rng, 200);
  std::vector<NewEvent> events = MakeEvents(payload, batch);
  uint64_t version[2] = {0, 0};
  int stream[2] = {0, 0};
  auto append_block = [&](int s) {
    const int64_t start = ThreadCpuNanos();
    for (size_t i = 0; i < block; ++i) {
      if (version[s] >= 1000) {
        ++stream[s];
        version[s] = 0;
      }
      auto r = stores[s]->Append("s-" + std::to_string(stream[s]),
                                 ExpectedVersion::Exact(version[s]), events);
      if (!r.ok()) state.SkipWithError("append failed");
      version[s] += batch;
    }
    return ThreadCpuNanos() - start;
  };
  std::vector<double> ratios;
  int64_t cpu[2] = {0, 0};
  bool on_first = false;
  for (auto _ : state) {
    int64_t t[2];
    if (on_first) {
      t[1] = append_block(1);
      t[0] = append_block(0);
    } else {
      t[0] = append_block(0);
      t[1] = append_block(1);
    }
    on_first = !on_first;
    cpu[0] += t[0];
    cpu[1] += t[1];
    if (t[0] > 0) ratios.push_back(static_cast<double>(t[1]) / static_cast<double>(t[0]));
  }
  std::sort(ratios.begin(), ratios.end());
  const double appends = static_cast<double>(state.iterations() * block);
  state.counters["off_ns"] = static_cast<double>(cpu[0]) / appends;
  state.counters["on_ns"] = static_cast<double>(cpu[1]) / appends;
  state.counters["on_over_off"] = ratios.empty() ? 0 : ratios[ratios.size() / 2];
  state.SetItemsProcessed(state.iterations() * block * batch * 2);
}
BENCHMARK(BM_StatisticsCostPaired)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond);

// Concurrent appenders on one store (one stream each), shared by the
// benchmarks below.
std::unique_ptr<ScratchDir> g_shared_dir;
std::unique_ptr<EventStore> g_shared_store;

void ConcurrentAppendLoop(benchmark::State& state, Durability durability,
                          std::shared_ptr<Statistics> statistics = nullptr) {
  if (state.thread_index() == 0) {
    g_shared_dir = std::make_unique<ScratchDir>();
    g_shared_store = OpenOrDie(g_shared_dir->path(), durability, std::move(statistics));
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  const std::string payload = RandomBytes(rng, 200);
  std::vector<NewEvent> events = MakeEvents(payload, 1);
  const std::string name = "t-" + std::to_string(state.thread_index());
  uint64_t version = 0;
  for (auto _ : state) {
    auto r = g_shared_store->Append(name, ExpectedVersion::Exact(version), events);
    if (!r.ok()) state.SkipWithError("append failed");
    ++version;
  }
  state.SetItemsProcessed(state.iterations());
  // Every thread has passed the loop's end barrier: close the store before
  // static destruction (RocksDB's own statics may be gone by then).
  if (state.thread_index() == 0) {
    g_shared_store.reset();
    g_shared_dir.reset();
  }
}

// Concurrent durable appenders: shows the group commit (events per fsync
// grow with the number of waiting appenders).
void BM_AppendDurableConcurrent(benchmark::State& state) {
  ConcurrentAppendLoop(state, Durability::kSync);
}
BENCHMARK(BM_AppendDurableConcurrent)->Threads(1)->Threads(8)->UseRealTime();

// Eight buffered appenders, statistics off (0) and on (1): with statistics
// on, they and the committer record into the same object at once.
void BM_AppendBufferedConcurrentStatistics(benchmark::State& state) {
  // Only the thread that opens the store uses the object.
  ConcurrentAppendLoop(
      state, Durability::kBuffered,
      state.range(0) != 0 && state.thread_index() == 0 ? CreateStatistics() : nullptr);
  state.SetLabel(state.range(0) != 0 ? "statistics_on" : "statistics_off");
}
BENCHMARK(BM_AppendBufferedConcurrentStatistics)
    ->ArgName("stats")
    ->Arg(0)
    ->Arg(1)
    ->Threads(8)
    ->UseRealTime();

// A store with `streams` interleaved streams of `per_stream` events each.
struct ReadFixture {
  ScratchDir dir;
  std::unique_ptr<EventStore> store;
  ReadFixture(int streams, int per_stream) {
    store = OpenOrDie(dir.path(), Durability::kBuffered);
    std::mt19937_64 rng(7);
    const std::string payload = RandomBytes(rng, 200);
    std::vector<NewEvent> events = MakeEvents(payload, 100);
    for (int v = 0; v < per_stream; v += 100) {
      for (int s = 0; s < streams; ++s) {
        auto r = store->Append("s-" + std::to_string(s), ExpectedVersion::Exact(v), events);
        if (!r.ok()) std::abort();
      }
    }
  }
};

void BM_ReadStream(benchmark::State& state) {
  static ReadFixture* fixture = new ReadFixture(10, 10000);
  uint64_t n = 0;
  for (auto _ : state) {
    auto s = fixture->store->ScanStream("s-0", {}, [&](const EventView& e) {
      n += e.payload.size();
      return true;
    });
    if (!s.ok()) state.SkipWithError("read failed");
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations() * 10000);
}
BENCHMARK(BM_ReadStream)->Unit(benchmark::kMillisecond);

// Scans the whole log once per iteration; items = events delivered.
void ScanAllLoop(benchmark::State& state, EventStore& store) {
  uint64_t n = 0, events = 0;
  for (auto _ : state) {
    auto s = store.ScanAll({}, [&](const EventView& e) {
      n += e.payload.size();
      ++events;
      return true;
    });
    if (!s.ok()) state.SkipWithError("scan failed");
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(static_cast<int64_t>(events));
}

void BM_ScanAll(benchmark::State& state) {
  static ReadFixture* fixture = new ReadFixture(10, 10000);
  ScanAllLoop(state, *fixture->store);
}
BENCHMARK(BM_ScanAll)->Unit(benchmark::kMillisecond);

// BM_ScanAll when streams have retention metadata that hides nothing
// (truncate_before = 1): the cost of the per-event visibility check, against
// BM_ScanAll's fast path (no stream has metadata, nothing is looked up).
// Arg = how many of the 10 streams have metadata.
void BM_ScanAllWithMetadata(benchmark::State& state) {
  static ReadFixture* fixture = new ReadFixture(10, 10000);
  for (int s = 0; s < state.range(0); ++s) {
    auto r = fixture->store->SetStreamMetadata("s-" + std::to_string(s), ExpectedVersion::Any(),
                                               {.truncate_before = 1});
    if (!r.ok()) std::abort();
  }
  ScanAllLoop(state, *fixture->store);
}
BENCHMARK(BM_ScanAllWithMetadata)->Arg(1)->Arg(10)->Unit(benchmark::kMillisecond);

// --- envelope codec (internal) ---

struct CodecInput {
  std::string payload;
  std::string hash;
  EventView view;
  CodecInput() {
    std::mt19937_64 rng(3);
    payload = RandomBytes(rng, 200);
    hash = RandomBytes(rng, 32);
    view.position = 123456;
    view.stream = "order-42";
    view.version = 7;
    view.id = Uuid::V7();
    view.type = "BenchEvent";
    view.recorded_at_us = 1'700'000'000'000'000;
    view.content_type = ContentType::kBytes;
    view.payload = payload;
    view.hash = hash;
  }
};

void BM_EncodeRecord(benchmark::State& state) {
  CodecInput in;
  flatbuffers::FlatBufferBuilder fbb(1024);
  for (auto _ : state) {
    codec_internal::EncodeRecord(in.view, {}, 42, fbb);
    benchmark::DoNotOptimize(fbb.GetBufferPointer());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeRecord);

void BM_DecodeRecord(benchmark::State& state) {
  CodecInput in;
  const uint32_t crc = codec_internal::RecordChecksum(in.view, {}, in.hash);
  flatbuffers::FlatBufferBuilder fbb(1024);
  codec_internal::EncodeRecord(in.view, {}, crc, fbb);
  const std::string bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  const bool verify = state.range(0) != 0;
  EventView out;
  codec_internal::RecordDecoder decoder;
  for (auto _ : state) {
    if (!decoder.Decode(bytes, verify, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(verify ? "verify_checksum" : "no_checksum");
}
BENCHMARK(BM_DecodeRecord)->Arg(0)->Arg(1);

void BM_ChainHashAndChecksum(benchmark::State& state) {
  CodecInput in;
  Sha256 sha;
  for (auto _ : state) {
    const Sha256::Digest d = codec_internal::ChainHash(sha, in.hash, in.view, {});
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(codec_internal::RecordChecksum(in.view, {}, in.hash));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ChainHashAndChecksum);

// The committer's whole per-record codec work (payload pipeline, chain hash,
// checksum, FlatBuffers) and a checksum-verified decode, for a 2 KiB JSON
// document stored as appended (0) or zstd-compressed (1).
void BM_RecordCodecDocument(benchmark::State& state) {
  std::mt19937_64 rng(9);
  const std::string document = Document(rng, 2048);
  CodecInput in;
  in.view.content_type = ContentType::kJson;
  in.view.payload = document;
  codec_internal::PayloadCodecOptions options;
  if (state.range(0) != 0) options.compression = codec_internal::StoredCompression::kZstd;
  codec_internal::RecordEncoder encoder(&options);
  codec_internal::RecordDecoder decoder;
  flatbuffers::FlatBufferBuilder fbb(4096);
  EventView out;
  size_t stored = 0;
  for (auto _ : state) {
    if (!encoder.Encode(in.view, in.hash, fbb).ok()) state.SkipWithError("encode failed");
    stored = fbb.GetSize();
    const std::string_view bytes(reinterpret_cast<const char*>(fbb.GetBufferPointer()), stored);
    if (!decoder.Decode(bytes, true, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.payload.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["record_bytes"] = static_cast<double>(stored);
  state.SetLabel(state.range(0) != 0 ? "zstd" : "none");
}
BENCHMARK(BM_RecordCodecDocument)->Arg(0)->Arg(1);

}  // namespace
}  // namespace annals::bench

BENCHMARK_MAIN();
