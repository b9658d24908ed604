// File: annals/projection.h
//
// Projections: consumers of the global log that materialize read models
// (CQRS), each event applied exactly once.
//
// A Projection declares the events it handles and applies one event at a time
// through a ReadModelWriter (annals/read_model.h). A ProjectionRunner runs it:
//
//   * kInline: inside the append's commit. The runner registers a commit hook;
//     the committer calls Apply() for every handled event of a group before
//     the group's WriteBatch is written, and the read-model writes and the
//     checkpoint are part of that batch. After Append() returns, queries see
//     its effect (read-your-writes). If Apply() fails, the append fails and
//     nothing of it is written.
//   * kAsync: on a background thread, from its checkpoint. Events are applied
//     in batches; each batch's read-model writes and the new checkpoint are one
//     RocksDB WriteBatch, so a crash at any moment neither applies an event
//     twice nor skips one. Failures are retried with exponential backoff and
//     jitter, then, per FailurePolicy, the projection stops with the error
//     visible (kFailed) or parks the event (dead letter) and goes on.
//
// Lag (last global position - checkpoint) and health (running / stopped /
// failed / stalled = not advancing while behind) are reported by
// ProjectionRunner::status() and, for any process, ReadProjectionStatus() and
// `annals projections <store>`.
//
// Exceptions (annals/user_code.h): an exception thrown by Apply() (or by
// name(), event_types(), stream_prefix()) never crosses the runner. It
// becomes kInternal with the exception's type and message and is handled
// exactly like a returned error: inline, the append fails and nothing of it
// is written (other appends go on); async, the event is retried, then parked
// or the projection stops, per ProjectionOptions. The store never blocks and
// the process never terminates because of it.
//
// Example:
//   class TypeCounts : public annals::Projection {
//    public:
//     std::string_view name() const override { return "type_counts"; }
//     absl::Status Apply(const annals::EventView& e, annals::ReadModelWriter& w) override {
//       absl::StatusOr<std::optional<std::string>> stored = w.Get("by_type", e.type);
//       if (!stored.ok()) return stored.status();
//       int64_t n = 0;
//       if (const std::optional<std::string>& text = *stored; text.has_value()) {
//         // from_chars, not std::stoll: it reports bad input instead of throwing.
//         auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
//         if (ec != std::errc() || end != text->data() + text->size()) {
//           return absl::DataLossError("by_type holds a value that is not a count");
//         }
//       }
//       return w.Put("by_type", e.type, std::to_string(n + 1));
//     }
//   };
//   auto runner = annals::ProjectionRunner::Start(store, std::make_shared<TypeCounts>());
//
// Thread-safety: ProjectionRunner's methods may be called from any thread.
// A Projection's Apply() is called from one thread at a time.

#ifndef ANNALS_PROJECTION_H_
#define ANNALS_PROJECTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "annals/event.h"
#include "annals/read_model.h"

namespace annals {

class EventStore;

// Projection
//
// What a read model is made of. Apply() must be deterministic (a rebuild
// replays the log through it and must produce the same tables) and must write
// only through `writer`.
class Projection {
 public:
  virtual ~Projection() = default;

  // Unique, stable name; also the namespace of its tables. Non-empty, at most
  // 128 bytes, no NUL byte. Called when a runner starts; if it throws,
  // ProjectionRunner::Start() (and the offline functions) return kInternal.
  virtual std::string_view name() const = 0;

  // The event types Apply() is called for; empty (the default) = every type.
  // Called when a runner starts; if it throws, Start() returns kInternal.
  virtual std::vector<std::string> event_types() const { return {}; }

  // Only events of streams starting with this; empty (the default) = all.
  // Called when a runner starts; if it throws, Start() returns kInternal.
  virtual std::string stream_prefix() const { return {}; }

  // Projection::Apply()
  //
  // Applies one event. A non-OK status discards this event's writes; an
  // inline projection then fails the append, an async one retries per
  // ProjectionOptions::retry and then stops or parks the event per
  // ProjectionOptions::on_failure.
  //
  // If it throws, the exception is caught by the runner and treated as a
  // returned kInternal error whose message names the exception's type and
  // what() ("projection 'x' Apply() threw std::invalid_argument: stoll"), or
  // "unknown exception" for a non-std exception; its writes are discarded
  // as for any error. The same holds during Start()'s catch-up, rebuilds,
  // side-by-side rebuilds and replays of parked events, which then return
  // that error. Prefer returning a status: code that throws is usually code
  // that did not expect its input.
  virtual absl::Status Apply(const EventView& event, ReadModelWriter& writer) = 0;
};

enum class ProjectionMode : uint8_t {
  kAsync,   // Background thread, checkpointed batches.
  kInline,  // Inside the append's commit.
};

// What an async projection does with an event whose retries are exhausted.
enum class FailurePolicy : uint8_t {
  kStop,  // Stop; status() is kFailed with the error. Restart after a fix.
  kPark,  // Record it in the dead-letter family and go on with the next event.
};

enum class ProjectionState : uint8_t {
  kRunning,  // Applying events, or caught up and waiting for commits.
  kStopped,  // Not running (stopped, never started, or its process is gone).
  kFailed,   // Stopped by an event it could not apply (FailurePolicy::kStop).
  kStalled,  // Running but its checkpoint has not advanced for
             // ProjectionOptions::stall_after while it is behind.
};

// "running", "stopped", "failed" or "stalled".
std::string_view ProjectionStateName(ProjectionState state);
// "async" or "inline".
std::string_view ProjectionModeName(ProjectionMode mode);

struct RetryOptions {
  // Attempts per event, the first included. Default: 5. 1 = no retry.
  int max_attempts = 5;
  // Wait before the second attempt. Default: 10 ms.
  absl::Duration initial_backoff = absl::Milliseconds(10);
  // Each further wait is the previous one times this. Default: 2.
  double multiplier = 2.0;
  // Waits never exceed this. Default: 5 s.
  absl::Duration max_backoff = absl::Seconds(5);
  // Each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so
  // that many failing consumers do not retry in lockstep. Default: 0.2.
  double jitter = 0.2;
};

struct ProjectionOptions {
  // Default: kAsync.
  ProjectionMode mode = ProjectionMode::kAsync;
  // Async: most events read per batch (one WriteBatch, one checkpoint).
  // Larger batches catch up faster; smaller ones show progress sooner.
  // Default: 1000.
  size_t batch_events = 1000;
  // Async: a batch is committed early once its writes exceed this many bytes,
  // which bounds the memory of a batch. Default: 8 MiB.
  size_t batch_bytes = 8u << 20;
  // Async: retries of a failing event. See RetryOptions.
  RetryOptions retry{};
  // Async: after retries. Default: kStop.
  FailurePolicy on_failure = FailurePolicy::kStop;
  // Reported kStalled when behind and not advancing for this long.
  // Default: 30 s.
  absl::Duration stall_after = absl::Seconds(30);
  // How often a running projection records that it is alive, so that another
  // process (the CLI) can tell running from gone. Default: 2 s.
  absl::Duration heartbeat_every = absl::Seconds(2);
  // Seed of the backoff jitter; 0 = random. Default: 0.
  uint64_t jitter_seed = 0;
};

// One projection's state now (a point-in-time answer; `lag` is a gauge).
// Runners also count into the store's Options::statistics
// (annals/statistics.h): events applied, retries, parked events, failures,
// and the lag after every checkpoint commit as a histogram, monotonically and
// across every projection of the store.
struct ProjectionStatus {
  std::string name{};
  ProjectionMode mode = ProjectionMode::kAsync;
  ProjectionState state = ProjectionState::kStopped;
  // Checkpoint: every event up to this global position is applied.
  uint64_t position = 0;
  // The store's last position when the status was taken.
  uint64_t last_position = 0;
  // last_position - position.
  uint64_t lag = 0;
  // Generation of the tables queries read (1 + number of side-by-side
  // rebuilds).
  uint32_t generation = 1;
  // Number of parked (dead-letter) events.
  uint64_t parked = 0;
  // Failed: the error that stopped it. Running async: the error being
  // retried, if any. Running inline: why the projection last made an append
  // fail, if it did since it started (kept; the append's caller got it too).
  std::string error{};
  // UTC microseconds: last heartbeat, last time the checkpoint advanced.
  int64_t heartbeat_us = 0;
  int64_t advanced_at_us = 0;
};

// A dead letter: an event an async projection could not apply.
struct ParkedEvent {
  uint64_t position = 0;
  std::string stream{};
  uint64_t version = 0;
  std::string type{};
  uint32_t attempts = 0;
  std::string error{};
  int64_t parked_at_us = 0;
};

// ProjectionRunner
//
// Runs one projection against one store until stopped or destroyed. At most
// one runner per projection name and store (a second Start() of the same name
// on the same store fails with kAlreadyExists).
class ProjectionRunner {
 public:
  class Impl;

  // ProjectionRunner::Start()
  //
  // Async: starts the background thread and returns. Inline: first catches
  // the read model up with the log on the calling thread, then attaches it to
  // the commit path; when Start() returns, the read model reflects every event
  // committed before Start() was called, and every later append as it
  // commits. The store and the projection must outlive the runner.
  // Errors: kInvalidArgument (bad name or options), kFailedPrecondition
  // (read-only store), kAlreadyExists (already running), inline catch-up
  // errors.
  static absl::StatusOr<std::unique_ptr<ProjectionRunner>> Start(
      EventStore& store, std::shared_ptr<Projection> projection,
      const ProjectionOptions& options = {});

  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;
  // Stop()s.
  ~ProjectionRunner();

  // ProjectionRunner::Stop()
  //
  // Stops: an async runner finishes (commits or discards) its current batch;
  // an inline one detaches from the commit path. Idempotent; concurrent
  // calls are safe (each returns once the runner has stopped). Must not be
  // called from the projection's own callbacks (it waits for them).
  void Stop();

  ProjectionStatus status() const;

  // ProjectionRunner::WaitForPosition()
  //
  // Blocks until the checkpoint reaches `position`, the runner fails or
  // stops, or `timeout` passes. Returns true when the position was reached.
  bool WaitForPosition(uint64_t position, absl::Duration timeout);

  // ProjectionRunner::ListParked()
  absl::StatusOr<std::vector<ParkedEvent>> ListParked();

  // ProjectionRunner::ReplayParked()
  //
  // Applies parked event `position` (0 = every parked event, in position
  // order) again, between two batches of the runner; on success its writes
  // commit together with the removal of the dead letter. kNotFound when no
  // such event is parked; Apply()'s error (the event stays parked, its
  // attempt count grows) otherwise.
  absl::Status ReplayParked(uint64_t position = 0);

  // ProjectionRunner::Rebuild()
  //
  // Wipes the read model (tables, checkpoint, dead letters) and replays the
  // log from position 1, pausing the runner meanwhile (an inline projection
  // pauses appends meanwhile). Queries see a partial model during the
  // rebuild; use RebuildSideBySide() to avoid that. A crash at any moment
  // leaves a model consistent with its checkpoint (each batch commits with
  // it); the next start goes on from there. If Apply() fails or throws on an
  // event, Rebuild() returns its error with the model built up to it; an
  // async runner then retries that event per its policy, an inline one makes
  // every later append fail until the projection is fixed or stopped (an
  // inline model never skips an event).
  absl::Status Rebuild();

  // ProjectionRunner::RebuildSideBySide()
  //
  // Builds `next_version` (same name(); typically new code) into a new
  // generation of tables next to the current one, while the current one keeps
  // running and serving queries; when the new generation has caught up, one
  // atomic write makes it the generation queries read, the old tables are
  // deleted, and the runner goes on with `next_version`. Blocks until the
  // take-over. kInvalidArgument when the name differs. If `next_version`'s
  // Apply() fails or throws, the new generation is abandoned (and deleted),
  // the current one keeps running, and the error is returned.
  absl::Status RebuildSideBySide(std::shared_ptr<Projection> next_version);

 private:
  explicit ProjectionRunner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --- Operating on projections without running them (CLI, tools). ---

// ListProjections()
//
// Names of the projections that have state in `store` (a checkpoint or a
// status record), in name order.
absl::StatusOr<std::vector<std::string>> ListProjections(EventStore& store);

// ReadProjectionStatus()
//
// The status of projection `name` as recorded in the store; works from any
// process, including a read-only follower of a store another process runs
// projections in. A projection whose heartbeat is older than three heartbeat
// intervals is reported kStopped (its process is gone).
absl::StatusOr<ProjectionStatus> ReadProjectionStatus(EventStore& store, std::string_view name);

// RebuildProjection()
//
// Rebuild() for a projection not running in this process: wipes its read
// model and replays the log from position 1 as fast as the log can be read.
absl::Status RebuildProjection(EventStore& store, Projection& projection);

// ListParkedEvents() / ReplayParkedEvents()
//
// As ProjectionRunner::ListParked() / ReplayParked() for a projection not
// running in this process.
absl::StatusOr<std::vector<ParkedEvent>> ListParkedEvents(EventStore& store, std::string_view name);
absl::Status ReplayParkedEvents(EventStore& store, Projection& projection, uint64_t position = 0);

}  // namespace annals

#endif  // ANNALS_PROJECTION_H_
