// File: tests/common/fault_injection_fs.h
//
// FaultInjectionFs: a RocksDB FileSystem for tests that (1) counts every
// file-system operation by kind, (2) fails the k-th operation of a kind, and
// (3) simulates a power loss: it tracks what each file has made durable and
// which directory entries a directory fsync has made durable, and can put the
// disk into the state a machine would find after losing power.
//
// Built on RocksDB's public FileSystemWrapper (Debian does not install
// RocksDB's own FaultInjectionTestFS, see shared/reliability-notes.md). Put it
// under a store with
//   auto fs = std::make_shared<FaultInjectionFs>(graveyard_dir);
//   std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
//   annals::internal::SetEnvForTesting(env.get());
//
// The power-loss model (what survives a cut), and why it is at least as harsh
// as ext4 with its default data=ordered:
//
//   * File data: a file keeps exactly the bytes it had when its last
//     successful Sync()/Fsync() returned (kDropUnsynced), or, in kTornTail,
//     that plus a random prefix of its unsynced tail cut at any byte. ext4
//     (data=ordered) may keep any prefix of the unsynced appends between the
//     last fsync and the crash, never garbage; the two models together cover
//     the shortest possible prefix and arbitrary torn ones. RangeSync()
//     (sync_file_range) and Close() are not durability points: they flush
//     neither metadata nor the drive's cache.
//   * A failed Sync()/Fsync() ("fsyncgate"): Linux marks the dirty pages clean
//     anyway, so a later fsync succeeds without writing them. The bytes that
//     were unsynced when the sync failed are marked lost and read as zeros
//     after a power loss, even if a later sync succeeded.
//   * Directory entries: a file or directory create, a delete, a rename and a
//     mkdir are durable only once every directory they changed has been
//     fsynced (FSDirectory::Fsync) after them. At a cut every other one is
//     undone, newest first: created files and directories disappear (with
//     their contents), deleted files come back with their durable bytes,
//     renamed entries move back and a rename's overwritten target returns.
//     This is the POSIX minimum. ext4 journals metadata in order and commits
//     the whole running transaction on any fsync, so it keeps at least this
//     (typically more); a program correct here relies on nothing ext4 does
//     beyond POSIX. Undoing the newest entries first keeps the undone set
//     consistent (a rename of a created file is undone before the create).
//   * Opening an existing file for writing with truncation makes its durable
//     content empty (the truncate may be journaled before the new data).
//
// Files the FileSystem never opened for writing (they existed before) are
// durable as they are. Deleted files are moved into `graveyard_dir` (which
// must be on the same file system) until the delete is durable, so that a cut
// can bring them back.
//
// Thread-safety: every method may be called from any thread; one mutex guards
// the bookkeeping, file I/O itself runs outside it.

#ifndef ANNALS_TESTS_COMMON_FAULT_INJECTION_FS_H_
#define ANNALS_TESTS_COMMON_FAULT_INJECTION_FS_H_

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rocksdb/file_system.h"

namespace annals::testing {

// The kinds of file-system operation the FileSystem counts and can fail.
enum class FsOp : uint8_t {
  kOpenWrite,  // NewWritableFile, ReopenWritableFile, ReuseWritableFile
  kWrite,      // Append, PositionedAppend
  kSync,       // Sync, Fsync of a file
  kRangeSync,  // RangeSync (not a durability point)
  kClose,      // Close of a writable file
  kTruncate,   // Truncate
  kOpenRead,   // NewSequentialFile, NewRandomAccessFile
  kRead,       // Read, PositionedRead, MultiRead (one per call)
  kRename,     // RenameFile (files and directories)
  kDelete,     // DeleteFile, DeleteDir
  kCreateDir,  // CreateDir, CreateDirIfMissing (when it creates)
  kDirSync,    // FSDirectory::Fsync / FsyncWithDirOptions
  kLink,       // LinkFile
};
inline constexpr int kFsOpCount = 13;

// "open_write", "write", "sync", ...
std::string_view FsOpName(FsOp op);

// Whether an operation can change what is on disk (counted for power cuts).
bool IsMutating(FsOp op);

enum class PowerLossModel : uint8_t {
  kDropUnsynced,  // every file cut to its synced length
  kTornTail,      // synced length plus a random prefix of the unsynced tail
};

// What a power cut did to the disk, for logs and assertions.
struct PowerLossReport {
  uint64_t files_truncated = 0;     // files that lost unsynced bytes
  uint64_t bytes_dropped = 0;       // unsynced bytes removed
  uint64_t bytes_zeroed = 0;        // bytes lost to a failed sync
  uint64_t entries_undone = 0;      // directory operations undone
  std::vector<std::string> errors;  // undo steps that could not be applied
  std::string ToString() const;
};

struct FaultInjectionFsOptions {
  // Pass Sync/Fsync/directory fsyncs on to the disk. The simulation does not
  // need them (it models durability itself); skipping them makes every
  // synced write cost microseconds instead of milliseconds.
  bool real_syncs = false;
};

class FaultInjectionFs : public rocksdb::FileSystemWrapper {
 public:
  // `graveyard_dir` keeps deleted files until their delete is durable; it is
  // created if missing and must be on the same file system as the store.
  explicit FaultInjectionFs(std::string graveyard_dir, FaultInjectionFsOptions options = {},
                            std::shared_ptr<rocksdb::FileSystem> base = nullptr);
  ~FaultInjectionFs() override;

  const char* Name() const override { return "AnnalsFaultInjectionFs"; }

  // --- Counting and fault injection. ---

  // Operations of `op` started since construction or ResetCounts().
  uint64_t count(FsOp op) const;
  // Mutating operations started (the numbering power cuts use).
  uint64_t mutating_count() const;
  void ResetCounts();

  // The `k`-th (1-based, counted from now) operation of kind `op` fails with
  // an IOError and has no effect (a failed sync marks its bytes lost). One
  // fault at a time; k = 0 disarms. `no_space` makes it a NoSpace error.
  void FailNth(FsOp op, uint64_t k, bool no_space = false);
  // True once the armed fault has fired.
  bool fault_fired() const;
  // Where the fault fired ("write /path/000004.log"), empty before.
  std::string fault_description() const;

  // --- Power loss. ---

  // Ends the process at a power cut before the `n`-th mutating operation
  // (1-based, counted like mutating_count()): from then on every operation
  // blocks, the FileSystem waits for operations in flight, puts the disk in
  // its after-power-loss state (SimulatePowerLoss), calls `on_cut` with the
  // report and _exit()s with `exit_code`. Meant for a child process whose
  // parent then opens the store. n = 0 disarms.
  void ArmPowerCut(uint64_t n, PowerLossModel model, uint64_t seed, int exit_code,
                   std::function<void(const PowerLossReport&)> on_cut = nullptr);
  // The same cut, now, from the calling thread (e.g. at the end of a
  // workload, with the store still open). Does not return.
  [[noreturn]] void PowerCutNow();

  // Puts the disk into the state after a power loss now. Only when no store
  // is open through this FileSystem (in-process use: close the store first)
  // or every other thread is blocked (the cut above). Afterwards everything
  // on disk counts as durable.
  PowerLossReport SimulatePowerLoss(PowerLossModel model, uint64_t seed);

  // Many cuts in one run: before each of the mutating operations numbered
  // `points`, every operation is held while the after-power-loss state of
  // the tree under `root` is written into a copy, then the run goes on (the
  // copy is exactly what a power cut at that moment would leave; the live
  // files are untouched). `before_copy(i)` runs with all I/O held and returns
  // the copy's directory (empty: skip); it may not call into the FileSystem.
  // `after_copy(i, report)` follows the copy. CopyNow() makes the next copy
  // now (e.g. at the end of the workload, store still open).
  void ArmCopies(std::vector<uint64_t> points, std::string root, PowerLossModel model,
                 uint64_t seed, std::function<std::string(size_t index)> before_copy,
                 std::function<void(size_t index, const PowerLossReport&)> after_copy);
  void CopyNow();

  // Forgets what is unsynced: everything on disk counts as durable.
  void MarkAllDurable();

  // --- FileSystem overrides. ---
  rocksdb::IOStatus NewSequentialFile(const std::string& f, const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSSequentialFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomAccessFile(const std::string& f, const rocksdb::FileOptions& o,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* r,
                                        rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewRandomRWFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSRandomRWFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name, const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f, const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus Truncate(const std::string& f, size_t size, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus CreateDirIfMissing(const std::string& d, const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteDir(const std::string& d, const rocksdb::IOOptions& o,
                              rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t,
                               const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& s, const std::string& t,
                             const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override;

  // --- Used by the file wrappers (not for tests). ---
  // Starts an operation: blocks while frozen by a power cut, counts it, fires
  // an armed fault or cut. Returns non-OK for an injected fault; otherwise the
  // caller must call EndOp() after doing the I/O.
  rocksdb::IOStatus BeginOp(FsOp op, const std::string& what);
  void EndOp();
  void OnAppend(uint64_t node, uint64_t offset, uint64_t length);
  void OnTruncate(uint64_t node, uint64_t size);
  void OnSync(uint64_t node, bool ok);
  void OnDirSync(const std::string& dir);
  const FaultInjectionFsOptions& options() const { return options_; }

 private:
  struct Node {
    uint64_t size = 0;                                  // bytes on disk (as written through us)
    uint64_t synced = 0;                                // durable prefix
    std::vector<std::pair<uint64_t, uint64_t>> lost{};  // [begin, end) lost to failed syncs
  };
  enum class EntryKind : uint8_t { kCreateFile, kDeleteFile, kRename, kCreateDir, kDeleteDir };
  struct PendingEntry {
    EntryKind kind{};
    std::string path{};               // the created/deleted entry, or the rename source
    std::string target{};             // rename target
    std::string grave{};              // deleted file, or the rename's overwritten target
    uint64_t node = 0;                // the file's node (files only)
    uint64_t displaced = 0;           // node of a rename's overwritten target
    bool target_was_dir = false;      // a rename replaced an empty directory
    std::vector<std::string> dirs{};  // directories whose fsync is still missing
  };

  // Node of `path`, creating one for a file that existed before (durable as
  // it is). Requires mu_.
  uint64_t NodeForExistingLocked(const std::string& path);
  std::string NewGraveLocked();
  void RenamePathsLocked(const std::string& from, const std::string& to);
  struct Target;
  void Undo(const PendingEntry& e, const Target& target, std::map<std::string, uint64_t>& paths,
            PowerLossReport* report);
  PowerLossReport ApplyLocked(const Target& target, PowerLossModel model, uint64_t seed);
  PowerLossReport CopyDurableStateLocked(const std::string& root, const std::string& dest,
                                         PowerLossModel model, uint64_t seed);
  void CopyNowLocked(std::unique_lock<std::mutex>& lock, size_t index);
  [[noreturn]] void CutLocked(std::unique_lock<std::mutex>& lock);
  rocksdb::IOStatus OpenWritable(const std::string& f, bool truncate,
                                 const std::function<rocksdb::IOStatus()>& open,
                                 std::unique_ptr<rocksdb::FSWritableFile>* r);

  const std::string graveyard_;
  const FaultInjectionFsOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::array<uint64_t, kFsOpCount> counts_{};
  uint64_t mutating_ = 0;
  int in_flight_ = 0;
  bool frozen_ = false;

  FsOp fault_op_ = FsOp::kWrite;
  uint64_t fault_at_ = 0;  // in counts_[fault_op_] numbering; 0 = none
  bool fault_no_space_ = false;
  bool fault_fired_ = false;
  std::string fault_description_;

  uint64_t cut_at_ = 0;  // in mutating_ numbering; 0 = none
  PowerLossModel cut_model_ = PowerLossModel::kDropUnsynced;
  uint64_t cut_seed_ = 0;
  int cut_exit_code_ = 0;
  std::function<void(const PowerLossReport&)> on_cut_;

  std::vector<uint64_t> copy_points_;  // in mutating_ numbering, ascending
  size_t copy_next_ = 0;
  std::string copy_root_;
  PowerLossModel copy_model_ = PowerLossModel::kDropUnsynced;
  uint64_t copy_seed_ = 0;
  std::function<std::string(size_t)> before_copy_;
  std::function<void(size_t, const PowerLossReport&)> after_copy_;

  uint64_t next_node_ = 1;
  uint64_t next_grave_ = 1;
  std::map<uint64_t, Node> nodes_;
  std::map<std::string, uint64_t> path_nodes_;  // current path -> node
  std::vector<PendingEntry> pending_;           // not yet durable, oldest first
};

// Normalizes a path the way the FileSystem keys it (absolute, no "." or
// "..", no trailing slash).
std::string NormalizePath(std::string_view path);

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_FAULT_INJECTION_FS_H_
