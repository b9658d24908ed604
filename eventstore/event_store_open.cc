// Opening a store: RocksDB options, column families, format checks and the
// recovery of the committer's state (next position, chain hash, stream ids).

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "codec/internal/payload_codec.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/info_log.h"
#include "eventstore/internal/log_header_check.h"
#include "eventstore/internal/rocksdb_options.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/store_dir.h"
#include "eventstore/internal/test_hooks.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace annals {
namespace fs = std::filesystem;
using internal::FromRocksDb;

namespace {

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

// Creates a complete store (the core's column families and format_version;
// the writer open that follows adds the families modules declared) under a
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
    return absl::InternalError(
        StrCat("cannot move the new store into place at '", path, "': ", io_status.ToString()));
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

absl::StatusOr<std::unique_ptr<EventStore::Impl>> EventStore::Impl::Open(std::string_view path,
                                                                         const Options& options) {
  if (path.empty()) return absl::InvalidArgumentError("store path is empty");
  if (options.max_event_bytes == 0 || options.max_append_bytes < options.max_event_bytes) {
    return absl::InvalidArgumentError(
        "Options: max_event_bytes must be > 0 and <= max_append_bytes");
  }
  RETURN_IF_ERROR(codec_internal::ValidateCodecOptions(options));
  auto impl = std::unique_ptr<Impl>(new Impl(std::string(path), options));
  RETURN_IF_ERROR(impl->OpenDb());
  RETURN_IF_ERROR(impl->LoadState());
  // Only into a store found whole: the families of the modules this process
  // links, so that followers opened from now on have them.
  if (!options.read_only) RETURN_IF_ERROR(impl->CreateDeclaredFamilies());
  RETURN_IF_ERROR(impl->LoadRetention());
  // Scavenging (and Verify's check of every stub) follows the readers' rule:
  // what no reader can see any more is what a compaction may stub.
  impl->SetScavengePolicy(impl->RetentionPolicy());
  RETURN_IF_ERROR(impl->OpenEncryption());
  return impl;
}

absl::Status EventStore::Impl::OpenEncryption() {
  if (!options_.encryption.has_value()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string master, crypto_internal::ResolveMasterKey(*options_.encryption));
  rocksdb::ColumnFamilyHandle* keys = nullptr;
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> family =
      ModuleFamily(crypto_internal::kSubjectKeysFamily);
  if (family.ok()) {
    keys = *family;
  } else if (!(options_.read_only && absl::IsNotFound(family.status()))) {
    return family.status();
  }
  ASSIGN_OR_RETURN(subject_cipher_, crypto_internal::SubjectCipher::Create(
                                        db_.get(), keys, std::move(master), !options_.read_only));
  codec_options_.cipher = subject_cipher_;
  if (!options_.read_only) AddCommitHook(subject_cipher_.get());
  return absl::OkStatus();
}

absl::Status EventStore::Impl::AcquireCommitter() {
  MutexLock lock(&queue_mu_);
  queue_cv_.Wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) { return !committing_; });
  if (!write_error_.ok()) {
    return absl::FailedPreconditionError(
        StrCat("store refuses writes after an earlier write error (", write_error_.message(),
               "); reopen it"));
  }
  committing_ = true;
  return absl::OkStatus();
}

void EventStore::Impl::ReleaseCommitter() {
  MutexLock lock(&queue_mu_);
  committing_ = false;
  ++commit_generation_;
  queue_cv_.NotifyAll();
}

absl::Status EventStore::Impl::ForgetSubject(std::string_view subject) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "store is open read-only; open it without Options::read_only to forget a subject");
  }
  if (subject.empty()) return absl::InvalidArgumentError("the subject to forget is empty");
  if (subject_cipher_ == nullptr) {
    return absl::FailedPreconditionError(
        "the store is not open with Options::encryption, so it seals nothing and cannot forget "
        "a subject; open it with its master key (CLI: ANNALS_MASTER_KEY_FILE)");
  }
  // Linearizable with appends: while this holds the committer role, no
  // group is being sealed or written. A group committed before used the old
  // key (its events now read as erased); one after finds no key and makes a
  // new one.
  RETURN_IF_ERROR(AcquireCommitter());
  absl::Status forgot = subject_cipher_->ForgetLocked(subject);
  ReleaseCommitter();
  RETURN_IF_ERROR(forgot);

  // Physically: the deletion is durable (synced); now make RocksDB drop the
  // key's bytes from every file. Flushing every family moves all that the
  // WALs hold into SSTs, which makes every WAL written before obsolete
  // (recycle_log_file_num = 0, no WAL archive: RocksDB 7.8.3 unlinks an
  // obsolete WAL in PurgeObsoleteFiles, db/db_impl/db_impl_files.cc); the
  // forced bottommost compaction of subject_keys rewrites its files without
  // the deleted keys and the range tombstone.
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  rocksdb::Status s = db_->Flush(flush, AllFamilies());
  if (s.ok()) {
    ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * keys,
                     ModuleFamily(crypto_internal::kSubjectKeysFamily));
    rocksdb::CompactRangeOptions compact;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = db_->CompactRange(compact, keys, nullptr, nullptr);
  }
  // Purge obsolete files now rather than in a background job: with no other
  // holder of DisableFileDeletions() (a checkpoint in progress), the enable
  // finds and deletes every obsolete file before it returns.
  if (s.ok()) s = db_->DisableFileDeletions();
  if (s.ok()) s = db_->EnableFileDeletions(/*force=*/false);
  if (!s.ok()) {
    return internal::FromRocksDb(
        s, StrCat("the keys of subject '", subject,
                  "' are deleted (synced), but compacting them away failed; call ForgetSubject "
                  "again to finish"));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EventStore::Impl::SealedErased(std::string_view subject,
                                                    std::string_view sealed) {
  ASSIGN_OR_RETURN(std::string name, crypto_internal::KeyNameOfSealed(subject, sealed));
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> keys =
      ModuleFamily(crypto_internal::kSubjectKeysFamily);
  if (!keys.ok()) {
    if (absl::IsNotFound(keys.status())) return true;
    return keys.status();
  }
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), *keys, name, &value);
  if (s.IsNotFound()) return true;
  if (!s.ok()) return internal::FromRocksDb(s, "reading a subject key");
  return false;
}

absl::Status EventStore::Impl::OpenDb() {
  ASSIGN_OR_RETURN(const internal::StoreDirKind kind, internal::InspectStoreDir(path_));
  const bool is_db = kind == internal::StoreDirKind::kDatabase;
  if (!is_db) {
    if (options_.read_only || !options_.create_if_missing) {
      return absl::NotFoundError(StrCat("no annals store at '", path_,
                                        "'; create one by appending to it (annals append)"));
    }
    if (kind == internal::StoreDirKind::kOtherDir) {
      return absl::InvalidArgumentError(
          StrCat("'", path_,
                 "' is a non-empty directory that is not an annals store; choose an "
                 "empty or new directory"));
    }
  } else {
    RETURN_IF_ERROR(internal::CheckCurrentFile(path_));
  }

  rocksdb::DBOptions db_options = internal::DbOptions(options_);
  if (rocksdb::Env* env = internal::EnvForTesting()) db_options.env = env;
  env_ = db_options.env;
  block_cache_ = internal::NewBlockCache(options_.block_cache_bytes);
  if (options_.low_priority_compaction && !options_.read_only) {
    // Process-wide (Options::low_priority_compaction says why and what).
    rocksdb::Status s = db_options.env->LowerThreadPoolCPUPriority(rocksdb::Env::Priority::LOW,
                                                                   rocksdb::CpuPriority::kLow);
    if (!s.ok()) return FromRocksDb(s, "lowering the CPU priority of compaction threads");
  }
  // The core's families first (families_ is indexed by internal::Family),
  // then every other family the store has: those of modules, each opened
  // with the tuning its module declared in this process, or the default
  // tuning (column_family.h).
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const internal::ColumnFamilySpec& core : internal::kCoreFamilies) {
    descriptors.emplace_back(std::string(core.name),
                             internal::FamilyOptions(options_, block_cache_, core.tuning));
  }
  if (!options_.read_only) {
    // Scavenging (eventstore/internal/scavenge_filter.h): every compaction of
    // these families runs its filter, which does nothing until a policy,
    // compacted positions or Scavenge() give it work.
    descriptors[internal::kLogFamily].options.compaction_filter_factory =
        internal::NewLogScavengeFilterFactory(scavenge_state_);
    descriptors[internal::kStreamIndexFamily].options.compaction_filter_factory =
        internal::NewIndexScavengeFilterFactory(scavenge_state_, internal::IndexKind::kStreamIndex);
    descriptors[internal::kEventIdsFamily].options.compaction_filter_factory =
        internal::NewIndexScavengeFilterFactory(scavenge_state_, internal::IndexKind::kEventIds);
  }

  if (!is_db) {
    RETURN_IF_ERROR(CreateStore(path_, db_options, descriptors));
  }
  {
    WriterLock lock(&follower_mu_);
    log_check_ = std::make_unique<internal::LogHeaderCheck>(env_->GetFileSystem().get(), path_);
    // Before RocksDB reads the WAL and the MANIFEST: a damaged record type
    // makes a follower's open spin forever and a writer's open drop records
    // (eventstore/internal/log_header_check.h).
    if (is_db) RETURN_IF_ERROR(log_check_->CheckNewRecords());
  }
  if (is_db) {
    ASSIGN_OR_RETURN(const std::vector<std::string> others, CheckFamiliesOnDisk(db_options));
    for (const std::string& name : others) {
      descriptors.emplace_back(
          name, internal::FamilyOptions(options_, block_cache_, internal::TuningOf(name)));
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
  {
    MutexLock lock(&module_families_mu_);
    for (size_t i = 0; i < handles.size(); ++i) {
      if (i < families_.size()) {
        families_[i] = handles[i];
      } else {
        module_families_.emplace(descriptors[i].name, handles[i]);
      }
    }
  }
  if (!options_.read_only) {
    scavenge_state_->Attach(db_.get(), families_[internal::kLogFamily]);
    RETURN_IF_ERROR(SyncParentDirectory(env_, path_));
  }

  if (options_.read_only) {
    WriterLock lock(&follower_mu_);
    RETURN_IF_ERROR(TryCatchUp());
  }

  std::string version;
  s = db_->Get(rocksdb::ReadOptions(), families_[internal::kDefaultFamily],
               internal::kFormatVersionKey, &version);
  if (s.IsNotFound()) {
    // Every core column family is there (checked above), so this is an
    // annals store that lost its format_version: damage, or for a follower a
    // dropped table of `default` (then named by the MANIFEST check).
    if (options_.read_only) {
      WriterLock lock(&follower_mu_);
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
      return absl::InvalidArgumentError(StrCat("store '", path_, "' has format version ",
                                               format_version_, " but this annals reads up to ",
                                               internal::kFormatVersion, "; use a newer annals"));
    }
  }
  write_options_.sync = options_.durability == Durability::kSync;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> EventStore::Impl::CheckFamiliesOnDisk(
    const rocksdb::DBOptions& db_options) {
  // The OPTIONS file first: RocksDB writes it after the MANIFEST edit that
  // creates a family, and never drops a family of ours, so every family an
  // OPTIONS file read now names is in the MANIFEST read next, even while a
  // writer creates families (a follower opening next to it).
  const std::vector<std::string> named = internal::OptionsFamilyNames(path_);
  std::vector<std::string> existing;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path_, &existing);
  if (!s.ok()) return internal::OpenError(s, path_);

  auto lost_families = [&](const std::vector<std::string>& names) {
    return absl::DataLossError(
        StrCat("store '", path_, "' is damaged: its MANIFEST lacks the column famil",
               names.size() == 1 ? "y " : "ies ", absl::StrJoin(names, ", "),
               " that its OPTIONS file names (a damaged MANIFEST); restore it from a backup or an "
               "export"));
  };
  std::vector<std::string> missing_core;
  for (const internal::ColumnFamilySpec& core : internal::kCoreFamilies) {
    if (std::find(existing.begin(), existing.end(), core.name) == existing.end()) {
      missing_core.emplace_back(core.name);
    }
  }
  if (!missing_core.empty()) {
    // Stores are created with every core family (CreateStore), so a store
    // whose OPTIONS file names them lost some to damage.
    if (internal::NamesCoreFamilies(named)) return lost_families(missing_core);
    return absl::InvalidArgumentError(
        StrCat("'", path_, "' is not an annals store (a RocksDB database without annals' column ",
               missing_core.size() == 1 ? "family " : "families ",
               absl::StrJoin(missing_core, ", "), ")"));
  }
  // A module's family is damage the same way: no family is ever dropped.
  const std::vector<std::string> lost = internal::FamiliesLostFromManifest(named, existing);
  if (!lost.empty()) return lost_families(lost);
  std::vector<std::string> others;
  for (std::string& name : existing) {
    if (!internal::IsCoreFamily(name)) others.push_back(std::move(name));
  }
  return others;
}

absl::Status EventStore::Impl::LoadState() {
  rocksdb::ReadOptions ro;
  if (options_.read_only) {
    WriterLock lock(&follower_mu_);
    RETURN_IF_ERROR(CheckFollowerView());
  }
  ASSIGN_OR_RETURN(const auto end, ReadLogEnd(ro));
  next_position_ = end.first + 1;
  last_hash_ = end.first > 0 ? end.second : std::string(codec_internal::kGenesisHash);
  if (!options_.read_only) {
    if (format_version_ >= internal::kFirstFormatWithCommitRecord) {
      RETURN_IF_ERROR(CheckCommitRecord(ro, end.first, end.second));
    }
    if (format_version_ < internal::kFormatVersion) {
      RETURN_IF_ERROR(UpgradeFormat(end.first, end.second));
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
  MutexLock lock(&position_mu_);
  notified_position_ = next_position_ - 1;
  return absl::OkStatus();
}

absl::Status EventStore::Impl::UpgradeFormat(uint64_t last_position, std::string_view last_hash) {
  rocksdb::WriteBatch batch;
  batch.Put(families_[internal::kDefaultFamily], internal::kCommitKey,
            internal::EncodeCommitRecord(last_position, last_position > 0 ? last_hash : ""));
  batch.Put(families_[internal::kDefaultFamily], internal::kFormatVersionKey,
            StrCat(internal::kFormatVersion));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  RETURN_IF_ERROR(FromRocksDb(
      db_->Write(wo, &batch),
      StrCat("upgrading store '", path_, "' to format version ", internal::kFormatVersion)));
  format_version_ = internal::kFormatVersion;
  return absl::OkStatus();
}

EventStore::Impl::~Impl() {
  {
    // Appends still in flight finish; new ones are refused.
    MutexLock lock(&queue_mu_);
    shutting_down_ = true;
    queue_cv_.Wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return queue_.empty() && !committing_;
    });
  }
  // No index filter reads the log through a handle destroyed below.
  scavenge_state_->Detach();
  if (db_ != nullptr) {
    for (auto* h : families_) {
      if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
    for (auto& [name, h] : module_families_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
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
  WriterLock lock(&follower_mu_);
  RETURN_IF_ERROR(TryCatchUp());
  RETURN_IF_ERROR(CheckFollowerView());
  // The writer's metadata commits since the last catch-up.
  return LoadRetention();
}

void EventStore::Impl::PublishPosition(uint64_t position) {
  committed_position_.store(position, std::memory_order_release);
  {
    MutexLock lock(&position_mu_);
    if (position > notified_position_) notified_position_ = position;
  }
  position_cv_.NotifyAll();
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
  MutexLock lock(&position_mu_);
  return position_cv_.WaitFor(
      lock, deadline - absl::Now(),
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(position_mu_) { return notified_position_ >= position; });
}

}  // namespace annals
