// Exactly-once across SIGKILL: a child process runs an async projection over
// a prepared log and is killed at random moments, at least 20 times; then a
// last run finishes. The read model must equal the one a clean pass builds:
// no event applied twice (the per-stream counts are read-modify-write) and
// none skipped (the log table holds every position once).
//
// Seeded: ANNALS_TEST_SEED replays a run; the seed is printed.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>

#include "absl/time/clock.h"

#include "annals/event_store.h"
#include "annals/projection.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "tests/projections/test_projections.h"
#include "tests/testutil/temp_dir.h"

namespace annals {
namespace {

constexpr int kKills = 30;
constexpr int kPerRound = 3000;
constexpr char kBatch[] = "3";

// Starts the child with its stdout on a pipe; returns once the child said
// "ready" (its projection runs), or at its exit.
pid_t Spawn(const std::string& store) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execl(ANNALS_CRASH_CHILD, ANNALS_CRASH_CHILD, store.c_str(), kBatch,
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') {
  }
  close(fds[0]);
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(ProjectionCrashTest, ExactlyOnceAcrossSigkill) {
  const uint64_t seed = testing::TestSeed();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  testing::TempDir dir;
  const std::string path = dir.Sub("store");
  uint64_t appended = 0;
  // Appends one round of events while no child runs.
  auto append_round = [&](EventStore& store) {
    for (int i = 0; i < kPerRound; i += 50) {
      std::vector<NewEvent> events(50, NewEvent{.type = "A", .payload = "{}"});
      for (int j = 0; j < 50; ++j) events[j].type = (i + j) % 3 ? "A" : "B";
      const std::string stream = "s-" + std::to_string(rng() % 13);
      ASSERT_TRUE(store.Append(stream, ExpectedVersion::Any(), events).ok());
      appended += 50;
    }
  };

  // Calibration: how long the child takes to apply one round, from "ready".
  {
    auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    append_round(**store);
  }
  const absl::Time start = absl::Now();
  const pid_t first = Spawn(path);
  const absl::Time ready = absl::Now();
  const int first_status = Wait(first);
  ASSERT_TRUE(WIFEXITED(first_status) && WEXITSTATUS(first_status) == 0);
  double window_us = absl::ToDoubleMicroseconds(absl::Now() - ready);
  std::printf("child: %.1f ms to start, %.1f ms to apply %d events\n",
              absl::ToDoubleMilliseconds(ready - start), window_us / 1000, kPerRound);

  // Each round adds events, starts the child and kills it at a random moment
  // of its applying (the window adapts if the child finishes first).
  int killed_mid_run = 0;
  std::string checkpoints;
  for (int k = 0; k < kKills; ++k) {
    {
      auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
      ASSERT_TRUE(store.ok()) << store.status();
      append_round(**store);
    }
    const pid_t pid = Spawn(path);
    ASSERT_GT(pid, 0);
    usleep(static_cast<useconds_t>(std::uniform_real_distribution<double>(0, window_us)(rng)));
    kill(pid, SIGKILL);
    Wait(pid);
    auto store = EventStore::Open(path, Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    auto snapshot = ReadModelSnapshot::Open(**store, "counter");
    ASSERT_TRUE(snapshot.ok());
    const uint64_t position = (*snapshot)->position();
    checkpoints += StrCat(" ", position, "/", appended);
    if (position == appended) {
      window_us *= 0.8;  // Finished before the kill.
    } else {
      ++killed_mid_run;
    }
  }
  std::printf("checkpoint/last position after each kill:%s\n", checkpoints.c_str());
  // The last run completes.
  const int status = Wait(Spawn(path));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;

  Options options;
  options.durability = Durability::kBuffered;
  auto store = EventStore::Open(path, options);
  ASSERT_TRUE(store.ok());
  testing::CounterProjection clean("clean");
  ASSERT_TRUE(RebuildProjection(**store, clean).ok());
  auto crashed = ReadModelSnapshot::Open(**store, "counter");
  auto reference = ReadModelSnapshot::Open(**store, "clean");
  ASSERT_TRUE(crashed.ok() && reference.ok());
  EXPECT_EQ((*crashed)->position(), appended);
  EXPECT_EQ(testing::Dump(**crashed, "count"), testing::Dump(**reference, "count"));
  const auto log = testing::Dump(**crashed, "log");
  EXPECT_EQ(log.size(), appended);
  EXPECT_EQ(log, testing::Dump(**reference, "log"));
  EXPECT_GE(killed_mid_run, 20) << "fewer than 20 kills hit the projection mid-run; "
                                   "lengthen the run or move the window";
}

}  // namespace
}  // namespace annals
