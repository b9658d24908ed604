// See aggregates/internal/stream_tail_reader.h. Key grammar of the families
// read here: eventstore/internal/keys.h.

#include "aggregates/internal/stream_tail_reader.h"

#include <algorithm>
#include <memory>
#include <string>

#include "common/coding.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/record_codec.h"
#include "eventstore/internal/rocksdb_status.h"
#include "rocksdb/db.h"

namespace annals::internal {
namespace {

class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

absl::Status Damaged(std::string_view stream, uint64_t version, std::string_view what) {
  return absl::DataLossError(StrCat("stream '", stream, "' version ", version, ": ", what,
                                    "; run annals verify"));
}

}  // namespace

absl::Status ReadStreamTail(EventStore& store, std::string_view stream, uint64_t from_version,
                            uint64_t to_version,
                            absl::FunctionRef<bool(const EventView&)> visit) {
  EventStore::Impl& impl = *store.impl();
  if (impl.read_only()) {
    // A follower's reads must be serialized with its CatchUp() (the core
    // does that inside ScanStream()); take the core's path.
    ReadStreamOptions options;
    options.from_version = std::max<uint64_t>(1, from_version);
    if (to_version != 0) {
      if (to_version < options.from_version) return absl::OkStatus();
      options.limit = to_version - options.from_version + 1;
    }
    return store.ScanStream(stream, options, visit);
  }
  rocksdb::DB* db = impl.db();
  ScopedSnapshot snapshot(db);
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot.get();

  std::string value;
  rocksdb::Status s = db->Get(ro, impl.family(kHeadsFamily), rocksdb::Slice(stream.data(), stream.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError(StrCat("stream '", stream, "' has no events"));
  if (!s.ok()) return FromRocksDb(s, StrCat("reading stream '", stream, "'"));
  Head head;
  if (!DecodeHead(value, &head)) {
    return absl::DataLossError(StrCat("head of stream '", stream, "' is malformed"));
  }
  const uint64_t first = std::max<uint64_t>(1, from_version);
  const uint64_t last = to_version == 0 ? head.version : std::min(to_version, head.version);
  if (first > last) return absl::OkStatus();

  std::unique_ptr<rocksdb::Iterator> index(db->NewIterator(ro, impl.family(kStreamIndexFamily)));
  std::unique_ptr<rocksdb::Iterator> log(db->NewIterator(ro, impl.family(kLogFamily)));
  const bool verify = impl.options().verify_checksums_on_read;
  EventView view;
  std::string record;
  uint64_t previous_position = 0;
  uint64_t version = first;
  index->Seek(StreamIndexKey(head.stream_id, first));
  for (; version <= last; ++version, index->Next()) {
    if (!index->Valid()) break;
    const rocksdb::Slice k = index->key();
    if (k.size() != 16 ||
        coding::DecodeBigEndian64(std::string_view(k.data(), 8)) != head.stream_id ||
        coding::DecodeBigEndian64(std::string_view(k.data() + 8, 8)) != version ||
        index->value().size() != 8) {
      break;
    }
    const uint64_t position = coding::DecodeBigEndian64(std::string_view(index->value().data(), 8));
    if (previous_position != 0 && position == previous_position + 1 && log->Valid()) {
      log->Next();
    } else {
      log->Seek(coding::BigEndian64(position));
    }
    previous_position = position;
    if (!log->Valid() || log->key().size() != 8 ||
        coding::DecodeBigEndian64(std::string_view(log->key().data(), 8)) != position) {
      if (!log->status().ok()) break;
      return Damaged(stream, version,
                     StrCat("position ", position, " is listed in the stream index but missing "
                            "from the log"));
    }
    // Iterator values sit at arbitrary addresses inside RocksDB blocks;
    // FlatBuffers reads 4- and 8-byte scalars in place, so decode from an
    // aligned copy (std::string storage is malloc-aligned).
    record.assign(log->value().data(), log->value().size());
    absl::Status decoded = DecodeRecord(record, verify, &view);
    if (!decoded.ok()) {
      return Damaged(stream, version, StrCat("record at position ", position, " is damaged: ",
                                             StdSv(decoded.message())));
    }
    if (view.stream != stream || view.position != position || view.version != version) {
      return Damaged(stream, version,
                     StrCat("record at position ", position,
                            " belongs elsewhere than its index entry says"));
    }
    if (!visit(view)) return absl::OkStatus();
  }
  if (!index->status().ok()) {
    return FromRocksDb(index->status(), StrCat("reading the index of stream '", stream, "'"));
  }
  if (!log->status().ok()) {
    return FromRocksDb(log->status(), StrCat("reading the log for stream '", stream, "'"));
  }
  if (version <= last) {
    return Damaged(stream, version,
                   StrCat("the stream index lacks it (head says ", head.version, ")"));
  }
  return absl::OkStatus();
}

}  // namespace annals::internal
