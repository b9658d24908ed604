// File: eventstore/internal/rocksdb_status.h
//
// The one seam where rocksdb::Status becomes absl::Status. The RocksDB
// message is kept; `context` says what annals was doing.

#ifndef ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_STATUS_H_
#define ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_STATUS_H_

#include <string_view>

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace annals::internal {

// Corruption -> kDataLoss, NotFound -> kNotFound, InvalidArgument ->
// kInvalidArgument, Busy/TryAgain -> kUnavailable, IOError -> kUnavailable
// when it is the LOCK of another process, else kInternal.
absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_STATUS_H_
