// Compiles warning-free under clang -Wthread-safety: every access to a
// guarded member holds its lock (tests/conventions/CMakeLists.txt).
#include "common/mutex.h"

namespace {

class Counter {
 public:
  void Add() {
    annals::MutexLock lock(&mu_);
    ++n_;
    cv_.NotifyAll();
  }
  bool WaitFor(int n) {
    annals::MutexLock lock(&mu_);
    return cv_.WaitFor(lock, absl::Milliseconds(1),
                       [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return n_ >= n; });
  }
  // Lets go of the lock for slow work, then takes it back.
  void Relock() {
    annals::MutexLock lock(&mu_);
    ++n_;
    lock.Unlock();
    lock.Lock();
    ++n_;
  }
  int Read() {
    annals::ReaderLock lock(&shared_mu_);
    return shared_;
  }
  void Write(int v) {
    annals::WriterLock lock(&shared_mu_);
    shared_ = v;
  }

 private:
  annals::Mutex mu_;
  annals::CondVar cv_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
  annals::SharedMutex shared_mu_;
  int shared_ ABSL_GUARDED_BY(shared_mu_) = 0;
};

}  // namespace

int main() {
  Counter c;
  c.Add();
  c.Relock();
  c.Write(2);
  return c.WaitFor(3) && c.Read() == 2 ? 0 : 1;
}
