// Must NOT compile under clang -Wthread-safety -Werror: each function breaks
// one locking rule (tests/conventions/CMakeLists.txt checks that clang names
// every one of them).
#include "common/mutex.h"

namespace {

class Broken {
 public:
  // BAD_UNLOCKED_WRITE: writes a guarded member without its lock.
  void UnlockedWrite() { n_ = 1; }
  // BAD_SHARED_WRITE: writes under a reader lock.
  void SharedWrite() {
    annals::ReaderLock lock(&shared_mu_);
    shared_ = 1;
  }
  // BAD_REQUIRES: calls a function that requires the lock without it.
  void CallWithoutLock() { Locked(); }
  // BAD_AFTER_UNLOCK: writes a guarded member after MutexLock::Unlock().
  void WriteAfterUnlock() {
    annals::MutexLock lock(&mu_);
    lock.Unlock();
    m_ = 1;
    lock.Lock();
  }

 private:
  void Locked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { ++n_; }
  annals::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
  int m_ ABSL_GUARDED_BY(mu_) = 0;
  annals::SharedMutex shared_mu_;
  int shared_ ABSL_GUARDED_BY(shared_mu_) = 0;
};

}  // namespace

int main() {
  Broken b;
  b.UnlockedWrite();
  b.SharedWrite();
  b.CallWithoutLock();
  b.WriteAfterUnlock();
  return 0;
}
