// RepositoryCore: the aggregate-independent half of Repository<A>: snapshot
// lookup, tail replay, appends, snapshot writing and backoff.

#include "annals/repository.h"

#include <cstdio>
#include <limits>

#include "absl/random/random.h"
#include "annals/statistics.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace annals::repository_internal {

struct RepositoryCore::SnapshotErrors {
  Mutex mu;
  std::string last ABSL_GUARDED_BY(mu);
  bool logged ABSL_GUARDED_BY(mu) = false;  // One failure goes to stderr.
};

RepositoryCore::RepositoryCore(EventStore& store, RepositoryOptions options)
    : store_(store),
      options_(std::move(options)),
      snapshots_(store),
      errors_(std::make_unique<SnapshotErrors>()) {}

RepositoryCore::~RepositoryCore() = default;

int64_t RepositoryCore::NowMicros() { return annals::NowMicros(); }

absl::StatusOr<LoadInfo> RepositoryCore::Load(
    std::string_view stream, const LoadOptions& options, std::string_view fingerprint,
    absl::FunctionRef<absl::Status(uint64_t, std::string_view)> restore,
    absl::FunctionRef<absl::Status(const EventView&)> apply, int64_t* last_recorded_at_us) {
  loads_.fetch_add(1, std::memory_order_relaxed);
  LoadInfo info;
  ASSIGN_OR_RETURN(StreamInfo head, store_.GetStream(stream));
  uint64_t target = head.version;
  if (options.to_version != 0 && options.to_version < target) target = options.to_version;
  const int64_t as_of = options.as_of_us.value_or(std::numeric_limits<int64_t>::max());

  uint64_t version = 0;
  if (options.use_snapshots) {
    // A snapshot is used only at or below the wanted version (and the stream's
    // head: a snapshot beyond it belongs to some other history), with our
    // fingerprint, and not newer than the wanted time.
    absl::StatusOr<Snapshot> snapshot =
        snapshots_.FindLatest(stream, SnapshotQuery{.fingerprint = fingerprint,
                                                    .max_version = target,
                                                    .max_recorded_at_us = as_of});
    if (snapshot.ok()) {
      if (restore(snapshot->version, snapshot->state).ok()) {
        version = snapshot->version;
        info.snapshot_version = version;
        *last_recorded_at_us = snapshot->event_recorded_at_us;
        snapshot_hits_.fetch_add(1, std::memory_order_relaxed);
        RecordTick(statistics(), Ticker::kAggregateSnapshotRestores);
      }
      // A snapshot that does not decode is skipped: full replay is always
      // correct, a snapshot only saves time.
    } else if (snapshot.status().code() != absl::StatusCode::kNotFound) {
      return snapshot.status();
    }
  }

  absl::Status apply_status;
  if (version < target) {
    ReadStreamOptions ro;
    ro.from_version = version + 1;
    ro.limit = target - version;
    RETURN_IF_ERROR(store_.ScanStream(stream, ro, [&](const EventView& event) {
      if (event.recorded_at_us > as_of) return false;
      apply_status = apply(event);
      if (!apply_status.ok()) return false;
      *last_recorded_at_us = event.recorded_at_us;
      ++info.events_replayed;
      return true;
    }));
    RETURN_IF_ERROR(apply_status);
  }
  events_replayed_.fetch_add(info.events_replayed, std::memory_order_relaxed);
  if (info.snapshot_version == 0 && info.events_replayed == 0) {
    return absl::NotFoundError(StrCat("stream '", stream, "' has no events recorded at or before ",
                                      FormatTimestampMicros(as_of)));
  }
  if (Statistics* stats = statistics(); stats != nullptr) {
    stats->RecordTick(Ticker::kAggregateLoads, 1);
    stats->RecordTick(Ticker::kAggregateEventsReplayed, info.events_replayed);
    stats->RecordInHistogram(Histogram::kAggregateReplayedEvents, info.events_replayed);
  }
  return info;
}

absl::StatusOr<AppendResult> RepositoryCore::Append(std::string_view stream,
                                                    uint64_t expected_version,
                                                    absl::Span<const PendingEvent> events) {
  std::vector<NewEvent> batch;
  batch.reserve(events.size());
  for (const PendingEvent& e : events) {
    batch.push_back(NewEvent{.id = e.id,
                             .type = e.type,
                             .schema_version = e.schema_version,
                             .content_type = ContentType::kFlatBuffers,
                             .payload = e.payload});
  }
  absl::StatusOr<AppendResult> result =
      store_.Append(stream, ExpectedVersion::Exact(expected_version), batch);
  if (result.ok()) {
    saves_.fetch_add(1, std::memory_order_relaxed);
    RecordTick(statistics(), Ticker::kAggregateSaves);
  } else if (result.status().code() == absl::StatusCode::kAborted) {
    RecordTick(statistics(), Ticker::kAggregateConflicts);
  }
  return result;
}

absl::Status RepositoryCore::WriteSnapshot(std::string_view stream, uint64_t version,
                                           std::string_view fingerprint, std::string state,
                                           int64_t encode_micros,
                                           std::optional<int64_t> recorded_at_us) {
  absl::Status status = [&]() -> absl::Status {
    Snapshot snapshot;
    snapshot.stream.assign(stream);
    snapshot.version = version;
    snapshot.fingerprint.assign(fingerprint);
    snapshot.state = std::move(state);
    snapshot.taken_at_us = NowMicros();
    snapshot.encode_micros = encode_micros;
    if (recorded_at_us.has_value()) {
      snapshot.event_recorded_at_us = *recorded_at_us;
    } else {
      // After a save we do not know the commit time of the last event: read
      // it back (one point read per snapshot, after the append completed).
      ASSIGN_OR_RETURN(
          std::vector<RecordedEvent> last,
          store_.ReadStream(stream, ReadStreamOptions{.from_version = version, .limit = 1}));
      if (last.empty() || last.front().version != version) {
        return absl::NotFoundError(
            StrCat("stream '", stream, "' has no version ", version, " to snapshot"));
      }
      snapshot.event_recorded_at_us = last.front().recorded_at_us;
    }
    return snapshots_.Put(snapshot, options_.keep_snapshots);
  }();
  if (status.ok()) {
    snapshots_written_.fetch_add(1, std::memory_order_relaxed);
  } else {
    snapshot_failures_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&errors_->mu);
    errors_->last = std::string(status.message());
  }
  return status;
}

void RepositoryCore::SnapshotQuietly(std::string_view stream, uint64_t version,
                                     std::string_view fingerprint, std::string state,
                                     int64_t encode_micros, std::optional<int64_t> recorded_at_us) {
  absl::Status status =
      WriteSnapshot(stream, version, fingerprint, std::move(state), encode_micros, recorded_at_us);
  if (status.ok()) return;
  // Deliberately not returned: the append this follows has succeeded, and a
  // missing snapshot costs only replay time. Logged once per repository.
  MutexLock lock(&errors_->mu);
  if (!errors_->logged) {
    errors_->logged = true;
    std::fprintf(stderr, "annals: snapshot of '%.*s' failed (further failures only counted): %s\n",
                 static_cast<int>(stream.size()), stream.data(),
                 std::string(status.message()).c_str());
  }
}

void RepositoryCore::CountRetry() {
  retries_.fetch_add(1, std::memory_order_relaxed);
  RecordTick(statistics(), Ticker::kAggregateRetries);
}

Statistics* RepositoryCore::statistics() const { return store_.options().statistics.get(); }

void RepositoryCore::Backoff(int attempt) {
  thread_local absl::BitGen gen;
  absl::Duration cap = options_.initial_backoff;
  for (int i = 1; i < attempt && cap < options_.max_backoff; ++i) cap *= 2;
  if (cap > options_.max_backoff) cap = options_.max_backoff;
  const int64_t cap_us = absl::ToInt64Microseconds(cap);
  if (cap_us <= 0) return;
  absl::SleepFor(absl::Microseconds(absl::Uniform<int64_t>(absl::IntervalClosed, gen, 0, cap_us)));
}

RepositoryStats RepositoryCore::stats() const {
  RepositoryStats s;
  s.loads = loads_.load(std::memory_order_relaxed);
  s.events_replayed = events_replayed_.load(std::memory_order_relaxed);
  s.snapshot_hits = snapshot_hits_.load(std::memory_order_relaxed);
  s.snapshots_written = snapshots_written_.load(std::memory_order_relaxed);
  s.snapshot_failures = snapshot_failures_.load(std::memory_order_relaxed);
  s.saves = saves_.load(std::memory_order_relaxed);
  s.conflicts = conflicts_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  return s;
}

std::string RepositoryCore::last_snapshot_error() const {
  MutexLock lock(&errors_->mu);
  return errors_->last;
}

}  // namespace annals::repository_internal
