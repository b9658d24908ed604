// File: projections/internal/families.h
//
// The column families the projection module owns (key grammar in
// projections/internal/keys.h): read_models, checkpoints, parked.

#ifndef ANNALS_PROJECTIONS_INTERNAL_FAMILIES_H_
#define ANNALS_PROJECTIONS_INTERNAL_FAMILIES_H_

#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "rocksdb/db.h"

namespace annals::projections_internal {

// The handles of the module's families in one store. Valid until the store
// is destroyed; not owned.
struct ProjectionFamilies {
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* read_models = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints = nullptr;
  rocksdb::ColumnFamilyHandle* parked = nullptr;
};

// The module's families in `store`. Thread-safe.
absl::StatusOr<ProjectionFamilies> GetFamilies(EventStore& store);

}  // namespace annals::projections_internal

#endif  // ANNALS_PROJECTIONS_INTERNAL_FAMILIES_H_
