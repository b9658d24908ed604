#include "tests/common/fault_injection_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"

namespace annals::testing {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

std::string Parent(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

std::string Rebase(const std::string& path, const std::string& from, const std::string& to) {
  return to + path.substr(from.size());
}

// A writable file whose appends, truncations and syncs are reported to the
// FileSystem. Owned by RocksDB; `fs` outlives it.
class TrackedWritableFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  TrackedWritableFile(std::unique_ptr<rocksdb::FSWritableFile> file, FaultInjectionFs* fs,
                      std::string path, uint64_t node, uint64_t size)
      : FSWritableFileOwnerWrapper(std::move(file)),
        fs_(fs),
        path_(std::move(path)),
        node_(node),
        pos_(size) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    return DoAppend(data, pos_, [&] { return target()->Append(data, o, dbg); });
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    return DoAppend(data, pos_, [&] { return target()->Append(data, o, info, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    return DoAppend(data, offset, [&] { return target()->PositionedAppend(data, offset, o, dbg); });
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    return DoAppend(data, offset,
                    [&] { return target()->PositionedAppend(data, offset, o, info, dbg); });
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kTruncate, path_);
    if (!s.ok()) return s;
    s = target()->Truncate(size, o, dbg);
    if (s.ok()) {
      fs_->OnTruncate(node_, size);
      pos_ = size;
    }
    fs_->EndOp();
    return s;
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kClose, path_);
    if (!s.ok()) return s;
    s = target()->Close(o, dbg);
    fs_->EndOp();
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return DoSync([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return DoSync([&] { return target()->Fsync(o, dbg); });
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& o,
                     IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kRangeSync, path_);
    if (!s.ok()) return s;
    if (fs_->options().real_syncs) s = target()->RangeSync(offset, nbytes, o, dbg);
    fs_->EndOp();
    return s;
  }

 private:
  template <typename F>
  IOStatus DoAppend(const Slice& data, uint64_t offset, F append) {
    IOStatus s = fs_->BeginOp(FsOp::kWrite, path_);
    if (!s.ok()) return s;
    s = append();
    if (s.ok()) {
      fs_->OnAppend(node_, offset, data.size());
      pos_ = std::max(pos_, offset + data.size());
    }
    fs_->EndOp();
    return s;
  }
  template <typename F>
  IOStatus DoSync(F sync) {
    IOStatus s = fs_->BeginOp(FsOp::kSync, path_);
    if (!s.ok()) {
      fs_->OnSync(node_, false);
      return s;
    }
    if (fs_->options().real_syncs) s = sync();
    fs_->OnSync(node_, s.ok());
    fs_->EndOp();
    return s;
  }

  FaultInjectionFs* const fs_;
  const std::string path_;
  const uint64_t node_;
  uint64_t pos_;
};

class TrackedSequentialFile : public rocksdb::FSSequentialFileOwnerWrapper {
 public:
  TrackedSequentialFile(std::unique_ptr<rocksdb::FSSequentialFile> file, FaultInjectionFs* fs,
                        std::string path)
      : FSSequentialFileOwnerWrapper(std::move(file)), fs_(fs), path_(std::move(path)) {}

  IOStatus Read(size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kRead, path_);
    if (!s.ok()) return s;
    s = target()->Read(n, o, result, scratch, dbg);
    fs_->EndOp();
    return s;
  }
  IOStatus PositionedRead(uint64_t offset, size_t n, const IOOptions& o, Slice* result,
                          char* scratch, IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kRead, path_);
    if (!s.ok()) return s;
    s = target()->PositionedRead(offset, n, o, result, scratch, dbg);
    fs_->EndOp();
    return s;
  }

 private:
  FaultInjectionFs* const fs_;
  const std::string path_;
};

class TrackedRandomAccessFile : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  TrackedRandomAccessFile(std::unique_ptr<rocksdb::FSRandomAccessFile> file, FaultInjectionFs* fs,
                          std::string path)
      : FSRandomAccessFileOwnerWrapper(std::move(file)), fs_(fs), path_(std::move(path)) {}

  IOStatus Read(uint64_t offset, size_t n, const IOOptions& o, Slice* result, char* scratch,
                IODebugContext* dbg) const override {
    IOStatus s = fs_->BeginOp(FsOp::kRead, path_);
    if (!s.ok()) return s;
    s = target()->Read(offset, n, o, result, scratch, dbg);
    fs_->EndOp();
    return s;
  }
  IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs, const IOOptions& o,
                     IODebugContext* dbg) override {
    IOStatus s = fs_->BeginOp(FsOp::kRead, path_);
    if (!s.ok()) {
      for (size_t i = 0; i < num_reqs; ++i) reqs[i].status = s;
      return s;
    }
    s = target()->MultiRead(reqs, num_reqs, o, dbg);
    fs_->EndOp();
    return s;
  }

 private:
  FaultInjectionFs* const fs_;
  const std::string path_;
};

class TrackedDirectory : public rocksdb::FSDirectoryWrapper {
 public:
  TrackedDirectory(std::unique_ptr<rocksdb::FSDirectory> dir, FaultInjectionFs* fs,
                   std::string path)
      : FSDirectoryWrapper(dir.get()), dir_(std::move(dir)), fs_(fs), path_(std::move(path)) {}

  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return DoSync([&] { return dir_->Fsync(o, dbg); });
  }
  IOStatus FsyncWithDirOptions(const IOOptions& o, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& dir_options) override {
    return DoSync([&] { return dir_->FsyncWithDirOptions(o, dbg, dir_options); });
  }

 private:
  template <typename F>
  IOStatus DoSync(F sync) {
    IOStatus s = fs_->BeginOp(FsOp::kDirSync, path_);
    if (!s.ok()) return s;
    if (fs_->options().real_syncs) s = sync();
    if (s.ok()) fs_->OnDirSync(path_);
    fs_->EndOp();
    return s;
  }

  std::unique_ptr<rocksdb::FSDirectory> dir_;
  FaultInjectionFs* const fs_;
  const std::string path_;
};

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

std::string_view FsOpName(FsOp op) {
  switch (op) {
    case FsOp::kOpenWrite:
      return "open_write";
    case FsOp::kWrite:
      return "write";
    case FsOp::kSync:
      return "sync";
    case FsOp::kRangeSync:
      return "range_sync";
    case FsOp::kClose:
      return "close";
    case FsOp::kTruncate:
      return "truncate";
    case FsOp::kOpenRead:
      return "open_read";
    case FsOp::kRead:
      return "read";
    case FsOp::kRename:
      return "rename";
    case FsOp::kDelete:
      return "delete";
    case FsOp::kCreateDir:
      return "create_dir";
    case FsOp::kDirSync:
      return "dir_sync";
    case FsOp::kLink:
      return "link";
  }
  return "?";
}

bool IsMutating(FsOp op) { return op != FsOp::kOpenRead && op != FsOp::kRead; }

std::string PowerLossReport::ToString() const {
  std::string out =
      absl::StrCat(files_truncated, " files truncated, ", bytes_dropped, " bytes dropped, ",
                   bytes_zeroed, " bytes zeroed, ", entries_undone, " directory entries undone");
  for (const std::string& e : errors) absl::StrAppend(&out, "; ERROR: ", e);
  return out;
}

std::string NormalizePath(std::string_view path) {
  std::error_code ec;
  std::string out =
      std::filesystem::absolute(std::filesystem::path(path), ec).lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

FaultInjectionFs::FaultInjectionFs(std::string graveyard_dir, FaultInjectionFsOptions options,
                                   std::shared_ptr<rocksdb::FileSystem> base)
    : FileSystemWrapper(base != nullptr ? std::move(base) : rocksdb::FileSystem::Default()),
      graveyard_(NormalizePath(graveyard_dir)),
      options_(options) {
  std::error_code ec;
  std::filesystem::create_directories(graveyard_, ec);
}

FaultInjectionFs::~FaultInjectionFs() = default;

uint64_t FaultInjectionFs::count(FsOp op) const {
  std::lock_guard<std::mutex> l(mu_);
  return counts_[static_cast<int>(op)];
}

uint64_t FaultInjectionFs::mutating_count() const {
  std::lock_guard<std::mutex> l(mu_);
  return mutating_;
}

void FaultInjectionFs::ResetCounts() {
  std::lock_guard<std::mutex> l(mu_);
  counts_.fill(0);
  mutating_ = 0;
}

void FaultInjectionFs::FailNth(FsOp op, uint64_t k, bool no_space) {
  std::lock_guard<std::mutex> l(mu_);
  fault_op_ = op;
  fault_at_ = k == 0 ? 0 : counts_[static_cast<int>(op)] + k;
  fault_no_space_ = no_space;
  fault_fired_ = false;
  fault_description_.clear();
}

bool FaultInjectionFs::fault_fired() const {
  std::lock_guard<std::mutex> l(mu_);
  return fault_fired_;
}

std::string FaultInjectionFs::fault_description() const {
  std::lock_guard<std::mutex> l(mu_);
  return fault_description_;
}

void FaultInjectionFs::ArmPowerCut(uint64_t n, PowerLossModel model, uint64_t seed, int exit_code,
                                   std::function<void(const PowerLossReport&)> on_cut) {
  std::lock_guard<std::mutex> l(mu_);
  cut_at_ = n;
  cut_model_ = model;
  cut_seed_ = seed;
  cut_exit_code_ = exit_code;
  on_cut_ = std::move(on_cut);
}

void FaultInjectionFs::PowerCutNow() {
  std::unique_lock<std::mutex> lock(mu_);
  CutLocked(lock);
}

void FaultInjectionFs::CutLocked(std::unique_lock<std::mutex>& lock) {
  frozen_ = true;
  // Operations already in flight reached the disk (or not) before the cut;
  // wait for their bookkeeping. Every later one blocks in BeginOp().
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  lock.unlock();
  // Every other thread of the FileSystem is now blocked, so the bookkeeping
  // can be read without the lock (and on_cut may not call into it).
  PowerLossReport report = SimulatePowerLoss(cut_model_, cut_seed_);
  if (on_cut_) on_cut_(report);
  std::fflush(nullptr);
  _exit(cut_exit_code_);
}

IOStatus FaultInjectionFs::BeginOp(FsOp op, const std::string& what) {
  std::unique_lock<std::mutex> lock(mu_);
  // After a power cut nothing reaches the disk any more: block for good (the
  // cutting thread ends the process).
  cv_.wait(lock, [&] { return !frozen_; });
  const int index = static_cast<int>(op);
  ++counts_[index];
  if (IsMutating(op)) {
    ++mutating_;
    if (cut_at_ != 0 && mutating_ == cut_at_) CutLocked(lock);
    while (copy_next_ < copy_points_.size() && copy_points_[copy_next_] <= mutating_) {
      CopyNowLocked(lock, copy_next_++);
    }
  }
  if (fault_at_ != 0 && op == fault_op_ && counts_[index] == fault_at_) {
    fault_fired_ = true;
    fault_description_ = absl::StrCat(std::string(FsOpName(op)), " #", counts_[index], " ", what);
    const std::string message = absl::StrCat("injected fault: ", fault_description_);
    return fault_no_space_ ? IOStatus::NoSpace(message) : IOStatus::IOError(message);
  }
  ++in_flight_;
  return IOStatus::OK();
}

void FaultInjectionFs::EndOp() {
  std::lock_guard<std::mutex> l(mu_);
  --in_flight_;
  if (in_flight_ == 0) cv_.notify_all();
}

void FaultInjectionFs::OnAppend(uint64_t node, uint64_t offset, uint64_t length) {
  std::lock_guard<std::mutex> l(mu_);
  Node& n = nodes_[node];
  n.size = std::max(n.size, offset + length);
}

void FaultInjectionFs::OnTruncate(uint64_t node, uint64_t size) {
  std::lock_guard<std::mutex> l(mu_);
  Node& n = nodes_[node];
  n.size = size;
  n.synced = std::min(n.synced, size);
}

void FaultInjectionFs::OnSync(uint64_t node, bool ok) {
  std::lock_guard<std::mutex> l(mu_);
  Node& n = nodes_[node];
  if (ok) {
    n.synced = n.size;
  } else if (n.size > n.synced) {
    // Linux marks the pages clean after a failed writeback: a later fsync
    // succeeds without writing them, and a power loss loses them.
    n.lost.emplace_back(n.synced, n.size);
  }
}

void FaultInjectionFs::OnDirSync(const std::string& dir) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<PendingEntry> still;
  for (PendingEntry& e : pending_) {
    e.dirs.erase(std::remove(e.dirs.begin(), e.dirs.end(), dir), e.dirs.end());
    if (!e.dirs.empty()) {
      still.push_back(std::move(e));
      continue;
    }
    // Durable: a deleted or overwritten file is gone for good.
    if (!e.grave.empty()) ::unlink(e.grave.c_str());
  }
  pending_ = std::move(still);
}

uint64_t FaultInjectionFs::NodeForExistingLocked(const std::string& path) {
  auto it = path_nodes_.find(path);
  if (it != path_nodes_.end()) return it->second;
  struct stat st;
  const uint64_t size = ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  const uint64_t id = next_node_++;
  nodes_[id] = Node{.size = size, .synced = size};
  path_nodes_[path] = id;
  return id;
}

std::string FaultInjectionFs::NewGraveLocked() {
  return absl::StrCat(graveyard_, "/", getpid(), "-", next_grave_++);
}

void FaultInjectionFs::RenamePathsLocked(const std::string& from, const std::string& to) {
  std::vector<std::pair<std::string, uint64_t>> moved;
  for (auto it = path_nodes_.begin(); it != path_nodes_.end();) {
    if (IsUnder(it->first, from)) {
      moved.emplace_back(Rebase(it->first, from, to), it->second);
      it = path_nodes_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [path, node] : moved) path_nodes_[path] = node;
}

IOStatus FaultInjectionFs::OpenWritable(const std::string& f, bool truncate,
                                        const std::function<IOStatus()>& open,
                                        std::unique_ptr<rocksdb::FSWritableFile>* r) {
  IOStatus s = BeginOp(FsOp::kOpenWrite, f);
  if (!s.ok()) return s;
  const bool existed = PathExists(f);
  s = open();
  if (!s.ok()) {
    EndOp();
    return s;
  }
  uint64_t node;
  uint64_t size;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (existed) {
      node = NodeForExistingLocked(f);
      if (truncate) nodes_[node] = Node{};
    } else {
      node = next_node_++;
      nodes_[node] = Node{};
      path_nodes_[f] = node;
      pending_.push_back(PendingEntry{
          .kind = EntryKind::kCreateFile, .path = f, .node = node, .dirs = {Parent(f)}});
    }
    size = nodes_[node].size;
  }
  *r = std::make_unique<TrackedWritableFile>(std::move(*r), this, f, node, size);
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::NewWritableFile(const std::string& fname, const rocksdb::FileOptions& o,
                                           std::unique_ptr<rocksdb::FSWritableFile>* r,
                                           IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  return OpenWritable(
      f, true, [&] { return target()->NewWritableFile(fname, o, r, dbg); }, r);
}

IOStatus FaultInjectionFs::ReopenWritableFile(const std::string& fname,
                                              const rocksdb::FileOptions& o,
                                              std::unique_ptr<rocksdb::FSWritableFile>* r,
                                              IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  return OpenWritable(
      f, false, [&] { return target()->ReopenWritableFile(fname, o, r, dbg); }, r);
}

IOStatus FaultInjectionFs::ReuseWritableFile(const std::string& fname, const std::string&,
                                             const rocksdb::FileOptions&,
                                             std::unique_ptr<rocksdb::FSWritableFile>*,
                                             IODebugContext*) {
  return IOStatus::NotSupported(absl::StrCat("FaultInjectionFs does not model recycled files (",
                                             fname, "); annals keeps recycle_log_file_num = 0"));
}

IOStatus FaultInjectionFs::NewRandomRWFile(const std::string& fname, const rocksdb::FileOptions&,
                                           std::unique_ptr<rocksdb::FSRandomRWFile>*,
                                           IODebugContext*) {
  return IOStatus::NotSupported(
      absl::StrCat("FaultInjectionFs does not model random-write files (", fname, ")"));
}

IOStatus FaultInjectionFs::NewSequentialFile(const std::string& fname,
                                             const rocksdb::FileOptions& o,
                                             std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                             IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  IOStatus s = BeginOp(FsOp::kOpenRead, f);
  if (!s.ok()) return s;
  s = target()->NewSequentialFile(fname, o, r, dbg);
  if (s.ok()) *r = std::make_unique<TrackedSequentialFile>(std::move(*r), this, f);
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::NewRandomAccessFile(const std::string& fname,
                                               const rocksdb::FileOptions& o,
                                               std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                               IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  IOStatus s = BeginOp(FsOp::kOpenRead, f);
  if (!s.ok()) return s;
  s = target()->NewRandomAccessFile(fname, o, r, dbg);
  if (s.ok()) *r = std::make_unique<TrackedRandomAccessFile>(std::move(*r), this, f);
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::NewDirectory(const std::string& name, const IOOptions& o,
                                        std::unique_ptr<rocksdb::FSDirectory>* r,
                                        IODebugContext* dbg) {
  IOStatus s = target()->NewDirectory(name, o, r, dbg);
  if (s.ok()) *r = std::make_unique<TrackedDirectory>(std::move(*r), this, NormalizePath(name));
  return s;
}

IOStatus FaultInjectionFs::DeleteFile(const std::string& fname, const IOOptions& o,
                                      IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  IOStatus s = BeginOp(FsOp::kDelete, f);
  if (!s.ok()) return s;
  std::string grave;
  uint64_t node;
  {
    std::lock_guard<std::mutex> l(mu_);
    node = NodeForExistingLocked(f);
    grave = NewGraveLocked();
  }
  // Keep the bytes until the delete is durable: a cut brings the file back.
  if (::link(f.c_str(), grave.c_str()) != 0) {
    grave.clear();
  }
  s = target()->DeleteFile(fname, o, dbg);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (s.ok()) {
      path_nodes_.erase(f);
      if (grave.empty()) {
        // The file did not exist (RocksDB deletes what may be gone); nothing
        // to bring back.
        nodes_.erase(node);
      } else {
        pending_.push_back(PendingEntry{.kind = EntryKind::kDeleteFile,
                                        .path = f,
                                        .grave = grave,
                                        .node = node,
                                        .dirs = {Parent(f)}});
      }
    } else {
      if (!grave.empty()) ::unlink(grave.c_str());
      if (!PathExists(f)) path_nodes_.erase(f);
    }
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::Truncate(const std::string& fname, size_t size, const IOOptions& o,
                                    IODebugContext* dbg) {
  const std::string f = NormalizePath(fname);
  IOStatus s = BeginOp(FsOp::kTruncate, f);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> l(mu_);
    NodeForExistingLocked(f);
  }
  s = target()->Truncate(fname, size, o, dbg);
  if (s.ok()) {
    uint64_t node;
    {
      std::lock_guard<std::mutex> l(mu_);
      node = path_nodes_[f];
    }
    OnTruncate(node, size);
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::CreateDir(const std::string& dname, const IOOptions& o,
                                     IODebugContext* dbg) {
  const std::string d = NormalizePath(dname);
  IOStatus s = BeginOp(FsOp::kCreateDir, d);
  if (!s.ok()) return s;
  s = target()->CreateDir(dname, o, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(PendingEntry{.kind = EntryKind::kCreateDir, .path = d, .dirs = {Parent(d)}});
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::CreateDirIfMissing(const std::string& dname, const IOOptions& o,
                                              IODebugContext* dbg) {
  const std::string d = NormalizePath(dname);
  IOStatus s = BeginOp(FsOp::kCreateDir, d);
  if (!s.ok()) return s;
  const bool existed = IsDir(d);
  s = target()->CreateDirIfMissing(dname, o, dbg);
  if (s.ok() && !existed) {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(PendingEntry{.kind = EntryKind::kCreateDir, .path = d, .dirs = {Parent(d)}});
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::DeleteDir(const std::string& dname, const IOOptions& o,
                                     IODebugContext* dbg) {
  const std::string d = NormalizePath(dname);
  IOStatus s = BeginOp(FsOp::kDelete, d);
  if (!s.ok()) return s;
  s = target()->DeleteDir(dname, o, dbg);
  if (s.ok()) {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(PendingEntry{.kind = EntryKind::kDeleteDir, .path = d, .dirs = {Parent(d)}});
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::RenameFile(const std::string& src, const std::string& dst,
                                      const IOOptions& o, IODebugContext* dbg) {
  const std::string s_path = NormalizePath(src);
  const std::string t_path = NormalizePath(dst);
  IOStatus s = BeginOp(FsOp::kRename, absl::StrCat(s_path, " -> ", t_path));
  if (!s.ok()) return s;
  PendingEntry entry{.kind = EntryKind::kRename, .path = s_path, .target = t_path};
  bool target_was_dir = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!IsDir(s_path)) entry.node = NodeForExistingLocked(s_path);
    if (PathExists(t_path)) {
      if (IsDir(t_path)) {
        target_was_dir = true;
      } else {
        entry.displaced = NodeForExistingLocked(t_path);
        entry.grave = NewGraveLocked();
      }
    }
  }
  if (!entry.grave.empty() && ::link(t_path.c_str(), entry.grave.c_str()) != 0) {
    entry.grave.clear();
    entry.displaced = 0;
  }
  s = target()->RenameFile(src, dst, o, dbg);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (s.ok()) {
      if (entry.displaced != 0) path_nodes_.erase(t_path);
      RenamePathsLocked(s_path, t_path);
      // Entries inside a renamed directory become durable by an fsync of the
      // directory under its new name.
      for (PendingEntry& e : pending_) {
        for (std::string& dir : e.dirs) {
          if (IsUnder(dir, s_path)) dir = Rebase(dir, s_path, t_path);
        }
      }
      entry.dirs = {Parent(s_path)};
      if (Parent(t_path) != Parent(s_path)) entry.dirs.push_back(Parent(t_path));
      entry.target_was_dir = target_was_dir;
      pending_.push_back(entry);
    } else if (!entry.grave.empty()) {
      ::unlink(entry.grave.c_str());
    }
  }
  EndOp();
  return s;
}

IOStatus FaultInjectionFs::LinkFile(const std::string& src, const std::string& dst,
                                    const IOOptions&, IODebugContext*) {
  return IOStatus::NotSupported(absl::StrCat("FaultInjectionFs does not model hard links (", src,
                                             " -> ", dst,
                                             "); extend it before testing checkpoints or backups"));
}

namespace {

// Copies a file (a grave into a copy of the disk).
bool CopyFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, ec);
  return !ec;
}

}  // namespace

// Where the after-power-loss state is written: in place (`root` empty: the
// live paths) or into a copy of the tree under `root` at `dest`.
struct FaultInjectionFs::Target {
  std::string root;
  std::string dest;
  bool in_place() const { return root.empty(); }
  // The path of `live` on the target; empty when outside the copied tree.
  std::string Map(const std::string& live) const {
    if (in_place()) return live;
    if (!IsUnder(live, root)) return "";
    return Rebase(live, root, dest);
  }
};

void FaultInjectionFs::Undo(const PendingEntry& e, const Target& target,
                            std::map<std::string, uint64_t>& paths, PowerLossReport* report) {
  auto fail = [&](const std::string& what) {
    report->errors.push_back(absl::StrCat(what, ": ", std::strerror(errno)));
  };
  // `paths` keys are live paths; the file operations act on mapped ones.
  const std::string path = target.Map(e.path);
  const std::string to = e.kind == EntryKind::kRename ? target.Map(e.target) : "";
  if (path.empty() && to.empty()) return;  // outside the copied tree
  // A directory removed behind the FileSystem's back (std::filesystem in the
  // code under test, e.g. a failed store creation cleaning up): nothing in it
  // can come back through us, and nothing needs undoing there.
  if (!IsDir(Parent(path.empty() ? to : path)) || (!to.empty() && !IsDir(Parent(to)))) return;
  ++report->entries_undone;
  switch (e.kind) {
    case EntryKind::kCreateFile:
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("unlink " + path);
      paths.erase(e.path);
      break;
    case EntryKind::kDeleteFile: {
      const bool ok = target.in_place() ? ::rename(e.grave.c_str(), path.c_str()) == 0
                                        : CopyFile(e.grave, path);
      if (!ok) {
        fail("restore deleted " + path);
      } else {
        paths[e.path] = e.node;
      }
      break;
    }
    case EntryKind::kRename: {
      if (path.empty() || to.empty()) {
        report->errors.push_back("rename across the copied tree's border: " + e.path);
        break;
      }
      if (::rename(to.c_str(), path.c_str()) != 0) {
        fail("rename back " + to + " -> " + path);
        break;
      }
      std::vector<std::pair<std::string, uint64_t>> moved;
      for (auto it = paths.begin(); it != paths.end();) {
        if (IsUnder(it->first, e.target)) {
          moved.emplace_back(Rebase(it->first, e.target, e.path), it->second);
          it = paths.erase(it);
        } else {
          ++it;
        }
      }
      for (auto& [p, node] : moved) paths[p] = node;
      if (e.displaced != 0) {
        const bool ok =
            target.in_place() ? ::rename(e.grave.c_str(), to.c_str()) == 0 : CopyFile(e.grave, to);
        if (!ok) {
          fail("restore overwritten " + to);
        } else {
          paths[e.target] = e.displaced;
        }
      } else if (e.target_was_dir && ::mkdir(to.c_str(), 0755) != 0) {
        // rename(2) replaced an empty directory; it existed before, so it is back.
        fail("recreate replaced directory " + to);
      }
      break;
    }
    case EntryKind::kCreateDir: {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      if (ec) report->errors.push_back("remove created directory " + path + ": " + ec.message());
      for (auto it = paths.begin(); it != paths.end();) {
        it = IsUnder(it->first, e.path) ? paths.erase(it) : std::next(it);
      }
      break;
    }
    case EntryKind::kDeleteDir:
      if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) fail("recreate dir " + path);
      break;
  }
}

PowerLossReport FaultInjectionFs::ApplyLocked(const Target& target, PowerLossModel model,
                                              uint64_t seed) {
  PowerLossReport report;
  std::mt19937_64 rng(seed);
  std::map<std::string, uint64_t> paths = path_nodes_;
  // Undo what no directory fsync made durable, newest first.
  for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
    Undo(*it, target, paths, &report);
  }
  // Cut every surviving file to its durable bytes.
  for (const auto& [live, id] : paths) {
    const std::string path = target.Map(live);
    if (path.empty()) continue;
    const Node& n = nodes_[id];
    uint64_t keep = n.synced;
    if (model == PowerLossModel::kTornTail && n.size > n.synced) {
      keep = n.synced + rng() % (n.size - n.synced + 1);
    }
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) continue;
    const uint64_t on_disk = static_cast<uint64_t>(st.st_size);
    if (on_disk > keep) {
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0) {
        report.errors.push_back(absl::StrCat("truncate ", path, ": ", std::strerror(errno)));
        continue;
      }
      ++report.files_truncated;
      report.bytes_dropped += on_disk - keep;
    }
    for (const auto& [begin, end] : n.lost) {
      const uint64_t stop = std::min(end, keep);
      if (begin >= stop) continue;
      const int fd = ::open(path.c_str(), O_WRONLY);
      if (fd < 0) {
        report.errors.push_back(absl::StrCat("open ", path, ": ", std::strerror(errno)));
        continue;
      }
      const std::string zeros(stop - begin, '\0');
      if (::pwrite(fd, zeros.data(), zeros.size(), static_cast<off_t>(begin)) !=
          static_cast<ssize_t>(zeros.size())) {
        report.errors.push_back(absl::StrCat("zero ", path, ": ", std::strerror(errno)));
      }
      ::close(fd);
      report.bytes_zeroed += zeros.size();
    }
  }
  return report;
}

PowerLossReport FaultInjectionFs::SimulatePowerLoss(PowerLossModel model, uint64_t seed) {
  std::lock_guard<std::mutex> l(mu_);
  PowerLossReport report = ApplyLocked(Target{}, model, seed);
  // From now on the disk is what survived: all of it is durable.
  pending_.clear();
  nodes_.clear();
  path_nodes_.clear();
  return report;
}

PowerLossReport FaultInjectionFs::CopyDurableStateLocked(const std::string& root,
                                                         const std::string& dest,
                                                         PowerLossModel model, uint64_t seed) {
  PowerLossReport report;
  std::error_code ec;
  std::filesystem::remove_all(dest, ec);
  std::filesystem::create_directories(std::filesystem::path(dest).parent_path(), ec);
  std::filesystem::copy(root, dest, std::filesystem::copy_options::recursive, ec);
  if (ec) {
    report.errors.push_back("copy " + root + " to " + dest + ": " + ec.message());
    return report;
  }
  return ApplyLocked(Target{NormalizePath(root), NormalizePath(dest)}, model, seed);
}

void FaultInjectionFs::ArmCopies(std::vector<uint64_t> points, std::string root,
                                 PowerLossModel model, uint64_t seed,
                                 std::function<std::string(size_t index)> before_copy,
                                 std::function<void(size_t, const PowerLossReport&)> after_copy) {
  std::lock_guard<std::mutex> l(mu_);
  std::sort(points.begin(), points.end());
  copy_points_ = std::move(points);
  copy_next_ = 0;
  copy_root_ = std::move(root);
  copy_model_ = model;
  copy_seed_ = seed;
  before_copy_ = std::move(before_copy);
  after_copy_ = std::move(after_copy);
}

void FaultInjectionFs::CopyNowLocked(std::unique_lock<std::mutex>& lock, size_t index) {
  // Quiesce: no operation in flight, every new one waits (frozen_).
  frozen_ = true;
  cv_.wait(lock, [&] { return in_flight_ == 0; });
  const std::string dest = before_copy_ ? before_copy_(index) : "";
  PowerLossReport report;
  if (!dest.empty())
    report = CopyDurableStateLocked(copy_root_, dest, copy_model_, copy_seed_ + index);
  if (after_copy_) after_copy_(index, report);
  frozen_ = false;
  cv_.notify_all();
}

void FaultInjectionFs::CopyNow() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !frozen_; });
  CopyNowLocked(lock, copy_next_++);
}

void FaultInjectionFs::MarkAllDurable() {
  std::lock_guard<std::mutex> l(mu_);
  for (const PendingEntry& e : pending_) {
    if (!e.grave.empty()) ::unlink(e.grave.c_str());
  }
  pending_.clear();
  nodes_.clear();
  path_nodes_.clear();
}

}  // namespace annals::testing
