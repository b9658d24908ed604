// Scavenge() and log compaction by key (docs/lifecycle.md, "Scavenging").
// The compaction filters that do the work are in scavenge_filter.cc; this
// file forces them over the whole store and computes what compaction by key
// supersedes.

#include <string>

#include "absl/container/flat_hash_map.h"
#include "codec/internal/stub_codec.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"
#include "nlohmann/json.hpp"

namespace annals {
namespace {

constexpr std::string_view kCompactionPrefix = "compaction/";

std::string EncodeCompactionKey(const CompactionKey& key) {
  return key.json_field.empty() ? std::string("stream") : StrCat("field:", key.json_field);
}

bool DecodeCompactionKey(std::string_view value, CompactionKey* key) {
  if (value == "stream") {
    key->json_field.clear();
    return true;
  }
  if (value.starts_with("field:") && value.size() > 6) {
    key->json_field.assign(value.substr(6));
    return true;
  }
  return false;
}

// Bytes of the live table files of every family.
uint64_t LiveTableBytes(rocksdb::DB* db, const std::vector<rocksdb::ColumnFamilyHandle*>& cfs) {
  uint64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : cfs) {
    uint64_t v = 0;
    if (db->GetIntProperty(cf, rocksdb::DB::Properties::kLiveSstFilesSize, &v)) total += v;
  }
  return total;
}

}  // namespace

absl::Status EventStore::Impl::SetCategoryCompaction(std::string_view category,
                                                     const CompactionKey& key) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "a read-only store cannot mark a category compacted; open it writable");
  }
  if (category.empty() || category.find('-') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("'", category,
               "' is not a category: give the part of the stream names before their first '-'"));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;  // A scavenge must never act on a setting a power loss can take back.
  rocksdb::Status s = db_->Put(wo, families_[internal::kDefaultFamily],
                               StrCat(kCompactionPrefix, category), EncodeCompactionKey(key));
  return internal::FromRocksDb(s, StrCat("marking category '", category, "' compacted"));
}

absl::StatusOr<absl::flat_hash_map<std::string, CompactionKey>>
EventStore::Impl::ReadCategoryCompactions(const rocksdb::ReadOptions& ro) const {
  absl::flat_hash_map<std::string, CompactionKey> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, families_[internal::kDefaultFamily]));
  for (it->Seek(rocksdb::Slice(kCompactionPrefix.data(), kCompactionPrefix.size()));
       it->Valid() &&
       it->key().starts_with(rocksdb::Slice(kCompactionPrefix.data(), kCompactionPrefix.size()));
       it->Next()) {
    CompactionKey key;
    const std::string_view name(it->key().data() + kCompactionPrefix.size(),
                                it->key().size() - kCompactionPrefix.size());
    if (!DecodeCompactionKey(std::string_view(it->value().data(), it->value().size()), &key)) {
      return absl::DataLossError(
          StrCat("the compaction setting of category '", name, "' is malformed; set it again"));
    }
    out.emplace(std::string(name), std::move(key));
  }
  RETURN_IF_ERROR(internal::FromRocksDb(it->status(), "reading the compacted categories"));
  return out;
}

absl::StatusOr<ScavengeReport> EventStore::Impl::Scavenge() {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "a read-only store cannot scavenge; run it on the writer (annals scavenge opens the "
        "store writable)");
  }
  MutexLock scavenge_lock(&scavenge_mu_);
  // Counted from here: the flush below may trigger background compactions,
  // which scavenge too.
  const uint64_t stubs_before = scavenge_state_->stubs_written.load();
  const std::vector<rocksdb::ColumnFamilyHandle*> all = AllFamilies();
  rocksdb::FlushOptions flush;
  flush.wait = true;
  RETURN_IF_ERROR(internal::FromRocksDb(db_->Flush(flush, all), "flushing before a scavenge"));
  ScavengeReport report;
  report.bytes_before = LiveTableBytes(db_.get(), all);

  // Log compaction by key: every event of a compacted category that a newer
  // event of its key supersedes, as of one snapshot. Later events are the
  // next scavenge's business.
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  absl::StatusOr<absl::flat_hash_map<std::string, CompactionKey>> categories =
      ReadCategoryCompactions(ro);
  auto compacted = std::make_shared<internal::CompactedPositions>();
  absl::Status scan = categories.status();
  if (scan.ok() && !categories->empty()) {
    // Newest position per (category, key); a key seen again supersedes it.
    absl::flat_hash_map<std::string, uint64_t> newest;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, families_[internal::kLogFamily]));
    codec_internal::RecordDecoder decoder = NewRecordDecoder();
    EventView view;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view bytes(it->value().data(), it->value().size());
      if (codec_internal::IsStub(bytes)) continue;
      // Unreadable records (damaged, or sealed without their key) are never
      // compacted.
      if (!decoder.Decode(bytes, true, &view).ok()) continue;
      const std::string_view category = internal::CategoryOf(view.stream);
      auto setting = categories->find(Sv(category));
      if (setting == categories->end()) continue;
      std::string key = StrCat(category, "\n");
      if (setting->second.json_field.empty()) {
        key.append(view.stream);
      } else {
        if (view.content_type != ContentType::kJson) continue;
        nlohmann::json doc = nlohmann::json::parse(view.payload.begin(), view.payload.end(),
                                                   nullptr, /*allow_exceptions=*/false);
        if (!doc.is_object()) continue;
        auto field = doc.find(setting->second.json_field);
        if (field == doc.end()) continue;
        key.append(field->dump());
      }
      auto [slot, inserted] = newest.try_emplace(std::move(key), view.position);
      if (!inserted) {
        compacted->insert(slot->second);
        slot->second = view.position;
      }
    }
    scan = internal::FromRocksDb(it->status(), "reading the log for compaction by key");
  }
  db_->ReleaseSnapshot(snapshot);
  RETURN_IF_ERROR(scan);

  if (!compacted->empty()) scavenge_state_->SetCompacted(compacted);
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  compact.exclusive_manual_compaction = false;  // Background compactions go on.
  // The log first: the index filters drop the entries of its stubs, those
  // it writes now and (found by one sequential scan) those of earlier runs.
  absl::Status st = internal::FromRocksDb(
      db_->CompactRange(compact, families_[internal::kLogFamily], nullptr, nullptr),
      "compacting the log for a scavenge");
  if (st.ok()) {
    std::vector<uint64_t> stubs;
    rocksdb::ReadOptions scan_ro;
    scan_ro.fill_cache = false;
    scan_ro.readahead_size = 2 << 20;
    std::unique_ptr<rocksdb::Iterator> it(
        db_->NewIterator(scan_ro, families_[internal::kLogFamily]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice v = it->value();
      if (it->key().size() == 8 && codec_internal::IsStub(std::string_view(v.data(), v.size()))) {
        stubs.push_back(coding::DecodeBigEndian64(std::string_view(it->key().data(), 8)));
      }
    }
    st = internal::FromRocksDb(it->status(), "finding the stubs of the log");
    if (st.ok()) scavenge_state_->AddStubbed(stubs);
  }
  for (internal::Family f : {internal::kStreamIndexFamily, internal::kEventIdsFamily}) {
    if (!st.ok()) break;
    st = internal::FromRocksDb(db_->CompactRange(compact, families_[f], nullptr, nullptr),
                               "compacting the indexes for a scavenge");
  }
  scavenge_state_->SetCompacted(nullptr);
  scavenge_state_->ClearStubbed();
  RETURN_IF_ERROR(st);
  report.scavenged = scavenge_state_->stubs_written.load() - stubs_before;
  report.bytes_after = LiveTableBytes(db_.get(), all);
  return report;
}

}  // namespace annals
