// The column families of modules (column_family.h): opened with the store
// when it has them; declared ones created by a writer open, others on a
// module's first use.

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_options.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals {

absl::StatusOr<rocksdb::ColumnFamilyHandle*> EventStore::Impl::ModuleFamily(
    const internal::ColumnFamilySpec& spec) {
  if (absl::Status s = internal::CheckColumnFamily(spec); !s.ok()) return s;
  const std::string name(spec.name);
  MutexLock lock(&module_families_mu_);
  if (auto it = module_families_.find(name); it != module_families_.end()) return it->second;
  if (options_.read_only) {
    // A RocksDB secondary opens the families the store had when it opened
    // and cannot open one created since.
    return absl::NotFoundError(
        StrCat("store '", path_, "' had no column family '", name,
               "' when this read-only store was opened: nothing is stored in it (reopen the "
               "store to read a family created since)"));
  }
  // RocksDB syncs the MANIFEST edit that adds the family before it returns,
  // then writes a new OPTIONS file naming it (CheckFamiliesOnDisk relies on
  // that order).
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  const rocksdb::Status s = db_->CreateColumnFamily(
      internal::FamilyOptions(options_, block_cache_, spec.tuning), name, &handle);
  if (!s.ok()) {
    return internal::FromRocksDb(
        s, StrCat("creating column family '", name, "' in store '", path_, "'"));
  }
  module_families_.emplace(name, handle);
  return handle;
}

absl::Status EventStore::Impl::CreateDeclaredFamilies() {
  for (const auto& [name, tuning] : internal::DeclaredFamilies()) {
    if (absl::StatusOr<rocksdb::ColumnFamilyHandle*> family = ModuleFamily({name, tuning});
        !family.ok()) {
      return family.status();
    }
  }
  return absl::OkStatus();
}

absl::Status EventStore::Impl::TryCatchUp() {
  // What the writer appended to its WAL and MANIFEST since the last check is
  // checked before the secondary reads it (eventstore/internal/log_header_check.h).
  // A writer could still append after the check and before RocksDB reads;
  // only a record damaged as it is written could slip through that window.
  RETURN_IF_ERROR(log_check_->CheckNewRecords());
  const rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (s.ok()) return absl::OkStatus();
  if (s.IsCorruption()) {
    // RocksDB 7.8's secondary fails on the first MANIFEST edit (a flush) of
    // a family created after it opened ("MANIFEST record referencing unknown
    // column family") and cannot get past it. Not damage: reopening opens
    // the new family too (and reports damage, if there is any).
    std::vector<std::string> on_disk;
    std::vector<std::string> unopened;
    rocksdb::DBOptions options;
    options.env = env_;
    if (rocksdb::DB::ListColumnFamilies(options, path_, &on_disk).ok()) {
      MutexLock lock(&module_families_mu_);
      for (const std::string& name : on_disk) {
        if (!internal::IsCoreFamily(name) && !module_families_.contains(name)) {
          unopened.push_back(name);
        }
      }
    }
    if (!unopened.empty()) {
      return absl::FailedPreconditionError(
          StrCat("the writer created column famil", unopened.size() == 1 ? "y " : "ies ",
                 absl::StrJoin(unopened, ", "),
                 " after this read-only store was opened, and a "
                 "RocksDB 7.8 follower cannot catch up past it; reopen the store"));
    }
  }
  return internal::FromRocksDb(s, "catching up with the writer");
}

std::vector<rocksdb::ColumnFamilyHandle*> EventStore::Impl::AllFamilies() const {
  std::vector<rocksdb::ColumnFamilyHandle*> all(families_.begin(), families_.end());
  MutexLock lock(&module_families_mu_);
  for (const auto& [name, handle] : module_families_) all.push_back(handle);
  return all;
}

}  // namespace annals
