// Durability across SIGKILL: a child process (crash_test_child) appends with
// Durability::kSync from several threads and reports every acknowledged
// append through a pipe; the parent kills it at random moments, reopens the
// store and checks that every acknowledged event is there, at its position,
// gap-free, exactly once.
//
// The child is a program started with posix_spawn, not a fork of this
// process: after the first reopen this process has RocksDB threads, and a
// forked child that opened a store could block on a mutex one of them held
// (it did once, seed 786081284, and the parent waited for it forever). The
// parent waits for the child's "ready" at most kReadyTimeout.
//
// ANNALS_CRASH_ROUNDS overrides the number of kills (default 25); the seed is
// printed and ANNALS_TEST_SEED replays a run.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "annals/event_store.h"
#include "gtest/gtest.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"
#include "tests/eventstore/crash_test_child.h"

#ifndef ANNALS_CRASH_TEST_CHILD
#error "ANNALS_CRASH_TEST_CHILD must name the crash_test_child binary"
#endif

namespace annals {
namespace {

using testing::CrashAck;

// An open of a small kSync store takes well under a second; this leaves room
// for sanitizers and a machine busy with other builds.
constexpr std::chrono::milliseconds kReadyTimeout(60'000);

// Closes a file descriptor at the end of its scope (an ASSERT may leave early).
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { close(fd_); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

enum class Ready { kReady, kEnded, kTimedOut };

// Waits for the child's ready byte on `fd` until `timeout` has passed.
// kEnded: the child closed its end without saying ready (it died; its exit
// status says why).
Ready WaitForReady(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Ready::kTimedOut;
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      return Ready::kEnded;
    }
    if (r == 0) continue;  // The deadline check above ends the wait.
    char byte = 0;
    const ssize_t n = read(fd, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    return n == 1 && byte == testing::kCrashChildReady ? Ready::kReady : Ready::kEnded;
  }
}

TEST(CrashTest, EveryAcknowledgedAppendSurvivesSigkill) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  int rounds = 25;
  if (const char* env = std::getenv("ANNALS_CRASH_ROUNDS")) rounds = std::atoi(env);
  testing::TempDir dir;
  const std::string path = dir.Sub("store");

  absl::flat_hash_map<uint64_t, CrashAck> acked;  // position -> ack
  uint64_t kills = 0;
  for (int round = 0; round < rounds; ++round) {
    // The child's stdout: its ready byte, then its acks. Close-on-exec, so
    // that only the child's fd 1 (a dup) and this process's read end remain.
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
    ScopedFd acks(fds[0]);
    testing::Process child =
        testing::Process::Start({ANNALS_CRASH_TEST_CHILD, path, std::to_string(seed + round)},
                                dir.Sub("child"), {.stdout_fd = fds[1]});
    close(fds[1]);
    ASSERT_GT(child.pid(), 0) << "crash_test_child did not start";
    // Wait until the child has opened the store (slow under sanitizers or on
    // a loaded machine, where a fixed delay could kill every child before its
    // first acknowledgement), let it append 20..200 ms, then kill it
    // mid-write. A child that dies before opening closes the pipe; its exit
    // status is checked below.
    const Ready ready = WaitForReady(acks.get(), kReadyTimeout);
    if (ready == Ready::kTimedOut) {
      kill(child.pid(), SIGKILL);
      const testing::ProcessResult r = child.Wait();
      FAIL() << "round " << round << ": the child did not open the store within "
             << kReadyTimeout.count() / 1000 << " s (seed " << seed
             << "; replay with ANNALS_TEST_SEED=" << seed << "); killed it; its stderr: " << r.err;
    }
    if (ready == Ready::kReady) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 180));
    }
    kill(child.pid(), SIGKILL);
    const testing::ProcessResult r = child.Wait();
    ASSERT_EQ(r.signal, SIGKILL) << "round " << round << " (seed " << seed
                                 << "): the child ended on its own: " << r.Describe()
                                 << "; its stderr: " << r.err;
    ++kills;
    // The child is gone, so the pipe ends after what it wrote.
    CrashAck ack;
    while (read(acks.get(), &ack, sizeof(ack)) == sizeof(ack)) {
      ASSERT_TRUE(acked.emplace(ack.position, ack).second)
          << "position " << ack.position << " acknowledged twice";
    }

    // Reopen: everything acknowledged so far must be there.
    Options options;
    options.durability = Durability::kSync;
    auto store = EventStore::Open(path, options);
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status();
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->ok) << "round " << round << ": " << report->reason << " at "
                            << report->first_bad_position;
    absl::flat_hash_set<Uuid> ids;
    uint64_t expected = 1;
    ASSERT_TRUE((*store)
                    ->ScanAll({},
                              [&](const EventView& e) {
                                EXPECT_EQ(e.position, expected++);
                                EXPECT_TRUE(ids.insert(e.id).second) << "duplicate event id";
                                if (auto it = acked.find(e.position); it != acked.end()) {
                                  EXPECT_EQ(e.id.bytes(), it->second.id);
                                  EXPECT_EQ(e.stream, std::string(it->second.stream));
                                  EXPECT_EQ(e.version, it->second.version);
                                }
                                return true;
                              })
                    .ok());
    for (const auto& [position, a] : acked) {
      ASSERT_LT(position, expected)
          << "acknowledged position " << position << " lost after kill " << round;
    }
  }
  // Without acknowledged appends the kills would have checked nothing.
  EXPECT_GT(acked.size(), 0u);
  std::fprintf(stderr, "crash test: %llu kills, %zu acknowledged events checked\n",
               static_cast<unsigned long long>(kills), acked.size());
}

}  // namespace
}  // namespace annals
