// ProjectionRunner::Impl, inline mode: the commit hook that applies events in
// the committer's WriteBatch (so the read model commits atomically with the
// append, and a failing Apply() fails the append), its handling of rolled-back
// appends and of events committed before it joined, and the heartbeat thread
// an inline runner keeps. Locking (the hook holds apply_mu_ across a group
// commit): projections/internal/runner_impl.h.

#include <memory>
#include <vector>

#include "annals/user_code.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;
using user_code_internal::StatusFromCurrentException;

void ProjectionRunner::Impl::HeartbeatLoop() {
  try {
    while (SleepUnlessStopped(options_.heartbeat_every)) WriteHealth();
  } catch (...) {
    // Only an allocation failure can get here; a missing heartbeat makes the
    // projection look stopped to other processes, which is better than
    // terminating this one.
    StatusFromCurrentException("the projection's heartbeat thread").IgnoreError();
  }
}

void ProjectionRunner::Impl::NoteInlineFailure(const absl::Status& s) {
  MutexLock lock(&state_mu_);
  error_ = StrCat("an append failed because the projection failed: ", s.message());
}

// The group's locks are taken by its first OnEvent() and released by
// OnGroupDone(), two calls of the committer: a lock held from one call to
// another is beyond the analysis, which sees only one function at a time.
// These two functions are the only places it is not followed; the calls in
// between say what they rely on with AssertHeld().
void ProjectionRunner::Impl::InlineHook::LockGroup() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  mu_.Lock();
  locked_ = true;
  if (impl_ != nullptr) impl_->apply_mu_.Lock();
}

void ProjectionRunner::Impl::InlineHook::UnlockGroup() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (impl_ != nullptr) impl_->apply_mu_.Unlock();
  locked_ = false;
  mu_.Unlock();
}

void ProjectionRunner::Impl::InlineHook::Detach() {
  MutexLock lock(&mu_);
  impl_ = nullptr;
}

absl::Status ProjectionRunner::Impl::InlineHook::OnEvent(const EventView& event,
                                                         rocksdb::WriteBatch& batch) {
  // Held until OnGroupDone(): rebuilds and take-overs wait for the group.
  if (!locked_) LockGroup();
  mu_.AssertHeld();  // Since the group's first OnEvent(), just above or earlier.
  if (impl_ == nullptr) return absl::OkStatus();  // Detached.
  // Taken with mu_ when the group began; Detach() cannot have run since (it
  // waits for mu_), so impl_ is the one that was locked.
  impl_->apply_mu_.AssertHeld();
  absl::Status s;
  try {
    s = ApplyGroupEvent(event, batch);
  } catch (...) {
    // Not Apply() (CallApply catches those): our own code ran out of memory
    // or similar. The locks taken for the group stay held until
    // OnGroupDone(), which the committer calls whatever this returns.
    s = StatusFromCurrentException("the inline projection's commit hook");
  }
  if (!s.ok()) impl_->NoteInlineFailure(s);
  return s;
}

absl::Status ProjectionRunner::Impl::InlineHook::ApplyInline(const EventView& event,
                                                             rocksdb::WriteBatch& batch) {
  Build& b = *impl_->build_;
  if (b.Handles(event)) {
    b.writer.set_tag(event.position);
    RETURN_IF_ERROR(impl_->CallApply(b, event));
    if (impl_->statistics() != nullptr) applied_.push_back(event.position);
  }
  impl_->inline_pending_ = event.position;
  batch.Put(impl_->checkpoints_, CheckpointKey(impl_->name_, b.generation),
            coding::BigEndian64(impl_->inline_pending_));
  return absl::OkStatus();
}

absl::Status ProjectionRunner::Impl::InlineHook::ApplyGroupEvent(const EventView& event,
                                                                 rocksdb::WriteBatch& batch) {
  Build& b = *impl_->build_;
  uint64_t& pending = impl_->inline_pending_;
  b.writer.Bind(&batch, /*immediate=*/true);
  if (rollback_pending_) {
    // The last append was rolled back; its events are re-staged from here.
    b.writer.UndoFrom(event.position);
    pending = event.position - 1;
    rollback_pending_ = false;
    // By value: clang analyses the lambda apart, where the lock is not held.
    std::erase_if(applied_, [last = pending](uint64_t p) { return p > last; });
  }
  if (pending + 1 < event.position) {
    // Events committed between the catch-up in Start() (or a take-over) and
    // the hook's first group: apply them from the log, in this batch.
    ReadAllOptions ro;
    ro.from_position = pending + 1;
    absl::Status apply;
    RETURN_IF_ERROR(impl_->store_.ScanAll(
        ro, [&](const EventView& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_, impl_->apply_mu_) {
          if (e.position >= event.position) return false;
          apply = ApplyInline(e, batch);
          return apply.ok();
        }));
    RETURN_IF_ERROR(apply);
  }
  return ApplyInline(event, batch);
}

void ProjectionRunner::Impl::InlineHook::OnGroupDone(bool written) {
  if (!locked_) return;
  mu_.AssertHeld();  // Since the group's first OnEvent().
  if (impl_ != nullptr) {
    impl_->apply_mu_.AssertHeld();  // Taken with mu_ (see OnEvent()).
    Build& b = *impl_->build_;
    uint64_t& pending = impl_->inline_pending_;
    if (written) {
      if (rollback_pending_) {
        // The group's last append was rolled back after our last OnEvent():
        // the checkpoint is the last position actually written.
        std::unique_ptr<rocksdb::Iterator> it(impl_->db_->NewIterator(
            rocksdb::ReadOptions(),
            internal::StoreAccess::CoreFamily(impl_->store_, internal::kLogFamily)));
        it->SeekToLast();
        if (it->Valid() && it->key().size() == 8) {
          pending = coding::DecodeBigEndian64(std::string_view(it->key().data(), 8));
        }
        // An iterator error leaves `pending` too high; only the reported lag
        // is affected, until the next group.
        it->status().PermitUncheckedError();
      }
      b.checkpoint = pending;
      impl_->Publish(pending);
      std::erase_if(applied_, [last = pending](uint64_t p) { return p > last; });
      RecordTick(impl_->statistics(), Ticker::kProjectionEventsApplied, applied_.size());
    } else {
      pending = b.checkpoint;
    }
    b.writer.Bind(nullptr, true);
    b.writer.Clear();
  }
  rollback_pending_ = false;
  applied_.clear();
  UnlockGroup();
}

}  // namespace annals
