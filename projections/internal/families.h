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
// is destroyed; not owned. In a read-only store a family it does not have
// (yet) is null: it holds nothing, and DbGet()/DbScan() read it as empty. In
// a writable store every handle is set (missing families are created).
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
