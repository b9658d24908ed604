// RocksDB's info log forwarded to a LogSink (never to a file), and the
// release of WAL space a killed writer left preallocated. Why both exist:
// eventstore/internal/info_log.h.

#include "eventstore/internal/info_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace annals {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kFatal:
      return "fatal";
  }
  return "unknown";
}

namespace internal {
namespace {

LogLevel FromRocksDb(rocksdb::InfoLogLevel level) {
  switch (level) {
    case rocksdb::InfoLogLevel::DEBUG_LEVEL:
      return LogLevel::kDebug;
    case rocksdb::InfoLogLevel::INFO_LEVEL:
    case rocksdb::InfoLogLevel::HEADER_LEVEL:
      return LogLevel::kInfo;
    case rocksdb::InfoLogLevel::WARN_LEVEL:
      return LogLevel::kWarning;
    case rocksdb::InfoLogLevel::ERROR_LEVEL:
      return LogLevel::kError;
    case rocksdb::InfoLogLevel::FATAL_LEVEL:
    default:
      return LogLevel::kFatal;
  }
}

rocksdb::InfoLogLevel ToRocksDb(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return rocksdb::InfoLogLevel::DEBUG_LEVEL;
    case LogLevel::kInfo:
      return rocksdb::InfoLogLevel::INFO_LEVEL;
    case LogLevel::kWarning:
      return rocksdb::InfoLogLevel::WARN_LEVEL;
    case LogLevel::kError:
      return rocksdb::InfoLogLevel::ERROR_LEVEL;
    case LogLevel::kFatal:
      return rocksdb::InfoLogLevel::FATAL_LEVEL;
  }
  return rocksdb::InfoLogLevel::WARN_LEVEL;
}

// Owns a shared reference to the sink; stateless otherwise, so concurrent
// Logv() calls need no lock (the sink serializes if it must).
class SinkLogger final : public rocksdb::Logger {
 public:
  explicit SinkLogger(std::shared_ptr<LogSink> sink)
      : rocksdb::Logger(sink != nullptr ? ToRocksDb(sink->min_level())
                                        : rocksdb::InfoLogLevel::NUM_INFO_LOG_LEVELS),
        sink_(std::move(sink)) {}

  // RocksDB calls Close() before destruction; there is no file to close.
  ~SinkLogger() override { closed_ = true; }

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (sink_ == nullptr || level < GetInfoLogLevel()) return;
    char buffer[1024];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (n < 0) return;
    std::string_view message;
    std::string long_message;
    if (static_cast<size_t>(n) < sizeof(buffer)) {
      message = std::string_view(buffer, n);
    } else {
      long_message.resize(static_cast<size_t>(n) + 1);
      std::vsnprintf(long_message.data(), long_message.size(), format, ap);
      long_message.resize(static_cast<size_t>(n));
      message = long_message;
    }
    while (!message.empty() && message.back() == '\n') message.remove_suffix(1);
    sink_->Log(FromRocksDb(level), message);
  }

 protected:
  rocksdb::Status CloseImpl() override { return rocksdb::Status::OK(); }

 private:
  const std::shared_ptr<LogSink> sink_;
};

// "<digits>.log": RocksDB's WAL file names (db/filename.cc, LogFileName).
bool IsWalFileName(std::string_view name) {
  constexpr std::string_view kSuffix = ".log";
  if (name.size() <= kSuffix.size() || !name.ends_with(kSuffix)) return false;
  for (char c : name.substr(0, name.size() - kSuffix.size())) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Releases the blocks of `path` beyond its end of file. Returns the bytes
// released (by the change of st_blocks), or an error.
absl::StatusOr<uint64_t> TrimBeyondEof(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(StrCat("cannot open WAL file '", path, "': ", strerror(errno)));
  }
  struct stat before;
  if (fstat(fd, &before) != 0) {
    const int e = errno;
    close(fd);
    return absl::InternalError(StrCat("cannot stat WAL file '", path, "': ", strerror(e)));
  }
  const uint64_t allocated = static_cast<uint64_t>(before.st_blocks) * 512;
  const uint64_t size = static_cast<uint64_t>(before.st_size);
  const uint64_t block = before.st_blksize > 0 ? static_cast<uint64_t>(before.st_blksize) : 4096;
  const uint64_t size_in_blocks = (size + block - 1) / block * block;
  if (allocated <= size_in_blocks) {
    close(fd);
    return 0;
  }
  // Truncating to the current size frees the blocks beyond it on ext4 and
  // tmpfs (measured on Linux 6.18; RocksDB's PosixWritableFile::Close() does
  // the same); hole punching beyond EOF does on some other file systems but
  // not on ext4, which ignores holes past i_size. Neither changes the size or
  // any byte below it.
  int rc = ftruncate(fd, static_cast<off_t>(size));
  struct stat truncated;
  if (rc == 0 && fstat(fd, &truncated) == 0 &&
      static_cast<uint64_t>(truncated.st_blocks) * 512 > size_in_blocks) {
    // The blocks may lie anywhere beyond EOF: punch from EOF to past the
    // furthest place they could be.
    const uint64_t length = size_in_blocks - size + allocated;
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(size),
                  static_cast<off_t>(length)) != 0 &&
        errno != EOPNOTSUPP && errno != ENOSYS) {
      rc = -1;
    }
  }
  if (rc != 0) {
    const int e = errno;
    close(fd);
    return absl::InternalError(
        StrCat("cannot release the space preallocated beyond the end of WAL file '", path,
               "': ", strerror(e)));
  }
  struct stat after;
  const bool stat_ok = fstat(fd, &after) == 0;
  close(fd);
  if (!stat_ok || after.st_blocks >= before.st_blocks) return 0;
  return static_cast<uint64_t>(before.st_blocks - after.st_blocks) * 512;
}

}  // namespace

std::shared_ptr<rocksdb::Logger> NewInfoLogger(std::shared_ptr<LogSink> sink) {
  return std::make_shared<SinkLogger>(std::move(sink));
}

absl::StatusOr<WalSpaceReport> ReleaseStaleWalSpace(rocksdb::Env* env, const std::string& dir) {
  WalSpaceReport report;
  rocksdb::FileLock* lock = nullptr;
  // The same lock, through the same Env, as DB::Open: exclusive across
  // processes (fcntl) and within this one (RocksDB's set of locked files).
  if (!env->LockFile(StrCat(dir, "/LOCK"), &lock).ok()) return report;
  std::error_code ec;
  absl::Status status;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!IsWalFileName(entry.path().filename().string())) continue;
    absl::StatusOr<uint64_t> released = TrimBeyondEof(entry.path().string());
    if (!released.ok()) {
      status = released.status();
      break;
    }
    if (*released > 0) {
      ++report.files_trimmed;
      report.bytes_released += *released;
    }
  }
  env->UnlockFile(lock).PermitUncheckedError();
  if (!status.ok()) return status;
  if (ec) {
    return absl::InternalError(
        StrCat("cannot list the store directory '", dir, "': ", ec.message()));
  }
  return report;
}

}  // namespace internal
}  // namespace annals
