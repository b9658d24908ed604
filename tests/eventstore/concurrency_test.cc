// Guarantees under concurrency: exactly one winner among racers with the same
// expected version, gap-free positions under parallel appends, and readers
// that never see a position appear below one they have already seen.

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "annals/errors.h"
#include "annals/event_store.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

constexpr int kThreads = 8;

std::unique_ptr<EventStore> OpenStore(const std::string& path, Durability durability) {
  Options options;
  options.durability = durability;
  auto store = EventStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// An infinite timeout waits for the append (the wait's deadline converted to
// a chrono duration overflowed the clock, and it returned false at once).
TEST(ConcurrencyTest, WaitForPositionWithAnInfiniteTimeoutWaitsForTheAppend) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Sub("store"), Durability::kBuffered);
  ASSERT_NE(store, nullptr);
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    NewEvent e{.type = "Late", .payload = "late"};
    EXPECT_TRUE(store->Append("late", ExpectedVersion::Any(), {&e, 1}).ok());
  });
  EXPECT_TRUE(store->WaitForPosition(1, absl::InfiniteDuration()));
  EXPECT_EQ(store->last_position(), 1u);
  writer.join();
}

TEST(ConcurrencyTest, ExactlyOneOfEightRacersWinsEachRound) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Sub("store"), Durability::kBuffered);
  ASSERT_NE(store, nullptr);
  constexpr int kRounds = 200;
  std::vector<int> winners(kRounds, 0);
  std::vector<int> conflicts(kRounds, 0);
  std::atomic<int> other_errors{0};
  std::barrier sync(kThreads, [&]() noexcept {});
  std::vector<std::thread> threads;
  std::mutex mu;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        sync.arrive_and_wait();
        const std::string payload = std::to_string(t);  // Outlives the view in `e`.
        NewEvent e{.type = "Raced", .payload = payload};
        auto r = store->Append("contested", ExpectedVersion::Exact(round), {&e, 1});
        std::lock_guard<std::mutex> lock(mu);
        if (r.ok()) {
          ++winners[round];
        } else if (r.status().code() == absl::StatusCode::kAborted &&
                   GetWrongExpectedVersion(r.status()).has_value() &&
                   GetWrongExpectedVersion(r.status())->actual == uint64_t(round) + 1) {
          ++conflicts[round];
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_EQ(winners[round], 1) << "round " << round;
    ASSERT_EQ(conflicts[round], kThreads - 1) << "round " << round;
  }
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(store->GetStream("contested")->version, uint64_t(kRounds));
  EXPECT_EQ(store->last_position(), uint64_t(kRounds));
}

TEST(ConcurrencyTest, ParallelAppendsGetGapFreePositionsAndContiguousVersions) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Sub("store"), Durability::kSync);
  ASSERT_NE(store, nullptr);
  constexpr int kAppendsPerThread = 150;
  std::atomic<bool> writers_done{false};

  // A reader follows the log while it grows: every scan must return 1..N
  // contiguously, and N never shrinks.
  std::atomic<uint64_t> reader_scans{0};
  std::atomic<bool> reader_ok{true};
  std::thread reader([&] {
    uint64_t seen = 0;
    while (!writers_done.load()) {
      uint64_t expected = 1;
      absl::Status s = store->ScanAll({}, [&](const EventView& e) {
        if (e.position != expected) reader_ok = false;
        ++expected;
        return true;
      });
      if (!s.ok() || expected - 1 < seen) reader_ok = false;
      seen = expected - 1;
      ++reader_scans;
    }
  });

  std::vector<std::thread> writers;
  std::vector<std::vector<AppendResult>> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      const std::string stream = "stream-" + std::to_string(t);
      for (int i = 0; i < kAppendsPerThread; ++i) {
        NewEvent events[2] = {{.type = "A"}, {.type = "B"}};
        auto r = store->Append(stream, ExpectedVersion::Exact(2 * i), events);
        ASSERT_TRUE(r.ok()) << r.status();
        results[t].push_back(*r);
      }
    });
  }
  for (auto& t : writers) t.join();
  writers_done = true;
  reader.join();
  EXPECT_TRUE(reader_ok.load());
  EXPECT_GT(reader_scans.load(), 0u);

  const uint64_t total = 2ull * kThreads * kAppendsPerThread;
  EXPECT_EQ(store->last_position(), total);
  std::vector<int> owners(total + 1, 0);
  for (const auto& per_thread : results) {
    for (const AppendResult& r : per_thread) {
      EXPECT_EQ(r.last_position, r.first_position + 1);  // One append: adjacent positions.
      for (uint64_t p = r.first_position; p <= r.last_position; ++p) ++owners[p];
    }
  }
  for (uint64_t p = 1; p <= total; ++p) ASSERT_EQ(owners[p], 1) << "position " << p;

  absl::flat_hash_map<std::string, uint64_t> versions;
  uint64_t expected_position = 1;
  ASSERT_TRUE(store
                  ->ScanAll({},
                            [&](const EventView& e) {
                              EXPECT_EQ(e.position, expected_position++);
                              EXPECT_EQ(e.version, ++versions[std::string(e.stream)]);
                              return true;
                            })
                  .ok());
  for (const auto& [stream, version] : versions) {
    EXPECT_EQ(version, 2u * kAppendsPerThread) << stream;
  }
  auto report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST(ConcurrencyTest, ConcurrentRetriesOfOneAppendStoreItOnce) {
  testing::TempDir dir;
  auto store = OpenStore(dir.Sub("store"), Durability::kBuffered);
  ASSERT_NE(store, nullptr);
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds; ++round) {
    const Uuid id = Uuid::V7();
    std::atomic<int> fresh{0}, replays{0}, failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        NewEvent e{.id = id, .type = "Once"};
        auto r = store->Append("s", ExpectedVersion::Any(), {&e, 1});
        if (!r.ok()) {
          ++failures;
        } else if (r->idempotent_replay) {
          ++replays;
        } else {
          ++fresh;
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(fresh.load(), 1);
    ASSERT_EQ(replays.load(), 3);
    ASSERT_EQ(failures.load(), 0);
  }
  EXPECT_EQ(store->last_position(), uint64_t(kRounds));
}

}  // namespace
}  // namespace annals
