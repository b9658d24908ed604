// File: common/mutex.h
//
// Mutex, SharedMutex, MutexLock, ReaderLock, WriterLock and CondVar: thin
// wrappers over the standard library's primitives that carry Clang's
// thread-safety attributes, so that `ABSL_GUARDED_BY(mu_)` and
// `ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_)` are checked by the compiler
// (-Wthread-safety, on in every clang build of annals) instead of written as
// "Guarded by" prose. LevelDB's port::Mutex is the pattern.
//
// Why not absl::Mutex: Debian's libabsl is not built with ThreadSanitizer
// annotations, so TSan cannot see the ordering an absl::Mutex provides and
// reports false races; libstdc++'s std::mutex is intercepted by TSan. These
// wrappers keep std::mutex underneath and add only the attributes.
//
// Example:
//   class Counter {
//    public:
//     void Add() {
//       MutexLock lock(&mu_);
//       ++n_;
//       cv_.NotifyAll();
//     }
//     void WaitFor(int n) {
//       MutexLock lock(&mu_);
//       cv_.Wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ >= n; });
//     }
//    private:
//     Mutex mu_;
//     CondVar cv_;
//     int n_ ABSL_GUARDED_BY(mu_) = 0;
//   };
//
// Thread-safety: the point of the file; none of these types is copyable.

#ifndef ANNALS_COMMON_MUTEX_H_
#define ANNALS_COMMON_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace annals {

class CondVar;
class MutexLock;

// An exclusive lock.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  // Tells the analysis that the caller holds the lock (e.g. in a callback the
  // analysis cannot follow). Checks nothing at run time.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds a Mutex for its scope. Unlock() and Lock() let go of it for a while
// inside the scope (e.g. around slow work); the analysis knows the mutex is
// not held in between, and the destructor releases it only if held.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : lock_(mu->mu_) {}
  ~MutexLock() ABSL_UNLOCK_FUNCTION() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() ABSL_UNLOCK_FUNCTION() { lock_.unlock(); }
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { lock_.lock(); }

 private:
  friend class CondVar;
  std::unique_lock<std::mutex> lock_;
};

// A condition variable used with a MutexLock. Waits re-acquire the lock
// before they return, so the analysis's view (held across the call) is right.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(MutexLock& lock) { cv_.wait(lock.lock_); }
  template <typename Predicate>
  void Wait(MutexLock& lock, Predicate done) {
    cv_.wait(lock.lock_, done);
  }
  // Returns done() as of the return: false when `timeout` passed first.
  // absl::InfiniteDuration() waits for done() however long it takes.
  template <typename Predicate>
  bool WaitFor(MutexLock& lock, absl::Duration timeout, Predicate done) {
    // std::condition_variable adds the wait to the clock's now(): a longer
    // one than ~290 years from boot overflows and would return at once.
    if (timeout > kLongestWait) {
      cv_.wait(lock.lock_, done);
      return true;
    }
    return cv_.wait_for(lock.lock_, absl::ToChronoNanoseconds(timeout), done);
  }
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  static constexpr absl::Duration kLongestWait = absl::Hours(24 * 365 * 100);
  std::condition_variable cv_;
};

// A reader-writer lock.
class ABSL_LOCKABLE SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }
  void ReaderLock() ABSL_SHARED_LOCK_FUNCTION() { mu_.lock_shared(); }
  void ReaderUnlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock_shared(); }
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}
  void AssertReaderHeld() const ABSL_ASSERT_SHARED_LOCK() {}

 private:
  std::shared_mutex mu_;
};

// Holds a SharedMutex exclusively for its scope.
class ABSL_SCOPED_LOCKABLE WriterLock {
 public:
  explicit WriterLock(SharedMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds a SharedMutex shared for its scope.
class ABSL_SCOPED_LOCKABLE ReaderLock {
 public:
  explicit ReaderLock(SharedMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->ReaderLock();
  }
  ~ReaderLock() ABSL_UNLOCK_FUNCTION() { mu_->ReaderUnlock(); }
  ReaderLock(const ReaderLock&) = delete;
  ReaderLock& operator=(const ReaderLock&) = delete;

 private:
  SharedMutex* const mu_;
};

}  // namespace annals

#endif  // ANNALS_COMMON_MUTEX_H_
