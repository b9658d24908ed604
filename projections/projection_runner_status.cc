// ProjectionRunner::Impl, state: what the runner reports (published
// checkpoint, state, error; status() with lag, parked count and stall
// detection), the health record it keeps in the store for readers in other
// processes (ReadProjectionStatus), WaitForPosition(), and the stop flag and
// interruptible sleeps the runner threads use.
// Locking (state_mu_, state_cv_): projections/internal/runner_impl.h.

#include <algorithm>

#include "common/clock.h"
#include "projections/internal/runner_impl.h"

namespace annals {

namespace projections_internal {

bool IsStalled(EventStore& store, uint64_t checkpoint, int64_t advanced_at_us,
               absl::Duration stall_after) {
  if (store.last_position() <= checkpoint) return false;
  // Behind since the later of: the last advance, the commit of the first
  // event not yet applied (an idle projection is not stalled the moment an
  // event arrives).
  int64_t behind_since = advanced_at_us;
  absl::StatusOr<RecordedEvent> next = ReadEventAt(store, checkpoint + 1);
  if (next.ok()) behind_since = std::max(behind_since, next->recorded_at_us);
  return NowMicros() - behind_since > absl::ToInt64Microseconds(stall_after);
}

}  // namespace projections_internal

bool ProjectionRunner::Impl::stopping() {
  MutexLock lock(&state_mu_);
  return stop_;
}

bool ProjectionRunner::Impl::SleepUnlessStopped(absl::Duration d) {
  MutexLock lock(&state_mu_);
  return !state_cv_.WaitFor(lock, d,
                            [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_) { return stop_; });
}

void ProjectionRunner::Impl::Publish(uint64_t checkpoint) {
  checkpoint_.store(checkpoint, std::memory_order_release);
  {
    MutexLock lock(&state_mu_);
    if (checkpoint != published_) advanced_at_us_ = NowMicros();
    published_ = checkpoint;
  }
  state_cv_.NotifyAll();
}

void ProjectionRunner::Impl::Fail(std::string error) {
  // Recorded before it is reported in memory, so that whoever WaitForPosition()
  // wakes reads the failure from the store too.
  projections_internal::Health h = CurrentHealth();
  h.state = ProjectionState::kFailed;
  h.error = error;
  PutHealth(h);
  RecordTick(statistics(), Ticker::kProjectionFailures);
  {
    MutexLock lock(&state_mu_);
    state_ = ProjectionState::kFailed;
    error_ = std::move(error);
  }
  state_cv_.NotifyAll();
}

void ProjectionRunner::Impl::WriteHealth() { PutHealth(CurrentHealth()); }

projections_internal::Health ProjectionRunner::Impl::CurrentHealth() {
  projections_internal::Health h;
  {
    MutexLock lock(&state_mu_);
    heartbeat_us_ = NowMicros();
    h.state = state_;
    h.error = error_;
    h.advanced_at_us = advanced_at_us_;
    h.heartbeat_us = heartbeat_us_;
  }
  h.mode = options_.mode;
  h.stall_after_us = absl::ToInt64Microseconds(options_.stall_after);
  h.heartbeat_every_us = absl::ToInt64Microseconds(options_.heartbeat_every);
  return h;
}

void ProjectionRunner::Impl::PutHealth(const projections_internal::Health& h) {
  // Best effort: a lost heartbeat only makes the projection look stopped to
  // other processes until the next one.
  db_->Put(write_options_, checkpoints_, projections_internal::HealthKey(name_),
           projections_internal::EncodeHealth(h))
      .PermitUncheckedError();
}

ProjectionStatus ProjectionRunner::Impl::status() {
  ProjectionStatus st;
  st.name = name_;
  st.mode = options_.mode;
  st.position = checkpoint_.load(std::memory_order_acquire);
  st.generation = generation_.load();
  st.last_position = store_.last_position();
  st.lag = st.last_position > st.position ? st.last_position - st.position : 0;
  {
    MutexLock lock(&state_mu_);
    st.state = state_;
    st.error = error_;
    st.advanced_at_us = advanced_at_us_;
    st.heartbeat_us = heartbeat_us_;
  }
  if (absl::StatusOr<uint64_t> n = projections_internal::CountParked(store_, name_); n.ok()) {
    st.parked = *n;
  }
  if (st.state == ProjectionState::kRunning &&
      projections_internal::IsStalled(store_, st.position, st.advanced_at_us,
                                      options_.stall_after)) {
    st.state = ProjectionState::kStalled;
  }
  return st;
}

bool ProjectionRunner::Impl::WaitForPosition(uint64_t position, absl::Duration timeout) {
  MutexLock lock(&state_mu_);
  state_cv_.WaitFor(lock, timeout, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_mu_) {
    return published_ >= position || state_ != ProjectionState::kRunning || stop_;
  });
  return published_ >= position;
}

}  // namespace annals
