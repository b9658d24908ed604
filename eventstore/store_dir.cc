#include "eventstore/internal/store_dir.h"

#include <algorithm>
#include <bit>
#include <cstdint>
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
#include "eventstore/internal/column_family.h"
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

std::vector<std::string> OptionsFamilyNames(const std::string& path) {
  // RocksDB keeps the two newest OPTIONS files and deletes older ones while
  // a writer runs: retry when the newest vanished between listing and
  // reading.
  for (int attempt = 0; attempt < 3; ++attempt) {
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
    if (newest.empty()) return {};
    std::ifstream in(newest, std::ios::binary);
    if (!in) continue;
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    // One section per family: a line `[CFOptions "<name>"]`.
    std::vector<std::string> names;
    constexpr std::string_view kOpen = "[CFOptions \"";
    for (size_t at = text.find(kOpen); at != std::string::npos; at = text.find(kOpen, at + 1)) {
      const size_t begin = at + kOpen.size();
      const size_t end = text.find_first_of("\"\n", begin);
      if (end == std::string::npos || text.compare(end, 2, "\"]") != 0) continue;
      names.push_back(text.substr(begin, end - begin));
    }
    return names;
  }
  return {};
}

bool NamesCoreFamilies(const std::vector<std::string>& options_names) {
  int named = 0;
  int count = 0;
  for (const ColumnFamilySpec& core : kCoreFamilies) {
    if (core.name == "default") continue;  // Every RocksDB database has one.
    ++count;
    if (std::find(options_names.begin(), options_names.end(), core.name) != options_names.end()) {
      ++named;
    }
  }
  // All but one: a flipped bit in one section header must not hide the rest.
  return named >= count - 1;
}

std::vector<std::string> FamiliesLostFromManifest(const std::vector<std::string>& options_names,
                                                  const std::vector<std::string>& manifest_names) {
  auto contains = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  // Families the MANIFEST has and the OPTIONS file does not name: created
  // after the OPTIONS file was written (a crash between the two), or named
  // with a damaged name.
  std::vector<std::string> unnamed;
  for (const std::string& m : manifest_names) {
    if (!contains(options_names, m)) unnamed.push_back(m);
  }
  std::vector<std::string> lost;
  for (const std::string& name : options_names) {
    if (contains(manifest_names, name) || contains(lost, name)) continue;
    // A name one flipped bit away from an unnamed family is that family's
    // name damaged in the OPTIONS file (which has no checksum), not a family
    // lost from the MANIFEST: RocksDB rewrites OPTIONS at the next open.
    auto damaged = std::find_if(unnamed.begin(), unnamed.end(), [&](const std::string& m) {
      if (m.size() != name.size()) return false;
      int bits = 0;
      for (size_t i = 0; i < m.size(); ++i) {
        bits += std::popcount(static_cast<unsigned>(static_cast<uint8_t>(m[i] ^ name[i])));
      }
      return bits == 1;
    });
    if (damaged != unnamed.end()) {
      unnamed.erase(damaged);
      continue;
    }
    lost.push_back(name);
  }
  return lost;
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
