// The append and read paths' statistics (eventstore/internal/
// statistics_recording.h).

#include "eventstore/internal/statistics_recording.h"

namespace annals::internal {

void RecordAppendOutcome(Statistics& stats,
                         const absl::StatusOr<std::vector<AppendResult>>& results) {
  if (results.ok()) {
    stats.RecordTick(Ticker::kAppends, 1);
    // A replay is all or nothing: every part of it says so.
    if (!results->empty() && results->front().idempotent_replay) {
      stats.RecordTick(Ticker::kAppendReplays, 1);
    }
    return;
  }
  Ticker ticker = Ticker::kAppendFailedOther;
  switch (results.status().code()) {
    case absl::StatusCode::kAborted:
      ticker = Ticker::kAppendFailedConflict;
      break;
    case absl::StatusCode::kInvalidArgument:
      ticker = Ticker::kAppendFailedInvalid;
      break;
    case absl::StatusCode::kAlreadyExists:
      ticker = Ticker::kAppendFailedDuplicateId;
      break;
    case absl::StatusCode::kInternal:
      ticker = Ticker::kAppendFailedInternal;
      break;
    case absl::StatusCode::kFailedPrecondition:
      ticker = Ticker::kAppendFailedRefused;
      break;
    case absl::StatusCode::kUnknown:
      ticker = Ticker::kAppendFailedWrite;
      break;
    default:
      break;
  }
  stats.RecordTick(ticker, 1);
}

void RecordGroup(Statistics& stats, const GroupFigures& g) {
  stats.RecordTick(Ticker::kCommitGroups, 1);
  stats.RecordInHistogram(Histogram::kGroupAppends, g.appends);
  stats.RecordInHistogram(Histogram::kGroupEvents, g.written ? g.events : 0);
  stats.RecordInHistogram(Histogram::kGroupStageLatency, g.stage_us);
  if (!g.wrote) return;
  stats.RecordInHistogram(Histogram::kGroupWriteLatency, g.write_us);
  if (!g.written) {
    stats.RecordTick(Ticker::kBatchWriteFailures, 1);
    return;
  }
  stats.RecordTick(Ticker::kBatchesWritten, 1);
  stats.RecordTick(Ticker::kEventsAppended, g.events);
  stats.RecordTick(Ticker::kEventBytesAppended, g.event_bytes);
  stats.RecordTick(Ticker::kBytesWritten, g.batch_bytes);
  stats.RecordInHistogram(Histogram::kGroupBytes, g.batch_bytes);
  if (g.synced) stats.RecordTick(Ticker::kWalSyncs, 1);
}

ReadRecorder::~ReadRecorder() {
  if (stats_ == nullptr) return;
  if (events != 0) stats_->RecordTick(Ticker::kEventsRead, events);
  if (scanned != 0) stats_->RecordTick(Ticker::kAllRecordsScanned, scanned);
}

}  // namespace annals::internal
