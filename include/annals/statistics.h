// File: annals/statistics.h
//
// Statistics: counters ("tickers") and histograms that the store, the
// snapshot store, repositories and projection runners fill while they work.
// One object is shared by everything built on one store: set it in
// Options::statistics before EventStore::Open() (RocksDB's
// Options::statistics is the pattern). Null, the default, records nothing and
// costs one pointer check per call site.
//
//   annals::Options options;
//   options.statistics = annals::CreateStatistics();
//   auto store = annals::EventStore::Open("/var/lib/orders", options);
//   ...
//   uint64_t appends = options.statistics->GetTickerCount(annals::Ticker::kAppends);
//   annals::HistogramData latency =
//       options.statistics->GetHistogramData(annals::Histogram::kAppendLatency);
//   // latency.p99 is in microseconds (HistogramInfo(kAppendLatency).unit).
//
// Tickers are monotonic counters: they only grow, from 0 at creation (or at
// the last Reset()). Histograms keep every recorded value in fixed buckets
// (BucketBounds()), so count, sum, min and max are exact and percentiles are
// interpolated within one bucket (exact for values up to 10, which have a
// bucket each; within 10-20% of the value above). Each ticker and histogram below says what it
// counts, in what unit, and which code fills it; TickerInfo() and HistogramInfo() give the same as
// data, for an exporter (docs/statistics.md has the table and the Prometheus names they map to).
//
// How this relates to the status structs that already exist:
// EventStore::Stats() (StoreStats), Repository::stats() (RepositoryStats) and
// ProjectionRunner::status() (ProjectionStatus) are point-in-time answers
// about one object (a store's size on disk, one repository's counts, one
// projection's current lag). A Statistics object counts monotonically over
// everything that shares it, across objects and since it was created; it
// never reads the store. Both stay: the status structs answer "how is this
// one now", the statistics "how much and how fast, over time".
//
// Thread-safety: every method of the object CreateStatistics() returns is
// safe to call from any number of threads at once. Recording takes no lock
// (relaxed atomics in per-CPU shards). A reader sees every increment that
// happened before its call; under concurrent recording a HistogramData may
// mix values recorded during the call (e.g. count one ahead of sum), never
// lose one. A user implementation of Statistics must be thread-safe the same
// way: the committer calls it while other appenders wait.

#ifndef ANNALS_STATISTICS_H_
#define ANNALS_STATISTICS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace annals {

// Counters. Unless said otherwise a ticker counts occurrences (unit: count).
enum class Ticker : uint32_t {
  // --- Appends (EventStore::Append/AppendMulti; eventstore/event_store_append.cc) ---

  // Append calls (Append() or AppendMulti(), one per call) that returned OK,
  // idempotent replays and appends of no events included.
  kAppends = 0,
  // Of those, the calls that were idempotent replays (nothing written).
  kAppendReplays,
  // Events written by acknowledged appends (replays write none).
  kEventsAppended,
  // The size of those events as Options::max_append_bytes counts it
  // (16-byte id, type, payload, correlation and causation ids, metadata
  // keys and values). Unit: bytes.
  kEventBytesAppended,
  // Append calls that failed, by status code. kAborted: wrong expected
  // version (a conflict).
  kAppendFailedConflict,
  // kInvalidArgument: bad input (stream name, type, sizes, duplicate ids).
  kAppendFailedInvalid,
  // kAlreadyExists: an event id stored for another event or place.
  kAppendFailedDuplicateId,
  // kInternal: an inline projection (commit hook) threw, or its Apply()
  // failed with kInternal. (A projection failing with another code is
  // counted under that code.)
  kAppendFailedInternal,
  // kFailedPrecondition: read-only store, closing store, or a store that
  // refuses appends after an earlier write error.
  kAppendFailedRefused,
  // kUnknown: the group's RocksDB write failed; the outcome is unknown.
  kAppendFailedWrite,
  // Any other code.
  kAppendFailedOther,

  // --- The committer (one group commit = one RocksDB WriteBatch) ---

  // Groups of appends the committer took off the queue, whether or not they
  // had anything to write (a group of conflicts writes nothing).
  kCommitGroups,
  // Groups whose WriteBatch RocksDB accepted (durable per Options::durability).
  kBatchesWritten,
  // Groups whose WriteBatch write failed (each fails its appends with kUnknown).
  kBatchWriteFailures,
  // Bytes of the written WriteBatches: records, stream index, heads, event
  // ids, commit record and inline-projection writes. Unit: bytes.
  kBytesWritten,
  // Synced WAL writes annals asked RocksDB for and got: one per written batch
  // with Durability::kSync, one per successful EventStore::Sync() with
  // kBuffered (RocksDB's own syncs of its MANIFEST and new files are not
  // counted).
  kWalSyncs,

  // --- Reads (eventstore/event_store_read.cc) ---

  // Stream reads: ReadStream()/ScanStream() calls, repositories' loads
  // included, whatever their outcome.
  kStreamReads,
  // Global-log scans: ReadAll()/ScanAll() calls, projections' and the CLI's
  // included, whatever their outcome.
  kAllScans,
  // Events handed to callers by stream reads and global-log scans.
  kEventsRead,
  // Records a global-log scan decoded, including those its type or stream
  // filter then skipped: kAllRecordsScanned - (events it delivered) is the
  // cost of filtering.
  kAllRecordsScanned,

  // --- Snapshots (SnapshotStore; snapshots/snapshot_store.cc) ---

  // SnapshotStore::FindLatest() calls (repositories call it once per load
  // that may use a snapshot).
  kSnapshotLookups,
  // Lookups that found a snapshot.
  kSnapshotHits,
  // Lookups that found none (kNotFound).
  kSnapshotMisses,
  // Damaged snapshots a lookup skipped (also SnapshotStore::damaged_skipped()).
  kSnapshotDamagedSkipped,
  // Snapshots written by SnapshotStore::Put().
  kSnapshotsSaved,
  // Their state bytes. Unit: bytes.
  kSnapshotBytesSaved,
  // SnapshotStore::Put() calls that failed.
  kSnapshotSaveFailures,

  // --- Aggregates (Repository<A>; aggregates/repository.cc) ---

  // Loads that returned an aggregate (RepositoryStats::loads counts attempts).
  kAggregateLoads,
  // Events replayed by those loads (after the snapshot, if one was used).
  kAggregateEventsReplayed,
  // Loads that started from a snapshot whose state the aggregate restored
  // (a snapshot found but not restorable counts as a hit in
  // kSnapshotHits and not here).
  kAggregateSnapshotRestores,
  // Save()s that appended (RepositoryStats::saves).
  kAggregateSaves,
  // Save()s refused with kAborted (RepositoryStats::conflicts).
  kAggregateConflicts,
  // Execute() re-runs after a conflict (RepositoryStats::retries).
  kAggregateRetries,

  // --- Projections (ProjectionRunner; projections/projection_runner_*.cc) ---

  // Events a projection's Apply() handled whose effect was committed:
  // asynchronous batches and retries, catch-ups and rebuilds, inline groups
  // that were written (a rolled-back append's events are not counted), and
  // replayed dead letters. Per projection: two projections applying one
  // event count 2. Events a projection does not handle (type or stream
  // filter) are not counted.
  kProjectionEventsApplied,
  // Checkpoint commits of asynchronous runners, catch-ups and rebuilds: one
  // per batch, and one per event that succeeded on a retry. Inline runners
  // commit with the append and count none.
  kProjectionBatches,
  // Retries of an event whose Apply() failed (asynchronous runners): a
  // success on the third attempt counts 2.
  kProjectionRetries,
  // Events parked as dead letters after their retries ran out.
  kProjectionEventsParked,
  // Projection runners that stopped failed (ProjectionState::kFailed).
  kProjectionFailures,

  kTickerCount  // Not a ticker: the number of them.
};

// Histograms. Each value recorded is one observation; the unit is given.
enum class Histogram : uint32_t {
  // Append latency, per call that reached the committer's queue: from the
  // enqueue (after the input checks on the caller's thread) to the
  // acknowledgement, whatever the outcome. Includes waiting for earlier
  // groups, staging and the (synced) write. Unit: microseconds.
  // Filled by eventstore/event_store_append.cc.
  kAppendLatency = 0,
  // Append calls per group commit (every group the committer takes). Unit:
  // count.
  kGroupAppends,
  // Events written per group commit (0 for a group that wrote nothing).
  // Unit: count.
  kGroupEvents,
  // WriteBatch bytes per written group. Unit: bytes.
  kGroupBytes,
  // Time of one group's RocksDB write, WAL fsync included with kSync.
  // Unit: microseconds.
  kGroupWriteLatency,
  // Events replayed per aggregate load (after the snapshot, if one was
  // used). Unit: count. Filled by aggregates/repository.cc.
  kAggregateReplayedEvents,
  // A projection's lag, in global positions (the store's last position
  // minus the projection's checkpoint), sampled after every checkpoint
  // commit counted in kProjectionBatches: a runner that has caught up
  // records 0. All projections of the store together; the current lag of
  // one projection is ProjectionStatus::lag. Unit: count (positions).
  // Filled by projections/projection_runner_apply.cc.
  kProjectionLag,
  // Events per checkpoint commit counted in kProjectionBatches, handled or
  // not (the checkpoint moves over both). Unit: count.
  kProjectionBatchEvents,

  kHistogramCount  // Not a histogram: the number of them.
};

// What a recorded value means, for display and export.
enum class StatisticsUnit : uint8_t {
  kCount,  // Things: events, appends, positions.
  kBytes,
  kMicroseconds,  // An exporter in seconds divides by 1e6.
};

// Name, unit and one-line description of a ticker or histogram. Names are
// stable snake_case identifiers, unique across tickers and histograms; the
// names of byte figures end in "_bytes" and of durations in "_latency", and
// no other name does, so that an exporter can add unit suffixes by rule
// (docs/statistics.md gives the Prometheus names they map to).
struct StatisticsInfo {
  std::string_view name{};
  StatisticsUnit unit = StatisticsUnit::kCount;
  std::string_view help{};
};

// Static metadata. Every ticker below kTickerCount and every histogram below
// kHistogramCount has an entry.
const StatisticsInfo& TickerInfo(Ticker ticker);
const StatisticsInfo& HistogramInfo(Histogram histogram);

// The upper bounds of the histogram buckets, ascending; the last is
// UINT64_MAX (Prometheus "+Inf"). A value v falls in the first bucket whose
// bound is >= v. The bounds are 0, 1, ..., 10, then 16 per decade
// (12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90, 100, times
// 10^k) up to 10^13.
const std::vector<uint64_t>& BucketBounds();

// A histogram's content at the time of the call.
struct HistogramData {
  uint64_t count = 0;
  uint64_t sum = 0;
  // 0 when count is 0.
  uint64_t min = 0;
  uint64_t max = 0;
  double average = 0;  // sum / count; 0 when count is 0.
  // Percentiles, interpolated within their bucket and kept within
  // [min, max]. 0 when count is 0.
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
  // Observations per bucket, aligned with BucketBounds() (not cumulative).
  std::vector<uint64_t> bucket_counts{};

  // HistogramData::Percentile()
  //
  // The value below which `percent` (0..100) of the observations lie,
  // estimated from the buckets as p50/p95/p99 are.
  double Percentile(double percent) const;
};

// One increment of a ticker, or one observation of a histogram, for
// Statistics::Record().
struct TickerIncrement {
  Ticker ticker{};
  uint64_t count = 1;
};
struct HistogramValue {
  Histogram histogram{};
  uint64_t value = 0;
};

// The interface. CreateStatistics() gives the built-in implementation; a
// service may implement its own (for instance to forward into its metrics
// system), thread-safe as said above.
class Statistics {
 public:
  virtual ~Statistics() = default;

  // Statistics::RecordTick()
  //
  // Adds `count` to `ticker`. Called by annals; a service may count its own
  // events in these tickers too, but the meanings above are what exporters
  // document.
  virtual void RecordTick(Ticker ticker, uint64_t count) = 0;

  // Statistics::RecordInHistogram()
  //
  // Records one observation `value`, in the histogram's unit.
  virtual void RecordInHistogram(Histogram histogram, uint64_t value) = 0;

  // Statistics::Record()
  //
  // Several increments and observations in one call, the same as
  // RecordTick() for each of `ticks` and RecordInHistogram() for each of
  // `values`. The committer records a group's figures this way: the
  // built-in implementation then finds its per-CPU shard once, not per
  // figure. The default implementation makes the single calls.
  //   stats->Record({{Ticker::kAppends, 1}}, {{Histogram::kAppendLatency, 40}});
  virtual void Record(absl::Span<const TickerIncrement> ticks,
                      absl::Span<const HistogramValue> values);

  // Statistics::GetTickerCount()
  virtual uint64_t GetTickerCount(Ticker ticker) const = 0;

  // Statistics::GetHistogramData()
  virtual HistogramData GetHistogramData(Histogram histogram) const = 0;

  // Statistics::Reset()
  //
  // Sets every ticker and histogram back to empty. Meant for tests and
  // benchmarks: an exporter whose counters must stay monotonic never calls
  // it. Values recorded while it runs may survive it or not.
  virtual void Reset() = 0;

  // Statistics::ToString()
  //
  // Every ticker and histogram, one per line, in enum order, for humans:
  //   appends 1200
  //   append_latency_us count=1200 sum=... avg=... min=... p50=... p95=... p99=... max=...
  // Histograms in microseconds carry "_us" in this text.
  virtual std::string ToString() const;
};

// CreateStatistics()
//
// A new, empty, thread-safe Statistics object. Memory: about 14 KiB per
// shard, one shard per CPU the process may run on (at most 16).
std::shared_ptr<Statistics> CreateStatistics();

// RecordTick(), RecordInHistogram()
//
// What annals' call sites use: nothing when `statistics` is null.
inline void RecordTick(Statistics* statistics, Ticker ticker, uint64_t count = 1) {
  if (statistics != nullptr) statistics->RecordTick(ticker, count);
}
inline void RecordInHistogram(Statistics* statistics, Histogram histogram, uint64_t value) {
  if (statistics != nullptr) statistics->RecordInHistogram(histogram, value);
}

}  // namespace annals

#endif  // ANNALS_STATISTICS_H_
