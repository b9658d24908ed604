// ProjectionRunner::Impl, async mode: the runner thread's loop (wait for
// commits, apply a batch, publish the checkpoint, write heartbeats), and what
// happens when an event's Apply() fails: retries with jittered exponential
// backoff, then park the event (FailurePolicy::kPark) or fail the runner.
// Locking: projections/internal/runner_impl.h.

#include <algorithm>
#include <random>

#include "annals/user_code.h"
#include "common/strings.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using user_code_internal::StatusFromCurrentException;

namespace {

// Longest wait on the store's commit notification before the async loop
// re-checks Stop() and its heartbeat; commits wake it at once.
constexpr absl::Duration kIdleWait = absl::Milliseconds(50);

}  // namespace

void ProjectionRunner::Impl::AsyncLoop() {
  try {
    AsyncBatches();
  } catch (...) {
    // Apply()'s exceptions never get here (CallApply); this is anything
    // else, e.g. an allocation failure. Locks were released by unwinding.
    Fail(std::string(StatusFromCurrentException("the projection's background thread").message()));
  }
}

namespace {

// With Options::retention_waits_for_consumers, an async projection is a
// durable consumer "projection:<name>" of the store, at its checkpoint, so
// that retention keeps every event it has not applied (docs/lifecycle.md).
// A checkpoint below the registered position (the projection was reset)
// re-registers it there: events retention hid meanwhile stay hidden.
void ReportConsumer(EventStore& store, std::string_view name, uint64_t checkpoint) {
  if (!store.options().retention_waits_for_consumers) return;
  const std::string consumer = StrCat("projection:", name);
  absl::Status s = store.SetConsumerPosition(consumer, checkpoint);
  if (absl::IsFailedPrecondition(s) && store.RemoveConsumer(consumer).ok()) {
    s = store.SetConsumerPosition(consumer, checkpoint);
  }
  // Best effort: a failed report leaves the consumer behind, which only
  // keeps more events; the next batch reports again.
  s.IgnoreError();
}

}  // namespace

void ProjectionRunner::Impl::AsyncBatches() {
  absl::Time next_heartbeat = absl::Now() + options_.heartbeat_every;
  uint64_t reported = checkpoint_.load();
  ReportConsumer(store_, name_, reported);
  while (!stopping()) {
    if (const uint64_t checkpoint = checkpoint_.load(); checkpoint != reported) {
      ReportConsumer(store_, name_, checkpoint);
      reported = checkpoint;
    }
    if (absl::Now() >= next_heartbeat) {
      WriteHealth();
      next_heartbeat = absl::Now() + options_.heartbeat_every;
    }
    if (checkpoint_.load() >= store_.last_position()) {
      store_.WaitForPosition(checkpoint_.load() + 1, kIdleWait);
      continue;
    }
    absl::StatusOr<BatchResult> r;
    {
      MutexLock lock(&apply_mu_);
      r = ApplyBatch(*build_, options_.batch_events);
      Publish(build_->checkpoint);
    }
    if (!r.ok()) {
      Fail(StrCat("reading or committing failed: ", r.status().message()));
      return;
    }
    if (r->failed_position != 0 && !HandleFailure(r->failed_position, r->apply_error)) return;
  }
}

bool ProjectionRunner::Impl::HandleFailure(uint64_t position, absl::Status error) {
  const RetryOptions& retry = options_.retry;
  absl::Duration backoff = retry.initial_backoff;
  int attempts = 1;
  while (attempts < retry.max_attempts) {
    {
      MutexLock lock(&state_mu_);
      error_ = StrCat("retrying event at position ", position, " (attempt ", attempts + 1, " of ",
                      retry.max_attempts, ") after: ", error.message());
    }
    std::uniform_real_distribution<double> jitter(1.0 - retry.jitter, 1.0 + retry.jitter);
    if (!SleepUnlessStopped(backoff * jitter(rng_))) return false;
    backoff = std::min(backoff * retry.multiplier, retry.max_backoff);
    ++attempts;
    MutexLock lock(&apply_mu_);
    if (build_->checkpoint + 1 != position) return true;  // Rebuilt or replayed meanwhile.
    RecordTick(statistics(), Ticker::kProjectionRetries);
    absl::Status s = ApplyOne(*build_, position);
    if (s.ok()) {
      Publish(build_->checkpoint);
      MutexLock state(&state_mu_);
      error_.clear();
      return true;
    }
    error = std::move(s);
  }
  MutexLock lock(&apply_mu_);
  if (build_->checkpoint + 1 != position) return true;
  if (options_.on_failure == FailurePolicy::kPark) {
    absl::Status s =
        Park(*build_, position, static_cast<uint32_t>(attempts), StdSv(error.message()));
    if (!s.ok()) {
      Fail(StrCat("parking the event at position ", position, " failed: ", s.message()));
      return false;
    }
    Publish(build_->checkpoint);
    MutexLock state(&state_mu_);
    error_.clear();
    return true;
  }
  std::string description;
  if (absl::StatusOr<RecordedEvent> e = projections_internal::ReadEventAt(store_, position);
      e.ok()) {
    description = StrCat(" (", e->type, ", ", e->stream, " v", e->version, ")");
  }
  Fail(StrCat("event at position ", position, description, " failed after ", attempts,
              " attempts: ", error.message(),
              "; fix the projection and restart it, or run it with FailurePolicy::kPark"));
  return false;
}

}  // namespace annals
