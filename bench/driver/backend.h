// File: bench/driver/backend.h
//
// The systems the comparison driver measures, behind one interface, so that
// every workload runs the same code on every system and differs only in the
// store calls. A backend is opened once per process (one measurement).
//
// Thread-safety: Append() is called concurrently from several threads, each
// with its own streams (appender `thread` owns every stream it names);
// ReadStream()/ScanAll() are called from one thread with no appends running.

#ifndef ANNALS_BENCH_DRIVER_BACKEND_H_
#define ANNALS_BENCH_DRIVER_BACKEND_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace annals::bench {

// One benchmark event: what every system stores for it.
struct BenchEvent {
  std::string id;  // 16 random bytes, distinct per event.
  std::string_view type;
  std::string_view payload;  // 200 random bytes by default.
};

struct BackendOptions {
  std::string dir;      // Store directory (created, empty) or database URL.
  bool durable = true;  // fsync before acknowledging an append.
  // Block cache of the RocksDB-based systems in bytes; 0 = annals' default
  // (Options::block_cache_bytes). To see how a store behaves once its
  // filters outgrow the cache without growing it to that size.
  size_t block_cache_bytes = 0;
  // annals only: record into a Statistics object (Options::statistics).
  bool statistics = false;
  // annals only: every event names one of this many data subjects
  // (NewEvent::subject, round robin); 0 = none.
  int subjects = 0;
  // annals only: open with Options::encryption (a fixed master key), so
  // events with a subject are sealed (crypto-shredding, docs/lifecycle.md).
  bool encrypt = false;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Appends `events` to `stream`, which must currently be at exactly
  // `expected_version` (0 = the stream does not exist yet). A mismatch is an
  // error: the benchmark's appenders own their streams, so it never happens.
  virtual absl::Status Append(int thread, const std::string& stream, uint64_t expected_version,
                              absl::Span<const BenchEvent> events) = 0;

  // Reads `stream` forward from version 1; returns how many events it saw.
  // Every event's payload is touched so that nothing is optimised away.
  virtual absl::StatusOr<uint64_t> ReadStream(const std::string& stream) = 0;

  // Reads the whole global log in position order; returns the event count.
  virtual absl::StatusOr<uint64_t> ScanAll() = 0;
};

absl::StatusOr<std::unique_ptr<Backend>> OpenAnnals(const BackendOptions& options);
absl::StatusOr<std::unique_ptr<Backend>> OpenRocksDb(const BackendOptions& options);
absl::StatusOr<std::unique_ptr<Backend>> OpenSqlite(const BackendOptions& options);

// Sink for touched bytes, so reads cannot be optimised away.
inline volatile uint64_t g_sink = 0;

}  // namespace annals::bench

#endif  // ANNALS_BENCH_DRIVER_BACKEND_H_
