// StoreAccess: the internal accessor, forwarding to EventStore::Impl.

#include "eventstore/internal/store_access.h"

#include "eventstore/internal/event_store_impl.h"

namespace annals::internal {

rocksdb::DB* StoreAccess::Db(EventStore& store) { return store.impl_->db(); }

rocksdb::ColumnFamilyHandle* StoreAccess::CoreFamily(EventStore& store, internal::Family family) {
  return store.impl_->family(family);
}

absl::StatusOr<rocksdb::ColumnFamilyHandle*> StoreAccess::Family(EventStore& store,
                                                                 const ColumnFamilySpec& spec) {
  return store.impl_->ModuleFamily(spec);
}

std::vector<rocksdb::ColumnFamilyHandle*> StoreAccess::AllFamilies(EventStore& store) {
  return store.impl_->AllFamilies();
}

void StoreAccess::AddCommitHook(EventStore& store, CommitHook* hook) {
  store.impl_->AddCommitHook(hook);
}

void StoreAccess::RemoveCommitHook(EventStore& store, CommitHook* hook) {
  store.impl_->RemoveCommitHook(hook);
}

absl::Status StoreAccess::ScanCanonical(
    EventStore& store, uint64_t from_position,
    absl::FunctionRef<bool(const EventView&, const codec_internal::PayloadEncoding&)> visit_event,
    absl::FunctionRef<bool(const codec_internal::StubView&)> visit_stub) {
  return store.impl_->ScanCanonical(from_position, visit_event, visit_stub);
}

void StoreAccess::SetPayloadCipher(EventStore& store,
                                   std::shared_ptr<codec_internal::PayloadCipher> cipher) {
  store.impl_->SetPayloadCipher(std::move(cipher));
}

void StoreAccess::SetScavengePolicy(EventStore& store,
                                    std::shared_ptr<const ScavengePolicy> policy) {
  store.impl_->SetScavengePolicy(std::move(policy));
}

void StoreAccess::TEST_FailNextWrite(EventStore& store) { store.impl_->TEST_FailNextWrite(); }

size_t StoreAccess::TEST_QueuedAppends(EventStore& store) {
  return store.impl_->TEST_QueuedAppends();
}

std::shared_ptr<const ScavengePolicy> StoreAccess::RetentionPolicy(const EventStore& store) {
  return store.impl_->RetentionPolicy();
}

}  // namespace annals::internal
