// Cross-checks that make a partial view of a store visible (issue 11):
//
//  * The commit record: `default` holds where the log ends (position and
//    hash), written in the same WriteBatch as the events. If either column
//    family was rolled back, the two disagree.
//  * The MANIFEST check of read-only followers: RocksDB 7.8's secondary
//    instance (OpenAsSecondary/TryCatchUpWithPrimary) treats a table whose
//    metadata it cannot verify (e.g. one flipped bit in its properties
//    block fails verify_sst_unique_id_in_manifest) as missing, keeps that
//    column family at the version before the table and returns OK
//    (db/version_edit_handler.cc, VersionEditHandlerPointInTime). So a
//    follower compares the tables it serves with the live tables that the
//    MANIFEST lists; any table it dropped is damage.
//
// A writer open needs neither for its tables: RocksDB's primary open fails
// with Corruption on the same damage.

#include <limits>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "codec/internal/record_codec.h"
#include "codec/internal/stub_codec.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"
#include "rocksdb/env.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/metadata.h"

namespace rocksdb {
// Defined and exported by librocksdb 7.8 (util/file_checksum_helper.cc) but
// declared only in an internal header: reads a MANIFEST and lists the live
// files with their whole-file checksums, without opening or verifying any
// table — exactly the independent view a follower is checked against.
Status GetFileChecksumsFromManifest(Env* src_env, const std::string& abs_path,
                                    uint64_t manifest_file_size, FileChecksumList* checksum_list);
}  // namespace rocksdb

namespace annals {
namespace {

std::string TableName(uint64_t number) { return absl::StrFormat("%06d.sst", number); }

}  // namespace

absl::StatusOr<EventStore::Impl::ManifestView> EventStore::Impl::ReadManifest(bool list_files) {
  // The writer may switch to a new MANIFEST between reading CURRENT and
  // opening the file it names; a few attempts ride that out.
  rocksdb::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string current;
    s = rocksdb::ReadFileToString(env_, StrCat(path_, "/CURRENT"), &current);
    if (!s.ok()) continue;
    absl::StripAsciiWhitespace(&current);
    if (!current.starts_with("MANIFEST-") || current.find('/') != std::string::npos) {
      return absl::DataLossError(StrCat("the CURRENT file of store '", path_,
                                        "' is damaged (it names '", absl::CEscape(current),
                                        "', not a MANIFEST)"));
    }
    ManifestView view;
    view.name = current;
    const std::string manifest = StrCat(path_, "/", current);
    s = env_->GetFileSize(manifest, &view.size);
    if (!s.ok()) continue;
    if (!list_files) return view;
    std::unique_ptr<rocksdb::FileChecksumList> list(rocksdb::NewFileChecksumList());
    s = rocksdb::GetFileChecksumsFromManifest(env_, manifest, std::numeric_limits<uint64_t>::max(),
                                              list.get());
    if (s.IsCorruption()) {
      return absl::DataLossError(
          StrCat("the MANIFEST of store '", path_, "' (", current, ") is damaged: ", s.ToString()));
    }
    if (!s.ok()) continue;
    std::vector<std::string> checksums, functions;
    s = list->GetAllFileChecksums(&view.live_files, &checksums, &functions);
    if (s.ok()) return view;
  }
  return internal::FromRocksDb(s, StrCat("reading the MANIFEST of store '", path_, "'"));
}

absl::Status EventStore::Impl::CheckTablesAgainstManifest(bool force) {
  // Only a follower can serve a view without a table the MANIFEST lists.
  if (!options_.read_only) return absl::OkStatus();
  if (!force) {
    ASSIGN_OR_RETURN(ManifestView now, ReadManifest(/*list_files=*/false));
    if (now.name == checked_manifest_.name && now.size == checked_manifest_.size) {
      return absl::OkStatus();  // No MANIFEST edit since the last check.
    }
  }
  ASSIGN_OR_RETURN(ManifestView before, ReadManifest(/*list_files=*/true));
  // Order matters while a writer runs: a table live in the MANIFEST both
  // before and after this catch-up was live during it, so the follower must
  // serve it; tables the writer added or removed meanwhile are not judged.
  RETURN_IF_ERROR(TryCatchUp());
  std::vector<rocksdb::LiveFileMetaData> served;
  db_->GetLiveFilesMetaData(&served);
  ASSIGN_OR_RETURN(ManifestView after, ReadManifest(/*list_files=*/true));

  absl::flat_hash_set<uint64_t> serving;
  for (const rocksdb::LiveFileMetaData& f : served) serving.insert(f.file_number);
  const absl::flat_hash_set<uint64_t> still_live(after.live_files.begin(), after.live_files.end());
  std::vector<std::string> dropped;
  for (uint64_t number : before.live_files) {
    if (still_live.contains(number) && !serving.contains(number)) {
      dropped.push_back(TableName(number));
    }
  }
  if (!dropped.empty()) {
    return absl::DataLossError(StrCat(
        "store '", path_, "' is damaged: ", absl::StrJoin(dropped, ", "),
        dropped.size() == 1 ? " is" : " are",
        " listed in its MANIFEST but cannot be used (missing, unreadable, or its metadata is "
        "damaged); reading on would serve a shorter log. Restore the store from a backup or "
        "an export"));
  }
  checked_manifest_ = std::move(after);
  return absl::OkStatus();
}

absl::Status EventStore::Impl::CheckCommitRecord(const rocksdb::ReadOptions& ro,
                                                 uint64_t log_last_position,
                                                 std::string_view log_last_hash) {
  if (format_version_ < internal::kFirstFormatWithCommitRecord) return absl::OkStatus();
  std::string value;
  internal::CommitRecord commit;
  rocksdb::Status s =
      db_->Get(ro, families_[internal::kDefaultFamily], internal::kCommitKey, &value);
  if (s.ok()) {
    if (!internal::DecodeCommitRecord(value, &commit)) {
      return absl::DataLossError(StrCat("the commit record of store '", path_, "' is malformed (",
                                        value.size(), " bytes)"));
    }
  } else if (!s.IsNotFound()) {
    return internal::FromRocksDb(s, "reading the commit record");
  }
  if (commit.last_position != log_last_position ||
      (log_last_position > 0 && commit.last_hash != log_last_hash)) {
    return absl::DataLossError(StrCat(
        "store '", path_, "' is damaged: the log ends at position ", log_last_position,
        " but the commit record says ", commit.last_position,
        commit.last_position == log_last_position ? " with another hash" : "",
        "; a column family was rolled back or lost (a damaged or missing table or MANIFEST). "
        "Run annals verify; restore from a backup or an export"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::pair<uint64_t, std::string>> EventStore::Impl::ReadLogEnd(
    const rocksdb::ReadOptions& ro) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, families_[internal::kLogFamily]));
  it->SeekToLast();
  std::pair<uint64_t, std::string> end{0, std::string()};
  if (it->Valid()) {
    EventView last;
    // Canonical: reads the end of the log without opening a sealed payload.
    codec_internal::RecordDecoder decoder;
    codec_internal::PayloadEncoding encoding;
    const rocksdb::Slice v = it->value();
    const std::string_view bytes(v.data(), v.size());
    absl::Status st;
    if (codec_internal::IsStub(bytes)) {
      // A scavenged last event: its stub keeps the hash the chain ends with.
      std::string scratch;
      codec_internal::StubView stub;
      st = codec_internal::DecodeStub(bytes, &scratch, &stub);
      if (st.ok()) end = {stub.position, std::string(stub.hash)};
    } else {
      st = decoder.DecodeCanonical(bytes, true, &last, &encoding);
      if (st.ok()) end = {last.position, std::string(last.hash)};
    }
    if (!st.ok()) {
      return absl::DataLossError(
          StrCat("the newest record of the log is damaged: ", st.message(), "; run annals verify"));
    }
  }
  if (!it->status().ok()) return internal::FromRocksDb(it->status(), "reading the end of the log");
  return end;
}

absl::Status EventStore::Impl::CheckFollowerView() {
  RETURN_IF_ERROR(CheckTablesAgainstManifest(/*force=*/false));
  // While a writer flushes, one catch-up can see a column family's new table
  // before the WAL that still holds the other family's part of the same
  // batches; the next catch-up closes that window. A persistent mismatch is
  // damage.
  absl::Status commit;
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) {
      absl::SleepFor(absl::Milliseconds(25 * attempt));
      RETURN_IF_ERROR(TryCatchUp());
      RETURN_IF_ERROR(CheckTablesAgainstManifest(/*force=*/false));
    }
    rocksdb::ReadOptions ro;
    ASSIGN_OR_RETURN(auto end, ReadLogEnd(ro));
    commit = CheckCommitRecord(ro, end.first, end.second);
    if (commit.ok()) {
      PublishPosition(end.first);
      return commit;
    }
  }
  return commit;
}

}  // namespace annals
