// SnapshotStore over the "snapshots" column family, which this module owns
// (declared below; eventstore/internal/column_family.h). The key grammar and
// value layout are documented in include/annals/snapshot_store.h and
// docs/aggregates.md.

#include "annals/snapshot_store.h"

#include <memory>

#include "annals/statistics.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/store_access.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace annals {
namespace {

// Point lookups and short per-stream scans: the default tuning.
constexpr internal::ColumnFamilySpec kSnapshotsFamily{.name = "snapshots"};
const internal::ColumnFamilyDeclaration kDeclareSnapshotsFamily(kSnapshotsFamily);

// The snapshots family of `store`, or nullptr when a read-only store does
// not have it (yet): it holds no snapshots.
absl::StatusOr<rocksdb::ColumnFamilyHandle*> FamilyToRead(EventStore& store) {
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf =
      internal::StoreAccess::Family(store, kSnapshotsFamily);
  if (absl::IsNotFound(cf.status()) && store.read_only()) return nullptr;
  return cf;
}

constexpr std::string_view kMagic = "ANS1";
constexpr size_t kFixedBody = 8 + 8 + 8 + 4;

std::string StreamPrefix(std::string_view stream) {
  std::string key;
  key.reserve(4 + stream.size() + 8);
  coding::PutBigEndian32(&key, static_cast<uint32_t>(stream.size()));
  key.append(stream);
  return key;
}

std::string SnapshotKey(std::string_view stream, uint64_t version) {
  std::string key = StreamPrefix(stream);
  coding::PutBigEndian64(&key, version);
  return key;
}

std::string EncodeValue(const Snapshot& s) {
  std::string body;
  body.reserve(kFixedBody + s.fingerprint.size() + s.state.size());
  coding::PutBigEndian64(&body, static_cast<uint64_t>(s.event_recorded_at_us));
  coding::PutBigEndian64(&body, static_cast<uint64_t>(s.taken_at_us));
  coding::PutBigEndian64(&body, static_cast<uint64_t>(s.encode_micros));
  coding::PutBigEndian32(&body, static_cast<uint32_t>(s.fingerprint.size()));
  body.append(s.fingerprint);
  body.append(s.state);
  std::string value(kMagic);
  coding::PutBigEndian32(&value, crc32c::Value(body.data(), body.size()));
  value.append(body);
  return value;
}

// Decodes the header (everything but the state) of a value; with
// `with_state`, checks the CRC and copies the state too. False when damaged.
bool DecodeValue(std::string_view value, bool with_state, Snapshot* s) {
  if (value.size() < kMagic.size() + 4 + kFixedBody || value.substr(0, 4) != kMagic) return false;
  const uint32_t crc = coding::DecodeBigEndian32(value.substr(4));
  std::string_view body = value.substr(8);
  if (with_state && crc32c::Value(body.data(), body.size()) != crc) return false;
  s->event_recorded_at_us = static_cast<int64_t>(coding::DecodeBigEndian64(body));
  s->taken_at_us = static_cast<int64_t>(coding::DecodeBigEndian64(body.substr(8)));
  s->encode_micros = static_cast<int64_t>(coding::DecodeBigEndian64(body.substr(16)));
  const uint32_t fp_len = coding::DecodeBigEndian32(body.substr(24));
  if (body.size() < kFixedBody + fp_len) return false;
  s->fingerprint.assign(body.substr(kFixedBody, fp_len));
  if (with_state) {
    s->state.assign(body.substr(kFixedBody + fp_len));
  } else {
    s->state.clear();
  }
  return true;
}

bool ParseKey(std::string_view key, size_t prefix_size, uint64_t* version) {
  if (key.size() != prefix_size + 8) return false;
  *version = coding::DecodeBigEndian64(key.substr(prefix_size));
  return true;
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

}  // namespace

SnapshotStore::SnapshotStore(EventStore& store) : store_(store) {}

absl::Status SnapshotStore::Put(const Snapshot& snapshot, size_t keep_last) {
  absl::Status status = Write(snapshot, keep_last);
  Statistics* const stats = store_.options().statistics.get();
  if (status.ok()) {
    RecordTick(stats, Ticker::kSnapshotsSaved);
    RecordTick(stats, Ticker::kSnapshotBytesSaved, snapshot.state.size());
  } else {
    RecordTick(stats, Ticker::kSnapshotSaveFailures);
  }
  return status;
}

absl::Status SnapshotStore::Write(const Snapshot& snapshot, size_t keep_last) {
  if (store_.read_only()) {
    return absl::FailedPreconditionError("cannot write snapshots to a read-only store");
  }
  if (snapshot.stream.empty() || snapshot.version == 0 || keep_last == 0) {
    return absl::InvalidArgumentError(
        "a snapshot needs a stream, a version of 1 or more, and keep_last of 1 or more");
  }
  rocksdb::DB* db = internal::StoreAccess::Db(store_);
  ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* const cf,
                   internal::StoreAccess::Family(store_, kSnapshotsFamily));
  const std::string prefix = StreamPrefix(snapshot.stream);

  rocksdb::WriteBatch batch;
  // Walk the stream's snapshots newest first: keep keep_last - 1 older ones
  // of this fingerprint (plus the new one), delete the rest.
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
    const std::string last = SnapshotKey(snapshot.stream, UINT64_MAX);
    size_t kept = 1;
    for (it->SeekForPrev(last); it->Valid(); it->Prev()) {
      const std::string_view key(it->key().data(), it->key().size());
      if (!key.starts_with(prefix)) break;
      uint64_t version = 0;
      if (!ParseKey(key, prefix.size(), &version)) break;
      if (version == snapshot.version) continue;  // overwritten below
      Snapshot header;
      const bool ok =
          DecodeValue(std::string_view(it->value().data(), it->value().size()), false, &header);
      // Keep the newest keep_last valid snapshots of this fingerprint (a
      // newer one than `snapshot`, from a concurrent writer, counts too);
      // delete older ones, damaged ones and other fingerprints.
      if (ok && header.fingerprint == snapshot.fingerprint && kept < keep_last) {
        ++kept;
        continue;
      }
      batch.Delete(cf, it->key());
    }
    if (!it->status().ok()) {
      return internal::FromRocksDb(it->status(),
                                   StrCat("listing snapshots of '", snapshot.stream, "'"));
    }
  }
  batch.Put(cf, SnapshotKey(snapshot.stream, snapshot.version), EncodeValue(snapshot));
  rocksdb::WriteOptions wo;
  wo.sync = false;
  return internal::FromRocksDb(db->Write(wo, &batch),
                               StrCat("writing a snapshot of '", snapshot.stream, "'"));
}

absl::StatusOr<Snapshot> SnapshotStore::FindLatest(std::string_view stream,
                                                   const SnapshotQuery& query) {
  Statistics* const stats = store_.options().statistics.get();
  RecordTick(stats, Ticker::kSnapshotLookups);
  rocksdb::DB* db = internal::StoreAccess::Db(store_);
  ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* const cf, FamilyToRead(store_));
  if (cf == nullptr) return absl::NotFoundError(StrCat("no usable snapshot of '", stream, "'"));
  const std::string prefix = StreamPrefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  Snapshot s;
  for (it->SeekForPrev(SnapshotKey(stream, query.max_version)); it->Valid(); it->Prev()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!key.starts_with(prefix)) break;
    uint64_t version = 0;
    if (!ParseKey(key, prefix.size(), &version)) break;
    const std::string_view value(it->value().data(), it->value().size());
    Snapshot header;
    if (!DecodeValue(value, false, &header)) {
      damaged_skipped_.fetch_add(1, std::memory_order_relaxed);
      RecordTick(stats, Ticker::kSnapshotDamagedSkipped);
      continue;
    }
    if (header.fingerprint != query.fingerprint ||
        header.event_recorded_at_us > query.max_recorded_at_us) {
      continue;
    }
    if (!DecodeValue(value, true, &s)) {
      damaged_skipped_.fetch_add(1, std::memory_order_relaxed);
      RecordTick(stats, Ticker::kSnapshotDamagedSkipped);
      continue;
    }
    s.stream.assign(stream);
    s.version = version;
    RecordTick(stats, Ticker::kSnapshotHits);
    return s;
  }
  if (!it->status().ok()) {
    return internal::FromRocksDb(it->status(), StrCat("reading snapshots of '", stream, "'"));
  }
  RecordTick(stats, Ticker::kSnapshotMisses);
  return absl::NotFoundError(StrCat("no usable snapshot of '", stream, "'"));
}

absl::StatusOr<std::vector<Snapshot>> SnapshotStore::List(std::string_view stream) {
  rocksdb::DB* db = internal::StoreAccess::Db(store_);
  ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* const cf, FamilyToRead(store_));
  std::vector<Snapshot> out;
  if (cf == nullptr) return out;
  const std::string prefix = StreamPrefix(stream);
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  for (it->Seek(ToSlice(prefix)); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    if (!key.starts_with(prefix)) break;
    Snapshot s;
    if (!ParseKey(key, prefix.size(), &s.version) ||
        !DecodeValue(std::string_view(it->value().data(), it->value().size()), false, &s)) {
      return absl::DataLossError(StrCat("a snapshot of '", stream, "' is damaged"));
    }
    s.stream.assign(stream);
    out.push_back(std::move(s));
  }
  if (!it->status().ok()) {
    return internal::FromRocksDb(it->status(), StrCat("listing snapshots of '", stream, "'"));
  }
  return out;
}

absl::Status SnapshotStore::DeleteStream(std::string_view stream) {
  if (store_.read_only()) {
    return absl::FailedPreconditionError("cannot delete snapshots in a read-only store");
  }
  rocksdb::DB* db = internal::StoreAccess::Db(store_);
  ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle* const cf,
                   internal::StoreAccess::Family(store_, kSnapshotsFamily));
  std::string end = StreamPrefix(stream);
  std::string begin = end;
  end.append(8, '\xff');
  end.push_back('\xff');
  rocksdb::WriteBatch batch;
  batch.DeleteRange(cf, begin, end);
  return internal::FromRocksDb(db->Write(rocksdb::WriteOptions(), &batch),
                               StrCat("deleting snapshots of '", stream, "'"));
}

}  // namespace annals
