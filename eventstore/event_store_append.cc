// The append path: input validation on the caller's thread, then one
// committer at a time (the leader among waiting appenders) that orders,
// checks and writes groups of appends.
//
// Why one committer: it is the only writer, so its in-memory view of stream
// heads is exact, and it assigns global positions in the same order in which
// it writes the batches. Because batch N+1 is handed to RocksDB only after
// batch N's Write() returned, and a WriteBatch becomes visible atomically,
// no reader can ever see position P+1 without P: the global log is gap-free
// by construction, not by a sequence that transactions race on.
//
// Group commit: every append queued while the previous batch was being
// synced goes into the next batch: N waiting appenders cost one fsync.

#include <algorithm>
#include <cstring>
#include <exception>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "annals/errors.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "eventstore/internal/append_validation.h"
#include "eventstore/internal/commit_group.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"
#include "eventstore/internal/statistics_recording.h"

namespace annals {

using internal::CallHook;
using internal::ValidateAppend;

absl::Status EventStore::Impl::Sync() {
  if (options_.read_only) return absl::OkStatus();
  {
    MutexLock lock(&queue_mu_);
    if (!write_error_.ok()) {
      return absl::FailedPreconditionError(
          StrCat("store refuses writes after an earlier write error (", write_error_.message(),
                 "); reopen it"));
    }
  }
  rocksdb::Status s = db_->SyncWAL();
  if (s.ok()) {
    RecordTick(statistics(), Ticker::kWalSyncs);
    return absl::OkStatus();
  }
  absl::Status error = internal::FromRocksDb(s, "syncing the WAL");
  MutexLock lock(&queue_mu_);
  // Never retry an fsync: the kernel may have dropped the dirty pages.
  write_error_ = error;
  return absl::UnknownError(StrCat(error.message(),
                                   "; buffered appends may be lost; the store refuses appends "
                                   "until it is reopened"));
}

absl::Status EventStore::Impl::write_error() const {
  MutexLock lock(&queue_mu_);
  return write_error_;
}

void EventStore::Impl::AddCommitHook(internal::CommitHook* hook) {
  MutexLock lock(&queue_mu_);
  hooks_.push_back(hook);
}

void EventStore::Impl::RemoveCommitHook(internal::CommitHook* hook) {
  MutexLock lock(&queue_mu_);
  hooks_.erase(std::remove(hooks_.begin(), hooks_.end(), hook), hooks_.end());
  // A group already in flight copied the hook list before the erase; once
  // it is done, no committer can call `hook` again and the caller may free it.
  if (committing_) {
    const uint64_t generation = commit_generation_;
    queue_cv_.Wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return commit_generation_ != generation;
    });
  }
}

absl::StatusOr<std::vector<AppendResult>> EventStore::Impl::AppendMulti(
    absl::Span<const StreamAppend> parts) {
  Statistics* const stats = statistics();
  uint64_t enqueued_us = 0;  // Stays 0 unless statistics are on and the call is queued.
  absl::StatusOr<std::vector<AppendResult>> results =
      AppendAndWait(parts, stats != nullptr ? &enqueued_us : nullptr);
  if (stats != nullptr) internal::RecordAppendOutcome(*stats, results, enqueued_us);
  return results;
}

absl::StatusOr<std::vector<AppendResult>> EventStore::Impl::AppendAndWait(
    absl::Span<const StreamAppend> parts, uint64_t* enqueued_us) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "store is open read-only; open it without Options::read_only to append");
  }
  absl::StatusOr<size_t> bytes = ValidateAppend(parts, options_);
  if (!bytes.ok()) return bytes.status();

  Request request;
  request.parts = parts;
  request.bytes = *bytes;
  if (absl::Status s = EnqueueAndWait(request, enqueued_us); !s.ok()) return s;
  return std::move(request.results);
}

absl::Status EventStore::Impl::EnqueueAndWait(Request& request, uint64_t* enqueued_us) {
  const uint64_t start_us = enqueued_us != nullptr ? MonotonicMicros() : 0;
  MutexLock lock(&queue_mu_);
  if (!write_error_.ok()) {
    return absl::FailedPreconditionError(
        StrCat("store refuses appends after an earlier write error (", write_error_.message(),
               "); reopen the store, then retry with the same event ids"));
  }
  if (shutting_down_) return absl::FailedPreconditionError("store is closing");
  queue_.push_back(&request);
  if (enqueued_us != nullptr) *enqueued_us = start_us;
  // Leader/follower group commit: the appender that finds no commit in
  // progress becomes the committer for everything queued so far; the others
  // wait until their request is done or the committer role is free again.
  // Uncontended, an append is committed on its own thread with no hand-off.
  while (!request.done) {
    queue_cv_.Wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
      return request.done || !committing_;
    });
    if (request.done) break;
    committing_ = true;
    std::vector<Request*> group = TakeGroup();
    lock.Unlock();
    CommitGroup(group);  // Marks the group's requests done under queue_mu_.
    lock.Lock();
    committing_ = false;
    ++commit_generation_;
    queue_cv_.NotifyAll();
  }
  return request.status;
}

std::vector<EventStore::Impl::Request*> EventStore::Impl::TakeGroup() {
  std::vector<Request*> group;
  size_t bytes = 0;
  while (!queue_.empty() &&
         (group.empty() || bytes + queue_.front()->bytes <= options_.max_group_commit_bytes)) {
    bytes += queue_.front()->bytes;
    group.push_back(queue_.front());
    queue_.pop_front();
  }
  return group;
}

void EventStore::Impl::CommitGroup(std::vector<Request*>& group) {
  {
    MutexLock lock(&queue_mu_);
    if (!write_error_.ok()) {
      for (Request* r : group) {
        r->status = absl::FailedPreconditionError(
            StrCat("store refuses appends after an earlier write error (", write_error_.message(),
                   "); reopen the store, then retry with the same event ids"));
        r->done = true;
      }
      return;
    }
    group_hooks_ = hooks_;
  }
  Statistics* const stats = statistics();
  internal::GroupFigures figures;
  const uint64_t first_position = next_position_;
  GroupState state;
  state.now_us = NowMicros();
  state.first_stream_id = next_stream_id_;
  state.view = retention();
  rocksdb::WriteBatch batch;
  bool any_staged = false;
  for (Request* r : group) {
    r->status = r->meta != nullptr ? StageMetaRequest(*r->meta, state, batch)
                                   : StageRequest(*r, state, batch);
    if (r->meta != nullptr && r->status.ok()) r->writes = true;
    any_staged = any_staged || (r->status.ok() && r->writes);
    if (r->status.ok() && r->writes) figures.event_bytes += r->bytes;
  }

  absl::Status write_status;
  // Metadata, deletes and consumer positions are always synced: a scavenge
  // must never act on a change that a power loss takes back.
  rocksdb::WriteOptions wo = write_options_;
  wo.sync = wo.sync || state.sync;
  if (any_staged) {
    if (next_stream_id_ != state.first_stream_id) {
      batch.Put(families_[internal::kDefaultFamily], internal::kNextStreamIdKey,
                coding::BigEndian64(next_stream_id_));
    }
    // The commit record (eventstore/internal/keys.h) rides in the same batch,
    // so it always names the end of the log this batch makes visible.
    batch.Put(families_[internal::kDefaultFamily], internal::kCommitKey,
              internal::EncodeCommitRecord(next_position_ - 1, last_hash_));
    rocksdb::Status s;
    const uint64_t write_start_us = stats != nullptr ? MonotonicMicros() : 0;
    if (test_fail_next_write_.exchange(false)) {
      s = rocksdb::Status::IOError("injected failure (TEST_FailNextWrite)");
    } else {
      s = db_->Write(wo, &batch);
    }
    write_status = internal::FromRocksDb(s, "writing a group of appends");
    if (stats != nullptr) {
      figures.write_us = MonotonicMicros() - write_start_us;
      figures.wrote = true;
      figures.written = write_status.ok();
      figures.batch_bytes = batch.GetDataSize();
    }
  }
  for (internal::CommitHook* hook : group_hooks_) {
    absl::Status s = CallHook("a commit hook's OnGroupDone()", [&] {
      hook->OnGroupDone(write_status.ok());
      return absl::OkStatus();
    });
    if (!s.ok() && state.hook_error.ok()) state.hook_error = s;
  }

  if (write_status.ok()) {
    for (auto& [stream, head] : state.heads) {
      if (head_cache_.size() >= options_.stream_head_cache_entries) head_cache_.clear();
      head_cache_[stream] = head;
    }
    PublishRetention(state);
    if (any_staged) PublishPosition(next_position_ - 1);
  }
  if (stats != nullptr) {
    figures.appends = group.size();
    figures.events = next_position_ - first_position;
    figures.synced = wo.sync;  // What the write did.
    internal::RecordGroup(*stats, figures);
  }

  MutexLock lock(&queue_mu_);
  if (!write_status.ok()) {
    // The outcome is unknown (RocksDB 7.8 may have the batch in its WAL), and
    // a failed fsync must not be retried: refuse appends until reopen.
    write_error_ = write_status;
  } else if (!state.hook_error.ok() && write_error_.ok()) {
    // A hook threw from OnRollback() or OnGroupDone(): its state may not
    // match the store any more. Refusing appends until reopen (which reloads
    // every hook's state from disk) is visible and never wedges.
    write_error_ = state.hook_error;
  }
  for (Request* r : group) {
    if (!write_status.ok() && r->status.ok() && (r->writes || r->depends_on_group)) {
      r->status = absl::UnknownError(StrCat(
          "append outcome unknown: ", write_status.message(),
          "; the store refuses appends until it is reopened; then retry with the same event ids "
          "(retries are idempotent)"));
      r->results.clear();
    }
    r->done = true;
  }
}

}  // namespace annals
