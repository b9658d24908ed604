// File: eventstore/internal/store_access.h
//
// StoreAccess: how annals' own modules (snapshots, projections), the bench
// and the tests reach the RocksDB storage under an EventStore, without the
// public header exposing it (the pattern of LevelDB's WriteBatchInternal:
// EventStore declares this class a friend, by forward declaration only).
//
// The surface is what modules need and no more: the database, the handle of
// a column family, and commit hooks that write atomically with appends.
//
// Thread-safety: every function is safe to call from any thread while the
// store is open. Handles and the database stay valid until the EventStore is
// destroyed; nothing returned here is owned by the caller.

#ifndef ANNALS_EVENTSTORE_INTERNAL_STORE_ACCESS_H_
#define ANNALS_EVENTSTORE_INTERNAL_STORE_ACCESS_H_

#include "annals/event_store.h"
#include "eventstore/internal/commit_hook.h"
#include "eventstore/internal/keys.h"
#include "rocksdb/db.h"

namespace annals::internal {

class StoreAccess {
 public:
  StoreAccess() = delete;

  // The store's database. Writes to the core's families (keys.h) bypass
  // every check of the append path: only tests do that, to simulate damage.
  static rocksdb::DB* Db(EventStore& store);

  // The handle of one of the store's column families.
  static rocksdb::ColumnFamilyHandle* CoreFamily(EventStore& store, internal::Family family);

  // Registers a hook that the committer calls for every event it commits
  // (see CommitHook). The store keeps a non-owning pointer. Must be called
  // before the first append that should reach it; the hook must outlive the
  // store or be removed first. RemoveCommitHook() returns only when no group
  // commit can call the hook any more (it waits for one in flight), so the
  // hook may be freed right after; never call it from inside a hook.
  static void AddCommitHook(EventStore& store, CommitHook* hook);
  static void RemoveCommitHook(EventStore& store, CommitHook* hook);

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
