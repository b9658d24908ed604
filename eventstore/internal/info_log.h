// File: eventstore/internal/info_log.h
//
// RocksDB's info log, kept off the store's disk, and the clean-up of WAL
// space that a killed writer left preallocated.
//
// Why: with no `DBOptions::info_log`, RocksDB writes a `LOG` file into the
// store directory. On a full disk that file's writes fail too, and Debian's
// librocksdb 7.8 (built with assertions) then aborts the process
// (`writable_file_writer.h:312: sync_without_flush_called_`) from DB::Open or
// from the SstFileManager's recovery thread. Giving RocksDB a logger of our
// own means RocksDB never opens a file for its log.

#ifndef ANNALS_EVENTSTORE_INTERNAL_INFO_LOG_H_
#define ANNALS_EVENTSTORE_INTERNAL_INFO_LOG_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/log_sink.h"
#include "rocksdb/env.h"

namespace annals::internal {

// A rocksdb::Logger that formats each message and hands it to `sink`, or
// drops every message when `sink` is null. Never touches a file.
// Thread-safe (RocksDB calls it from its background threads).
std::shared_ptr<rocksdb::Logger> NewInfoLogger(std::shared_ptr<LogSink> sink);

// What ReleaseStaleWalSpace() did.
struct WalSpaceReport {
  int files_trimmed = 0;
  uint64_t bytes_released = 0;  // Allocated bytes beyond end of file, freed.
};

// Frees disk space allocated beyond the end of the store's WAL files
// (`<dir>/<number>.log`).
//
// Why: RocksDB preallocates each WAL with fallocate(FALLOC_FL_KEEP_SIZE)
// (about 1.1 x the memtable size) and gives back what it did not use when it
// closes the file. A writer that is killed cannot, and the blocks beyond the
// file's end stay allocated: ~20 MB of a 16 MiB ext4 (all of its free space)
// in the reproduction, so the next open's recovery flush failed for
// lack of space, again and again.
//
// Safety: takes the store's LOCK through `env` (RocksDB's own lock, the one
// DB::Open takes; it also fails when this process has the store open), so no
// writer is running and every WAL file is a dead writer's. Only bytes beyond
// each file's end are released (fallocate PUNCH_HOLE | KEEP_SIZE), so no
// byte of a WAL changes. The lock is released before returning; a writer
// that takes it afterwards creates new WAL files, which are never touched.
// When the LOCK is held by someone else, returns OK with nothing done (the
// open that follows reports the lock).
absl::StatusOr<WalSpaceReport> ReleaseStaleWalSpace(rocksdb::Env* env, const std::string& dir);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_INFO_LOG_H_
