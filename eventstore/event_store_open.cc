// Opening a store: RocksDB options, column families, format checks and the
// recovery of the committer's state (next position, chain hash, stream ids).

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/info_log.h"
#include "eventstore/internal/record_codec.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/store_dir.h"
#include "eventstore/internal/test_hooks.h"
#include "rocksdb/cache.h"
#include "rocksdb/env.h"
#include "rocksdb/file_checksum.h"
#include "rocksdb/file_system.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"

namespace annals {
namespace fs = std::filesystem;
using internal::FromRocksDb;

namespace {

rocksdb::CompressionType BottomCompression(Compression c) {
  switch (c) {
    case Compression::kNone:
      return rocksdb::kNoCompression;
    case Compression::kLz4:
      return rocksdb::kLZ4Compression;
    case Compression::kZstd:
      return rocksdb::kZSTD;
  }
  return rocksdb::kZSTD;
}

rocksdb::ColumnFamilyOptions FamilyOptions(const Options& options,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           internal::Family family) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_bytes;
  cf.max_write_buffer_number = 2;
  cf.level_compaction_dynamic_level_bytes = true;
  // New data stays cheap to write and read; only the bottom level, where
  // most bytes end up, pays for the stronger compressor.
  cf.compression = options.compression == Compression::kNone ? rocksdb::kNoCompression
                                                             : rocksdb::kLZ4Compression;
  cf.bottommost_compression = BottomCompression(options.compression);

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  if (family == internal::kLogFamily) {
    // Sequential keys and mostly range scans: bigger blocks, no filter.
    table.block_size = 16 * 1024;
  } else {
    table.block_size = 4 * 1024;
    if (family == internal::kEventIdsFamily) {
      // Every appended id is looked up and almost every lookup misses, probing
      // one filter per L0 file and per level; each false positive reads,
      // decompresses and checksums a data block. 16 bits per key (false
      // positives ~0.1% instead of ~1% at 10) cost 2 instead of 1.25 bytes of
      // cache per event, paid for by the stream index's filter below.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(16));
    } else if (family != internal::kStreamIndexFamily) {
      // Point lookups of heads, snapshots, checkpoints, read models, parked
      // events.
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    }
    // The stream index has no filter: it is read by iterator seeks (stream
    // reads), which whole-key filters cannot serve, and by Verify's point
    // lookups, which all hit. A filter there was pure cost: 1.25 bytes of
    // cache per event and its build CPU in every flush and compaction.
    // Small files keep each file's filter small. A filter is one cache block
    // per SST file; with RocksDB's default 64 MiB files the random-keyed
    // event-id index had 1.8 MiB filters, larger than a shard of the block
    // cache (64 MiB / 64 shards), so every id lookup re-read and
    // re-checksummed a whole filter from the file: buffered appends fell from
    // 160k to 6k events/s past 2M events. 8 MiB files give filters of about
    // 220 KiB. Partitioned filters also fix it, but cost a cache lookup and
    // an index search per key and file instead of one batched probe per
    // file: 10.4 against 8.6 µs of committer CPU per event at 10M events.
    // Once the filters outgrow the cache both cost the same (about 11 µs
    // per event with a 4 MiB cache at 5M events).
    cf.target_file_size_base = 8u << 20;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (family == internal::kEventIdsFamily || family == internal::kHeadsFamily) {
    // The committer looks up every caller-given event id and every head it
    // does not cache; most lookups miss, and without a memtable filter each
    // miss walks the skiplist. Profiled at ~30% of buffered-append CPU; this
    // gave +19% to +38% in the bench helper's alternating runs.
    cf.memtable_prefix_bloom_size_ratio = 0.1;
    cf.memtable_whole_key_filtering = true;
  }
  return cf;
}

// Fsyncs the directory that holds the store directory `path`, so that the
// store's own directory entry is durable. Store creation does it after its
// rename; every writer open does it again before anything is appended, since
// a creation whose fsync failed (or a process killed right after the rename)
// leaves a complete-looking store whose entry a power loss would still undo —
// with every event appended to it since (found by io_fault_sweep_test,
// dir_sync fault). RocksDB syncs the store's directory, never its parent.
absl::Status SyncParentDirectory(rocksdb::Env* env, const std::string& path) {
  std::error_code ec;
  fs::path target = fs::absolute(path, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  const rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSDirectory> dir;
  rocksdb::IOStatus io_status =
      env->GetFileSystem()->NewDirectory(target.parent_path().string(), io, &dir, nullptr);
  if (io_status.ok()) {
    io_status = dir->FsyncWithDirOptions(io, nullptr, rocksdb::DirFsyncOptions());
  }
  if (!io_status.ok()) {
    return FromRocksDb(io_status, StrCat("syncing the directory that holds store '", path, "'"));
  }
  return absl::OkStatus();
}

// Creates a complete store (every column family and format_version) under a
// temporary sibling name and renames it into place, so that a crash during
// creation never leaves a half-made store at `path` (a leftover
// "<name>.creating-*" directory is all a crash can leave behind). Directory
// operations go through the store's FileSystem, so that fault-injection tests
// see (and can drop or fail) them like RocksDB's own.
absl::Status CreateStore(const std::string& path, rocksdb::DBOptions db_options,
                         const std::vector<rocksdb::ColumnFamilyDescriptor>& descriptors) {
  std::error_code ec;
  fs::path target = fs::absolute(path, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  const std::shared_ptr<rocksdb::FileSystem>& file_system = db_options.env->GetFileSystem();
  const rocksdb::IOOptions io;
  rocksdb::IOStatus io_status = file_system->CreateDirIfMissing(parent.string(), io, nullptr);
  if (!io_status.ok()) {
    return FromRocksDb(io_status, StrCat("cannot create directory '", parent.string(), "'"));
  }
  const std::string tmpl =
      StrCat(target.string(), ".creating-", getpid(), "-", db_options.env->GenerateUniqueId());
  io_status = file_system->CreateDir(tmpl, io, nullptr);
  if (!io_status.ok()) {
    // FromRocksDb names a full disk, a read-only file system or a permission.
    return FromRocksDb(io_status, StrCat("cannot create a store next to '", path, "'"));
  }
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, tmpl, descriptors, &handles, &raw);
  if (s.ok()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = raw->Put(wo, handles[internal::kDefaultFamily], internal::kFormatVersionKey,
                 StrCat(internal::kFormatVersion));
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    rocksdb::Status closed = raw->Close();
    if (s.ok()) s = closed;
    delete raw;
  }
  if (!s.ok()) {
    fs::remove_all(tmpl, ec);
    return FromRocksDb(s, StrCat("creating store '", path, "'"));
  }
  // rename(2) replaces an empty directory at `target`. It fails when another
  // process created the store first; that store is as good as ours.
  io_status = file_system->RenameFile(tmpl, target.string(), io, nullptr);
  if (!io_status.ok()) {
    fs::remove_all(tmpl, ec);
    if (fs::exists(target / "CURRENT", ec)) return absl::OkStatus();
    return absl::InternalError(StrCat("cannot move the new store into place at '", path,
                                      "': ", io_status.ToString()));
  }
  // Make the rename durable before anything is acknowledged in the store
  // (every writer open repeats this: see SyncParentDirectory).
  return SyncParentDirectory(db_options.env, target.string());
}

// A read-only follower keeps RocksDB's secondary-instance files in
// "<prefix><pid>-XXXXXX" and removes it on close; a killed process cannot, so
// every open removes the directories of processes that no longer exist.
constexpr std::string_view kFollowerDirPrefix = "/tmp/annals-follower-";

void RemoveStaleFollowerDirs() {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string path = entry.path().string();
    if (!path.starts_with(kFollowerDirPrefix)) continue;
    const std::string rest = path.substr(kFollowerDirPrefix.size());
    const pid_t pid = static_cast<pid_t>(std::atoll(rest.c_str()));
    if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) {
      std::error_code remove_ec;
      fs::remove_all(entry.path(), remove_ec);
    }
  }
}

std::atomic<rocksdb::Env*> test_env{nullptr};

}  // namespace

namespace internal {
void SetEnvForTesting(rocksdb::Env* env) { test_env.store(env); }
rocksdb::Env* EnvForTesting() { return test_env.load(); }
}  // namespace internal

EventStore::Impl::Impl(std::string path, const Options& options)
    : path_(std::move(path)), options_(options) {}

absl::StatusOr<std::unique_ptr<EventStore::Impl>> EventStore::Impl::Open(
    std::string_view path, const Options& options) {
  if (path.empty()) return absl::InvalidArgumentError("store path is empty");
  if (options.max_event_bytes == 0 || options.max_append_bytes < options.max_event_bytes) {
    return absl::InvalidArgumentError(
        "Options: max_event_bytes must be > 0 and <= max_append_bytes");
  }
  auto impl = std::unique_ptr<Impl>(new Impl(std::string(path), options));
  RETURN_IF_ERROR(impl->OpenDb());
  RETURN_IF_ERROR(impl->LoadState());
  return impl;
}

absl::Status EventStore::Impl::OpenDb() {
  ASSIGN_OR_RETURN(const internal::StoreDirKind kind, internal::InspectStoreDir(path_));
  const bool is_db = kind == internal::StoreDirKind::kDatabase;
  if (!is_db) {
    if (options_.read_only || !options_.create_if_missing) {
      return absl::NotFoundError(StrCat(
          "no annals store at '", path_, "'; create one by appending to it (annals append)"));
    }
    if (kind == internal::StoreDirKind::kOtherDir) {
      return absl::InvalidArgumentError(StrCat(
          "'", path_, "' is a non-empty directory that is not an annals store; choose an "
          "empty or new directory"));
    }
  } else {
    RETURN_IF_ERROR(internal::CheckCurrentFile(path_));
  }

  rocksdb::DBOptions db_options;
  if (rocksdb::Env* env = internal::EnvForTesting()) db_options.env = env;
  env_ = db_options.env;
  // Stores are created complete by CreateStore(), never here.
  db_options.create_if_missing = false;
  db_options.create_missing_column_families = false;
  // Measured on RocksDB 7.8 (shared/reliability-notes.md): the default
  // kPointInTimeRecovery silently dropped synced events after a flipped WAL
  // bit; this mode refuses to open instead, and tolerates only a torn tail.
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.recycle_log_file_num = 0;
  db_options.paranoid_checks = true;
  db_options.file_checksum_gen_factory = rocksdb::GetFileChecksumGenCrc32cFactory();
  // Secondary (read-only follower) instances require every file open.
  db_options.max_open_files = -1;
  // A follower loads every table handle of every column family at open and
  // at each catch-up, with up to this many new threads per family (default
  // 16: about 490 threads per CLI read-only command, for tens of tables).
  if (options_.read_only) db_options.max_file_opening_threads = 1;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  // Never a LOG file in the store's directory (eventstore/internal/info_log.h).
  db_options.info_log = internal::NewInfoLogger(options_.log_sink);
  db_options.keep_log_file_num = 3;
  // Bound memory and recovery time whatever the number of column families:
  // rarely written families would otherwise pin old WAL files for long.
  db_options.db_write_buffer_size = options_.max_memtable_bytes;
  db_options.max_total_wal_size = 2 * options_.max_memtable_bytes;

  // RocksDB 7.8 keeps half of an LRU cache for high-priority blocks (index
  // and filter blocks), so that scans of the log cannot evict what every
  // append's id lookup needs. Shards of at least 16 MiB: by default RocksDB
  // cuts 64 MiB into 64 shards of 1 MiB, where one pinned L0 filter (up to
  // 0.9 MiB for a 32 MiB memtable flush) fills its shard and every other
  // filter hashed there is re-read from the file on each lookup.
  int shard_bits = 0;
  while (shard_bits < 6 && (options_.block_cache_bytes >> (shard_bits + 1)) >= (16u << 20)) {
    ++shard_bits;
  }
  block_cache_ = rocksdb::NewLRUCache(options_.block_cache_bytes, shard_bits);
  if (options_.low_priority_compaction && !options_.read_only) {
    // Process-wide (Options::low_priority_compaction says why and what).
    rocksdb::Status s = db_options.env->LowerThreadPoolCPUPriority(
        rocksdb::Env::Priority::LOW, rocksdb::CpuPriority::kLow);
    if (!s.ok()) return FromRocksDb(s, "lowering the CPU priority of compaction threads");
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int f = 0; f < internal::kFamilyCount; ++f) {
    descriptors.emplace_back(
        std::string(internal::kFamilyNames[f]),
        FamilyOptions(options_, block_cache_, static_cast<internal::Family>(f)));
  }

  if (!is_db) {
    RETURN_IF_ERROR(CreateStore(path_, db_options, descriptors));
  } else {
    std::vector<std::string> existing;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path_, &existing);
    if (!s.ok()) return internal::OpenError(s, path_);
    for (const std::string& name : existing) {
      bool known = false;
      for (auto n : internal::kFamilyNames) known = known || n == name;
      if (!known) {
        return absl::InvalidArgumentError(StrCat(
            "'", path_, "' holds a RocksDB database that is not an annals store (unknown column "
            "family '", name, "'), or one written by a newer annals; use a newer annals"));
      }
    }
    if (existing.size() != internal::kFamilyNames.size()) {
      // Stores are created complete (CreateStore), so a store whose OPTIONS
      // file names annals' families lost some of them to damage.
      if (internal::OptionsNameAnnalsFamilies(path_)) {
        return absl::DataLossError(StrCat(
            "store '", path_, "' is damaged: its MANIFEST lists ", existing.size(), " of the ",
            internal::kFamilyNames.size(),
            " column families its OPTIONS file names (a damaged MANIFEST); restore it from a "
            "backup or an export"));
      }
      return absl::InvalidArgumentError(StrCat(
          "'", path_, "' is not an annals store (a RocksDB database with ", existing.size(),
          " of annals' ", internal::kFamilyNames.size(), " column families)"));
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (options_.read_only) {
    RemoveStaleFollowerDirs();
    std::string tmpl = StrCat(kFollowerDirPrefix, getpid(), "-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError("cannot create a scratch directory for a read-only follower");
    }
    secondary_path_ = tmpl;
    s = rocksdb::DB::OpenAsSecondary(rocksdb::Options(db_options, rocksdb::ColumnFamilyOptions()),
                                     path_, secondary_path_, descriptors, &handles, &raw);
  } else {
    // Before RocksDB's recovery needs space: a killed writer's WAL may hold
    // the file system's free space (eventstore/internal/info_log.h).
    RETURN_IF_ERROR(internal::ReleaseStaleWalSpace(db_options.env, path_).status());
    s = rocksdb::DB::Open(db_options, path_, descriptors, &handles, &raw);
  }
  if (!s.ok()) return internal::OpenError(s, path_);
  db_.reset(raw);
  for (size_t i = 0; i < handles.size(); ++i) families_[i] = handles[i];
  if (!options_.read_only) RETURN_IF_ERROR(SyncParentDirectory(env_, path_));

  if (options_.read_only) {
    s = db_->TryCatchUpWithPrimary();
    if (!s.ok()) return FromRocksDb(s, "catching up with the writer");
  }

  std::string version;
  s = db_->Get(rocksdb::ReadOptions(), families_[internal::kDefaultFamily],
               internal::kFormatVersionKey, &version);
  if (s.IsNotFound()) {
    // Every annals column family is there (checked above), so this is an
    // annals store that lost its format_version: damage, or for a follower a
    // dropped table of `default` (then named by the MANIFEST check).
    if (options_.read_only) {
      std::unique_lock lock(follower_mu_);
      RETURN_IF_ERROR(CheckTablesAgainstManifest(/*force=*/true));
    }
    return absl::DataLossError(StrCat("store '", path_,
                                      "' is damaged: its format_version record is missing; "
                                      "restore it from a backup or an export"));
  } else if (!s.ok()) {
    return internal::OpenError(s, path_);
  } else {
    if (!absl::SimpleAtoi(version, &format_version_) || format_version_ < 1) {
      return absl::DataLossError(StrCat("store '", path_,
                                        "' is damaged: unreadable format_version '",
                                        absl::CEscape(version), "'"));
    }
    if (format_version_ > internal::kFormatVersion) {
      return absl::InvalidArgumentError(StrCat(
          "store '", path_, "' has format version ", format_version_,
          " but this annals reads up to ", internal::kFormatVersion, "; use a newer annals"));
    }
  }
  write_options_.sync = options_.durability == Durability::kSync;
  return absl::OkStatus();
}

absl::Status EventStore::Impl::LoadState() {
  rocksdb::ReadOptions ro;
  if (options_.read_only) {
    std::unique_lock lock(follower_mu_);
    RETURN_IF_ERROR(CheckFollowerView());
  }
  ASSIGN_OR_RETURN(const auto end, ReadLogEnd(ro));
  next_position_ = end.first + 1;
  last_hash_ = end.first > 0 ? end.second : std::string(internal::kGenesisHash);
  if (!options_.read_only) {
    if (format_version_ < internal::kFirstFormatWithCommitRecord) {
      RETURN_IF_ERROR(UpgradeFormat(end.first, end.second));
    } else {
      RETURN_IF_ERROR(CheckCommitRecord(ro, end.first, end.second));
    }
  }

  std::string next_id;
  const rocksdb::Status s =
      db_->Get(ro, families_[internal::kDefaultFamily], internal::kNextStreamIdKey, &next_id);
  if (s.ok() && next_id.size() == 8) {
    next_stream_id_ = coding::DecodeBigEndian64(next_id);
  } else if (!s.IsNotFound()) {
    return s.ok() ? absl::DataLossError("malformed next_stream_id") : FromRocksDb(s, "reading ids");
  }
  committed_position_.store(next_position_ - 1, std::memory_order_release);
  std::lock_guard lock(position_mu_);
  notified_position_ = next_position_ - 1;
  return absl::OkStatus();
}

absl::Status EventStore::Impl::UpgradeFormat(uint64_t last_position,
                                             std::string_view last_hash) {
  rocksdb::WriteBatch batch;
  batch.Put(families_[internal::kDefaultFamily], internal::kCommitKey,
            internal::EncodeCommitRecord(last_position, last_position > 0 ? last_hash : ""));
  batch.Put(families_[internal::kDefaultFamily], internal::kFormatVersionKey,
            StrCat(internal::kFormatVersion));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocksDb(db_->Write(wo, &batch),
                              StrCat("upgrading store '", path_, "' to format version ",
                                     internal::kFormatVersion)));
  format_version_ = internal::kFormatVersion;
  return absl::OkStatus();
}

EventStore::Impl::~Impl() {
  {
    // Appends still in flight finish; new ones are refused.
    std::unique_lock lock(queue_mu_);
    shutting_down_ = true;
    queue_cv_.wait(lock, [this] { return queue_.empty() && !committing_; });
  }
  if (db_ != nullptr) {
    for (auto* h : families_) {
      if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    // Close() reports a background error; at destruction nobody can act on it.
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  if (!secondary_path_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_path_, ec);
  }
}

absl::Status EventStore::Impl::CatchUp() {
  if (!options_.read_only) return absl::OkStatus();
  std::unique_lock lock(follower_mu_);
  rocksdb::Status s = db_->TryCatchUpWithPrimary();
  if (!s.ok()) return FromRocksDb(s, "catching up with the writer");
  return CheckFollowerView();
}

void EventStore::Impl::PublishPosition(uint64_t position) {
  committed_position_.store(position, std::memory_order_release);
  {
    std::lock_guard lock(position_mu_);
    if (position > notified_position_) notified_position_ = position;
  }
  position_cv_.notify_all();
}

bool EventStore::Impl::WaitForPosition(uint64_t position, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  if (options_.read_only) {
    while (last_position() < position) {
      if (absl::Now() >= deadline) return false;
      CatchUp().IgnoreError();  // A failed catch-up is retried at the next poll.
      if (last_position() >= position) break;
      absl::SleepFor(std::min(absl::Milliseconds(50), deadline - absl::Now()));
    }
    return true;
  }
  std::unique_lock lock(position_mu_);
  return position_cv_.wait_for(lock, absl::ToChronoNanoseconds(deadline - absl::Now()),
                               [&] { return notified_position_ >= position; });
}

}  // namespace annals
