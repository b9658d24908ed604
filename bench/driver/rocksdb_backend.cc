// The `rocksdb` system: raw RocksDB doing the writes annals' design needs for
// the same events, written the way an expert would write them directly:
//
//   log           position:be64              -> compact record (fields below)
//   stream_index  stream_id:be64 version:be64 -> position:be64
//   event_ids     id:16                      -> position, stream_id, version
//   heads         stream name                -> stream_id, version, last position
//
// Each append is its own WriteBatch written with WriteOptions::sync as the
// store's durability says, from the appender's own thread; concurrent
// appenders are merged by RocksDB's own group commit (the write-thread
// leader writes and syncs the WAL for every waiting writer). Expected
// versions are checked against the appender's own in-memory head (each
// appender owns its streams, so no read is needed), global positions come
// from an atomic counter. What this skips compared to annals: the hash
// chain, checksums and FlatBuffers envelope (it writes the same bytes of
// payload and ids, and reserves the 32-byte hash so the records are the
// same size class), event-id lookups for idempotency, and the gap-free
// commit order (two concurrent appenders can commit positions out of
// order). It is therefore an upper bound, not a usable event store.
//
// Options are annals' own: the store's functions for its database, block
// cache and column families (eventstore/internal/rocksdb_options.h) with the
// tuning of its families (eventstore/internal/keys.h), for annals' default
// Options, so both systems always run the same RocksDB tuning.

#include <array>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "annals/options.h"
#include "bench/driver/backend.h"
#include "common/coding.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/rocksdb_options.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/write_batch.h"

namespace annals::bench {
namespace {

// The store's own families, in the order of annals::internal::Family.
enum Cf { kDefault = 0, kLog, kIndex, kHeads, kIds, kCfCount };
static_assert(kCfCount == static_cast<int>(annals::internal::kCoreFamilyCount));
static_assert(kLog == static_cast<int>(annals::internal::kLogFamily) &&
              kIndex == static_cast<int>(annals::internal::kStreamIndexFamily) &&
              kHeads == static_cast<int>(annals::internal::kHeadsFamily) &&
              kIds == static_cast<int>(annals::internal::kEventIdsFamily));

absl::Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(absl::string_view(what.data(), what.size()), ": ", s.ToString()));
}

void PutBe64(char* p, uint64_t v) { coding::EncodeBigEndian64(p, v); }
uint64_t GetBe64(const char* p) { return coding::DecodeBigEndian64(std::string_view(p, 8)); }

struct StreamState {
  uint64_t stream_id = 0;
  uint64_t version = 0;
};

class RocksDbBackend : public Backend {
 public:
  absl::Status Open(const BackendOptions& options) {
    annals::Options store_options;  // Documented defaults, as the annals system.
    if (options.block_cache_bytes > 0) store_options.block_cache_bytes = options.block_cache_bytes;
    rocksdb::DBOptions db = annals::internal::DbOptions(store_options);
    db.create_if_missing = true;
    db.create_missing_column_families = true;
    cache_ = annals::internal::NewBlockCache(store_options.block_cache_bytes);
    if (store_options.low_priority_compaction) {
      // As the store does (Options::low_priority_compaction).
      rocksdb::Status lowered = db.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                                   rocksdb::CpuPriority::kLow);
      if (!lowered.ok()) return ToStatus(lowered, "lowering the compaction threads' priority");
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const annals::internal::ColumnFamilySpec& family : annals::internal::kCoreFamilies) {
      cfs.emplace_back(std::string(family.name),
                       annals::internal::FamilyOptions(store_options, cache_, family.tuning));
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(db, options.dir, cfs, &handles, &raw);
    if (!s.ok()) return ToStatus(s, "opening RocksDB");
    db_.reset(raw);
    handles_ = handles;
    write_options_.sync = options.durable;
    // Resume counters of a prepared store: last position and stream id.
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, handles_[kLog]));
    it->SeekToLast();
    if (it->Valid()) next_position_ = GetBe64(it->key().data()) + 1;
    if (!it->status().ok()) return ToStatus(it->status(), "reading the last position");
    std::string v;
    s = db_->Get({}, handles_[kDefault], "next_stream_id", &v);
    if (s.ok() && v.size() == 8) next_stream_id_ = GetBe64(v.data());
    return absl::OkStatus();
  }

  ~RocksDbBackend() override {
    if (db_ != nullptr) {
      char buf[8];
      PutBe64(buf, next_stream_id_.load());
      db_->Put({}, handles_[kDefault], "next_stream_id", rocksdb::Slice(buf, 8))
          .PermitUncheckedError();
      for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db_->Close().PermitUncheckedError();
    }
  }

  absl::Status Append(int thread, const std::string& stream, uint64_t expected_version,
                      absl::Span<const BenchEvent> events) override {
    ThreadState& ts = thread_state(thread);
    StreamState& st = ts.streams[stream];
    if (st.version != expected_version) {
      return absl::AbortedError(absl::StrCat("stream ", stream, " is at ", st.version));
    }
    if (st.stream_id == 0) st.stream_id = next_stream_id_.fetch_add(1);
    uint64_t position = next_position_.fetch_add(events.size());
    rocksdb::WriteBatch& batch = ts.batch;
    batch.Clear();
    std::string& rec = ts.record;
    char key[16], val[24];
    for (const BenchEvent& e : events) {
      ++st.version;
      // Record: position, stream_id, version, recorded_at, id, type, payload,
      // 32-byte hash slot, 4-byte checksum slot: the envelope annals keeps.
      rec.clear();
      rec.resize(8 * 4);
      PutBe64(rec.data(), position);
      PutBe64(rec.data() + 8, st.stream_id);
      PutBe64(rec.data() + 16, st.version);
      PutBe64(rec.data() + 24, static_cast<uint64_t>(position * 1000));
      rec.append(e.id);
      rec.push_back(static_cast<char>(e.type.size()));
      rec.append(e.type);
      rec.push_back(static_cast<char>(stream.size()));
      rec.append(stream);
      char len[4];
      const uint32_t n = static_cast<uint32_t>(e.payload.size());
      std::memcpy(len, &n, 4);
      rec.append(len, 4);
      rec.append(e.payload);
      rec.append(e.payload.substr(0, 36));  // Hash + checksum slots (incompressible).
      PutBe64(key, position);
      batch.Put(handles_[kLog], rocksdb::Slice(key, 8), rec);
      PutBe64(key, st.stream_id);
      PutBe64(key + 8, st.version);
      PutBe64(val, position);
      batch.Put(handles_[kIndex], rocksdb::Slice(key, 16), rocksdb::Slice(val, 8));
      PutBe64(val + 8, st.stream_id);
      PutBe64(val + 16, st.version);
      batch.Put(handles_[kIds], e.id, rocksdb::Slice(val, 24));
      ++position;
    }
    PutBe64(val, st.stream_id);
    PutBe64(val + 8, st.version);
    PutBe64(val + 16, position - 1);
    batch.Put(handles_[kHeads], stream, rocksdb::Slice(val, 24));
    return ToStatus(db_->Write(write_options_, &batch), "writing an append");
  }

  absl::StatusOr<uint64_t> ReadStream(const std::string& stream) override {
    std::string head;
    rocksdb::Status s = db_->Get({}, handles_[kHeads], stream, &head);
    if (!s.ok() || head.size() != 24) return ToStatus(s, "reading the head");
    const uint64_t stream_id = GetBe64(head.data());
    char start[16];
    PutBe64(start, stream_id);
    PutBe64(start + 8, 1);
    std::unique_ptr<rocksdb::Iterator> index(db_->NewIterator({}, handles_[kIndex]));
    constexpr size_t kChunk = 256;
    std::vector<std::array<char, 8>> keys;
    std::vector<rocksdb::Slice> slices;
    std::vector<rocksdb::PinnableSlice> values(kChunk);
    std::vector<rocksdb::Status> statuses(kChunk);
    std::vector<rocksdb::ColumnFamilyHandle*> cfs(kChunk, handles_[kLog]);
    uint64_t n = 0, bytes = 0;
    index->Seek(rocksdb::Slice(start, 16));
    for (;;) {
      keys.clear();
      while (keys.size() < kChunk && index->Valid() && GetBe64(index->key().data()) == stream_id) {
        std::array<char, 8> k;
        std::memcpy(k.data(), index->value().data(), 8);
        keys.push_back(k);
        index->Next();
      }
      if (!index->status().ok()) return ToStatus(index->status(), "reading the index");
      if (keys.empty()) break;
      slices.clear();
      for (auto& k : keys) slices.emplace_back(k.data(), 8);
      for (auto& v : values) v.Reset();
      db_->MultiGet({}, keys.size(), cfs.data(), slices.data(), values.data(), statuses.data());
      for (size_t i = 0; i < keys.size(); ++i) {
        if (!statuses[i].ok()) return ToStatus(statuses[i], "reading a record");
        bytes += values[i].size() + static_cast<unsigned char>(values[i].data()[40]);
        ++n;
      }
    }
    g_sink = g_sink + bytes;
    return n;
  }

  absl::StatusOr<uint64_t> ScanAll() override {
    rocksdb::ReadOptions ro;
    ro.adaptive_readahead = true;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, handles_[kLog]));
    uint64_t n = 0, bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice v = it->value();
      bytes += v.size() + static_cast<unsigned char>(v.data()[40]);
      ++n;
    }
    if (!it->status().ok()) return ToStatus(it->status(), "scanning the log");
    g_sink = g_sink + bytes;
    return n;
  }

 private:
  struct ThreadState {
    std::unordered_map<std::string, StreamState> streams;
    rocksdb::WriteBatch batch;
    std::string record;
  };

  ThreadState& thread_state(int thread) {
    std::lock_guard<std::mutex> lock(threads_mu_);  // Uncontended after first use.
    auto& p = threads_[thread];
    if (!p) p = std::make_unique<ThreadState>();
    return *p;
  }

  std::shared_ptr<rocksdb::Cache> cache_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::WriteOptions write_options_;
  std::atomic<uint64_t> next_position_{1};
  std::atomic<uint64_t> next_stream_id_{1};
  std::mutex threads_mu_;
  std::unordered_map<int, std::unique_ptr<ThreadState>> threads_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenRocksDb(const BackendOptions& options) {
  auto backend = std::make_unique<RocksDbBackend>();
  absl::Status s = backend->Open(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Backend>(std::move(backend));
}

}  // namespace annals::bench
