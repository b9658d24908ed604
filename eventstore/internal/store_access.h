// File: eventstore/internal/store_access.h
//
// StoreAccess: how annals' own modules (snapshots, projections), the bench
// and the tests reach the RocksDB storage under an EventStore, without the
// public header exposing it (the pattern of LevelDB's WriteBatchInternal:
// EventStore declares this class a friend, by forward declaration only).
//
// The surface is what modules need and no more: the database, the handles
// of column families (a module's own, declared with a ColumnFamilySpec, see
// column_family.h; the core's, e.g. the log), and commit hooks that write
// atomically with appends.
//
// Thread-safety: every function is safe to call from any thread while the
// store is open. Handles and the database stay valid until the EventStore is
// destroyed; nothing returned here is owned by the caller.

#ifndef ANNALS_EVENTSTORE_INTERNAL_STORE_ACCESS_H_
#define ANNALS_EVENTSTORE_INTERNAL_STORE_ACCESS_H_

#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "codec/internal/canonical.h"
#include "codec/internal/payload_cipher.h"
#include "codec/internal/stub_codec.h"
#include "eventstore/internal/column_family.h"
#include "eventstore/internal/commit_hook.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/scavenge_policy.h"
#include "rocksdb/db.h"

namespace annals::internal {

class ScavengePolicy;

class StoreAccess {
 public:
  StoreAccess() = delete;

  // The store's database.
  static rocksdb::DB* Db(EventStore& store);

  // StoreAccess::Family()
  //
  // The handle of the module family `spec` names. Checks the spec as
  // CheckColumnFamily() does (it does not declare it). A family the store
  // has is returned as opened; in a writable store a missing one (a spec
  // nobody declared: declared families come with every writer open) is
  // created, durably (RocksDB syncs the MANIFEST edit before returning),
  // with the spec's tuning. Concurrent calls for one family get one handle.
  //
  // A read-only store (a RocksDB secondary) opens the families the store had
  // when it was opened and cannot open one created since: for a family it
  // does not have, this returns kNotFound, which the module reads as an
  // empty family (nothing of it could be stored yet); reopening the store
  // shows a family the writer created since.
  //
  // Errors: kInvalidArgument for a spec CheckColumnFamily() refuses;
  // kNotFound as above; a RocksDB failure to create the family (e.g.
  // kResourceExhausted for a full disk), after which nothing was created.
  static absl::StatusOr<rocksdb::ColumnFamilyHandle*> Family(EventStore& store,
                                                             const ColumnFamilySpec& spec);

  // The handle of one of the event store's own families (keys.h). Modules
  // read them (projections find the end of the log); only tests write them,
  // to simulate damage, since writes there bypass the append path.
  static rocksdb::ColumnFamilyHandle* CoreFamily(EventStore& store, internal::Family family);

  // Every family the store has open, the core's first: for flushing or
  // compacting them all (tests, the bench).
  static std::vector<rocksdb::ColumnFamilyHandle*> AllFamilies(EventStore& store);

  // Registers a hook that the committer calls for every event it commits
  // (see CommitHook). The store keeps a non-owning pointer. Must be called
  // before the first append that should reach it; the hook must outlive the
  // store or be removed first. RemoveCommitHook() returns only when no group
  // commit can call the hook any more (it waits for one in flight), so the
  // hook may be freed right after; never call it from inside a hook.
  static void AddCommitHook(EventStore& store, CommitHook* hook);
  // The scavenge policy of the store's retention (the readers' visibility
  // rule, eventstore/internal/retention.h), for the scavenger to install.
  // It refers to the store: use it only while the store is open.
  static std::shared_ptr<const ScavengePolicy> RetentionPolicy(const EventStore& store);
  static void RemoveCommitHook(EventStore& store, CommitHook* hook);

  // Installs the cipher that seals payloads (codec/internal/payload_cipher.h;
  // crypto-shredding will install one when it opens a store). REQUIRES:
  // before the first append or read; the store keeps it while it is open.
  static void SetPayloadCipher(EventStore& store,
                               std::shared_ptr<codec_internal::PayloadCipher> cipher);

  // Installs the scavenge policy (eventstore/internal/scavenge_policy.h;
  // null: none). Thread-safe; compactions already running keep theirs.
  static void SetScavengePolicy(EventStore& store, std::shared_ptr<const ScavengePolicy> policy);

  // Every record from `from_position` on, in position order, in its
  // canonical view (RecordDecoder::DecodeCanonical): a sealed payload as
  // stored (ciphertext, never opened: needs no key) with its encoding, an
  // unsealed one as appended. For export, which must carry what the hash
  // covers. A stub (a scavenged event) goes to `visit_stub`. Either visitor
  // returns false to stop. kDataLoss for a damaged record or stub.
  static absl::Status ScanCanonical(
      EventStore& store, uint64_t from_position,
      absl::FunctionRef<bool(const EventView&, const codec_internal::PayloadEncoding&)> visit_event,
      absl::FunctionRef<bool(const codec_internal::StubView&)> visit_stub);

  // TEST ONLY: makes the next group's RocksDB write fail as if the WAL sync
  // had failed, without writing anything.
  static void TEST_FailNextWrite(EventStore& store);

  // TEST ONLY: appends queued and not yet taken by a committer, so that a
  // test can shape group commits exactly (hold the committer, wait until N
  // appends queued behind it, release).
  static size_t TEST_QueuedAppends(EventStore& store);
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_STORE_ACCESS_H_
