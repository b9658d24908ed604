// Verify() and Stats(): the auditor's view of a store.
//
// Verify combines RocksDB's own checks (block checksums of every SST, whole-
// file CRC32C checksums) with annals' record checksums, the SHA-256 hash
// chain, gap-free positions, and cross-checks of the stream index, the stream
// heads and the event-id index against the log. It stops at the first damage.

#include <filesystem>
#include <system_error>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "codec/internal/record_codec.h"
#include "codec/internal/stub_codec.h"
#include "common/coding.h"
#include "common/sha256.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals {
namespace {

struct StreamTally {
  uint64_t stream_id = 0;
  uint64_t version = 0;
  uint64_t last_position = 0;
};

uint64_t CountKeys(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, rocksdb::Status* status) {
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  *status = it->status();
  return n;
}

}  // namespace

absl::StatusOr<VerifyReport> EventStore::Impl::Verify() {
  VerifyReport report;
  auto fail = [&report](uint64_t position, std::string reason) {
    report.ok = false;
    report.first_bad_position = position;
    report.reason = std::move(reason);
    return report;
  };

  if (options_.read_only) {
    // A follower may serve a view without a table it could not verify
    // (event_store_integrity.cc); RocksDB's checks below never see such a
    // table, so compare with the MANIFEST first.
    WriterLock lock(&follower_mu_);
    absl::Status tables = CheckTablesAgainstManifest(/*force=*/true);
    if (absl::IsDataLoss(tables)) return fail(0, std::string(tables.message()));
    RETURN_IF_ERROR(tables);
  }
  // One consistent view for the whole check: a snapshot, or for a follower
  // (no snapshots in RocksDB secondaries) the exclusion of CatchUp().
  ReaderLock follower_lock(&follower_mu_);
  const rocksdb::Snapshot* snapshot = options_.read_only ? nullptr : db_->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() {
      if (s != nullptr) db->ReleaseSnapshot(s);
    }
  } release{db_.get(), snapshot};
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.verify_checksums = true;

  // RocksDB's block checksums of every live SST; the scan below locates the
  // first bad position if this fails in the log.
  const rocksdb::Status rocks_check = db_->VerifyChecksum(ro);
  std::string rocks_problem;
  if (!rocks_check.ok()) rocks_problem = rocks_check.ToString();
  // Whole-file CRC32C of every live table, against the MANIFEST's record.
  rocksdb::Status files = db_->VerifyFileChecksums(ro);
  if (!files.ok() && !files.IsNotSupported() && rocks_problem.empty()) {
    rocks_problem = files.ToString();
  }

  absl::flat_hash_map<std::string, StreamTally> streams;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, families_[internal::kLogFamily]));
  uint64_t expected = 1;
  std::string prev_hash(codec_internal::kGenesisHash);
  Sha256 sha;
  EventView view;
  // Canonical decoding never opens a sealed payload: the chain verifies
  // without any key (codec/internal/canonical.h).
  codec_internal::RecordDecoder decoder;
  codec_internal::PayloadEncoding encoding;
  std::string value;
  std::string stub_scratch;
  uint64_t after_stub = 0;  // The position of the last stub seen.
  // What a stub may claim: the policy and the compacted categories.
  const std::shared_ptr<const internal::ScavengePolicy> policy = scavenge_state_->policy();
  ASSIGN_OR_RETURN(const auto categories, ReadCategoryCompactions(ro));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const rocksdb::Slice key = it->key();
    const uint64_t position =
        key.size() == 8 ? coding::DecodeBigEndian64(std::string_view(key.data(), 8)) : 0;
    if (position != expected) {
      return fail(expected,
                  position > expected
                      ? StrCat("gap: position ", expected, " is missing (next is ", position, ")")
                      : StrCat("malformed log key after position ", expected - 1));
    }
    const std::string_view bytes(it->value().data(), it->value().size());
    if (codec_internal::IsStub(bytes)) {
      // A scavenged event (docs/format.md, "Stub"): it must sit in the chain
      // where its event was, and be one the policy let go.
      codec_internal::StubView stub;
      absl::Status st = codec_internal::DecodeStub(bytes, &stub_scratch, &stub);
      if (!st.ok()) return fail(position, std::string(st.message()));
      if (stub.position != position) {
        return fail(position, StrCat("stub says position ", stub.position));
      }
      if (stub.previous_hash != prev_hash) {
        return fail(position, StrCat("forged stub: its previous hash is not the hash of position ",
                                     position - 1, " (a stub rewritten, moved or inserted)"));
      }
      const std::string_view category = internal::CategoryOf(stub.stream);
      if (stub.reason == codec_internal::ScavengeReason::kCompacted) {
        if (!categories.contains(Sv(category))) {
          return fail(position, StrCat("forged stub: it says compacted by key, but category '",
                                       category, "' is not compacted"));
        }
      } else if (policy != nullptr &&
                 !policy->Unreachable({.stream = stub.stream,
                                       .version = stub.version,
                                       .position = position,
                                       .recorded_at_us = stub.recorded_at_us})) {
        return fail(position,
                    StrCat("forged stub: the scavenge policy says version ", stub.version, " of '",
                           stub.stream, "' is still reachable, so it cannot have been scavenged"));
      }
      prev_hash.assign(stub.hash);
      after_stub = position;
      StreamTally& tally = streams[Sv(stub.stream)];
      if (stub.version != tally.version + 1) {
        return fail(position, StrCat("stream '", stub.stream, "' jumps from version ",
                                     tally.version, " to ", stub.version, " (at a stub)"));
      }
      if (tally.stream_id == 0) {
        rocksdb::Status s = db_->Get(ro, families_[internal::kHeadsFamily], stub.stream, &value);
        internal::Head head;
        if (!s.ok() || !internal::DecodeHead(value, &head)) {
          return fail(position, StrCat("stream '", stub.stream, "' has no readable head (",
                                       s.ToString(), ")"));
        }
        tally.stream_id = head.stream_id;
      }
      tally.version = stub.version;
      tally.last_position = position;
      // Its stream index entry is dropped by the next compaction of the
      // index; until then it must point here.
      rocksdb::Status s = db_->Get(ro, families_[internal::kStreamIndexFamily],
                                   internal::StreamIndexKey(tally.stream_id, stub.version), &value);
      if (s.ok() && (value.size() != 8 || coding::DecodeBigEndian64(value) != position)) {
        return fail(position, StrCat("stream index entry of '", stub.stream, "' version ",
                                     stub.version, " does not point to its stub"));
      }
      if (!s.ok() && !s.IsNotFound()) return fail(position, s.ToString());
      ++expected;
      ++report.scavenged;
      continue;
    }
    absl::Status st = decoder.DecodeCanonical(bytes, true, &view, &encoding);
    if (!st.ok()) return fail(position, std::string(st.message()));
    if (view.position != position) {
      return fail(position, StrCat("record says position ", view.position));
    }
    const Sha256::Digest hash = codec_internal::ChainHash(sha, prev_hash, view, encoding);
    if (std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()) != view.hash) {
      if (after_stub == position - 1) {
        // The stub's hash is what this record chains from: a stub whose hash
        // was rewritten (with a fresh checksum) shows here.
        return fail(position - 1, StrCat("forged stub: the record at position ", position,
                                         " does not chain from the stub's hash"));
      }
      return fail(position,
                  "hash chain broken: the record's hash does not follow from the previous record "
                  "and its content (rewritten or reordered)");
    }
    prev_hash.assign(view.hash);
    if (encoding.cipher == crypto_internal::kSubjectCipherId) {
      // Crypto-shredded (its key is gone): intact, and counted.
      absl::StatusOr<bool> erased = SealedErased(view.subject, view.payload);
      if (!erased.ok()) return fail(position, std::string(erased.status().message()));
      if (*erased) ++report.erased;
    }

    StreamTally& tally = streams[Sv(view.stream)];
    if (view.version != tally.version + 1) {
      return fail(position, StrCat("stream '", view.stream, "' jumps from version ", tally.version,
                                   " to ", view.version));
    }
    if (tally.stream_id == 0) {
      rocksdb::Status s = db_->Get(ro, families_[internal::kHeadsFamily], view.stream, &value);
      internal::Head head;
      if (!s.ok() || !internal::DecodeHead(value, &head)) {
        return fail(position,
                    StrCat("stream '", view.stream, "' has no readable head (", s.ToString(), ")"));
      }
      tally.stream_id = head.stream_id;
    }
    tally.version = view.version;
    tally.last_position = position;

    rocksdb::Status s = db_->Get(ro, families_[internal::kStreamIndexFamily],
                                 internal::StreamIndexKey(tally.stream_id, view.version), &value);
    if (!s.ok() || value.size() != 8 || coding::DecodeBigEndian64(value) != position) {
      return fail(position, StrCat("stream index entry of '", view.stream, "' version ",
                                   view.version, " does not point here (", s.ToString(), ")"));
    }
    internal::EventIdEntry entry;
    s = db_->Get(ro, families_[internal::kEventIdsFamily], view.id.AsBytes(), &value);
    if (!s.ok() || !internal::DecodeEventIdEntry(value, &entry) || entry.position != position) {
      return fail(position, StrCat("event-id index entry of ", view.id.ToString(),
                                   " does not point here (", s.ToString(), ")"));
    }
    ++expected;
    ++report.events;
  }
  if (!it->status().ok()) {
    return fail(expected, StrCat("RocksDB cannot read the log here: ", it->status().ToString()));
  }
  report.last_position = expected - 1;
  report.last_hash = HexEncode(prev_hash == codec_internal::kGenesisHash ? "" : prev_hash);
  // The commit record, read in the same view, must name this end of the log:
  // a rolled-back `log` or `default` family shows here.
  absl::Status commit =
      CheckCommitRecord(ro, report.last_position, report.last_position > 0 ? prev_hash : "");
  if (absl::IsDataLoss(commit) && after_stub != 0 && after_stub == report.last_position) {
    return fail(after_stub, StrCat("forged stub: the commit record does not name the hash of the "
                                   "stub that ends the log (",
                                   commit.message(), ")"));
  }
  if (absl::IsDataLoss(commit)) return fail(expected, std::string(commit.message()));
  RETURN_IF_ERROR(commit);

  // Every head must match the log, and every stream in the log have a head.
  std::unique_ptr<rocksdb::Iterator> heads(db_->NewIterator(ro, families_[internal::kHeadsFamily]));
  for (heads->SeekToFirst(); heads->Valid(); heads->Next()) {
    const std::string_view name(heads->key().data(), heads->key().size());
    internal::Head head;
    auto tally = streams.find(Sv(name));
    if (!internal::DecodeHead(std::string_view(heads->value().data(), heads->value().size()),
                              &head) ||
        tally == streams.end() || tally->second.version != head.version ||
        tally->second.last_position != head.last_position ||
        tally->second.stream_id != head.stream_id) {
      return fail(0, StrCat("head of stream '", name, "' does not match the log"));
    }
    ++report.streams;
  }
  if (!heads->status().ok()) {
    return fail(0, StrCat("RocksDB cannot read the stream heads: ", heads->status().ToString()));
  }
  if (report.streams != streams.size()) {
    return fail(0, StrCat(streams.size() - report.streams, " streams of the log have no head"));
  }
  rocksdb::Status count_status;
  const uint64_t index_entries =
      CountKeys(db_.get(), families_[internal::kStreamIndexFamily], &count_status);
  // Every event has its entry (checked above); a stub may still have one.
  if (count_status.ok() &&
      (index_entries < report.events || index_entries > report.events + report.scavenged)) {
    return fail(0, StrCat("stream index has ", index_entries, " entries for ", report.events,
                          " events and ", report.scavenged, " stubs"));
  }
  if (!count_status.ok()) return fail(0, count_status.ToString());
  if (!rocks_problem.empty()) {
    return fail(0, StrCat("RocksDB checksum verification failed: ", rocks_problem));
  }
  return report;
}

absl::StatusOr<StoreStats> EventStore::Impl::Stats() const {
  StoreStats stats;
  stats.last_position = last_position();
  stats.events = stats.last_position;  // Positions are gap-free from 1.
  absl::Status st = ListStreams("", [&](const StreamInfo&) {
    ++stats.streams;
    return true;
  });
  if (!st.ok()) return st;
  for (rocksdb::ColumnFamilyHandle* cf : AllFamilies()) {
    uint64_t v = 0;
    if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kTotalSstFilesSize, &v)) {
      stats.sst_bytes += v;
    }
    if (db_->GetIntProperty(cf, rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
      stats.memtable_bytes += v;
    }
  }
  stats.block_cache_bytes = block_cache_ ? block_cache_->GetUsage() : 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(path_, ec)) {
    std::error_code size_ec;
    if (entry.is_regular_file(size_ec)) {
      const auto size = entry.file_size(size_ec);
      if (!size_ec) stats.bytes_on_disk += size;
    }
  }
  return stats;
}

}  // namespace annals
