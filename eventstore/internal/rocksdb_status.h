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

// File-system conditions first, whatever RocksDB's code (a background error
// that stopped writes keeps the text of the failed write):
//   disk full (ENOSPC, EDQUOT)   -> kResourceExhausted, "disk full: ... free
//                                   space ..., then reopen the store"
//   read-only file system (EROFS) -> kPermissionDenied, "read-only file system"
//   EACCES, EPERM                 -> kPermissionDenied, "permission denied"
//   EIO                           -> kInternal, "the device reported an I/O error"
// then by code: Corruption -> kDataLoss, NotFound -> kNotFound,
// InvalidArgument/NotSupported -> kInvalidArgument, Busy/TryAgain ->
// kUnavailable, IOError -> kUnavailable when it is the LOCK of another
// process, else kInternal. The message is one line: condition, `context`,
// RocksDB's text, what to do.
absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_ROCKSDB_STATUS_H_
