// File: eventstore/internal/log_header_check.h
//
// A check of the record headers of a store's log files — its WAL files and
// the MANIFEST that CURRENT names — made before RocksDB reads them.
//
// Why: a log record header is CRC32C (4 bytes), length (2), type (1). Types
// 5-8 are RocksDB's "recyclable" records, whose header carries 4 more bytes:
// the number of the log file they were written to. RocksDB 7.8 reads the log
// files of a read-only follower (DB::OpenAsSecondary, TryCatchUpWithPrimary:
// the WAL in DBImplSecondary::RecoverLogFiles, the MANIFEST in
// ReactiveVersionSet's ManifestTailer) with log::FragmentBufferedReader.
// Its TryReadFragment (db/log_reader.cc:776-795 in 7.8.3) takes a header
// with a recyclable type, compares the 4 bytes after it with the file's
// number (0 for a MANIFEST) and, when they differ, returns kOldRecord
// *without consuming the header*; ReadRecord (log_reader.cc:589, 644-650)
// ignores kOldRecord and asks for the next fragment, which is the same one:
// it spins forever, before the CRC is ever checked. One flipped bit in a type
// byte (FULL = 1 -> 5) hangs every read-only open of the store (and the
// CLI's read commands), in RocksDB's main branch too. The writer's
// log::Reader (log_reader.cc:198-215) takes the same header for the end of
// the file and, with kTolerateCorruptedTailRecords, silently drops every
// record after it: acknowledged events vanish on the next writer open.
//
// annals never writes such records: every open sets recycle_log_file_num = 0
// (RocksDB's only reason to write them) and RocksDB never writes its MANIFEST
// that way. So a recyclable type byte in a store's log file is damage, and it
// is reported as kDataLoss before RocksDB can loop on it or skip it.
//
// The walk is the one RocksDB's readers make: 32 KiB blocks; a header never
// crosses a block, whose last < 7 bytes are padding; a record's payload
// follows its header. Payloads and CRCs are not read here (RocksDB checks
// them and reports Corruption). Where the framing itself is broken — zero
// padding, a length that overruns its block — the walk goes on at the next
// block, as RocksDB's reader does, so that every header it would reach is
// seen. Of a record cut short by the end of the file (a torn tail after a
// crash, or a live writer's record being appended) only the type is judged
// (RocksDB's follower needs no more to start spinning); the next call resumes
// at its header.
//
// Thread-safety: not thread-safe; one thread at a time (followers call it
// under their follower_mu_).

#ifndef ANNALS_EVENTSTORE_INTERNAL_LOG_HEADER_CHECK_H_
#define ANNALS_EVENTSTORE_INTERNAL_LOG_HEADER_CHECK_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "rocksdb/file_system.h"

namespace annals::internal {

class LogHeaderCheck {
 public:
  // `fs` (not owned) must outlive this; `store_path` is the store directory.
  LogHeaderCheck(rocksdb::FileSystem* fs, std::string store_path);

  // LogHeaderCheck::CheckNewRecords()
  //
  // Checks every record header of the store's WAL files (`<n>.log`) and of
  // the MANIFEST named by CURRENT that was not checked by an earlier call:
  // all of them on the first call, then only what a live writer appended
  // since (a follower calls it before each catch-up).
  //
  // Errors: kDataLoss naming the file and the byte of a damaged header and
  // what to do; a file-system error reading a file (through FromRocksDb). A
  // file that disappears meanwhile (a writer deletes WAL files it no longer
  // needs, or switches to a new MANIFEST) is skipped; an unreadable CURRENT
  // is left to the open's own checks.
  absl::Status CheckNewRecords();

 private:
  struct Progress {
    uint64_t next_header = 0;  // Offset of the first header not yet checked.
    uint64_t size_seen = 0;    // File size at the last check.
  };

  // Checks `name` (a file of the store) from `progress` on and advances it.
  // `kind` names it in messages ("WAL file", "MANIFEST"). Sets `*gone` when
  // the file no longer exists.
  absl::Status CheckFile(const std::string& name, const char* kind, Progress& progress, bool* gone);

  rocksdb::FileSystem* const fs_;
  const std::string path_;
  std::map<std::string, Progress> files_;  // By file name.
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_LOG_HEADER_CHECK_H_
