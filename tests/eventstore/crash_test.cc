// Durability across SIGKILL: a child process appends with Durability::kSync
// from several threads and reports every acknowledged append through a pipe;
// the parent kills it at random moments, reopens the store and checks that
// every acknowledged event is there, at its position, gap-free, exactly once.
//
// ANNALS_CRASH_ROUNDS overrides the number of kills (default 25); the seed is
// printed and ANNALS_TEST_SEED replays a run.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "annals/event_store.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

struct Ack {
  uint64_t position;
  uint64_t version;
  char stream[16];
  std::array<uint8_t, 16> id;
};

// Runs in the child: writes one byte to `ready_fd` once the store is open,
// then appends until killed. Never returns.
[[noreturn]] void ChildAppender(const std::string& path, int ready_fd, int fd, uint64_t seed) {
  Options options;
  options.durability = Durability::kSync;
  auto store = EventStore::Open(path, options);
  if (!store.ok()) {
    std::fprintf(stderr, "child: open failed: %s\n", store.status().ToString().c_str());
    _exit(3);
  }
  if (write(ready_fd, "r", 1) != 1) _exit(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      const std::string payload(static_cast<size_t>(100 + rng() % 4000), 'x');
      for (;;) {
        Ack ack{};
        std::snprintf(ack.stream, sizeof(ack.stream), "s-%d", static_cast<int>(rng() % 6));
        const int count = 1 + static_cast<int>(rng() % 3);
        std::vector<NewEvent> events(count);
        std::vector<Uuid> ids(count);
        for (int i = 0; i < count; ++i) {
          ids[i] = Uuid::V7();
          events[i] = NewEvent{.id = ids[i], .type = "Tick", .payload = payload};
        }
        auto r = (*store)->Append(ack.stream, ExpectedVersion::Any(), events);
        if (!r.ok()) {
          std::fprintf(stderr, "child: append failed: %s\n", r.status().ToString().c_str());
          _exit(4);
        }
        for (int i = 0; i < count; ++i) {
          ack.position = r->first_position + i;
          ack.version = r->first_version + i;
          ack.id = ids[i].bytes();
          // Writes of <= PIPE_BUF bytes are atomic, so threads never interleave.
          if (write(fd, &ack, sizeof(ack)) != sizeof(ack)) _exit(5);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

TEST(CrashTest, EveryAcknowledgedAppendSurvivesSigkill) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  int rounds = 25;
  if (const char* env = std::getenv("ANNALS_CRASH_ROUNDS")) rounds = std::atoi(env);
  testing::TempDir dir;
  const std::string path = dir.Sub("store");

  absl::flat_hash_map<uint64_t, Ack> acked;  // position -> ack
  uint64_t kills = 0;
  for (int round = 0; round < rounds; ++round) {
    int fds[2];
    int ready[2];
    ASSERT_EQ(pipe(fds), 0);
    ASSERT_EQ(pipe(ready), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      close(ready[0]);
      ChildAppender(path, ready[1], fds[1], seed + round);
    }
    close(fds[1]);
    close(ready[1]);
    // Wait until the child has opened the store (slow under sanitizers or on
    // a loaded machine, where a fixed delay could kill every child before its
    // first acknowledgement), let it append 20..200 ms, then kill it
    // mid-write. A child that dies before opening closes the pipe: read
    // returns 0 and the status check below reports its exit code.
    char byte = 0;
    if (read(ready[0], &byte, 1) == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 180));
    }
    close(ready[0]);
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own with status "
                                     << WEXITSTATUS(status) << " (see its stderr)";
    ++kills;
    Ack ack;
    ssize_t n;
    while ((n = read(fds[0], &ack, sizeof(ack))) == sizeof(ack)) {
      ASSERT_TRUE(acked.emplace(ack.position, ack).second)
          << "position " << ack.position << " acknowledged twice";
    }
    close(fds[0]);

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
      ASSERT_LT(position, expected) << "acknowledged position " << position
                                    << " lost after kill " << round;
    }
  }
  // Without acknowledged appends the kills would have checked nothing.
  EXPECT_GT(acked.size(), 0u);
  std::fprintf(stderr, "crash test: %llu kills, %zu acknowledged events checked\n",
               static_cast<unsigned long long>(kills), acked.size());
}

}  // namespace
}  // namespace annals
