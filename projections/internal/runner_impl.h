// File: projections/internal/runner_impl.h
//
// ProjectionRunner::Impl: the machinery behind a running projection, also
// used without a thread by the offline functions (RebuildProjection,
// ReplayParkedEvents, in projection_admin.cc).
//
// Its definition is split by concern, one file each (the declarations below
// are grouped the same way):
//   projection_runner.cc          lifecycle (Init, Claim, Start, Stop) and the public face
//   projection_runner_apply.cc    applying events after a checkpoint, committed with it
//   projection_runner_async.cc    the async runner thread: batches, retries, park or fail
//   projection_runner_inline.cc   the inline runner: the committer's commit hook, heartbeat
//   projection_runner_rebuild.cc  rebuilds in place and side by side
//   projection_runner_parked.cc   dead letters: parking, listing, replaying
//   projection_runner_status.cc   reported state, health records, status(), waits
//
// Threading. apply_mu_ serializes everything that applies events to the
// read model or moves the checkpoint: the async runner thread holds it for one
// batch at a time; an inline runner's commit hook holds it from its first
// OnEvent() of a group commit to OnGroupDone() (so rebuilds and take-overs
// happen between group commits); Rebuild(), RebuildSideBySide()'s take-over
// and ReplayParked() hold it while they work. state_mu_ guards the reported
// state and wakes WaitForPosition() and backoff sleeps; it is taken inside
// apply_mu_ (Publish() under apply_mu_), never the other way round. Both are
// annals::Mutex (common/mutex.h): what each guards is declared with
// ABSL_GUARDED_BY below and checked by clang's -Wthread-safety.

#ifndef ANNALS_PROJECTIONS_INTERNAL_RUNNER_IMPL_H_
#define ANNALS_PROJECTIONS_INTERNAL_RUNNER_IMPL_H_

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/statistics.h"
#include "common/mutex.h"
#include "eventstore/internal/commit_hook.h"
#include "projections/internal/batch_writer.h"
#include "projections/internal/keys.h"

namespace annals {

class ProjectionRunner::Impl {
 public:
  Impl(EventStore& store, std::shared_ptr<Projection> projection, const ProjectionOptions& options);
  ~Impl();

  // projection_runner.cc
  //
  // Validates and loads the active generation and its checkpoint.
  absl::Status Init() ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);
  // Registers the name as running in this process (until destruction);
  // kAlreadyExists when it is.
  absl::Status Claim();
  // Claim()s, then starts (async: the
  // thread; inline: catch-up, hook, heartbeat thread).
  absl::Status Start() ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);
  void Stop() ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);

  // projection_runner_status.cc
  ProjectionStatus status() ABSL_LOCKS_EXCLUDED(state_mu_);
  bool WaitForPosition(uint64_t position, absl::Duration timeout) ABSL_LOCKS_EXCLUDED(state_mu_);

  // projection_runner_parked.cc
  absl::StatusOr<std::vector<ParkedEvent>> ListParked();
  absl::Status ReplayParked(uint64_t position) ABSL_LOCKS_EXCLUDED(apply_mu_);

  // projection_runner_rebuild.cc
  absl::Status Rebuild() ABSL_LOCKS_EXCLUDED(apply_mu_);
  absl::Status RebuildSideBySide(std::shared_ptr<Projection> next_version)
      ABSL_LOCKS_EXCLUDED(apply_mu_);

 private:
  // One build (generation) of the projection's tables. The active one
  // (build_) is guarded by apply_mu_; RebuildSideBySide() fills the next one
  // alone before it takes apply_mu_ to switch, so the functions that take a
  // Build& leave the locking to their callers.
  struct Build {
    Build(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf) : writer(db, cf) {}
    bool Handles(const EventView& e) const;

    std::shared_ptr<Projection> projection;
    uint32_t generation = 1;
    std::vector<std::string> types;
    std::string stream_prefix;
    projections_internal::BatchWriter writer;
    uint64_t checkpoint = 0;  // Committed.
  };

  struct BatchResult {
    size_t scanned = 0;
    uint64_t failed_position = 0;  // 0: none failed.
    absl::Status apply_error;
  };

  // The commit hook of an inline runner (projection_runner_inline.cc); see the
  // class comment for locking. Its calls come from the committer, one at a
  // time (eventstore/internal/event_store_impl.h), so locked_ and
  // rollback_pending_ need no lock: only the committer touches them.
  //
  // Lifetime: owned by the runner. Stop() removes it from the store, and the
  // store's RemoveCommitHook() returns only after a group commit that already
  // copied the hook list is done, so the runner deletes it after Stop().
  // Once detached (impl == nullptr) it does nothing; events it skips are not
  // checkpointed, so the next run applies them.
  class InlineHook final : public internal::CommitHook {
   public:
    explicit InlineHook(Impl* impl) : impl_(impl) {}
    // Never throws: Apply()'s exceptions are kInternal (CallApply), and
    // anything else thrown inside (allocation failure) is caught too, so
    // the committer never sees an exception from this hook.
    absl::Status OnEvent(const EventView& event, rocksdb::WriteBatch& batch) override;
    void OnRollback() override { rollback_pending_ = true; }
    void OnGroupDone(bool written) override;
    // Waits for a group in progress, then makes the hook inert.
    void Detach() ABSL_LOCKS_EXCLUDED(mu_);

   private:
    // Takes mu_, and the runner's apply_mu_ unless detached, for the whole
    // group; OnGroupDone() releases them (UnlockGroup()).
    void LockGroup();
    void UnlockGroup();
    absl::Status ApplyGroupEvent(const EventView& event, rocksdb::WriteBatch& batch)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, impl_->apply_mu_);
    absl::Status ApplyInline(const EventView& event, rocksdb::WriteBatch& batch)
        ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, impl_->apply_mu_);

    // Held from the first OnEvent() of a group to OnGroupDone() (with the
    // runner's apply_mu_ inside it), and by Detach().
    Mutex mu_;
    Impl* impl_ ABSL_GUARDED_BY(mu_);  // Null once detached.
    bool locked_ = false;              // mu_ is held for the group in progress.
    bool rollback_pending_ = false;
    // Positions of the events Apply()d in the current group, kept only with
    // statistics on: a rolled-back append's are dropped, the rest counted
    // when the group is written.
    std::vector<uint64_t> applied_ ABSL_GUARDED_BY(mu_);
  };

  // projection_runner.cc
  //
  // kInternal when the projection's event_types() or stream_prefix() throws.
  absl::StatusOr<std::unique_ptr<Build>> NewBuild(std::shared_ptr<Projection> projection,
                                                  uint32_t generation);

  // projection_runner_apply.cc
  //
  // b.projection->Apply(), with an exception turned into kInternal (see
  // annals/user_code.h). Every call of Apply() goes through here.
  absl::Status CallApply(Build& b, const EventView& event);
  // Reads events after b.checkpoint (at most max_events) and applies the
  // handled ones in one WriteBatch with the new checkpoint. Stops before the
  // first event whose Apply() fails (reported in the result).
  absl::StatusOr<BatchResult> ApplyBatch(Build& b, size_t max_events);
  // Applies the single event at `position` (b.checkpoint + 1) and commits it
  // with the checkpoint; Apply()'s error otherwise.
  absl::Status ApplyOne(Build& b, uint64_t position);
  // Applies until the end of the log. kAborted-like error on a failing event.
  // Publishes the checkpoint when `b` is the active build.
  absl::Status CatchUpToEnd(Build& b, size_t batch_events) ABSL_EXCLUSIVE_LOCKS_REQUIRED(apply_mu_);
  // Counts one checkpoint commit (asynchronous batch, retry, rebuild batch)
  // in the store's statistics: `applied` events Apply()d, `moved` events the
  // checkpoint moved over, and the lag behind the new `checkpoint`.
  void RecordCheckpointCommit(uint64_t applied, uint64_t moved, uint64_t checkpoint);
  // The store's Options::statistics, or null.
  Statistics* statistics() const { return store_.options().statistics.get(); }

  // projection_runner_async.cc
  //
  // The async thread's body: AsyncBatches() inside a last-resort catch, so
  // that nothing thrown on the thread terminates the process (the runner
  // fails with the error instead).
  void AsyncLoop() ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);
  void AsyncBatches() ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);
  // Retries the event at `position`; false when the runner must end.
  bool HandleFailure(uint64_t position, absl::Status error)
      ABSL_LOCKS_EXCLUDED(apply_mu_, state_mu_);

  // projection_runner_inline.cc (and InlineHook above)
  //
  // The inline runner's thread: writes the health record every
  // heartbeat_every until Stop().
  void HeartbeatLoop() ABSL_LOCKS_EXCLUDED(state_mu_);
  // Inline: records why the hook failed an append, for status() and the
  // heartbeat record (`annals projections`).
  void NoteInlineFailure(const absl::Status& s) ABSL_LOCKS_EXCLUDED(state_mu_);

  // projection_runner_rebuild.cc
  //
  // Deletes generation `generation`'s tables and checkpoint (and, when
  // `parked`, the dead letters).
  absl::Status Wipe(uint32_t generation, bool parked);

  // projection_runner_parked.cc
  absl::Status Park(Build& b, uint64_t position, uint32_t attempts, std::string_view error);

  // projection_runner_status.cc
  //
  // Waits `d` unless Stop() comes first; false when stopped.
  bool SleepUnlessStopped(absl::Duration d) ABSL_LOCKS_EXCLUDED(state_mu_);
  void Publish(uint64_t checkpoint) ABSL_LOCKS_EXCLUDED(state_mu_);
  void Fail(std::string error) ABSL_LOCKS_EXCLUDED(state_mu_);
  void WriteHealth() ABSL_LOCKS_EXCLUDED(state_mu_);
  projections_internal::Health CurrentHealth() ABSL_LOCKS_EXCLUDED(state_mu_);
  void PutHealth(const projections_internal::Health& h);
  bool stopping() ABSL_LOCKS_EXCLUDED(state_mu_);

  EventStore& store_;
  // The module's families (projections/internal/families.h); set by the
  // constructor, null when it failed (init_error_ says why).
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* read_models_ = nullptr;
  rocksdb::ColumnFamilyHandle* checkpoints_ = nullptr;
  rocksdb::ColumnFamilyHandle* parked_ = nullptr;
  const ProjectionOptions options_;
  // Set by the constructor when the projection's name() throws (name_ is
  // then empty); Init() returns it.
  absl::Status init_error_;
  const std::string name_;
  // "projection '<name>' Apply()": how exceptions from Apply() are named.
  const std::string apply_callback_;
  rocksdb::WriteOptions write_options_;

  Mutex apply_mu_;
  // The active build, and the Build it points to.
  std::unique_ptr<Build> build_ ABSL_GUARDED_BY(apply_mu_) ABSL_PT_GUARDED_BY(apply_mu_);
  // Inline: the checkpoint including the hook's group so far (the
  // committed one between groups).
  uint64_t inline_pending_ ABSL_GUARDED_BY(apply_mu_) = 0;
  InlineHook* hook_;  // Owned; deleted after Stop() (see InlineHook).

  // Copies of build_'s generation and checkpoint for status(), which must
  // not wait for a batch.
  std::atomic<uint64_t> checkpoint_{0};
  std::atomic<uint32_t> generation_{1};

  // state_cv_ signals changes of published_, state_ and stop_.
  Mutex state_mu_;
  CondVar state_cv_;
  ProjectionState state_ ABSL_GUARDED_BY(state_mu_) = ProjectionState::kStopped;
  std::string error_ ABSL_GUARDED_BY(state_mu_);
  int64_t advanced_at_us_ ABSL_GUARDED_BY(state_mu_) = 0;
  int64_t heartbeat_us_ ABSL_GUARDED_BY(state_mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(state_mu_) = false;
  uint64_t published_ ABSL_GUARDED_BY(state_mu_) = 0;

  // The lifecycle's own state. Claim() and Start() run before the runner is
  // handed out, unguarded; after that only Stop() (public, callable from any
  // thread, and the destructor's) changes it, under stop_mu_, so that two
  // Stop() calls at once detach the hook and join the thread once. Lock
  // order: stop_mu_ before state_mu_.
  Mutex stop_mu_;
  bool registered_ = false;
  bool hook_attached_ = false;
  bool hook_detached_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
  std::mt19937_64 rng_;  // Backoff jitter; runner thread only.
};

// Helpers of the runner files; projection_admin.cc uses IsStalled and CountParked too.
namespace projections_internal {

// projection_runner.cc: Projection::name(), with an exception recorded in
// `*error` (and an empty name returned) instead of leaving the caller (the
// constructor, RebuildSideBySide()).
std::string NameOf(Projection* projection, absl::Status* error);
// projection_runner_apply.cc: the event at `position`, or kNotFound /
// kDataLoss.
absl::StatusOr<RecordedEvent> ReadEventAt(EventStore& store, uint64_t position);
// projection_runner_status.cc: reports kStalled for a running projection that
// is behind and has not advanced for `stall_after` (counted from when it fell
// behind).
bool IsStalled(EventStore& store, uint64_t checkpoint, int64_t advanced_at_us,
               absl::Duration stall_after);
// projection_runner_parked.cc: how many events of projection `name` are
// parked.
absl::StatusOr<uint64_t> CountParked(EventStore& store, std::string_view name);

}  // namespace projections_internal
}  // namespace annals

#endif  // ANNALS_PROJECTIONS_INTERNAL_RUNNER_IMPL_H_
