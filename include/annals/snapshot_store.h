// File: annals/snapshot_store.h
//
// SnapshotStore: the state of a stream at some version, kept so that loading
// an aggregate replays only the events after it. Snapshots live in the
// store's own column family "snapshots", apart from the event log: they are a
// cache derived from the log, never the source of truth. Losing, damaging or
// deleting them changes nothing but load time (a damaged snapshot is skipped
// and counted; the load replays from further back).
//
// Key grammar (column family "snapshots"; integers big-endian so that byte
// order is numeric order, one stream's snapshots are contiguous and sorted by
// version):
//
//   key   := stream_length:be32 stream:bytes version:be64
//   value := "ANS1" crc32c:be32 body            (crc32c over body)
//   body  := event_recorded_at_us:be64 taken_at_us:be64 encode_micros:be64
//            fingerprint_length:be32 fingerprint:bytes state:bytes
//
// A snapshot is tagged with the fingerprint of the state's schema (see
// AggregateSpec): lookups ask for one fingerprint and never see snapshots of
// another, and Put() deletes snapshots of other fingerprints of the stream,
// so stale snapshots are ignored at once and replaced by the next one taken.
//
// Writes use RocksDB's WAL without fsync: a snapshot lost to a power failure
// is simply taken again.
//
// Lookups (hits, misses, damaged snapshots skipped) and writes are counted in
// the store's Options::statistics (annals/statistics.h), when it has one.
//
// Thread-safety: safe for concurrent use. Two concurrent Put()s for one
// stream may briefly leave keep_last + 1 snapshots; the next Put() prunes.

#ifndef ANNALS_SNAPSHOT_STORE_H_
#define ANNALS_SNAPSHOT_STORE_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event_store.h"

namespace annals {

struct Snapshot {
  std::string stream{};
  // The stream version whose state `state` is (state after applying events
  // 1..version).
  uint64_t version = 0;
  // Fingerprint of the state schema the state was encoded with.
  std::string fingerprint{};
  // Encoded state (FlatBuffers bytes for aggregates).
  std::string state{};
  // recorded_at_us of the event at `version`: lets a load "as of time T" use
  // the snapshot when it is not newer than T.
  int64_t event_recorded_at_us = 0;
  // When the snapshot was taken (UTC microseconds) and how long encoding the
  // state took (microseconds).
  int64_t taken_at_us = 0;
  int64_t encode_micros = 0;
};

// What a lookup accepts.
struct SnapshotQuery {
  // Only snapshots with exactly this fingerprint.
  std::string_view fingerprint{};
  // Only snapshots at or below this version.
  uint64_t max_version = std::numeric_limits<uint64_t>::max();
  // Only snapshots whose event_recorded_at_us is at or before this.
  int64_t max_recorded_at_us = std::numeric_limits<int64_t>::max();
};

class SnapshotStore {
 public:
  // `store` must outlive the SnapshotStore.
  explicit SnapshotStore(EventStore& store);

  // SnapshotStore::Put()
  //
  // Stores `snapshot` and, in the same write, deletes the stream's snapshots
  // with another fingerprint and all but the newest `keep_last` (>= 1) with
  // this one. kFailedPrecondition on a read-only store; kInvalidArgument for
  // an empty stream, version 0 or keep_last 0.
  absl::Status Put(const Snapshot& snapshot, size_t keep_last);

  // SnapshotStore::FindLatest()
  //
  // The newest snapshot of `stream` matching `query`. kNotFound when there is
  // none. Damaged snapshots are skipped (and counted in damaged_skipped()).
  absl::StatusOr<Snapshot> FindLatest(std::string_view stream, const SnapshotQuery& query);

  // SnapshotStore::List()
  //
  // Every snapshot of `stream`, oldest first, without their state bytes.
  absl::StatusOr<std::vector<Snapshot>> List(std::string_view stream);

  // SnapshotStore::DeleteStream()
  //
  // Removes every snapshot of `stream` (e.g. to force a full replay).
  absl::Status DeleteStream(std::string_view stream);

  // Damaged snapshots skipped by lookups since construction.
  uint64_t damaged_skipped() const { return damaged_skipped_.load(std::memory_order_relaxed); }

 private:
  // Put() but for counting it in Options::statistics.
  absl::Status Write(const Snapshot& snapshot, size_t keep_last);

  EventStore& store_;
  std::atomic<uint64_t> damaged_skipped_{0};
};

}  // namespace annals

#endif  // ANNALS_SNAPSHOT_STORE_H_
