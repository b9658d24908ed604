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
#include <vector>

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

// The column families that the newest OPTIONS file of `path` names, in
// file order; empty when there is none or it cannot be read. RocksDB writes
// OPTIONS as a separate text file after every change of the families, so it
// says which families the store had, whatever its MANIFEST says now.
std::vector<std::string> OptionsFamilyNames(const std::string& path);

// True when `options_names` (OptionsFamilyNames) names the event store's own
// families: the directory held an annals store. Tolerates one damaged name.
bool NamesCoreFamilies(const std::vector<std::string>& options_names);

// The families named by the OPTIONS file that the MANIFEST does not list:
// families the MANIFEST lost (annals never drops a family). A name that is
// one flipped bit away from a family the MANIFEST lists and the OPTIONS file
// does not name is taken as damage to the OPTIONS file (no checksum guards
// it), not as a lost family.
std::vector<std::string> FamiliesLostFromManifest(const std::vector<std::string>& options_names,
                                                  const std::vector<std::string>& manifest_names);

// Names an error of RocksDB's open of an existing store: Corruption and
// missing files are damage (kDataLoss), EACCES is kPermissionDenied; the rest
// goes through FromRocksDb().
absl::Status OpenError(const rocksdb::Status& s, const std::string& path);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_STORE_DIR_H_
