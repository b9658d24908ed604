// ProjectionRunner::Impl, dead letters: parking an event whose Apply() kept
// failing (the dead letter and the checkpoint that skips it commit together),
// counting and listing parked events, and replaying them (the effect and the
// removal of the dead letter commit together; a failure keeps it parked).
// Locking: projections/internal/runner_impl.h.

#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/rocksdb_status.h"
#include "projections/internal/families.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::CheckpointKey;

namespace projections_internal {

absl::StatusOr<uint64_t> CountParked(EventStore& store, std::string_view name) {
  ASSIGN_OR_RETURN(const ProjectionFamilies families, GetFamilies(store));
  uint64_t n = 0;
  RETURN_IF_ERROR(DbScan(families.db, families.parked, nullptr, ParkedPrefix(name), 0,
                         [&](std::string_view, std::string_view) {
                           ++n;
                           return true;
                         }));
  return n;
}

}  // namespace projections_internal

absl::Status ProjectionRunner::Impl::Park(Build& b, uint64_t position, uint32_t attempts,
                                          std::string_view error) {
  ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, position));
  ParkedEvent p;
  p.position = position;
  p.stream = event.stream;
  p.version = event.version;
  p.type = event.type;
  p.attempts = attempts;
  p.error = std::string(error);
  p.parked_at_us = NowMicros();
  // The dead letter and the checkpoint that skips the event commit together.
  rocksdb::WriteBatch batch;
  batch.Put(parked_, projections_internal::ParkedKey(name_, position),
            projections_internal::EncodeParked(p));
  batch.Put(checkpoints_, CheckpointKey(name_, b.generation), coding::BigEndian64(position));
  RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                        StrCat("parking an event of projection '", name_, "'")));
  RecordTick(statistics(), Ticker::kProjectionEventsParked);
  b.checkpoint = position;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ParkedEvent>> ProjectionRunner::Impl::ListParked() {
  return ListParkedEvents(store_, name_);
}

absl::Status ProjectionRunner::Impl::ReplayParked(uint64_t position) {
  MutexLock lock(&apply_mu_);
  ASSIGN_OR_RETURN(std::vector<ParkedEvent> parked, ListParkedEvents(store_, name_));
  bool found = false;
  for (ParkedEvent& p : parked) {
    if (position != 0 && p.position != position) continue;
    found = true;
    ASSIGN_OR_RETURN(RecordedEvent event, projections_internal::ReadEventAt(store_, p.position));
    const EventView view = event.View();
    Build& b = *build_;
    rocksdb::WriteBatch batch;
    b.writer.Clear();
    b.writer.Bind(&batch, /*immediate=*/false);
    b.writer.set_tag(p.position);
    absl::Status s = CallApply(b, view);
    if (s.ok()) b.writer.Flush();
    b.writer.Bind(nullptr, false);
    b.writer.Clear();
    if (s.ok()) {
      // The effect and the removal of the dead letter commit together.
      batch.Delete(parked_, projections_internal::ParkedKey(name_, p.position));
    } else {
      batch.Clear();
      ++p.attempts;
      p.error = std::string(s.message());
      batch.Put(parked_, projections_internal::ParkedKey(name_, p.position),
                projections_internal::EncodeParked(p));
    }
    RETURN_IF_ERROR(internal::FromRocksDb(db_->Write(write_options_, &batch),
                                          "committing a replayed parked event"));
    if (s.ok()) RecordTick(statistics(), Ticker::kProjectionEventsApplied);
    if (!s.ok()) {
      return absl::Status(s.code(), StrCat("replaying parked event at position ", p.position,
                                           " failed again (it stays parked): ", s.message()));
    }
  }
  if (!found) {
    return absl::NotFoundError(
        position == 0
            ? StrCat("projection '", name_, "' has no parked events")
            : StrCat("projection '", name_, "' has no parked event at position ", position));
  }
  return absl::OkStatus();
}

}  // namespace annals
