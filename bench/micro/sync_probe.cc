// sync_probe: what one small write + fdatasync costs on this file system when
// the file grows (as RocksDB's WAL does), grows into preallocated space
// (RocksDB preallocates WAL files), or is overwritten in place (as SQLite
// rewrites its WAL after each checkpoint). Explains why SQLite beats every
// RocksDB-based system with one durable appender (docs/benchmarks.md).
//
//   sync_probe append|prealloc|overwrite FILE COUNT
//
// Prints the mean microseconds per write+fdatasync. Removes FILE.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: sync_probe append|prealloc|overwrite FILE COUNT\n");
    return 2;
  }
  const std::string mode = argv[1];
  const char* path = argv[2];
  const long count = std::atol(argv[3]);
  if ((mode != "append" && mode != "prealloc" && mode != "overwrite") || count <= 0) {
    std::fprintf(stderr, "usage: sync_probe append|prealloc|overwrite FILE COUNT\n");
    return 2;
  }
  char record[400];  // About one annals record.
  std::memset(record, 'x', sizeof record);
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror("open");
    return 1;
  }
  auto fail = [&](const char* what) {
    std::perror(what);
    close(fd);
    unlink(path);
    return 1;
  };
  if (mode == "overwrite") {
    for (long i = 0; i < count; ++i) {
      if (write(fd, record, sizeof record) != static_cast<ssize_t>(sizeof record)) {
        return fail("write");
      }
    }
    if (fsync(fd) != 0 || lseek(fd, 0, SEEK_SET) != 0) return fail("fsync");
  } else if (mode == "prealloc") {
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(count * sizeof record)) != 0 ||
        fsync(fd) != 0) {
      return fail("fallocate");
    }
  }
  const auto start = std::chrono::steady_clock::now();
  for (long i = 0; i < count; ++i) {
    if (write(fd, record, sizeof record) != static_cast<ssize_t>(sizeof record)) {
      return fail("write");
    }
    if (fdatasync(fd) != 0) return fail("fdatasync");
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s %.1f us per write+fdatasync\n", mode.c_str(), seconds / count * 1e6);
  close(fd);
  unlink(path);
  return 0;
}
