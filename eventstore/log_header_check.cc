#include "eventstore/internal/log_header_check.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals::internal {

namespace {

// RocksDB's log format (db/log_format.h, the same in 7.8 and today).
constexpr uint64_t kBlockSize = 32768;
constexpr uint64_t kHeaderSize = 7;  // CRC32C 4, length 2, type 1
constexpr unsigned kZeroType = 0;    // preallocated or padding bytes
constexpr unsigned kRecyclableFullType = 5;
constexpr unsigned kRecyclableLastType = 8;

// "000123.log": a WAL file (annals sets no wal_dir, so they live in the store).
bool IsWalFile(const std::string& name) {
  if (!name.ends_with(".log") || name.size() == 4) return false;
  return std::all_of(name.begin(), name.end() - 4, [](char c) { return c >= '0' && c <= '9'; });
}

bool IsGone(const rocksdb::IOStatus& s) { return s.IsNotFound() || s.IsPathNotFound(); }

}  // namespace

LogHeaderCheck::LogHeaderCheck(rocksdb::FileSystem* fs, std::string store_path)
    : fs_(fs), path_(std::move(store_path)) {}

absl::Status LogHeaderCheck::CheckNewRecords() {
  const rocksdb::IOOptions io;
  std::vector<std::string> children;
  rocksdb::IOStatus s = fs_->GetChildren(path_, io, &children, nullptr);
  if (!s.ok()) return FromRocksDb(s, StrCat("listing the files of store '", path_, "'"));
  std::sort(children.begin(), children.end());
  // The MANIFEST RocksDB will read; the others are old ones a writer has not
  // deleted yet. CURRENT itself is checked by the open (CheckCurrentFile).
  std::string manifest;
  if (rocksdb::ReadFileToString(fs_, StrCat(path_, "/CURRENT"), &manifest).ok()) {
    absl::StripTrailingAsciiWhitespace(&manifest);
    if (!manifest.starts_with("MANIFEST-") || manifest.find('/') != std::string::npos) {
      manifest.clear();
    }
  }
  std::map<std::string, Progress> still_there;
  for (const std::string& name : children) {
    const bool wal = IsWalFile(name);
    if (!wal && name != manifest) continue;
    Progress progress;
    if (auto it = files_.find(name); it != files_.end()) progress = it->second;
    bool gone = false;
    RETURN_IF_ERROR(CheckFile(name, wal ? "WAL file" : "MANIFEST", progress, &gone));
    if (!gone) still_there.emplace(name, progress);
  }
  files_ = std::move(still_there);
  return absl::OkStatus();
}

absl::Status LogHeaderCheck::CheckFile(const std::string& name, const char* kind,
                                       Progress& progress, bool* gone) {
  const rocksdb::IOOptions io;
  const std::string file = StrCat(path_, "/", name);
  auto read_error = [&](const rocksdb::IOStatus& s) {
    return FromRocksDb(s, StrCat("reading ", kind, " ", name, " of store '", path_, "'"));
  };
  uint64_t size = 0;
  rocksdb::IOStatus s = fs_->GetFileSize(file, io, &size, nullptr);
  if (IsGone(s)) {
    *gone = true;
    return absl::OkStatus();
  }
  if (!s.ok()) return read_error(s);
  // Log files only grow (WAL numbers are never reused: recycle_log_file_num
  // is 0); a smaller one is a different file under the same name.
  if (size < progress.size_seen) progress = Progress{};
  if (size == progress.size_seen) return absl::OkStatus();

  std::unique_ptr<rocksdb::FSRandomAccessFile> in;
  s = fs_->NewRandomAccessFile(file, rocksdb::FileOptions(), &in, nullptr);
  if (IsGone(s)) {
    *gone = true;
    return absl::OkStatus();
  }
  if (!s.ok()) return read_error(s);

  std::string scratch(kBlockSize, '\0');
  rocksdb::Slice block;
  uint64_t block_start = UINT64_MAX;  // Offset of the block in `block`.
  uint64_t pos = progress.next_header;
  for (;;) {
    const uint64_t in_block = pos % kBlockSize;
    if (kBlockSize - in_block < kHeaderSize) {
      pos += kBlockSize - in_block;  // Block trailer: zero padding.
      continue;
    }
    if (pos + kHeaderSize > size) break;  // Not yet written (or cut short).
    if (pos - in_block != block_start) {
      block_start = pos - in_block;
      const size_t n = static_cast<size_t>(std::min(kBlockSize, size - block_start));
      s = in->Read(block_start, n, io, &block, scratch.data(), nullptr);
      if (!s.ok()) return read_error(s);
      size = block_start + block.size();  // Short only if the file shrank meanwhile.
      if (pos + kHeaderSize > size) break;
    }
    const unsigned char* header = reinterpret_cast<const unsigned char*>(block.data()) + in_block;
    const uint64_t length = header[4] | (header[5] << 8);
    const unsigned type = header[6];
    if (type >= kRecyclableFullType && type <= kRecyclableLastType) {
      return absl::DataLossError(StrCat(
          "store '", path_, "' is damaged: the record header at byte ", pos, " of its ", kind, " ",
          name, " has type ", type,
          ", a recycled-log record type that annals never writes, so the header is damaged and "
          "the records from there on cannot be read; restore the store from a backup or an "
          "export"));
    }
    if ((type == kZeroType && length == 0) || in_block + kHeaderSize + length > kBlockSize) {
      // Zero padding, or a length that overruns its block (RocksDB reports
      // that one): RocksDB's reader drops the rest of the block.
      pos = block_start + kBlockSize;
      continue;
    }
    if (pos + kHeaderSize + length > size) break;  // Being appended, or a torn tail.
    pos += kHeaderSize + length;
  }
  progress.next_header = pos;
  progress.size_seen = size;
  return absl::OkStatus();
}

}  // namespace annals::internal
