// The projection module's column families, declared here and nowhere else
// (eventstore/internal/column_family.h). Key grammar:
// projections/internal/keys.h.

#include "projections/internal/families.h"

#include "eventstore/internal/column_family.h"
#include "eventstore/internal/store_access.h"

namespace annals::projections_internal {
namespace {

using internal::ColumnFamilyDeclaration;
using internal::ColumnFamilySpec;
using internal::StoreAccess;

// All three are read by point lookups and prefix scans: the default tuning.
constexpr ColumnFamilySpec kReadModelsFamily{.name = "read_models"};
constexpr ColumnFamilySpec kCheckpointsFamily{.name = "checkpoints"};
constexpr ColumnFamilySpec kParkedFamily{.name = "parked"};
const ColumnFamilyDeclaration kDeclareReadModels(kReadModelsFamily);
const ColumnFamilyDeclaration kDeclareCheckpoints(kCheckpointsFamily);
const ColumnFamilyDeclaration kDeclareParked(kParkedFamily);

// Sets `*handle` to the family, or leaves it null when a read-only store
// does not have it (yet).
absl::Status Get(EventStore& store, const ColumnFamilySpec& spec,
                 rocksdb::ColumnFamilyHandle** handle) {
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf = StoreAccess::Family(store, spec);
  if (cf.ok()) {
    *handle = *cf;
    return absl::OkStatus();
  }
  if (absl::IsNotFound(cf.status()) && store.read_only()) return absl::OkStatus();
  return cf.status();
}

}  // namespace

absl::StatusOr<ProjectionFamilies> GetFamilies(EventStore& store) {
  ProjectionFamilies f;
  f.db = StoreAccess::Db(store);
  if (absl::Status s = Get(store, kReadModelsFamily, &f.read_models); !s.ok()) return s;
  if (absl::Status s = Get(store, kCheckpointsFamily, &f.checkpoints); !s.ok()) return s;
  if (absl::Status s = Get(store, kParkedFamily, &f.parked); !s.ok()) return s;
  return f;
}

}  // namespace annals::projections_internal
