// annals_bench_driver: runs ONE measurement of one workload on one system in
// this process and prints one JSON line, so that the comparison runner
// (bench/run_comparison.py) can read each measurement's peak RSS from the
// process and alternate systems fairly. See docs/benchmarks.md.
//
//   annals_bench_driver --system annals|rocksdb|sqlite --dir DIR --op OP [flags]
//
// OPs:
//   append       appenders (--threads) append batches (--batch) of events to
//                their own streams with exact expected versions, for
//                --seconds or until --events in total; --durable 1|0.
//                --interleave K: each appender rotates over K open streams;
//                --stream-events: a stream is closed after this many events.
//                --segment N: also report the rate of every N events
//                ("segments", for the growth workload; single appender only)
//                and the resident memory at the end of each ("segments_rss_mb"),
//                which shows whether memory follows the caches or the store,
//                and the appending thread's CPU time per event in each
//                ("segments_cpu_us"): unlike the rate, it does not count time
//                the thread waited for a core, so it separates work that grows
//                with the store from background compaction and other tenants;
//                the whole process's CPU per event ("segments_process_cpu_us",
//                the appender plus flushes and compactions) and the bytes
//                written to storage per event ("segments_write_bytes": WAL,
//                flushes and compactions, from /proc/self/io).
//                --ids random|v7: random 16-byte ids (default, the worst
//                case for an id index) or time-ordered UUIDv7-shaped ids.
//   --block-cache-mb M: block cache of annals and rocksdb (default: annals'
//                default); any op.
//   --statistics 1: annals records into Options::statistics (default 0, off),
//                to measure what statistics cost (docs/statistics.md); any op.
//   read-stream  reads stream --stream forward, --repeat times.
//   scan-all     reads the global log in order, --repeat times.
//
// Output: {"events":N,"seconds":S,"events_per_s":R,"peak_rss_mb":M
//          [,"segments":[...],"segments_rss_mb":[...],"segments_cpu_us":[...],
//           "segments_process_cpu_us":[...],"segments_write_bytes":[...]]}

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench/driver/backend.h"

namespace annals::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Flags {
  std::map<std::string, std::string> values;
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
  double Num(const std::string& k, double def) const {
    auto it = values.find(k);
    return it == values.end() ? def : std::strtod(it->second.c_str(), nullptr);
  }
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "annals_bench_driver: %s\n", msg.c_str());
  std::exit(1);
}

uint64_t SplitMix(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double PeakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux.
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU of the whole process (every RocksDB background thread included).
double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

// Bytes this process caused to be written to storage (WAL, flushes and
// compactions), from /proc/self/io; 0 if unreadable.
double WrittenBytes() {
  FILE* f = std::fopen("/proc/self/io", "r");
  if (f == nullptr) return 0;
  char line[128];
  unsigned long long bytes = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::sscanf(line, "write_bytes: %llu", &bytes) == 1) break;
  }
  std::fclose(f);
  return static_cast<double>(bytes);
}

// Resident memory now (not the peak), from /proc/self/statm; 0 if unreadable.
double CurrentRssMb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  if (n != 2) return 0;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

// Random, incompressible payload bytes; payloads are 200-byte windows at
// random offsets.
class PayloadPool {
 public:
  PayloadPool(uint64_t seed, size_t payload_bytes) : payload_bytes_(payload_bytes) {
    bytes_.resize(1 << 20);
    for (size_t i = 0; i + 8 <= bytes_.size(); i += 8) {
      const uint64_t v = SplitMix(seed);
      std::memcpy(&bytes_[i], &v, 8);
    }
  }
  std::string_view Pick(uint64_t r) const {
    return std::string_view(bytes_).substr(r % (bytes_.size() - payload_bytes_), payload_bytes_);
  }

 private:
  std::string bytes_;
  size_t payload_bytes_;
};

struct AppendResult {
  uint64_t events = 0;
  std::vector<double> segments;              // events/s of each --segment events.
  std::vector<double> segments_rss;          // Resident MiB at the end of each segment.
  std::vector<double> segments_process_cpu;  // Whole process's CPU µs per event.
  std::vector<double> segments_write;        // Bytes written to storage per event.
  std::vector<double> segments_cpu;          // This thread's CPU µs per event in each.
};

struct AppendSpec {
  int threads = 1;
  int batch = 1;
  double seconds = 0;   // > 0: time-bounded.
  uint64_t events = 0;  // Otherwise: count-bounded (total over all threads).
  int interleave = 1;
  uint64_t stream_events = 1000;
  uint64_t segment = 0;
  uint64_t seed = 1;
  bool time_ordered_ids = false;  // --ids v7 instead of random.
};

// A UUIDv7-shaped id (RFC 9562): 48-bit Unix milliseconds, version 7, a
// 12-bit per-millisecond counter, variant bits, 62 random bits. Ids of one
// appender thread increase, as those of Uuid::V7() do.
void TimeOrderedId(uint64_t& last_ms, uint64_t& counter, uint64_t random, char* out) {
  uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  if (ms <= last_ms) {
    ms = last_ms;
    if (++counter == 4096) {  // Counter overflow: borrow the next millisecond.
      ++ms;
      counter = 0;
    }
  } else {
    counter = 0;
  }
  last_ms = ms;
  const uint64_t hi = (ms << 16) | (0x7ULL << 12) | counter;
  const uint64_t lo = (random & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(hi >> (56 - 8 * i));
    out[8 + i] = static_cast<char>(lo >> (56 - 8 * i));
  }
}

void RunAppender(Backend& backend, const AppendSpec& spec, const PayloadPool& pool, int thread,
                 Clock::time_point deadline, uint64_t quota, std::atomic<bool>& failed,
                 AppendResult& out) {
  uint64_t rng = spec.seed * 1000003 + thread;
  uint64_t last_ms = 0, ms_counter = 0;
  struct Open {
    std::string name;
    uint64_t version = 0;
  };
  uint64_t next_stream = 0;
  std::vector<Open> open(spec.interleave);
  for (auto& o : open) o.name = absl::StrCat("t", thread, "-s", next_stream++);
  std::vector<std::string> ids(spec.batch, std::string(16, '\0'));
  std::vector<BenchEvent> events(spec.batch);
  uint64_t done = 0;
  uint64_t segment_start_events = 0;
  Clock::time_point segment_start = Clock::now();
  double segment_start_cpu = ThreadCpuSeconds();
  // Only the first appender samples the process-wide counters; with one
  // appender (the growth workload) they split its cost from the background's.
  double segment_start_process_cpu = ProcessCpuSeconds();
  double segment_start_written = WrittenBytes();
  for (size_t k = 0; !failed.load(std::memory_order_relaxed); ++k) {
    if (spec.seconds > 0 ? Clock::now() >= deadline : done >= quota) break;
    Open& o = open[k % open.size()];
    if (o.version >= spec.stream_events) {
      o.name = absl::StrCat("t", thread, "-s", next_stream++);
      o.version = 0;
    }
    const size_t n = spec.seconds > 0 ? spec.batch : std::min<uint64_t>(spec.batch, quota - done);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t a = SplitMix(rng), b = SplitMix(rng);
      if (spec.time_ordered_ids) {
        TimeOrderedId(last_ms, ms_counter, b, ids[i].data());
      } else {
        std::memcpy(ids[i].data(), &a, 8);
        std::memcpy(ids[i].data() + 8, &b, 8);
      }
      events[i].id = ids[i];
      events[i].type = "BenchEvent";
      events[i].payload = pool.Pick(a);
    }
    absl::Status s =
        backend.Append(thread, o.name, o.version, absl::MakeConstSpan(events.data(), n));
    if (!s.ok()) {
      std::fprintf(stderr, "append failed: %s\n", std::string(s.message()).c_str());
      failed = true;
      break;
    }
    o.version += n;
    done += n;
    if (spec.segment > 0 && done - segment_start_events >= spec.segment) {
      const Clock::time_point now = Clock::now();
      out.segments.push_back(static_cast<double>(done - segment_start_events) /
                             std::chrono::duration<double>(now - segment_start).count());
      out.segments_rss.push_back(CurrentRssMb());
      const double cpu = ThreadCpuSeconds();
      out.segments_cpu.push_back((cpu - segment_start_cpu) * 1e6 /
                                 static_cast<double>(done - segment_start_events));
      segment_start_cpu = cpu;
      if (thread == 0) {
        const double process_cpu = ProcessCpuSeconds();
        const double written = WrittenBytes();
        const double n_events = static_cast<double>(done - segment_start_events);
        out.segments_process_cpu.push_back((process_cpu - segment_start_process_cpu) * 1e6 /
                                           n_events);
        out.segments_write.push_back((written - segment_start_written) / n_events);
        segment_start_process_cpu = process_cpu;
        segment_start_written = written;
      }
      segment_start = now;
      segment_start_events = done;
    }
  }
  out.events = done;
}

int Main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) Die("usage: --flag value ... (see the source)");
    flags.values[a.substr(2)] = argv[++i];
  }
  const std::string system = flags.Get("system");
  const std::string op = flags.Get("op");
  BackendOptions bo;
  bo.dir = flags.Get("dir");
  bo.durable = flags.Num("durable", 0) != 0;
  bo.block_cache_bytes = static_cast<size_t>(flags.Num("block-cache-mb", 0) * (1 << 20));
  bo.statistics = flags.Num("statistics", 0) != 0;
  bo.subjects = static_cast<int>(flags.Num("subjects", 0));
  bo.encrypt = flags.Num("encrypt", 0) != 0;
  if (bo.dir.empty()) Die("--dir is required");

  absl::StatusOr<std::unique_ptr<Backend>> backend;
  if (system == "annals") {
    backend = OpenAnnals(bo);
  } else if (system == "rocksdb") {
    backend = OpenRocksDb(bo);
  } else if (system == "sqlite") {
    backend = OpenSqlite(bo);
  } else {
    Die("--system must be annals, rocksdb or sqlite");
  }
  if (!backend.ok()) Die(std::string(backend.status().message()));

  uint64_t events = 0;
  double seconds = 0;
  std::vector<double> segments, segments_rss, segments_cpu, segments_process_cpu, segments_write;
  if (op == "append") {
    AppendSpec spec;
    spec.threads = static_cast<int>(flags.Num("threads", 1));
    spec.batch = static_cast<int>(flags.Num("batch", 1));
    spec.seconds = flags.Num("seconds", 0);
    spec.events = static_cast<uint64_t>(flags.Num("events", 0));
    spec.interleave = static_cast<int>(flags.Num("interleave", 1));
    spec.stream_events = static_cast<uint64_t>(flags.Num("stream-events", 1000));
    spec.segment = static_cast<uint64_t>(flags.Num("segment", 0));
    spec.seed = static_cast<uint64_t>(flags.Num("seed", 1));
    const std::string ids = flags.Get("ids", "random");
    if (ids != "random" && ids != "v7") Die("--ids must be random or v7");
    spec.time_ordered_ids = ids == "v7";
    if (spec.threads < 1 || spec.batch < 1 || spec.interleave < 1 ||
        (spec.seconds <= 0 && spec.events == 0)) {
      Die("append needs --threads >= 1, --batch >= 1 and --seconds or --events");
    }
    PayloadPool pool(spec.seed, static_cast<size_t>(flags.Num("payload-bytes", 200)));
    std::vector<AppendResult> results(spec.threads);
    std::vector<std::thread> threads;
    std::atomic<bool> failed{false};
    const Clock::time_point start = Clock::now();
    const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(spec.seconds));
    for (int t = 0; t < spec.threads; ++t) {
      const uint64_t quota =
          spec.events / spec.threads + (t < static_cast<int>(spec.events % spec.threads));
      threads.emplace_back([&, t, quota] {
        RunAppender(**backend, spec, pool, t, deadline, quota, failed, results[t]);
      });
    }
    for (auto& th : threads) th.join();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (failed) Die("an append failed");
    for (auto& r : results) events += r.events;
    segments = results[0].segments;
    segments_rss = results[0].segments_rss;
    segments_cpu = results[0].segments_cpu;
    segments_process_cpu = results[0].segments_process_cpu;
    segments_write = results[0].segments_write;
  } else if (op == "read-stream" || op == "scan-all") {
    const int repeat = static_cast<int>(flags.Num("repeat", 1));
    const std::string stream = flags.Get("stream", "t0-s0");
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < repeat; ++i) {
      absl::StatusOr<uint64_t> n =
          op == "scan-all" ? (*backend)->ScanAll() : (*backend)->ReadStream(stream);
      if (!n.ok()) Die(std::string(n.status().message()));
      events += *n;
    }
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } else {
    Die("--op must be append, read-stream or scan-all");
  }
  backend->reset();  // Close (flush, join) before reading the peak RSS.

  std::string json = "{\"events\":" + std::to_string(events) +
                     ",\"seconds\":" + std::to_string(seconds) +
                     ",\"events_per_s\":" + std::to_string(seconds > 0 ? events / seconds : 0.0) +
                     ",\"peak_rss_mb\":" + std::to_string(PeakRssMb());
  if (!segments.empty()) {
    json += ",\"segments\":[";
    for (size_t i = 0; i < segments.size(); ++i) {
      json += (i ? "," : "") + std::to_string(segments[i]);
    }
    const auto append_list = [&json](const char* name, const std::vector<double>& values) {
      absl::StrAppend(&json, "],\"", name, "\":[");
      for (size_t i = 0; i < values.size(); ++i) {
        absl::StrAppend(&json, i ? "," : "", values[i]);
      }
    };
    append_list("segments_rss_mb", segments_rss);
    append_list("segments_cpu_us", segments_cpu);
    append_list("segments_process_cpu_us", segments_process_cpu);
    append_list("segments_write_bytes", segments_write);
    json += "]";
  }
  json += "}";
  std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace
}  // namespace annals::bench

int main(int argc, char** argv) { return annals::bench::Main(argc, argv); }
