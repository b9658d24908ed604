// File: annals/repository.h
//
// Repository<A>: loads and saves aggregates of type A (see annals/aggregate.h)
// in an EventStore. One stream per aggregate: the aggregate's id is the
// stream name (e.g. "order-42").
//
//   Load(id)      newest usable snapshot (same state fingerprint, at or below
//                 the wanted version) + replay of the events after it.
//   Save(a)       appends a's pending events with ExpectedVersion::Exact(the
//                 version a was loaded at). A concurrent writer makes it fail
//                 with kAborted and nothing is written.
//   Execute(id, command)
//                 load, run the command, save; on kAborted reload and run the
//                 command again, up to max_attempts times, sleeping an
//                 exponential backoff with full jitter in between.
//   Time travel   Load(id, {.to_version = N}) or Load(id, {.as_of_us = T}).
//
// When snapshots are written (RepositoryOptions::snapshot_every = N > 0):
//   * after a Save() whose append succeeded and crossed a multiple of N
//     (e.g. 98 -> 103 with N = 100), from the saved aggregate's state: a
//     separate, unsynced write after the append was acknowledged, so the
//     append never waits for it and never fails because of it;
//   * after a full Load() (latest version) that had to replay N or more
//     events, e.g. because the state schema changed and old snapshots no
//     longer match: this is how stale snapshots are replaced;
//   * on demand with TakeSnapshot(id).
// A snapshot failure never fails the Save/Load: it is counted
// (stats().snapshot_failures), its message kept (last_snapshot_error()) and
// written once to stderr. Read-only stores take no snapshots.
//
// User code (annals/user_code.h): an exception thrown by a command, by the
// aggregate's Apply() or by an upcaster is caught and returned as kInternal
// with its message; nothing is saved and nothing is left locked.
//
// Thread-safety: a Repository is safe for concurrent use (its counters are
// atomic); aggregates it returns are values owned by the caller.

#ifndef ANNALS_REPOSITORY_H_
#define ANNALS_REPOSITORY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "annals/aggregate.h"
#include "annals/event_store.h"
#include "annals/snapshot_store.h"
#include "annals/user_code.h"

namespace annals {

struct RepositoryOptions {
  // Take a snapshot whenever a save crosses a multiple of this many events
  // (and after a full load that replayed at least this many). 0 = never
  // automatically. Default: 0. Larger values: fewer snapshot writes, longer
  // loads (at most snapshot_every - 1 + the last save's events replayed).
  uint64_t snapshot_every = 0;
  // Snapshots kept per stream (the newest ones). Older ones only serve loads
  // "as of" an earlier version. Default: 2.
  size_t keep_snapshots = 2;
  // Execute(): total tries of a command that keeps conflicting. Default: 5.
  int max_attempts = 5;
  // Execute(): backoff before retry k (k = 1, 2, ...) is uniformly random in
  // [0, min(max_backoff, initial_backoff * 2^(k-1))] ("full jitter").
  // Defaults: 1 ms and 100 ms.
  absl::Duration initial_backoff = absl::Milliseconds(1);
  absl::Duration max_backoff = absl::Milliseconds(100);
};

// Which state to load.
struct LoadOptions {
  // Load the state at this version (0 = latest). A stream shorter than this
  // loads at its last version.
  uint64_t to_version = 0;
  // Load the state from the events recorded at or before this time (UTC
  // microseconds since the epoch; see FormatTimestampMicros); replay stops at
  // the first later event.
  std::optional<int64_t> as_of_us{};
  // Use snapshots (false: always replay from version 1).
  bool use_snapshots = true;
};

// What one load did (for tests, benchmarks and metrics).
struct LoadInfo {
  uint64_t snapshot_version = 0;  // 0 = no snapshot used
  uint64_t events_replayed = 0;
};

// What this repository did since it was constructed. Every repository and
// snapshot store of a store also counts into the store's
// Options::statistics (annals/statistics.h: aggregate_* and snapshot_*),
// monotonically and across repositories; where both count the same thing
// they agree, except `loads`, which counts attempts (a missing stream too)
// where Ticker::kAggregateLoads counts loads that returned an aggregate.
struct RepositoryStats {
  uint64_t loads = 0;
  uint64_t events_replayed = 0;
  uint64_t snapshot_hits = 0;
  uint64_t snapshots_written = 0;
  uint64_t snapshot_failures = 0;
  uint64_t saves = 0;
  uint64_t conflicts = 0;  // Save()s that failed with kAborted
  uint64_t retries = 0;    // Execute() re-runs after a conflict
};

namespace repository_internal {

// The part of Repository<A> that does not depend on A.
class RepositoryCore {
 public:
  RepositoryCore(EventStore& store, RepositoryOptions options);
  ~RepositoryCore();

  // Replays `stream` per `options` through `restore` (snapshot state) and
  // `apply` (each event). Returns kNotFound when nothing was loaded.
  absl::StatusOr<LoadInfo> Load(std::string_view stream, const LoadOptions& options,
                                std::string_view fingerprint,
                                absl::FunctionRef<absl::Status(uint64_t, std::string_view)> restore,
                                absl::FunctionRef<absl::Status(const EventView&)> apply,
                                int64_t* last_recorded_at_us);

  absl::StatusOr<AppendResult> Append(std::string_view stream, uint64_t expected_version,
                                      absl::Span<const PendingEvent> events);

  // Writes a snapshot; failures are counted and returned.
  absl::Status WriteSnapshot(std::string_view stream, uint64_t version,
                             std::string_view fingerprint, std::string state, int64_t encode_micros,
                             std::optional<int64_t> recorded_at_us);
  // WriteSnapshot() for the automatic policy: failures only counted/logged.
  void SnapshotQuietly(std::string_view stream, uint64_t version, std::string_view fingerprint,
                       std::string state, int64_t encode_micros,
                       std::optional<int64_t> recorded_at_us);

  // Sleeps before retry `attempt` (1-based).
  void Backoff(int attempt);

  const RepositoryOptions& options() const { return options_; }
  EventStore& store() { return store_; }
  SnapshotStore& snapshots() { return snapshots_; }
  RepositoryStats stats() const;
  std::string last_snapshot_error() const;
  void CountConflict() { conflicts_.fetch_add(1, std::memory_order_relaxed); }
  void CountRetry();
  static int64_t NowMicros();

 private:
  // The store's Options::statistics, or null.
  Statistics* statistics() const;

  EventStore& store_;
  const RepositoryOptions options_;
  SnapshotStore snapshots_;
  std::atomic<uint64_t> loads_{0}, events_replayed_{0}, snapshot_hits_{0}, snapshots_written_{0},
      snapshot_failures_{0}, saves_{0}, conflicts_{0}, retries_{0};
  // The last snapshot error, behind a lock (repository.cc): defined there so
  // that this header exposes no lock type.
  struct SnapshotErrors;
  const std::unique_ptr<SnapshotErrors> errors_;
};

}  // namespace repository_internal

template <typename A>
class Repository {
 public:
  // `store` must outlive the repository.
  explicit Repository(EventStore& store, RepositoryOptions options = {})
      : core_(store, std::move(options)) {}

  // Repository::Load()
  //
  // The aggregate `id` per `options` (default: latest). Errors: kNotFound
  // (no events, or none at/before the wanted time), kDataLoss (a damaged
  // event), kFailedPrecondition (an event this code cannot decode: unknown
  // type, missing upcaster), kInternal (the aggregate's Apply() or an
  // upcaster threw), others from the store. A damaged or foreign
  // snapshot is never an error: it is skipped.
  absl::StatusOr<A> Load(std::string_view id, const LoadOptions& options = {},
                         LoadInfo* info = nullptr) {
    A aggregate{std::string(id)};
    int64_t last_recorded_at = 0;
    absl::StatusOr<LoadInfo> loaded = core_.Load(
        id, options, A::Fingerprint(),
        [&](uint64_t version, std::string_view state) {
          return aggregate.RestoreState(version, state);
        },
        [&](const EventView& event) { return aggregate.ApplyStored(event); }, &last_recorded_at);
    if (!loaded.ok()) return loaded.status();
    if (info != nullptr) *info = *loaded;
    const RepositoryOptions& o = core_.options();
    if (o.snapshot_every > 0 && options.use_snapshots && options.to_version == 0 &&
        !options.as_of_us.has_value() && loaded->events_replayed >= o.snapshot_every &&
        !core_.store().read_only()) {
      SnapshotNow(aggregate, last_recorded_at);
    }
    return aggregate;
  }

  // Time travel shorthands.
  absl::StatusOr<A> LoadAtVersion(std::string_view id, uint64_t version) {
    return Load(id, LoadOptions{.to_version = version});
  }
  absl::StatusOr<A> LoadAsOf(std::string_view id, absl::Time time) {
    return Load(id, LoadOptions{.as_of_us = absl::ToUnixMicros(time)});
  }

  // Repository::Save()
  //
  // Appends the pending events of `aggregate` expecting the stream at
  // aggregate.persisted_version(). On success the events are drained and
  // the result returned (an aggregate without pending events returns an
  // empty result). Errors: kAborted (someone else appended: reload and
  // decide again; nothing was written and the aggregate keeps its pending
  // events), kInternal (the aggregate is broken: its Apply() threw, see
  // Aggregate::apply_error(); nothing is written), and the store's append
  // errors.
  absl::StatusOr<AppendResult> Save(A& aggregate) {
    if (!aggregate.apply_error().ok()) return aggregate.apply_error();
    if (aggregate.pending_events().empty()) return AppendResult{};
    const uint64_t before = aggregate.persisted_version();
    absl::StatusOr<AppendResult> result =
        core_.Append(aggregate.id(), before, aggregate.pending_events());
    if (!result.ok()) {
      if (result.status().code() == absl::StatusCode::kAborted) core_.CountConflict();
      return result;
    }
    aggregate.TakePendingEvents();
    const uint64_t every = core_.options().snapshot_every;
    if (every > 0 && result->last_version / every > before / every) {
      SnapshotNow(aggregate, std::nullopt);
    }
    return result;
  }

  // Repository::Execute()
  //
  // Loads `id` (a fresh aggregate at version 0 when the stream has no
  // events), runs `command` on it and saves what it raised. A command error
  // is returned as is and nothing is saved; so is a command that throws, as
  // kInternal with the exception's message (annals/user_code.h). On kAborted
  // the whole cycle is repeated, up to options.max_attempts in total, after a
  // backoff. Returns the aggregate as saved. `command` may run several times
  // (once per attempt), each time on a freshly loaded aggregate.
  absl::StatusOr<A> Execute(std::string_view id, absl::FunctionRef<absl::Status(A&)> command) {
    absl::Status last;
    for (int attempt = 1; attempt <= core_.options().max_attempts; ++attempt) {
      if (attempt > 1) {
        core_.CountRetry();
        core_.Backoff(attempt - 1);
      }
      absl::StatusOr<A> aggregate = Load(id);
      if (!aggregate.ok()) {
        if (aggregate.status().code() != absl::StatusCode::kNotFound) return aggregate.status();
        aggregate = A{std::string(id)};
      }
      absl::Status status = user_code_internal::CallUserCode("Repository::Execute() command",
                                                             [&] { return command(*aggregate); });
      if (!status.ok()) return status;
      absl::StatusOr<AppendResult> saved = Save(*aggregate);
      if (saved.ok()) return std::move(*aggregate);
      if (saved.status().code() != absl::StatusCode::kAborted) return saved.status();
      last = saved.status();
    }
    return absl::AbortedError(std::string("gave up after ") +
                              std::to_string(core_.options().max_attempts) +
                              " conflicting attempts: " + std::string(last.message()));
  }

  // Repository::TakeSnapshot()
  //
  // Loads `id` and writes a snapshot of its latest state now. Errors as
  // Load(), plus the snapshot write's (kFailedPrecondition when read-only).
  absl::Status TakeSnapshot(std::string_view id) {
    absl::StatusOr<A> aggregate = Load(id);
    if (!aggregate.ok()) return aggregate.status();
    const int64_t start = repository_internal::RepositoryCore::NowMicros();
    std::string state = aggregate->EncodeState();
    return core_.WriteSnapshot(id, aggregate->version(), A::Fingerprint(), std::move(state),
                               repository_internal::RepositoryCore::NowMicros() - start,
                               std::nullopt);
  }

  RepositoryStats stats() const { return core_.stats(); }
  std::string last_snapshot_error() const { return core_.last_snapshot_error(); }
  SnapshotStore& snapshots() { return core_.snapshots(); }

 private:
  void SnapshotNow(const A& aggregate, std::optional<int64_t> recorded_at_us) {
    const int64_t start = repository_internal::RepositoryCore::NowMicros();
    std::string state = aggregate.EncodeState();
    core_.SnapshotQuietly(aggregate.id(), aggregate.version(), A::Fingerprint(), std::move(state),
                          repository_internal::RepositoryCore::NowMicros() - start, recorded_at_us);
  }

  repository_internal::RepositoryCore core_;
};

}  // namespace annals

#endif  // ANNALS_REPOSITORY_H_
