#include "eventstore/internal/rocksdb_status.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace annals::internal {

namespace {

// RocksDB's POSIX file system reports ENOSPC as IOError/kNoSpace and every
// other errno as a plain IOError whose message ends in strerror(errno), so
// the conditions below are recognized by that text (glibc's wording).
bool IsDiskFull(const rocksdb::Status& s, std::string_view text) {
  return s.IsNoSpace() || absl::StrContains(Sv(text), "No space left on device") ||
         absl::StrContains(Sv(text), "Disk quota exceeded");
}

}  // namespace

absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string text = s.ToString();
  const std::string message = StrCat(context, ": ", text);
  // File-system conditions first: RocksDB reports them as IOError (or, for a
  // background error that stopped writes, with another code), and the LOCK
  // heuristic below would mistake "While open a file for lock: ... Read-only
  // file system" for another process's lock.
  if (IsDiskFull(s, text)) {
    return absl::ResourceExhaustedError(StrCat(
        "disk full: ", message, "; free space on the store's file system, then reopen the store"));
  }
  if (absl::StrContains(Sv(text), "Read-only file system")) {
    return absl::PermissionDeniedError(
        StrCat("read-only file system: ", message,
               "; remount it read-write to write, or open the store read-only"));
  }
  if (absl::StrContains(Sv(text), "Permission denied") ||
      absl::StrContains(Sv(text), "Operation not permitted")) {
    return absl::PermissionDeniedError(
        StrCat("permission denied: ", message,
               "; run as a user who may read and write the store directory and its files"));
  }
  if (absl::StrContains(Sv(text), "Input/output error")) {
    return absl::InternalError(
        StrCat("the device reported an I/O error: ", message,
               "; check the disk and the kernel log, then reopen the store"));
  }
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(message);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(message);
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return absl::InvalidArgumentError(message);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
      return absl::UnavailableError(message);
    case rocksdb::Status::kIOError:
      if (absl::StrContains(Sv(text), "lock")) {
        return absl::UnavailableError(
            StrCat(message,
                   " (another process has this store open for writing; stop it, or open the store "
                   "read-only)"));
      }
      return absl::InternalError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace annals::internal
