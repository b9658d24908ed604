// File: tests/statistics/statistics_test_util.h
//
// Helpers of the statistics tests: a store opened with a Statistics object,
// and a gate that holds a thread (the committer, inside a commit hook or an
// inline projection) until the test has shaped the next group commit.

#ifndef ANNALS_TESTS_STATISTICS_STATISTICS_TEST_UTIL_H_
#define ANNALS_TESTS_STATISTICS_STATISTICS_TEST_UTIL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "annals/event_store.h"
#include "annals/statistics.h"
#include "gtest/gtest.h"

namespace annals::testing {

// Opens (creating) a store at `path` that records into `statistics`. Records
// a test failure and returns null when it cannot be opened.
inline std::unique_ptr<EventStore> OpenWithStatistics(
    const std::string& path, std::shared_ptr<Statistics> statistics,
    Durability durability = Durability::kBuffered) {
  Options options;
  options.durability = durability;
  options.statistics = std::move(statistics);
  auto store = EventStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? std::move(*store) : nullptr;
}

// Pass() blocks the first thread that calls it until Release();
// WaitUntilEntered() waits for that thread. Later calls pass at once.
class Gate {
 public:
  void Pass() {
    std::unique_lock lock(mu_);
    if (entered_) return;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_; });
  }
  void WaitUntilEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

}  // namespace annals::testing

#endif  // ANNALS_TESTS_STATISTICS_STATISTICS_TEST_UTIL_H_
