#include "eventstore/internal/store_dir.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals::internal {
namespace fs = std::filesystem;

namespace {

absl::Status PermissionDenied(const std::string& path, const std::error_code& ec) {
  return absl::PermissionDeniedError(StrCat("permission denied: cannot read '", path, "' (",
                                            ec.message(),
                                            "); run as a user who may read the store"));
}

bool IsPermission(const std::error_code& ec) {
  return ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted;
}

}  // namespace

absl::StatusOr<StoreDirKind> InspectStoreDir(const std::string& path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec && IsPermission(ec)) return PermissionDenied(path, ec);
  if (!fs::exists(status)) return StoreDirKind::kMissing;
  if (!fs::is_directory(status)) {
    return absl::InvalidArgumentError(
        StrCat("'", path, "' is a file, not an annals store directory"));
  }
  bool any = false;
  bool rocksdb_file = false;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    any = true;
    const std::string name = it->path().filename().string();
    if (name == "CURRENT" || name.starts_with("MANIFEST-")) rocksdb_file = true;
  }
  if (ec) {
    if (IsPermission(ec)) return PermissionDenied(path, ec);
    return absl::InternalError(StrCat("cannot list '", path, "': ", ec.message()));
  }
  if (rocksdb_file) return StoreDirKind::kDatabase;
  return any ? StoreDirKind::kOtherDir : StoreDirKind::kEmptyDir;
}

absl::Status CheckCurrentFile(const std::string& path) {
  const fs::path current = fs::path(path) / "CURRENT";
  std::error_code ec;
  if (!fs::exists(current, ec)) {
    if (ec && IsPermission(ec)) return PermissionDenied(current.string(), ec);
    return absl::DataLossError(StrCat("store '", path,
                                      "' is damaged: its CURRENT file is missing (the store "
                                      "has MANIFEST files); restore it from a backup or an "
                                      "export"));
  }
  std::ifstream in(current, std::ios::binary);
  if (!in) {
    const std::error_code open_ec(errno, std::generic_category());
    if (IsPermission(open_ec)) return PermissionDenied(current.string(), open_ec);
    return absl::InternalError(StrCat("cannot read '", current.string(), "': ", open_ec.message()));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  const std::string_view name = StdSv(absl::StripTrailingAsciiWhitespace(content));
  const bool well_formed =
      name.starts_with("MANIFEST-") && name.size() > 9 &&
      std::all_of(name.begin() + 9, name.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
      content.size() == name.size() + 1 && content.back() == '\n';
  if (!well_formed) {
    return absl::DataLossError(StrCat("store '", path, "' is damaged: its CURRENT file holds '",
                                      absl::CEscape(content),
                                      "', not the name of a MANIFEST; restore it from a "
                                      "backup or an export"));
  }
  if (!fs::exists(fs::path(path) / std::string(name), ec)) {
    return absl::DataLossError(StrCat("store '", path, "' is damaged: its CURRENT file names ",
                                      name,
                                      ", which does not exist (a damaged CURRENT or a lost "
                                      "MANIFEST); restore it from a backup or an export"));
  }
  return absl::OkStatus();
}

bool OptionsNameAnnalsFamilies(const std::string& path) {
  std::error_code ec;
  fs::path newest;
  for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    // OPTIONS-<number>, zero-padded to the same width: the greatest is newest.
    if (name.starts_with("OPTIONS-") && !name.ends_with(".dbtmp") &&
        (newest.empty() || name > newest.filename().string())) {
      newest = it->path();
    }
  }
  if (newest.empty()) return false;
  std::ifstream in(newest, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  int named = 0;
  for (std::string_view family : kFamilyNames) {
    if (absl::StrContains(text, StrCat("[CFOptions \"", family, "\"]"))) ++named;
  }
  // Most of them: a flipped bit in one section header must not hide the rest.
  return named >= static_cast<int>(kFamilyNames.size()) - 2;
}

absl::Status OpenError(const rocksdb::Status& s, const std::string& path) {
  const std::string what = s.ToString();
  if (s.IsCorruption()) {
    return absl::DataLossError(
        StrCat("store '", path, "' is damaged: ", what, "; restore it from a backup or an export"));
  }
  if (s.IsPathNotFound() || (s.IsIOError() && absl::StrContains(what, "No such file"))) {
    return absl::DataLossError(StrCat("store '", path, "' is damaged: a file it needs is missing (",
                                      what, "); restore it from a backup or an export"));
  }
  if (s.IsIOError() && absl::StrContains(what, "Permission denied")) {
    return absl::PermissionDeniedError(StrCat("permission denied opening store '", path, "' (",
                                              what, "); run as a user who may read the store"));
  }
  return FromRocksDb(s, StrCat("opening store '", path, "'"));
}

}  // namespace annals::internal
