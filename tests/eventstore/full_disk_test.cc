// I/O errors on real file systems never crash the process and lose nothing
// acknowledged: a full tmpfs, a full loop-mounted ext4, a file system
// remounted read-only, and the WAL space a killed writer left preallocated.
//
// Needs root (mount, mkfs.ext4, loop devices); skipped with a message
// otherwise. CI runs as root. Every RocksDB call runs in a forked child (the
// parent never opens a store, so every fork starts from a process without
// RocksDB threads): the child reports one line per fact, and
// the parent checks how it ended (an abort is a failure, not a crash of the
// test) and what it reported.

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "annals/event_store.h"
#include "common/strings.h"
#include "eventstore/internal/info_log.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/env.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// --- Child processes -------------------------------------------------------

// What a child wrote and how it ended.
struct ChildRun {
  bool exited = false;  // Normal exit (not killed by a signal).
  int exit_code = -1;
  int signal = 0;
  std::vector<std::string> lines{};

  std::string Describe() const {
    return exited ? StrCat("exit code ", exit_code)
                  : StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  }
  // The lines that start with `tag` + " ", without the tag.
  std::vector<std::string> Tagged(std::string_view tag) const {
    std::vector<std::string> out;
    const std::string prefix = StrCat(tag, " ");
    for (const std::string& line : lines) {
      if (line.rfind(prefix, 0) == 0) out.push_back(line.substr(prefix.size()));
    }
    return out;
  }
};

// The child's report (the fd RunChild gives it): one line per fact.
class Reporter {
 public:
  explicit Reporter(int fd) : fd_(fd) {}
  void Line(std::string_view tag, std::string_view text) {
    std::string line = StrCat(tag, " ", text);
    for (char& c : line) {
      if (c == '\n') c = ' ';
    }
    line += '\n';
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
      const ssize_t n = write(fd_, p, left);
      if (n <= 0) _exit(90);
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  // "error <code> <message>"
  void Error(const absl::Status& s) {
    Line("error", StrCat(static_cast<int>(s.code()), " ", s.message()));
  }

 private:
  int fd_;
};

// Runs `body` in a forked child, which exits 0 when `body` returns; its
// stderr is this test's.
ChildRun RunChild(const std::function<void(Reporter&)>& body) {
  testing::TempDir scratch;
  const testing::ProcessResult child = testing::RunForked(
      [&](int fd) {
        Reporter reporter(fd);
        body(reporter);
      },
      scratch.Sub("child"), testing::ProcessOptions{.capture_stderr = false});
  ChildRun run{.exited = child.exited, .exit_code = child.exit_code, .signal = child.signal};
  for (absl::string_view line : absl::StrSplit(child.out, '\n', absl::SkipEmpty())) {
    run.lines.emplace_back(line.data(), line.size());
  }
  return run;
}

// --- Scratch file systems --------------------------------------------------

// Runs a shell command; returns true when it exited 0.
bool Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

enum class FsKind { kTmpfs, kExt4 };

std::string FsName(FsKind kind) { return kind == FsKind::kTmpfs ? "tmpfs" : "ext4"; }

// A small file system mounted on a directory of a TempDir: an 8 MiB tmpfs,
// or a 16 MiB ext4 image on a loop device (`mount -o loop` frees the loop
// device at unmount). Unmounted by the destructor.
class ScratchFs {
 public:
  explicit ScratchFs(FsKind kind) : kind_(kind), root_(dir_.Sub("mnt")) {}
  ScratchFs(const ScratchFs&) = delete;
  ScratchFs& operator=(const ScratchFs&) = delete;

  ~ScratchFs() {
    if (mounted_ && umount2(root_.c_str(), 0) != 0) {
      // Something still holds it (a test failed midway): detach it lazily so
      // that the TempDir below can go.
      umount2(root_.c_str(), MNT_DETACH);
    }
  }

  // Returns an empty string, or why it could not mount.
  std::string Mount() {
    std::error_code ec;
    fs::create_directory(root_, ec);
    if (ec) return "cannot create " + root_ + ": " + ec.message();
    if (kind_ == FsKind::kTmpfs) {
      if (mount("tmpfs", root_.c_str(), "tmpfs", 0, "size=8m") != 0) {
        return std::string("mount -t tmpfs: ") + strerror(errno);
      }
    } else {
      const std::string image = dir_.Sub("ext4.img");
      if (!Shell("truncate -s 16M '" + image + "' && mkfs.ext4 -q -F '" + image +
                 "' >/dev/null 2>&1")) {
        return "mkfs.ext4 failed (is e2fsprogs installed? scripts/install-deps.sh)";
      }
      if (!Shell("mount -o loop '" + image + "' '" + root_ + "' 2>&1")) {
        return "mount -o loop failed (are loop devices available?)";
      }
    }
    mounted_ = true;
    return "";
  }

  const std::string& root() const { return root_; }
  std::string Sub(const std::string& name) const { return root_ + "/" + name; }

  // Bytes free for an unprivileged writer... and for root, who may use the
  // reserved blocks too (ext4 keeps 5% for root): f_bfree counts those.
  uint64_t FreeBytes() const {
    struct statvfs st;
    if (statvfs(root_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bfree) * st.f_frsize;
  }

  // Writes a filler file until about `leave` bytes are free.
  void Fill(uint64_t leave) {
    const std::string path = Sub("filler");
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << strerror(errno);
    std::vector<char> chunk(64 << 10, 'f');
    while (FreeBytes() > leave) {
      const uint64_t want = std::min<uint64_t>(chunk.size(), FreeBytes() - leave);
      const ssize_t n = write(fd, chunk.data(), want);
      if (n <= 0) break;  // ENOSPC: as full as it gets.
    }
    fsync(fd);
    close(fd);
  }

  void RemoveFiller() {
    std::error_code ec;
    fs::remove(Sub("filler"), ec);
    sync();
  }

  bool Remount(bool read_only) {
    return mount(nullptr, root_.c_str(), nullptr, MS_REMOUNT | (read_only ? MS_RDONLY : 0),
                 nullptr) == 0;
  }

 private:
  const FsKind kind_;
  testing::TempDir dir_;
  const std::string root_;
  bool mounted_ = false;
};

// --- What the children do ----------------------------------------------------

Options StoreOptions() {
  Options options;
  options.durability = Durability::kSync;
  options.block_cache_bytes = 8u << 20;
  return options;
}

// A JSON string payload of `bytes` random hex digits (incompressible enough
// that the log's LZ4 cannot shrink it much).
std::string Payload(std::mt19937_64& rng, size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s = "\"";
  for (size_t i = 0; i < bytes; ++i) s += kHex[rng() % 16];
  return s + "\"";
}

// Appends `count` events of 4 KB to stream "s", one append each, reporting
// "ack <id>" for every acknowledged one and stopping at the first error.
// Returns the error (OK when every append succeeded).
absl::Status AppendAndReport(EventStore& store, Reporter& reporter, int count,
                             std::mt19937_64& rng) {
  for (int i = 0; i < count; ++i) {
    const std::string payload = Payload(rng, 4000);
    const Uuid id = Uuid::V7();
    NewEvent event{.id = id, .type = "Filled", .payload = payload};
    absl::StatusOr<AppendResult> r = store.Append("s", ExpectedVersion::Any(), {&event, 1});
    if (!r.ok()) return r.status();
    reporter.Line("ack", id.ToString());
  }
  return absl::OkStatus();
}

// Opens the store, reports "verify ok <events>" (or the failure), every
// event id as "event <id>", then appends one event and reports "appended".
void CheckAndAppend(const std::string& path, Reporter& reporter) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path, StoreOptions());
  if (!store.ok()) {
    reporter.Error(store.status());
    return;
  }
  absl::StatusOr<VerifyReport> report = (*store)->Verify();
  if (!report.ok()) {
    reporter.Error(report.status());
  } else if (!report->ok) {
    reporter.Line("verify", StrCat("bad ", report->first_bad_position, " ", report->reason));
  } else {
    reporter.Line("verify", StrCat("ok ", report->events));
  }
  absl::Status scan = (*store)->ScanAll({}, [&](const EventView& e) {
    reporter.Line("event", e.id.ToString());
    return true;
  });
  if (!scan.ok()) reporter.Error(scan);
  NewEvent event{.type = "AfterRecovery", .payload = "{}"};
  absl::StatusOr<AppendResult> r = (*store)->Append("s", ExpectedVersion::Any(), {&event, 1});
  if (r.ok()) {
    reporter.Line("appended", StrCat(r->last_position));
  } else {
    reporter.Error(r.status());
  }
}

// Files in `dir` whose name starts with "LOG" (RocksDB's info log).
std::vector<std::string> InfoLogFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("LOG", 0) == 0) out.push_back(name);
  }
  return out;
}

// Bytes allocated beyond the end of each WAL file ("<digits>.log") in `dir`.
uint64_t WalBytesBeyondEof(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 5 || name.substr(name.size() - 4) != ".log") continue;
    struct stat st;
    if (stat(entry.path().c_str(), &st) != 0) continue;
    const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
    const uint64_t size = (static_cast<uint64_t>(st.st_size) + 4095) / 4096 * 4096;
    if (allocated > size) total += allocated - size;
  }
  return total;
}

// --- The tests -----------------------------------------------------------------

class FullDiskTest : public ::testing::TestWithParam<FsKind> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root to mount a small " << FsName(GetParam())
                   << " file system (a real ENOSPC / EROFS); run as root (CI does)";
    }
    fs_ = std::make_unique<ScratchFs>(GetParam());
    const std::string error = fs_->Mount();
    ASSERT_EQ(error, "") << "cannot set up the scratch file system";
    store_ = fs_->Sub("store");
  }

  std::unique_ptr<ScratchFs> fs_;
  std::string store_;
};

// The reproduction: a store on a file system with about 100 KB free,
// 4 KB appends until they fail. Debian's RocksDB aborted the process (while
// writing its own LOG file into the store directory) instead of returning an
// error.
TEST_P(FullDiskTest, AFullDiskFailsAppendsCleanlyAndLosesNothingAcknowledged) {
  ChildRun created = RunChild([&](Reporter& reporter) {
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(store_, StoreOptions());
    if (!store.ok()) return reporter.Error(store.status());
    std::mt19937_64 rng(1);
    if (absl::Status s = AppendAndReport(**store, reporter, 5, rng); !s.ok()) reporter.Error(s);
  });
  ASSERT_TRUE(created.exited && created.exit_code == 0) << created.Describe();
  ASSERT_TRUE(created.Tagged("error").empty()) << created.Tagged("error").front();
  std::vector<std::string> acked = created.Tagged("ack");
  ASSERT_EQ(acked.size(), 5u);

  fs_->Fill(100 << 10);
  // A long-lived writer: appends until the disk is full, then a few more
  // (refused until reopen). Then, like a CLI run each, ten opens and appends.
  ChildRun full = RunChild([&](Reporter& reporter) {
    std::mt19937_64 rng(2);
    {
      absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(store_, StoreOptions());
      if (!store.ok()) {
        reporter.Error(store.status());
      } else {
        absl::Status s = AppendAndReport(**store, reporter, 1000, rng);
        if (s.ok()) reporter.Line("never-full", "");
        reporter.Error(s);
        for (int i = 0; i < 3; ++i) {
          if (absl::Status again = AppendAndReport(**store, reporter, 1, rng); !again.ok()) {
            reporter.Error(again);
          }
        }
      }
    }
    for (int i = 0; i < 10; ++i) {
      absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(store_, StoreOptions());
      if (!store.ok()) {
        reporter.Error(store.status());
        continue;
      }
      if (absl::Status s = AppendAndReport(**store, reporter, 1, rng); !s.ok()) {
        reporter.Error(s);
      }
    }
    reporter.Line("done", "");
  });
  ASSERT_TRUE(full.exited && full.exit_code == 0)
      << "the appending process must end normally; it ended with " << full.Describe();
  ASSERT_EQ(full.Tagged("done").size(), 1u);
  EXPECT_TRUE(full.Tagged("never-full").empty()) << "1000 x 4 KB fit in 100 KB?";
  const std::vector<std::string> errors = full.Tagged("error");
  ASSERT_FALSE(errors.empty());
  for (const std::string& e : errors) {
    // kResourceExhausted (8) from an open; kUnknown (2) for the append whose
    // write failed; kFailedPrecondition (9) for the appends refused after it.
    EXPECT_THAT(e, ::testing::AnyOf(::testing::StartsWith("8 "), ::testing::StartsWith("2 "),
                                    ::testing::StartsWith("9 ")));
    EXPECT_THAT(e, HasSubstr("disk full"));
    EXPECT_THAT(e, HasSubstr("free space"));
  }
  const std::vector<std::string> more = full.Tagged("ack");
  acked.insert(acked.end(), more.begin(), more.end());
  std::fprintf(stderr, "%s: %zu appends acknowledged before the disk was full, %zu errors\n",
               FsName(GetParam()).c_str(), more.size(), errors.size());
  EXPECT_THAT(InfoLogFiles(store_), ::testing::IsEmpty())
      << "RocksDB wrote its info log into the store directory";

  fs_->RemoveFiller();
  ChildRun after = RunChild([&](Reporter& reporter) { CheckAndAppend(store_, reporter); });
  ASSERT_TRUE(after.exited && after.exit_code == 0) << after.Describe();
  ASSERT_TRUE(after.Tagged("error").empty()) << after.Tagged("error").front();
  ASSERT_EQ(after.Tagged("verify").size(), 1u);
  EXPECT_THAT(after.Tagged("verify").front(), ::testing::StartsWith("ok "));
  const std::vector<std::string> stored = after.Tagged("event");
  const std::set<std::string> stored_set(stored.begin(), stored.end());
  for (const std::string& id : acked) {
    EXPECT_TRUE(stored_set.count(id)) << "acknowledged event " << id << " is lost";
  }
  // The append whose outcome was unknown may or may not be there; nothing
  // else may be.
  EXPECT_LE(stored.size(), acked.size() + 1);
  EXPECT_EQ(after.Tagged("appended").size(), 1u) << "no append accepted after freeing space";
}

// A store on a file system that is read-only (remounted, as after an error
// or for maintenance): a writer's open names the condition, readers still
// read, and after remounting read-write everything is there.
TEST_P(FullDiskTest, AReadOnlyFileSystemIsNamedAndReadsStillWork) {
  ChildRun created = RunChild([&](Reporter& reporter) {
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(store_, StoreOptions());
    if (!store.ok()) return reporter.Error(store.status());
    std::mt19937_64 rng(3);
    if (absl::Status s = AppendAndReport(**store, reporter, 3, rng); !s.ok()) reporter.Error(s);
  });
  ASSERT_TRUE(created.exited && created.exit_code == 0) << created.Describe();
  const std::vector<std::string> acked = created.Tagged("ack");
  ASSERT_EQ(acked.size(), 3u);

  ASSERT_TRUE(fs_->Remount(/*read_only=*/true)) << strerror(errno);
  ChildRun refused = RunChild([&](Reporter& reporter) {
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(store_, StoreOptions());
    if (store.ok()) return reporter.Line("opened", "");
    reporter.Error(store.status());
    Options read_only = StoreOptions();
    read_only.read_only = true;
    absl::StatusOr<std::unique_ptr<EventStore>> reader = EventStore::Open(store_, read_only);
    if (!reader.ok()) return reporter.Error(reader.status());
    absl::Status scan = (*reader)->ScanAll({}, [&](const EventView& e) {
      reporter.Line("event", e.id.ToString());
      return true;
    });
    if (!scan.ok()) reporter.Error(scan);
  });
  ASSERT_TRUE(fs_->Remount(/*read_only=*/false)) << strerror(errno);
  ASSERT_TRUE(refused.exited && refused.exit_code == 0) << refused.Describe();
  EXPECT_TRUE(refused.Tagged("opened").empty()) << "a writer opened a store on a read-only fs";
  const std::vector<std::string> errors = refused.Tagged("error");
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  // kPermissionDenied (7), saying what it is and what to do.
  EXPECT_THAT(errors[0], ::testing::StartsWith("7 "));
  EXPECT_THAT(errors[0], HasSubstr("read-only file system"));
  EXPECT_THAT(errors[0], HasSubstr("remount"));
  EXPECT_EQ(refused.Tagged("event"), acked) << "a reader could not read the read-only store";

  ChildRun after = RunChild([&](Reporter& reporter) { CheckAndAppend(store_, reporter); });
  ASSERT_TRUE(after.exited && after.exit_code == 0) << after.Describe();
  ASSERT_TRUE(after.Tagged("error").empty()) << after.Tagged("error").front();
  EXPECT_EQ(after.Tagged("verify"), std::vector<std::string>{"ok 3"});
  EXPECT_EQ(after.Tagged("event"), acked);
  EXPECT_EQ(after.Tagged("appended"), std::vector<std::string>{"4"});
}

INSTANTIATE_TEST_SUITE_P(RealFileSystems, FullDiskTest,
                         ::testing::Values(FsKind::kTmpfs, FsKind::kExt4),
                         [](const ::testing::TestParamInfo<FsKind>& info) {
                           return FsName(info.param);
                         });

// RocksDB preallocates each WAL beyond its end (fallocate KEEP_SIZE, about
// 1.1 x the memtable size) and gives back what it did not use when it closes
// the file. A killed writer cannot: on a small ext4 the preallocation of its
// WAL took all the free space, and every later open failed (its recovery
// flush had no room). The next open must release that space first.
TEST(StaleWalSpaceTest, TheNextOpenReleasesTheSpaceAKilledWriterPreallocated) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount a small ext4 file system; run as root (CI does)";
  }
  ScratchFs ext4(FsKind::kExt4);
  ASSERT_EQ(ext4.Mount(), "");
  const std::string store = ext4.Sub("store");
  ChildRun killed = RunChild([&](Reporter& reporter) {
    absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(store, StoreOptions());
    if (!opened.ok()) return reporter.Error(opened.status());
    std::mt19937_64 rng(4);
    if (absl::Status s = AppendAndReport(**opened, reporter, 20, rng); !s.ok()) {
      return reporter.Error(s);
    }
    raise(SIGKILL);
  });
  ASSERT_FALSE(killed.exited) << "the writer was to be killed; " << killed.Describe();
  ASSERT_TRUE(killed.Tagged("error").empty()) << killed.Tagged("error").front();
  const std::vector<std::string> acked = killed.Tagged("ack");
  ASSERT_EQ(acked.size(), 20u);
  const uint64_t stale = WalBytesBeyondEof(store);
  std::fprintf(stderr, "killed writer left %llu bytes preallocated beyond WAL ends; %llu free\n",
               static_cast<unsigned long long>(stale),
               static_cast<unsigned long long>(ext4.FreeBytes()));
  // The premise: without it this test shows nothing.
  ASSERT_GT(stale, 1u << 20) << "RocksDB no longer preallocates WAL files beyond their end";
  // Whatever the preallocation left free is filled too, so that only the
  // stale space can make room for the recovery.
  ext4.Fill(0);

  ChildRun reopened = RunChild([&](Reporter& reporter) { CheckAndAppend(store, reporter); });
  ASSERT_TRUE(reopened.exited && reopened.exit_code == 0) << reopened.Describe();
  ASSERT_TRUE(reopened.Tagged("error").empty()) << reopened.Tagged("error").front();
  EXPECT_EQ(reopened.Tagged("verify"), std::vector<std::string>{"ok 20"});
  EXPECT_EQ(reopened.Tagged("event"), acked);
  EXPECT_EQ(reopened.Tagged("appended"), std::vector<std::string>{"21"});
}

// The clean-up never touches a live writer's WAL: not another process's (it
// holds the store's LOCK), not this process's own (RocksDB's set of locked
// files refuses the lock within the process too).
TEST(StaleWalSpaceTest, ALiveWritersWalIsNeverTrimmed) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "needs root to mount a small ext4 file system; run as root (CI does)";
  }
  ScratchFs ext4(FsKind::kExt4);
  ASSERT_EQ(ext4.Mount(), "");
  const std::string store = ext4.Sub("store");
  int ready[2], go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  std::fflush(nullptr);
  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    close(ready[0]);
    close(go[1]);
    absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(store, StoreOptions());
    if (!opened.ok()) _exit(3);
    std::mt19937_64 rng(5);
    Reporter reporter(ready[1]);
    if (!AppendAndReport(**opened, reporter, 3, rng).ok()) _exit(4);
    // In-process: the store is open here, so nothing may be trimmed.
    const uint64_t before = WalBytesBeyondEof(store);
    absl::StatusOr<internal::WalSpaceReport> own =
        internal::ReleaseStaleWalSpace(rocksdb::Env::Default(), store);
    if (!own.ok()) _exit(5);
    reporter.Line("own", StrCat(own->files_trimmed, " ", before, " ", WalBytesBeyondEof(store)));
    close(ready[1]);
    char byte;
    if (read(go[0], &byte, 1) != 1) _exit(6);
    Reporter quiet(open("/dev/null", O_WRONLY));
    if (!AppendAndReport(**opened, quiet, 1, rng).ok()) _exit(7);
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(ready[0], buffer, sizeof(buffer))) > 0) text.append(buffer, n);
  close(ready[0]);
  ASSERT_THAT(text, HasSubstr("own ")) << "the writer did not get ready";
  const std::string own = text.substr(text.find("own ") + 4);
  // "<files trimmed> <bytes beyond EOF before> <after>"
  const std::vector<std::string> fields = absl::StrSplit(own.substr(0, own.find('\n')), ' ');
  ASSERT_EQ(fields.size(), 3u) << own;
  EXPECT_EQ(fields[0], "0") << "the writer's own WAL was trimmed";
  EXPECT_EQ(fields[1], fields[2]);
  const uint64_t live = WalBytesBeyondEof(store);
  ASSERT_GT(live, 1u << 20) << "RocksDB no longer preallocates WAL files beyond their end";

  // Another process while the writer runs.
  ChildRun other = RunChild([&](Reporter& reporter) {
    absl::StatusOr<internal::WalSpaceReport> r =
        internal::ReleaseStaleWalSpace(rocksdb::Env::Default(), store);
    if (!r.ok()) return reporter.Error(r.status());
    reporter.Line("trimmed", StrCat(r->files_trimmed));
  });
  EXPECT_TRUE(other.exited && other.exit_code == 0) << other.Describe();
  EXPECT_EQ(other.Tagged("trimmed"), std::vector<std::string>{"0"});
  EXPECT_EQ(WalBytesBeyondEof(store), live) << "a live writer's WAL was trimmed";

  ASSERT_EQ(write(go[1], "g", 1), 1);
  close(go[1]);
  int status = 0;
  ASSERT_EQ(waitpid(writer, &status, 0), writer);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace annals
