// File: eventstore/internal/statistics_recording.h
//
// How the append and read paths turn what they did into Options::statistics
// (annals/statistics.h). Kept apart from the committer and the readers so
// that their call sites stay one line each; every function here is called
// only when statistics are on.
//
// Thread-safety: GroupFigures and ReadRecorder belong to one thread (the
// committer of one group, the caller of one read); the Statistics object they
// record into is thread-safe.

#ifndef ANNALS_EVENTSTORE_INTERNAL_STATISTICS_RECORDING_H_
#define ANNALS_EVENTSTORE_INTERNAL_STATISTICS_RECORDING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "annals/statistics.h"

namespace annals::internal {

// Counts an append call's outcome: acknowledged (a replay or not) or failed,
// by status code (annals/statistics.h says which code is which ticker), and,
// when it was queued (`enqueued_us` != 0, from MonotonicMicros()), its
// latency until now.
void RecordAppendOutcome(Statistics& stats,
                         const absl::StatusOr<std::vector<AppendResult>>& results,
                         uint64_t enqueued_us);

// What one group commit did.
struct GroupFigures {
  uint64_t appends = 0;      // Requests in the group.
  uint64_t events = 0;       // Events written (counted only if written).
  uint64_t event_bytes = 0;  // Their size as ValidateAppend() counts it.
  bool wrote = false;        // A batch was handed to RocksDB...
  bool written = false;      // ... and RocksDB accepted it...
  bool synced = false;       // ... with a WAL sync (Durability::kSync).
  uint64_t batch_bytes = 0;
  uint64_t write_us = 0;
};

// Records one group, in one Statistics::Record() call: always kCommitGroups
// and the appends and events per group; the written figures (events, bytes,
// syncs) only when `g.written`.
void RecordGroup(Statistics& stats, const GroupFigures& g);

// Counts one read call on construction and, on destruction (whatever way the
// read ends), the events it handed out and the records it decoded. Null
// statistics: does nothing.
class ReadRecorder {
 public:
  ReadRecorder(Statistics* stats, Ticker call) : stats_(stats) { RecordTick(stats, call); }
  ~ReadRecorder();
  ReadRecorder(const ReadRecorder&) = delete;
  ReadRecorder& operator=(const ReadRecorder&) = delete;

  uint64_t events = 0;   // Handed to the caller's visitor.
  uint64_t scanned = 0;  // Decoded by a global-log scan (filtered ones too).

 private:
  Statistics* const stats_;
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_STATISTICS_RECORDING_H_
