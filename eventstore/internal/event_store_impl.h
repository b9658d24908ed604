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
//   event_store_meta.cc    stream metadata, deletes and consumers (requests
//                          of the committer) and the published RetentionView
//
// Threading: any number of appender threads enqueue requests under queue_mu_.
// One of them at a time is the committer (committing_ is true while it works,
// leader/follower style as in RocksDB's own write path): it takes the queue as
// one group and owns the ordering state (next position, chain hash, head
// cache). That state needs no lock of its own: only the thread that set
// committing_ under queue_mu_ touches it, and the mutex hand-off orders one
// committer's writes before the next one's reads. Readers use only
// RocksDB (each read is a consistent RocksDB snapshot) and the atomic
// committed position. What each mutex guards is declared with
// ABSL_GUARDED_BY below and checked by clang's -Wthread-safety
// (common/mutex.h); the committer's state, which no mutex guards, is not.

#ifndef ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_
#define ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "annals/statistics.h"
#include "annals/stream_metadata.h"
#include "codec/internal/record_codec.h"
#include "codec/internal/stub_codec.h"
#include "common/mutex.h"
#include "common/sha256.h"
#include "crypto/internal/subject_cipher.h"
#include "eventstore/internal/column_family.h"
#include "eventstore/internal/commit_hook.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/log_header_check.h"
#include "eventstore/internal/retention.h"
#include "eventstore/internal/scavenge_filter.h"
#include "eventstore/internal/scavenge_policy.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace annals {

class EventStore::Impl {
 public:
  static absl::StatusOr<std::unique_ptr<Impl>> Open(std::string_view path, const Options& options);
  ~Impl();

  // --- append path (event_store_append.cc) ---
  absl::StatusOr<std::vector<AppendResult>> AppendMulti(absl::Span<const StreamAppend> parts)
      ABSL_LOCKS_EXCLUDED(queue_mu_);

  // Registers a hook; the store keeps a non-owning pointer. Must be called
  // before the first append that should reach it, and the hook must outlive
  // the store or be removed first. RemoveCommitHook() returns only when no
  // group commit can call the hook any more (it waits for one in flight), so
  // the hook may be freed right after; never call it from inside a hook.
  void AddCommitHook(internal::CommitHook* hook) ABSL_LOCKS_EXCLUDED(queue_mu_);
  void RemoveCommitHook(internal::CommitHook* hook) ABSL_LOCKS_EXCLUDED(queue_mu_);

  // --- metadata, deletes, consumers (event_store_meta.cc) ---
  // Each is a request of the committer, ordered with appends and written
  // synced whatever Options::durability says (docs/lifecycle.md).
  absl::StatusOr<StreamMetadataInfo> GetStreamMetadata(std::string_view stream) const;
  absl::StatusOr<StreamMetadataInfo> SetStreamMetadata(std::string_view stream,
                                                       ExpectedVersion expected,
                                                       const StreamMetadata& metadata)
      ABSL_LOCKS_EXCLUDED(queue_mu_);
  absl::StatusOr<StreamMetadataInfo> DeleteStream(std::string_view stream, ExpectedVersion expected,
                                                  DeleteMode mode) ABSL_LOCKS_EXCLUDED(queue_mu_);
  absl::Status SetConsumerPosition(std::string_view name, uint64_t position)
      ABSL_LOCKS_EXCLUDED(queue_mu_);
  absl::Status RemoveConsumer(std::string_view name) ABSL_LOCKS_EXCLUDED(queue_mu_);
  std::vector<ConsumerInfo> ListConsumers() const;
  // The published view every reader applies (never null once open).
  std::shared_ptr<const internal::RetentionView> retention() const
      ABSL_LOCKS_EXCLUDED(retention_mu_) {
    MutexLock lock(&retention_mu_);
    return retention_;
  }
  // The scavenge policy of this store's retention (retention.h); it keeps
  // a pointer to this store: use it only while the store is open.
  std::shared_ptr<const internal::ScavengePolicy> RetentionPolicy() const;

  // --- read path (event_store_read.cc) ---
  absl::Status ScanStream(std::string_view stream, const ReadStreamOptions& options,
                          absl::FunctionRef<bool(const EventView&)> visit) const;
  absl::Status ScanAll(const ReadAllOptions& options,
                       absl::FunctionRef<bool(const EventView&)> visit) const;
  absl::StatusOr<RecordedEvent> ReadEvent(const Uuid& id) const;
  // StoreAccess::ScanCanonical(): every position of the log from
  // `from_position` on, forward, in one consistent view; stubs included.
  absl::Status ScanCanonical(
      uint64_t from_position,
      absl::FunctionRef<bool(const EventView&, const codec_internal::PayloadEncoding&)> visit_event,
      absl::FunctionRef<bool(const codec_internal::StubView&)> visit_stub) const
      ABSL_LOCKS_EXCLUDED(follower_mu_);
  absl::StatusOr<StreamInfo> GetStream(std::string_view stream) const;
  absl::Status ListStreams(std::string_view prefix,
                           absl::FunctionRef<bool(const StreamInfo&)> visit) const;
  uint64_t last_position() const { return committed_position_.load(std::memory_order_acquire); }
  bool WaitForPosition(uint64_t position, absl::Duration timeout)
      ABSL_LOCKS_EXCLUDED(position_mu_, follower_mu_);
  absl::Status CatchUp() ABSL_LOCKS_EXCLUDED(follower_mu_);
  absl::Status Sync() ABSL_LOCKS_EXCLUDED(queue_mu_);

  // --- audit (event_store_verify.cc) ---
  absl::StatusOr<VerifyReport> Verify() ABSL_LOCKS_EXCLUDED(follower_mu_);
  absl::StatusOr<StoreStats> Stats() const;

  // --- scavenging (event_store_scavenge.cc; scavenge_filter.h) ---
  // Installs the policy that decides which records the compaction filter may
  // turn into stubs (null: none for retention). Retention installs its own
  // at open; tests install theirs. Thread-safe: compactions already running
  // keep the policy they started with. Verify() asks it about every stub.
  void SetScavengePolicy(std::shared_ptr<const internal::ScavengePolicy> policy) {
    scavenge_state_->SetPolicy(std::move(policy));
  }
  absl::StatusOr<ScavengeReport> Scavenge() ABSL_LOCKS_EXCLUDED(scavenge_mu_);
  absl::Status SetCategoryCompaction(std::string_view category, const CompactionKey& key);
  // The compacted categories stored in `default` ("compaction/<category>"),
  // as `ro` sees them.
  absl::StatusOr<absl::flat_hash_map<std::string, CompactionKey>> ReadCategoryCompactions(
      const rocksdb::ReadOptions& ro) const;

  // --- the codec (codec/) ---
  // Installs the cipher that seals payloads (crypto-shredding will install
  // one at open). REQUIRES: before the first append or read; the store keeps
  // it while it is open.
  void SetPayloadCipher(std::shared_ptr<codec_internal::PayloadCipher> cipher) {
    codec_options_.cipher = std::move(cipher);
  }
  // Crypto-shredding (event_store_open.cc): kFailedPrecondition unless the
  // store is writable and open with Options::encryption.
  absl::Status ForgetSubject(std::string_view subject) ABSL_LOCKS_EXCLUDED(queue_mu_);
  // Whether the key that sealed a record of `subject` is gone (Verify's
  // "erased" count). Needs no master key.
  absl::StatusOr<bool> SealedErased(std::string_view subject, std::string_view sealed);
  // A record decoder for one reader (a scan); see RecordDecoder.
  codec_internal::RecordDecoder NewRecordDecoder() const {
    return codec_internal::RecordDecoder(codec_options_.cipher.get());
  }

  bool read_only() const { return options_.read_only; }
  const std::string& path() const { return path_; }
  const Options& options() const { return options_; }
  // Options::statistics, or null: what the append and read paths record into.
  Statistics* statistics() const { return options_.statistics.get(); }
  rocksdb::DB* db() { return db_.get(); }
  rocksdb::ColumnFamilyHandle* family(internal::Family f) { return families_[f]; }

  // --- families of modules (event_store_families.cc) ---
  // StoreAccess::Family() says what these do.
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> ModuleFamily(const internal::ColumnFamilySpec& spec)
      ABSL_LOCKS_EXCLUDED(module_families_mu_);
  // Every open family: the core's, then the modules'.
  std::vector<rocksdb::ColumnFamilyHandle*> AllFamilies() const
      ABSL_LOCKS_EXCLUDED(module_families_mu_);

  // The sticky write error, OK while appends are accepted.
  absl::Status write_error() const ABSL_LOCKS_EXCLUDED(queue_mu_);

  // TEST ONLY: makes the next group's RocksDB write fail as if the WAL sync
  // had failed, without writing anything.
  void TEST_FailNextWrite() { test_fail_next_write_.store(true); }
  // TEST ONLY: appends queued and not yet taken by a committer (lets a test
  // shape group commits exactly).
  size_t TEST_QueuedAppends() const ABSL_LOCKS_EXCLUDED(queue_mu_) {
    MutexLock lock(&queue_mu_);
    return queue_.size();
  }

 private:
  struct Request;
  struct GroupState;
  struct MetaOp;

  Impl(std::string path, const Options& options);

  absl::Status OpenDb() ABSL_LOCKS_EXCLUDED(follower_mu_);
  // Checks the column families of an existing store against its OPTIONS
  // file (kDataLoss for a family the MANIFEST lost; kInvalidArgument for a
  // RocksDB database that is not an annals store) and returns the names of
  // the families that are not the core's.
  absl::StatusOr<std::vector<std::string>> CheckFamiliesOnDisk(
      const rocksdb::DBOptions& db_options);
  // Writers: creates every family declared in this process that the store
  // lacks (event_store_families.cc).
  absl::Status CreateDeclaredFamilies() ABSL_LOCKS_EXCLUDED(module_families_mu_);
  // Followers: TryCatchUpWithPrimary(), with its failure named;
  // kFailedPrecondition when the writer created a family since this
  // instance opened (event_store_families.cc). First log_check_ checks what
  // the writer appended to its WAL and MANIFEST since the last catch-up
  // (kDataLoss for a damaged record header). Every catch-up goes through here.
  absl::Status TryCatchUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(follower_mu_)
      ABSL_LOCKS_EXCLUDED(module_families_mu_);
  absl::Status LoadState() ABSL_LOCKS_EXCLUDED(follower_mu_, position_mu_);
  // Installs the subject cipher when Options::encryption is set.
  absl::Status OpenEncryption() ABSL_LOCKS_EXCLUDED(queue_mu_, module_families_mu_);
  // Takes the committer role (waits for a group in flight) and gives it back:
  // while held, no group is staged or written.
  absl::Status AcquireCommitter() ABSL_LOCKS_EXCLUDED(queue_mu_);
  void ReleaseCommitter() ABSL_LOCKS_EXCLUDED(queue_mu_);
  // Writes the commit record and the current format_version into an older
  // store (the commit record is new to a version-1 store and rewritten
  // unchanged in a version-2 one).
  absl::Status UpgradeFormat(uint64_t last_position, std::string_view last_hash);

  // --- integrity cross-checks (event_store_integrity.cc) ---
  struct ManifestView {
    std::string name;                  // e.g. "MANIFEST-000012", from CURRENT
    uint64_t size = 0;                 // bytes when read
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
  // the last check, unless `force`. Exclusive: it catches up with the writer.
  absl::Status CheckTablesAgainstManifest(bool force) ABSL_EXCLUSIVE_LOCKS_REQUIRED(follower_mu_);
  // Followers: both checks above, then publishes the position it serves.
  absl::Status CheckFollowerView() ABSL_EXCLUSIVE_LOCKS_REQUIRED(follower_mu_)
      ABSL_LOCKS_EXCLUDED(position_mu_);
  // AppendMulti() but for recording its outcome in statistics(). Sets
  // *enqueued_us (when not null) to MonotonicMicros() at the enqueue, if the
  // call gets that far.
  absl::StatusOr<std::vector<AppendResult>> AppendAndWait(absl::Span<const StreamAppend> parts,
                                                          uint64_t* enqueued_us)
      ABSL_LOCKS_EXCLUDED(queue_mu_);
  std::vector<Request*> TakeGroup() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_);
  void CommitGroup(std::vector<Request*>& group) ABSL_LOCKS_EXCLUDED(queue_mu_);
  absl::Status StageRequest(Request& request, GroupState& group, rocksdb::WriteBatch& batch);
  // A metadata, delete or consumer request (event_store_meta.cc).
  absl::Status StageMetaRequest(MetaOp& op, GroupState& group, rocksdb::WriteBatch& batch);
  // Queues `request` and waits until a committer has done it (the leader/
  // follower loop of the append path).
  absl::Status EnqueueAndWait(Request& request, uint64_t* enqueued_us)
      ABSL_LOCKS_EXCLUDED(queue_mu_);
  // The metadata of `stream` as it will be after the group so far.
  std::optional<internal::StreamMetaRecord> LookupMeta(std::string_view stream,
                                                       const GroupState& group) const;
  // After a group's write succeeded: publishes a new view with the group's
  // metadata and consumer changes, or raises last_version of the streams
  // with metadata the group appended to.
  void PublishRetention(const GroupState& group) ABSL_LOCKS_EXCLUDED(retention_mu_);
  // Reads `stream_meta` and `consumers` (at open, and at a follower's
  // catch-up) and publishes the view.
  absl::Status LoadRetention() ABSL_LOCKS_EXCLUDED(retention_mu_);
  // kNotFound naming a deleted stream, for readers (`deleted` != kNone).
  static absl::Status DeletedStreamError(std::string_view stream, StreamDeletion deleted);
  // The committed head of `stream` as `ro` sees it; kNotFound if it has no events.
  absl::StatusOr<internal::Head> ReadHead(const rocksdb::ReadOptions& ro,
                                          std::string_view stream) const;
  absl::StatusOr<internal::Head> LookupHead(std::string_view stream, const GroupState& group);
  // OK when the last event of `stream` (head) is visible by `rule`, else
  // kNotFound saying why (deleted, or hidden by its limits).
  absl::Status CheckVisible(const rocksdb::ReadOptions& ro, std::string_view stream,
                            const internal::Head& head, const internal::RetentionView::Entry& meta,
                            const internal::StreamRule& rule) const;
  void PublishPosition(uint64_t position) ABSL_LOCKS_EXCLUDED(position_mu_);

  const std::string path_;
  const Options options_;
  // The codec's settings, from options_ (Impl::Open validated them).
  codec_internal::PayloadCodecOptions codec_options_ = codec_internal::CodecOptionsFrom(options_);
  std::string secondary_path_;  // Scratch dir of a read-only follower.
  // A RocksDB secondary has no snapshots; instead, multi-step reads of a
  // follower hold this shared and CatchUp() holds it exclusively, so a read
  // never sees half of a catch-up. Mutable: the const reads take it shared;
  // it orders them against CatchUp(), it is no state of the store.
  mutable SharedMutex follower_mu_;

  rocksdb::Env* env_ = nullptr;  // Not owned: RocksDB's default or the test hook's.
  int format_version_ = 0;       // As read at open (upgraded by a writer).
  ManifestView checked_manifest_ ABSL_GUARDED_BY(follower_mu_);  // Followers.
  // Checks the WAL and MANIFEST record headers before RocksDB reads them: at
  // every open of an existing store, and before each catch-up of a follower.
  std::unique_ptr<internal::LogHeaderCheck> log_check_ ABSL_GUARDED_BY(follower_mu_);

  std::shared_ptr<rocksdb::Cache> block_cache_;
  std::unique_ptr<rocksdb::DB> db_;
  // The core's families, indexed by internal::Family; set by OpenDb().
  std::array<rocksdb::ColumnFamilyHandle*, internal::kCoreFamilyCount> families_{};
  // Families of modules by name: those on disk at open and those created
  // since. Entries are never removed; handles live until the store closes.
  // A mutex of its own: creating a family must not wait for a group commit.
  mutable Mutex module_families_mu_;
  absl::flat_hash_map<std::string, rocksdb::ColumnFamilyHandle*> module_families_
      ABSL_GUARDED_BY(module_families_mu_);
  rocksdb::WriteOptions write_options_;

  // Committed position: written by the committer (or CatchUp), read by all.
  std::atomic<uint64_t> committed_position_{0};
  Mutex position_mu_;
  CondVar position_cv_;  // Signalled when notified_position_ grows.
  uint64_t notified_position_ ABSL_GUARDED_BY(position_mu_) = 0;

  // The append queue (annals::Mutex, not absl::Mutex: see common/mutex.h).
  mutable Mutex queue_mu_;
  CondVar queue_cv_;  // Signalled when requests finish.
  std::deque<Request*> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool shutting_down_ ABSL_GUARDED_BY(queue_mu_) = false;
  bool committing_ ABSL_GUARDED_BY(queue_mu_) = false;         // A committer is at work.
  uint64_t commit_generation_ ABSL_GUARDED_BY(queue_mu_) = 0;  // Groups committed so far.
  absl::Status write_error_ ABSL_GUARDED_BY(queue_mu_);
  std::vector<internal::CommitHook*> hooks_ ABSL_GUARDED_BY(queue_mu_);

  // Retention (event_store_meta.cc): the published view, swapped by the
  // committer after each metadata commit (and by a follower's catch-up).
  // Readers copy the pointer under the mutex, then read the view unlocked.
  mutable Mutex retention_mu_;
  std::shared_ptr<const internal::RetentionView> retention_ ABSL_GUARDED_BY(retention_mu_);
  // Handles of `stream_meta` and `consumers`: null in a follower opened on
  // a store that has not got them yet (nothing is stored in them then).
  rocksdb::ColumnFamilyHandle* stream_meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* consumers_cf_ = nullptr;

  // Committer state: touched only by the current committer (see above).
  uint64_t next_position_ = 1;
  uint64_t next_stream_id_ = 1;
  std::string last_hash_;
  absl::flat_hash_map<std::string, internal::Head> head_cache_;
  std::vector<internal::CommitHook*> group_hooks_;  // hooks_ as of the current group
  codec_internal::RecordEncoder record_encoder_{&codec_options_};
  // Options::encryption: the cipher in codec_options_, also a commit hook.
  std::shared_ptr<crypto_internal::SubjectCipher> subject_cipher_;
  std::atomic<bool> test_fail_next_write_{false};

  // Shared with the compaction filters of `log`, `stream_index` and
  // `event_ids` (installed by OpenDb() for writers).
  std::shared_ptr<internal::ScavengeState> scavenge_state_ =
      std::make_shared<internal::ScavengeState>();
  Mutex scavenge_mu_;  // Serializes Scavenge() calls; guards no field.
};

}  // namespace annals

#endif  // ANNALS_EVENTSTORE_INTERNAL_EVENT_STORE_IMPL_H_
