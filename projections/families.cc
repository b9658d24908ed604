// The projection module's column families.

#include "projections/internal/families.h"

#include "eventstore/internal/store_access.h"

namespace annals::projections_internal {

using internal::StoreAccess;

absl::StatusOr<ProjectionFamilies> GetFamilies(EventStore& store) {
  ProjectionFamilies f;
  f.db = StoreAccess::Db(store);
  f.read_models = StoreAccess::CoreFamily(store, internal::kReadModelsFamily);
  f.checkpoints = StoreAccess::CoreFamily(store, internal::kCheckpointsFamily);
  f.parked = StoreAccess::CoreFamily(store, internal::kParkedFamily);
  return f;
}

}  // namespace annals::projections_internal
