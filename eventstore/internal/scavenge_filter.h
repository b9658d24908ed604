// File: eventstore/internal/scavenge_filter.h
//
// Scavenging: RocksDB compaction filters that turn records no reader may see
// any more into stubs (codec/internal/stub_codec.h) and drop the index
// entries of stubs. They run in every compaction of their families, in
// RocksDB's background threads while the store appends and reads, and in the
// forced compactions of EventStore::Scavenge() (event_store_scavenge.cc).
//
//   log           a record the ScavengePolicy calls Unreachable, or whose
//                 position log compaction by key named, becomes its stub
//                 (kChangeValue). A stub stays a stub; a record whose
//                 checksum fails stays as it is (verify reports it).
//   stream_index  during a Scavenge(), an entry whose position holds a stub
//   event_ids     is removed.
//
// The index filters never read the log: a point lookup per index entry made
// a forced compaction of a million entries I/O-bound (random reads of 16 KiB
// log blocks: minutes). Scavenge() compacts the log first, then finds every
// stub by one sequential scan and hands the positions to the index filters
// for its compactions of the indexes. Background compactions of the indexes
// drop nothing: a stub written by a background compaction keeps its index
// entries until the next Scavenge() (readers and verify accept them), because
// a position may be handed over only once its stub is installed in the log.
//
// Why dropping index entries is safe: an entry is dropped only after its
// stub is in the log (written by a compaction that finished, or read from
// the log), so an entry never vanishes for an event readers would still
// deliver; readers skip stubs and treat a missing version in the stream
// index as scavenged; verify accepts a stub with or without its entries. The
// price, documented in docs/lifecycle.md: an append retried after its events
// were scavenged is no longer recognized as a replay by its event ids.

#ifndef ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_FILTER_H_
#define ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_FILTER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/mutex.h"
#include "eventstore/internal/scavenge_policy.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"

namespace annals::internal {

// The category of a stream, what log compaction by key is set for: its name
// up to the first '-' (the whole name when it has none).
inline std::string_view CategoryOf(std::string_view stream) {
  const size_t dash = stream.find('-');
  return dash == std::string_view::npos ? stream : stream.substr(0, dash);
}

// Positions that log compaction by key turns into stubs (a newer event of
// their key exists).
using CompactedPositions = absl::flat_hash_set<uint64_t>;

// What the store shares with its filters. Thread-safe. Owned jointly by the
// store and the filter factories (which RocksDB's options hold).
class ScavengeState {
 public:
  void SetPolicy(std::shared_ptr<const ScavengePolicy> policy) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const ScavengePolicy> policy() const ABSL_LOCKS_EXCLUDED(mu_);
  void SetCompacted(std::shared_ptr<const CompactedPositions> positions) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const CompactedPositions> compacted() const ABSL_LOCKS_EXCLUDED(mu_);
  // The database the log's filter reads the hash before a run of stubs
  // from (when that position is not in its compaction's input). Attach after
  // open; Detach before the log's handle is destroyed (waits for reads in
  // flight; afterwards the filter keeps records it cannot link).
  void Attach(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log) ABSL_LOCKS_EXCLUDED(db_mu_);
  void Detach() ABSL_LOCKS_EXCLUDED(db_mu_);
  // Reads the log at `position` (latest view). False when detached, absent
  // or unreadable.
  bool ReadLog(uint64_t position, std::string* value) const ABSL_LOCKS_EXCLUDED(db_mu_);

  // The positions of stubs installed in the log, for the index filters
  // (Scavenge() sets them after compacting the log, clears them after the
  // indexes). Only installed stubs: an entry must never go while a record a
  // reader would deliver is still at its position.
  void AddStubbed(const std::vector<uint64_t>& positions) ABSL_LOCKS_EXCLUDED(mu_);
  bool Stubbed(uint64_t position) const ABSL_LOCKS_EXCLUDED(mu_);
  bool AnyStubbed() const ABSL_LOCKS_EXCLUDED(mu_);
  void ClearStubbed() ABSL_LOCKS_EXCLUDED(mu_);

  // Counters since open: stubs written, index entries dropped.
  std::atomic<uint64_t> stubs_written{0};
  std::atomic<uint64_t> index_entries_dropped{0};

 private:
  mutable Mutex mu_;
  std::shared_ptr<const ScavengePolicy> policy_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const CompactedPositions> compacted_ ABSL_GUARDED_BY(mu_);
  CompactedPositions stubbed_ ABSL_GUARDED_BY(mu_);
  mutable SharedMutex db_mu_;
  rocksdb::DB* db_ ABSL_GUARDED_BY(db_mu_) = nullptr;
  rocksdb::ColumnFamilyHandle* log_ ABSL_GUARDED_BY(db_mu_) = nullptr;
};

// The factory of the `log` family's filter.
std::shared_ptr<rocksdb::CompactionFilterFactory> NewLogScavengeFilterFactory(
    std::shared_ptr<ScavengeState> state);

// Which index an index filter serves: where its entries keep the position.
enum class IndexKind { kStreamIndex, kEventIds };
std::shared_ptr<rocksdb::CompactionFilterFactory> NewIndexScavengeFilterFactory(
    std::shared_ptr<ScavengeState> state, IndexKind kind);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_FILTER_H_
