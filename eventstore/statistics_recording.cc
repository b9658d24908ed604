// The append and read paths' statistics (eventstore/internal/
// statistics_recording.h).

#include "eventstore/internal/statistics_recording.h"

#include <array>

#include "common/clock.h"

namespace annals::internal {
namespace {

// Up to N figures, handed to Statistics::Record() at once.
template <typename T, size_t N>
class Figures {
 public:
  void Add(T figure) { figures_[size_++] = figure; }
  absl::Span<const T> span() const { return {figures_.data(), size_}; }

 private:
  std::array<T, N> figures_;
  size_t size_ = 0;
};

Ticker FailureTicker(absl::StatusCode code) {
  Ticker ticker = Ticker::kAppendFailedOther;
  switch (code) {
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
  return ticker;
}

}  // namespace

void RecordAppendOutcome(Statistics& stats,
                         const absl::StatusOr<std::vector<AppendResult>>& results,
                         uint64_t enqueued_us) {
  Figures<TickerIncrement, 2> ticks;
  Figures<HistogramValue, 1> values;
  if (results.ok()) {
    ticks.Add({Ticker::kAppends, 1});
    // A replay is all or nothing: every part of it says so.
    if (!results->empty() && results->front().idempotent_replay) {
      ticks.Add({Ticker::kAppendReplays, 1});
    }
  } else {
    ticks.Add({FailureTicker(results.status().code()), 1});
  }
  if (enqueued_us != 0) values.Add({Histogram::kAppendLatency, MonotonicMicros() - enqueued_us});
  stats.Record(ticks.span(), values.span());
}

void RecordGroup(Statistics& stats, const GroupFigures& g) {
  Figures<TickerIncrement, 6> ticks;
  Figures<HistogramValue, 4> values;
  ticks.Add({Ticker::kCommitGroups, 1});
  values.Add({Histogram::kGroupAppends, g.appends});
  values.Add({Histogram::kGroupEvents, g.written ? g.events : 0});
  if (g.wrote) {
    values.Add({Histogram::kGroupWriteLatency, g.write_us});
    if (g.written) {
      ticks.Add({Ticker::kBatchesWritten, 1});
      ticks.Add({Ticker::kEventsAppended, g.events});
      ticks.Add({Ticker::kEventBytesAppended, g.event_bytes});
      ticks.Add({Ticker::kBytesWritten, g.batch_bytes});
      values.Add({Histogram::kGroupBytes, g.batch_bytes});
      if (g.synced) ticks.Add({Ticker::kWalSyncs, 1});
    } else {
      ticks.Add({Ticker::kBatchWriteFailures, 1});
    }
  }
  stats.Record(ticks.span(), values.span());
}

ReadRecorder::~ReadRecorder() {
  if (stats_ == nullptr) return;
  if (events != 0) stats_->RecordTick(Ticker::kEventsRead, events);
  if (scanned != 0) stats_->RecordTick(Ticker::kAllRecordsScanned, scanned);
}

}  // namespace annals::internal
