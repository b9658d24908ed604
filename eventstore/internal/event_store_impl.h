// File: eventstore/internal/event_store_impl.h
//
// EventStore::Impl: the RocksDB-backed store. Split by concern:
//   event_store.cc         the public EventStore, forwarding here
//   event_store_open.cc    opening, options, format checks, recovery
//   append_validation.cc   an append's input checks, on the caller's thread
//   event_store_append.cc  the queue and the committer (group commit)
//   event_store_stage.cc   checking and staging one request in a group
//   event_store_read.cc    stream and global-log reads
//   event_store_verify.cc  Verify() and Stats()
//   event_store_integrity.cc  commit record and follower MANIFEST cross-checks
//
// Threading: any number of appender threads enqueue requests under queue_mu_.
// One of them at a time is the committer (committing_ is true while it works,
// leader/follower style as in RocksDB's own write path): it takes the queue as
// one group and owns the ordering state (next position, chain hash, head
// cache). That state needs no lock of its own: only the thread that set
// committing_ under queue_mu_ touches it, and the mutex hand-off orders one
// committer's writes before the next one's reads. Readers use only
// RocksDB (each read is a consistent RocksDB snapshot) and the atomic
// committed position.

#ifndef ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_
#define ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "common/sha256.h"
#include "eventstore/internal/commit_hook.h"
#include "eventstore/internal/keys.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace annals {

class EventStore::Impl {
 public:
  static absl::StatusOr<std::unique_ptr<Impl>> Open(std::string_view path,
                                                    const Options& options);
  ~Impl();

  // --- append path (event_store_append.cc) ---
  absl::StatusOr<std::vector<AppendResult>> AppendMulti(absl::Span<const StreamAppend> parts);

  // Registers a hook; the store keeps a non-owning pointer. Must be called
  // before the first append that should reach it, and the hook must outlive
  // the store or be removed first. RemoveCommitHook() returns only when no
  // group commit can call the hook any more (it waits for one in flight), so
  // the hook may be freed right after; never call it from inside a hook.
  void AddCommitHook(internal::CommitHook* hook);
  void RemoveCommitHook(internal::CommitHook* hook);

  // --- read path (event_store_read.cc) ---
  absl::Status ScanStream(std::string_view stream, const ReadStreamOptions& options,
                          absl::FunctionRef<bool(const EventView&)> visit) const;
  absl::Status ScanAll(const ReadAllOptions& options,
                       absl::FunctionRef<bool(const EventView&)> visit) const;
  absl::StatusOr<RecordedEvent> ReadEvent(const Uuid& id) const;
  absl::StatusOr<StreamInfo> GetStream(std::string_view stream) const;
  absl::Status ListStreams(std::string_view prefix,
                           absl::FunctionRef<bool(const StreamInfo&)> visit) const;
  uint64_t last_position() const { return committed_position_.load(std::memory_order_acquire); }
  bool WaitForPosition(uint64_t position, absl::Duration timeout);
  absl::Status CatchUp();
  absl::Status Sync();

  // --- audit (event_store_verify.cc) ---
  absl::StatusOr<VerifyReport> Verify();
  absl::StatusOr<StoreStats> Stats() const;

  bool read_only() const { return options_.read_only; }
  const std::string& path() const { return path_; }
  const Options& options() const { return options_; }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* family(internal::Family f) { return families_[f]; }

  // The sticky write error, OK while appends are accepted.
  absl::Status write_error() const;

  // TEST ONLY: makes the next group's RocksDB write fail as if the WAL sync
  // had failed, without writing anything.
  void TEST_FailNextWrite() { test_fail_next_write_.store(true); }

 private:
  struct Request;
  struct GroupState;

  Impl(std::string path, const Options& options);

  absl::Status OpenDb();
  absl::Status LoadState();
  // Writes the commit record and format_version 2 into a version-1 store.
  absl::Status UpgradeFormat(uint64_t last_position, std::string_view last_hash);

  // --- integrity cross-checks (event_store_integrity.cc) ---
  struct ManifestView {
    std::string name;   // e.g. "MANIFEST-000012", from CURRENT
    uint64_t size = 0;  // bytes when read
    std::vector<uint64_t> live_files;  // with list_files only
  };
  absl::StatusOr<ManifestView> ReadManifest(bool list_files);
  // The position and hash of the newest record of the log as `ro` sees it
  // ({0, ""} for an empty log).
  absl::StatusOr<std::pair<uint64_t, std::string>> ReadLogEnd(const rocksdb::ReadOptions& ro);
  // kDataLoss unless the commit record matches the given end of the log.
  absl::Status CheckCommitRecord(const rocksdb::ReadOptions& ro, uint64_t log_last_position,
                                 std::string_view log_last_hash);
  // Followers: kDataLoss naming every table the MANIFEST lists that this
  // instance does not serve. Re-reads the MANIFEST only when it changed since
  // the last check, unless `force`. REQUIRES: follower_mu_ held exclusively
  // (it catches up with the writer).
  absl::Status CheckTablesAgainstManifest(bool force);
  // Followers: both checks above, then publishes the position it serves.
  // REQUIRES: follower_mu_ held exclusively.
  absl::Status CheckFollowerView();
  // REQUIRES: queue_mu_ is held.
  std::vector<Request*> TakeGroup();
  void CommitGroup(std::vector<Request*>& group);
  absl::Status StageRequest(Request& request, GroupState& group, rocksdb::WriteBatch& batch);
  // The committed head of `stream` as `ro` sees it; kNotFound if it has no events.
  absl::StatusOr<internal::Head> ReadHead(const rocksdb::ReadOptions& ro,
                                          std::string_view stream) const;
  absl::StatusOr<internal::Head> LookupHead(std::string_view stream, const GroupState& group);
  void PublishPosition(uint64_t position);

  const std::string path_;
  const Options options_;
  std::string secondary_path_;  // Scratch dir of a read-only follower.
  // A RocksDB secondary has no snapshots; instead, multi-step reads of a
  // follower hold this shared and CatchUp() holds it exclusively, so a read
  // never sees half of a catch-up. Mutable: the const reads take it shared;
  // it orders them against CatchUp(), it is no state of the store.
  mutable std::shared_mutex follower_mu_;

  rocksdb::Env* env_ = nullptr;  // Not owned: RocksDB's default or the test hook's.
  int format_version_ = 0;        // As read at open (upgraded by a writer).
  ManifestView checked_manifest_;  // Followers; guarded by follower_mu_ (exclusive).

  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, internal::kFamilyCount> families_{};
  rocksdb::WriteOptions write_options_;

  // Committed position: written by the committer (or CatchUp), read by all.
  std::atomic<uint64_t> committed_position_{0};
  std::mutex position_mu_;
  std::condition_variable position_cv_;
  uint64_t notified_position_ = 0;  // Guarded by position_mu_.

  // The append queue.
  // The append queue. std::mutex rather than absl::Mutex: Debian's libabsl
  // is not built with ThreadSanitizer annotations, so TSan cannot see the
  // ordering an absl::Mutex provides and would drown real races in false
  // reports; libstdc++'s mutex is intercepted by TSan.
  mutable std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // Signalled when requests finish.
  // Guarded by queue_mu_:
  std::deque<Request*> queue_;
  bool shutting_down_ = false;
  bool committing_ = false;  // A committer is at work.
  uint64_t commit_generation_ = 0;  // Groups committed so far.
  absl::Status write_error_;
  std::vector<internal::CommitHook*> hooks_;

  // Committer state: touched only by the current committer (see above).
  uint64_t next_position_ = 1;
  uint64_t next_stream_id_ = 1;
  std::string last_hash_;
  absl::flat_hash_map<std::string, internal::Head> head_cache_;
  std::vector<internal::CommitHook*> group_hooks_;  // hooks_ as of the current group
  Sha256 sha_;
  std::atomic<bool> test_fail_next_write_{false};

};

}  // namespace annals

#endif  // ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_
