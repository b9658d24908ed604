// StoreAccess: the internal accessor, forwarding to EventStore::Impl.

#include "eventstore/internal/store_access.h"

#include "eventstore/internal/event_store_impl.h"

namespace annals::internal {

rocksdb::DB* StoreAccess::Db(EventStore& store) { return store.impl_->db(); }

rocksdb::ColumnFamilyHandle* StoreAccess::CoreFamily(EventStore& store, internal::Family family) {
  return store.impl_->family(family);
}

void StoreAccess::AddCommitHook(EventStore& store, CommitHook* hook) {
  store.impl_->AddCommitHook(hook);
}

void StoreAccess::RemoveCommitHook(EventStore& store, CommitHook* hook) {
  store.impl_->RemoveCommitHook(hook);
}

void StoreAccess::TEST_FailNextWrite(EventStore& store) { store.impl_->TEST_FailNextWrite(); }

size_t StoreAccess::TEST_QueuedAppends(EventStore& store) {
  return store.impl_->TEST_QueuedAppends();
}

}  // namespace annals::internal
