// File: eventstore/internal/store_dir.h
//
// What a store path holds, judged before RocksDB opens it, and how open
// errors are named. The rule (issue 11): damage to a store's own files is
// kDataLoss naming the file; "not an annals store" is only for a directory
// that holds no annals store at all; permission problems say "permission
// denied" (kPermissionDenied).

#ifndef ANNALS_EVENTSTORE_INTERNAL_STORE_DIR_H_
#define ANNALS_EVENTSTORE_INTERNAL_STORE_DIR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rocksdb/status.h"

namespace annals::internal {

enum class StoreDirKind {
  kMissing,   // nothing at the path
  kEmptyDir,  // an empty directory: a store may be created in it
  kOtherDir,  // a non-empty directory without any RocksDB file
  kDatabase,  // RocksDB files (CURRENT, MANIFEST-*): a store, possibly damaged
};

// Inspects `path`. Errors: kInvalidArgument for a regular file,
// kPermissionDenied when the path or its directory cannot be read.
absl::StatusOr<StoreDirKind> InspectStoreDir(const std::string& path);

// Checks CURRENT of a kDatabase directory: it must exist and name an existing
// MANIFEST. kDataLoss naming the damage otherwise.
absl::Status CheckCurrentFile(const std::string& path);

// True when the newest OPTIONS file of `path` names annals' own column
// families: the directory held an annals store, whatever its MANIFEST says
// now (RocksDB writes OPTIONS as a separate text file).
bool OptionsNameAnnalsFamilies(const std::string& path);

// Names an error of RocksDB's open of an existing store: Corruption and
// missing files are damage (kDataLoss), EACCES is kPermissionDenied; the rest
// goes through FromRocksDb().
absl::Status OpenError(const rocksdb::Status& s, const std::string& path);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_STORE_DIR_H_
