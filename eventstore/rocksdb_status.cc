#include "eventstore/internal/rocksdb_status.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace annals::internal {

absl::Status FromRocksDb(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string message = StrCat(context, ": ", s.ToString());
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
      if (absl::StrContains(s.ToString(), "lock")) {
        return absl::UnavailableError(StrCat(
            message,
            " (another process has this store open for writing; stop it, or open the store "
            "read-only)"));
      }
      return absl::InternalError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace annals::internal
