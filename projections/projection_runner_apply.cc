// ProjectionRunner::Impl, applying events: Apply() calls (the one place they
// are made, exceptions turned into kInternal), a batch of events after a
// build's checkpoint committed in one WriteBatch with the new checkpoint, one
// event (for retries), and catching up to the end of the log (inline start,
// rebuilds). Also reading one event of the log by position, which retries and
// dead letters use. Locking: projections/internal/runner_impl.h.

#include "annals/user_code.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;
using user_code_internal::CallUserCode;

namespace projections_internal {

absl::StatusOr<RecordedEvent> ReadEventAt(EventStore& store, uint64_t position) {
  ReadAllOptions ro;
  ro.from_position = position;
  ro.limit = 1;
  ASSIGN_OR_RETURN(std::vector<RecordedEvent> events, store.ReadAll(ro));
  if (events.empty() || events.front().position != position) {
    return absl::NotFoundError(StrCat("no event at position ", position));
  }
  return std::move(events.front());
}

}  // namespace projections_internal

absl::Status ProjectionRunner::Impl::CallApply(Build& b, const EventView& event) {
  return CallUserCode(apply_callback_, [&] { return b.projection->Apply(event, b.writer); });
}

absl::StatusOr<ProjectionRunner::Impl::BatchResult> ProjectionRunner::Impl::ApplyBatch(
    Build& b, size_t max_events) {
  BatchResult result;
  rocksdb::WriteBatch batch;
  b.writer.Clear();
  b.writer.Bind(&batch, /*immediate=*/false);
  uint64_t position = b.checkpoint;
  uint64_t applied = 0;
  ReadAllOptions ro;
  ro.from_position = b.checkpoint + 1;
  // Every position up to here is committed before the scan starts, so a
  // scan that runs to its end has passed it, even when retention hid the
  // last events (ScanAll skips them): the checkpoint moves past them too,
  // or the runner would read them again and again.
  const uint64_t watermark = store_.last_position();
  bool stopped = false;
  absl::Status scan = store_.ScanAll(ro, [&](const EventView& e) {
    if (b.Handles(e)) {
      b.writer.set_tag(e.position);
      absl::Status s = CallApply(b, e);
      if (!s.ok()) {
        b.writer.UndoFrom(e.position);  // Its writes are only in the overlay.
        result.failed_position = e.position;
        result.apply_error = std::move(s);
        stopped = true;
        return false;
      }
      ++applied;
    }
    position = e.position;
    ++result.scanned;
    stopped = result.scanned >= max_events || b.writer.bytes() >= options_.batch_bytes;
    return !stopped;
  });
  if (scan.ok() && !stopped && watermark > position) position = watermark;
  if (scan.ok()) b.writer.Flush();
  b.writer.Bind(nullptr, false);
  b.writer.Clear();
  if (!scan.ok()) return scan;
  if (position > b.checkpoint) {
    batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
    RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                          StrCat("committing projection '", name_, "'")));
    RecordCheckpointCommit(applied, position - b.checkpoint, position);
    b.checkpoint = position;
  }
  return result;
}

absl::Status ProjectionRunner::Impl::ApplyOne(Build& b, uint64_t position) {
  ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, position));
  const EventView view = event.View();
  rocksdb::WriteBatch batch;
  b.writer.Clear();
  b.writer.Bind(&batch, /*immediate=*/false);
  b.writer.set_tag(position);
  const bool handled = b.Handles(view);
  absl::Status s = handled ? CallApply(b, view) : absl::OkStatus();
  if (s.ok()) b.writer.Flush();
  b.writer.Bind(nullptr, false);
  b.writer.Clear();
  if (!s.ok()) return s;
  batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
  RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                        StrCat("committing projection '", name_, "'")));
  RecordCheckpointCommit(handled ? 1 : 0, 1, position);
  b.checkpoint = position;
  return absl::OkStatus();
}

void ProjectionRunner::Impl::RecordCheckpointCommit(uint64_t applied, uint64_t moved,
                                                    uint64_t checkpoint) {
  Statistics* const stats = statistics();
  if (stats == nullptr) return;
  const uint64_t last = store_.last_position();
  stats->Record({{Ticker::kProjectionEventsApplied, applied}, {Ticker::kProjectionBatches, 1}},
                {{Histogram::kProjectionBatchEvents, moved},
                 {Histogram::kProjectionLag, last > checkpoint ? last - checkpoint : 0}});
}

absl::Status ProjectionRunner::Impl::CatchUpToEnd(Build& b, size_t batch_events) {
  for (;;) {
    ASSIGN_OR_RETURN(BatchResult r, ApplyBatch(b, batch_events));
    if (&b == build_.get()) Publish(b.checkpoint);
    if (r.failed_position != 0) {
      return absl::Status(r.apply_error.code(),
                          StrCat("projection '", name_, "' failed at position ", r.failed_position,
                                 ": ", r.apply_error.message()));
    }
    if (r.scanned == 0) return absl::OkStatus();
  }
}

}  // namespace annals
