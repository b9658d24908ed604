// File: eventstore/internal/rocksdb_options.h
//
// The RocksDB options a store runs with, built from annals' Options: one
// function each for the database, the block cache and a column family. The
// store (event_store_open.cc) and the bench's raw-RocksDB system
// (bench/driver/rocksdb_backend.cc) both use them, so the two always run the
// same tuning. Why each setting: docs/architecture.md, "RocksDB settings".

#ifndef ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_OPTIONS_H_
#define ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_OPTIONS_H_

#include <cstddef>
#include <memory>

#include "annals/options.h"
#include "eventstore/internal/column_family.h"
#include "rocksdb/cache.h"
#include "rocksdb/options.h"

namespace annals::internal {

// The database options for `options`: recovery, checksums, background jobs,
// memory and WAL bounds, and an info log that goes to options.log_sink
// (never a LOG file). Leaves the caller what is not tuning: env,
// create_if_missing and create_missing_column_families (false here), and the
// process-wide CPU priority of compaction threads
// (Options::low_priority_compaction).
rocksdb::DBOptions DbOptions(const Options& options);

// The block cache shared by every family of a store, of `bytes` bytes, in
// shards of at least 16 MiB.
std::shared_ptr<rocksdb::Cache> NewBlockCache(size_t bytes);

// The options of a column family with `tuning` (column_family.h), reading
// through `cache`. Memtable size and compression come from `options`.
rocksdb::ColumnFamilyOptions FamilyOptions(const Options& options,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           const ColumnFamilyTuning& tuning);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_OPTIONS_H_
