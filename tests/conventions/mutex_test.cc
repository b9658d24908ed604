// common/mutex.h at run time: the wrappers lock and wait like the standard
// primitives they wrap (the compile-time side is thread_safety_check.sh).

#include "common/mutex.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace annals {
namespace {

struct Flag {
  Mutex mu;
  CondVar cv;
  bool set ABSL_GUARDED_BY(mu) = false;

  void Set() {
    MutexLock lock(&mu);
    set = true;
    cv.NotifyAll();
  }
};

// An infinite timeout waits for the predicate: converted to a chrono
// duration as it is, it would overflow the clock and return at once.
TEST(CondVarTest, WaitForWithAnInfiniteTimeoutWaitsForThePredicate) {
  Flag flag;
  std::thread setter([&] {
    absl::SleepFor(absl::Milliseconds(50));
    flag.Set();
  });
  {
    MutexLock lock(&flag.mu);
    EXPECT_TRUE(flag.cv.WaitFor(lock, absl::InfiniteDuration(),
                                [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flag.mu) { return flag.set; }));
    EXPECT_TRUE(flag.set);
  }
  setter.join();
}

TEST(CondVarTest, WaitForReturnsFalseWhenTheTimeoutPassesFirst) {
  Flag flag;
  MutexLock lock(&flag.mu);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(flag.cv.WaitFor(lock, absl::Milliseconds(20),
                               [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(flag.mu) { return flag.set; }));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(20));
}

// MutexLock::Unlock() lets another thread in until Lock(); the destructor
// then releases the relocked mutex (a second MutexLock would hang if not).
TEST(MutexLockTest, UnlockLetsOthersInUntilLock) {
  Flag flag;
  {
    MutexLock lock(&flag.mu);
    lock.Unlock();
    std::thread setter([&] { flag.Set(); });
    setter.join();
    lock.Lock();
    EXPECT_TRUE(flag.set);
  }
  MutexLock again(&flag.mu);
  EXPECT_TRUE(flag.set);
}

}  // namespace
}  // namespace annals
