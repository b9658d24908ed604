// The built-in Statistics: relaxed atomics in per-CPU shards, summed when
// read.
//
// Why shards: the committer records one group's figures while up to N
// appender threads record their latencies; with one set of counters every
// fetch_add would bounce the same cache lines between cores. Each shard is
// touched by the threads running on one CPU (sched_getcpu(), served by glibc
// from rseq or the vDSO, a few nanoseconds), as RocksDB's StatisticsImpl does
// with its CoreLocalArray. A thread that migrates mid-call merely records
// into another shard: every shard is atomic, nothing is lost.
//
// Why fixed buckets: recording is one binary search over a constant table and
// two relaxed adds (bucket, sum) plus a relaxed min/max check that writes only
// on a new extreme; no allocation, no lock. count is the sum of the buckets.

#include "annals/statistics.h"

#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace annals {
namespace {

constexpr size_t kTickerCount = static_cast<size_t>(Ticker::kTickerCount);
constexpr size_t kHistogramCount = static_cast<size_t>(Histogram::kHistogramCount);
// 0..10, 16 bounds per decade from 10 to 10^13, and UINT64_MAX.
constexpr size_t kBuckets = 11 + 12 * 16 + 1;
// More shards than CPUs buy nothing; past 16 the memory and the cost of
// summing on every read grow for little gain (a shard is about 14 KiB: 39
// tickers, and 8 histograms of 204 buckets plus sum, min and max).
constexpr size_t kMaxShards = 16;

constexpr StatisticsUnit kCount = StatisticsUnit::kCount;
constexpr StatisticsUnit kBytes = StatisticsUnit::kBytes;
constexpr StatisticsUnit kMicros = StatisticsUnit::kMicroseconds;

// In enum order; a static_assert below keeps the tables and the enums in step
// and the unit test checks the names are unique.
constexpr std::array<StatisticsInfo, kTickerCount> kTickerInfo = {{
    {"appends", kCount, "Append calls acknowledged OK (replays included)"},
    {"append_replays", kCount, "Append calls that were idempotent replays"},
    {"events_appended", kCount, "Events written by acknowledged appends"},
    {"appended_event_bytes", kBytes, "Size of the events written (ids, types, payloads, metadata)"},
    {"append_failed_conflict", kCount, "Appends failed: wrong expected version (kAborted)"},
    {"append_failed_invalid", kCount, "Appends failed: bad input (kInvalidArgument)"},
    {"append_failed_duplicate_id", kCount,
     "Appends failed: event id stored elsewhere (kAlreadyExists)"},
    {"append_failed_internal", kCount,
     "Appends failed: internal error, e.g. an inline projection threw (kInternal)"},
    {"append_failed_refused", kCount,
     "Appends failed: store read-only, closing or after a write error (kFailedPrecondition)"},
    {"append_failed_write", kCount, "Appends failed: the RocksDB write failed (kUnknown)"},
    {"append_failed_other", kCount, "Appends failed with any other code"},
    {"commit_groups", kCount, "Groups of appends taken by the committer"},
    {"batches_written", kCount, "Group WriteBatches written"},
    {"batch_write_failures", kCount, "Group WriteBatch writes that failed"},
    {"written_bytes", kBytes, "Bytes of the WriteBatches written"},
    {"wal_syncs", kCount, "Synced WAL writes (kSync batches and Sync() calls)"},
    {"stream_reads", kCount, "Stream reads (ReadStream/ScanStream calls)"},
    {"all_scans", kCount, "Global-log scans (ReadAll/ScanAll calls)"},
    {"events_read", kCount, "Events handed to readers"},
    {"all_records_scanned", kCount, "Records decoded by global-log scans, filtered ones included"},
    {"snapshot_lookups", kCount, "Snapshot lookups"},
    {"snapshot_hits", kCount, "Snapshot lookups that found one"},
    {"snapshot_misses", kCount, "Snapshot lookups that found none"},
    {"snapshot_damaged_skipped", kCount, "Damaged snapshots skipped by lookups"},
    {"snapshots_saved", kCount, "Snapshots written"},
    {"snapshot_saved_bytes", kBytes, "State bytes of the snapshots written"},
    {"snapshot_save_failures", kCount, "Snapshot writes that failed"},
    {"aggregate_loads", kCount, "Aggregate loads that returned an aggregate"},
    {"aggregate_events_replayed", kCount, "Events replayed by aggregate loads"},
    {"aggregate_snapshot_restores", kCount, "Aggregate loads that started from a snapshot"},
    {"aggregate_saves", kCount, "Aggregate saves that appended"},
    {"aggregate_conflicts", kCount, "Aggregate saves refused by a conflict"},
    {"aggregate_retries", kCount, "Execute() re-runs after a conflict"},
    {"projection_events_applied", kCount, "Events applied by projections"},
    {"projection_batches", kCount, "Checkpoint commits of asynchronous projections"},
    {"projection_retries", kCount, "Retries of events a projection failed to apply"},
    {"projection_events_parked", kCount, "Events parked as dead letters"},
    {"projection_failures", kCount, "Projection runners that stopped failed"},
}};

constexpr std::array<StatisticsInfo, kHistogramCount> kHistogramInfo = {{
    {"append_latency", kMicros, "Append latency from enqueue to acknowledgement"},
    {"group_appends", kCount, "Append calls per group commit"},
    {"group_events", kCount, "Events written per group commit"},
    {"group_bytes", kBytes, "WriteBatch bytes per written group"},
    {"group_write_latency", kMicros, "Time of one group's RocksDB write (and WAL sync)"},
    {"aggregate_replayed_events", kCount, "Events replayed per aggregate load"},
    {"projection_lag", kCount, "Projection lag in positions after each checkpoint commit"},
    {"projection_batch_events", kCount, "Events per asynchronous checkpoint commit"},
}};

std::vector<uint64_t> MakeBounds() {
  std::vector<uint64_t> bounds;
  for (uint64_t v = 0; v <= 10; ++v) bounds.push_back(v);
  static constexpr uint64_t kSteps[] = {12, 14, 16, 18, 20, 25, 30, 35,
                                        40, 45, 50, 60, 70, 80, 90, 100};
  for (uint64_t scale = 1; scale <= 100'000'000'000; scale *= 10) {
    for (uint64_t step : kSteps) bounds.push_back(step * scale);
  }
  bounds.push_back(std::numeric_limits<uint64_t>::max());
  if (bounds.size() != kBuckets) std::abort();
  return bounds;
}

size_t ShardCount() {
  // A power of two, so that a CPU number maps to a shard with a mask.
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  size_t n = 1;
  while (n < cpus && n < kMaxShards) n *= 2;
  return n;
}

void UpdateMin(std::atomic<uint64_t>& slot, uint64_t value) {
  uint64_t current = slot.load(std::memory_order_relaxed);
  while (value < current &&
         !slot.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
  }
}

void UpdateMax(std::atomic<uint64_t>& slot, uint64_t value) {
  uint64_t current = slot.load(std::memory_order_relaxed);
  while (value > current &&
         !slot.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
  }
}

class StatisticsImpl final : public Statistics {
 public:
  StatisticsImpl();
  ~StatisticsImpl() override;

  void RecordTick(Ticker ticker, uint64_t count) override;
  void RecordInHistogram(Histogram histogram, uint64_t value) override;
  void Record(absl::Span<const TickerIncrement> ticks,
              absl::Span<const HistogramValue> values) override;
  uint64_t GetTickerCount(Ticker ticker) const override;
  HistogramData GetHistogramData(Histogram histogram) const override;
  void Reset() override;

 private:
  struct HistogramShard {
    std::array<std::atomic<uint64_t>, kBuckets> buckets;
    std::atomic<uint64_t> sum;
    std::atomic<uint64_t> min;
    std::atomic<uint64_t> max;
  };
  // Cache-line aligned so that two CPUs' shards never share a line.
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kTickerCount> tickers;
    std::array<HistogramShard, kHistogramCount> histograms;
  };

  // The shard of the CPU the calling thread runs on.
  Shard& LocalShard();
  // Records into `shard`, ignoring out-of-range ids.
  static void AddTick(Shard& shard, Ticker ticker, uint64_t count);
  void AddValue(Shard& shard, Histogram histogram, uint64_t value) const;
  // Index of the bucket `value` falls in.
  size_t BucketOf(uint64_t value) const;

  const size_t shard_mask_;  // Shard count - 1 (a power of two).
  std::unique_ptr<Shard[]> shards_;
  const std::vector<uint64_t>* bounds_;  // BucketBounds(), never freed.
};

// "_us" after the name of a histogram in microseconds, in ToString() (names
// of byte figures end in "_bytes" already).
std::string_view UnitSuffix(StatisticsUnit unit) {
  return unit == StatisticsUnit::kMicroseconds ? "_us" : "";
}

}  // namespace

static_assert(kTickerInfo.back().name.size() > 0, "every ticker needs an entry");
static_assert(kHistogramInfo.back().name.size() > 0, "every histogram needs an entry");

const StatisticsInfo& TickerInfo(Ticker ticker) {
  return kTickerInfo[static_cast<size_t>(ticker) % kTickerCount];
}

const StatisticsInfo& HistogramInfo(Histogram histogram) {
  return kHistogramInfo[static_cast<size_t>(histogram) % kHistogramCount];
}

const std::vector<uint64_t>& BucketBounds() {
  static const std::vector<uint64_t>* const bounds = new std::vector<uint64_t>(MakeBounds());
  return *bounds;
}

double HistogramData::Percentile(double percent) const {
  if (count == 0) return 0;
  const std::vector<uint64_t>& bounds = BucketBounds();
  const double rank = std::clamp(percent, 0.0, 100.0) / 100.0 * static_cast<double>(count);
  uint64_t before = 0;
  for (size_t i = 0; i < bucket_counts.size() && i < bounds.size(); ++i) {
    const uint64_t in_bucket = bucket_counts[i];
    if (in_bucket == 0) continue;
    if (static_cast<double>(before + in_bucket) >= rank) {
      // Values are integers: bucket i holds bounds[i-1]+1 .. bounds[i].
      // Spread its observations evenly over that range, so a bucket one
      // value wide answers exactly.
      const double low = i == 0 ? 0.0 : static_cast<double>(bounds[i - 1]) + 1.0;
      const double high = static_cast<double>(bounds[i]);
      const double fraction = (rank - static_cast<double>(before)) / in_bucket;
      const double estimate = low + std::max(0.0, fraction) * (high - low);
      return std::clamp(estimate, static_cast<double>(min), static_cast<double>(max));
    }
    before += in_bucket;
  }
  return static_cast<double>(max);
}

void Statistics::Record(absl::Span<const TickerIncrement> ticks,
                        absl::Span<const HistogramValue> values) {
  for (const TickerIncrement& t : ticks) RecordTick(t.ticker, t.count);
  for (const HistogramValue& v : values) RecordInHistogram(v.histogram, v.value);
}

std::string Statistics::ToString() const {
  std::string out;
  for (size_t i = 0; i < kTickerCount; ++i) {
    const auto ticker = static_cast<Ticker>(i);
    absl::StrAppend(
        &out, absl::string_view(TickerInfo(ticker).name.data(), TickerInfo(ticker).name.size()),
        " ", GetTickerCount(ticker), "\n");
  }
  for (size_t i = 0; i < kHistogramCount; ++i) {
    const auto histogram = static_cast<Histogram>(i);
    const StatisticsInfo& info = HistogramInfo(histogram);
    const HistogramData d = GetHistogramData(histogram);
    const std::string_view suffix = UnitSuffix(info.unit);
    absl::StrAppendFormat(&out,
                          "%s%s count=%d sum=%d avg=%.1f min=%d p50=%.1f p95=%.1f p99=%.1f "
                          "max=%d\n",
                          absl::string_view(info.name.data(), info.name.size()),
                          absl::string_view(suffix.data(), suffix.size()), d.count, d.sum,
                          d.average, d.min, d.p50, d.p95, d.p99, d.max);
  }
  return out;
}

namespace {

StatisticsImpl::StatisticsImpl() : shard_mask_(ShardCount() - 1) {
  const size_t shards = shard_mask_ + 1;
  shards_ = std::unique_ptr<Shard[]>(new Shard[shards]);
  bounds_ = &BucketBounds();
  Reset();
}

StatisticsImpl::~StatisticsImpl() = default;

StatisticsImpl::Shard& StatisticsImpl::LocalShard() {
  const int cpu = sched_getcpu();
  return shards_[cpu < 0 ? 0 : static_cast<size_t>(cpu) & shard_mask_];
}

size_t StatisticsImpl::BucketOf(uint64_t value) const {
  // First bound >= value; the last bound is UINT64_MAX, so always found.
  return static_cast<size_t>(std::lower_bound(bounds_->begin(), bounds_->end(), value) -
                             bounds_->begin());
}

void StatisticsImpl::AddTick(Shard& shard, Ticker ticker, uint64_t count) {
  const auto i = static_cast<size_t>(ticker);
  if (i >= kTickerCount) return;
  shard.tickers[i].fetch_add(count, std::memory_order_relaxed);
}

void StatisticsImpl::AddValue(Shard& shard, Histogram histogram, uint64_t value) const {
  const auto i = static_cast<size_t>(histogram);
  if (i >= kHistogramCount) return;
  HistogramShard& h = shard.histograms[i];
  h.buckets[BucketOf(value)].fetch_add(1, std::memory_order_relaxed);
  h.sum.fetch_add(value, std::memory_order_relaxed);
  UpdateMin(h.min, value);
  UpdateMax(h.max, value);
}

void StatisticsImpl::RecordTick(Ticker ticker, uint64_t count) {
  AddTick(LocalShard(), ticker, count);
}

void StatisticsImpl::RecordInHistogram(Histogram histogram, uint64_t value) {
  AddValue(LocalShard(), histogram, value);
}

void StatisticsImpl::Record(absl::Span<const TickerIncrement> ticks,
                            absl::Span<const HistogramValue> values) {
  Shard& shard = LocalShard();
  for (const TickerIncrement& t : ticks) AddTick(shard, t.ticker, t.count);
  for (const HistogramValue& v : values) AddValue(shard, v.histogram, v.value);
}

uint64_t StatisticsImpl::GetTickerCount(Ticker ticker) const {
  const auto i = static_cast<size_t>(ticker);
  if (i >= kTickerCount) return 0;
  uint64_t total = 0;
  for (size_t s = 0; s <= shard_mask_; ++s) {
    total += shards_[s].tickers[i].load(std::memory_order_relaxed);
  }
  return total;
}

HistogramData StatisticsImpl::GetHistogramData(Histogram histogram) const {
  HistogramData d;
  const auto i = static_cast<size_t>(histogram);
  if (i >= kHistogramCount) return d;
  d.bucket_counts.assign(kBuckets, 0);
  uint64_t min = std::numeric_limits<uint64_t>::max();
  uint64_t max = 0;
  for (size_t s = 0; s <= shard_mask_; ++s) {
    const HistogramShard& h = shards_[s].histograms[i];
    for (size_t b = 0; b < kBuckets; ++b) {
      const uint64_t n = h.buckets[b].load(std::memory_order_relaxed);
      d.bucket_counts[b] += n;
      d.count += n;
    }
    d.sum += h.sum.load(std::memory_order_relaxed);
    min = std::min(min, h.min.load(std::memory_order_relaxed));
    max = std::max(max, h.max.load(std::memory_order_relaxed));
  }
  if (d.count == 0) return d;
  d.min = min;
  d.max = max;
  d.average = static_cast<double>(d.sum) / static_cast<double>(d.count);
  d.p50 = d.Percentile(50);
  d.p95 = d.Percentile(95);
  d.p99 = d.Percentile(99);
  return d;
}

void StatisticsImpl::Reset() {
  for (size_t s = 0; s <= shard_mask_; ++s) {
    Shard& shard = shards_[s];
    for (auto& t : shard.tickers) t.store(0, std::memory_order_relaxed);
    for (HistogramShard& h : shard.histograms) {
      for (auto& b : h.buckets) b.store(0, std::memory_order_relaxed);
      h.sum.store(0, std::memory_order_relaxed);
      h.min.store(std::numeric_limits<uint64_t>::max(), std::memory_order_relaxed);
      h.max.store(0, std::memory_order_relaxed);
    }
  }
}

}  // namespace

std::shared_ptr<Statistics> CreateStatistics() { return std::make_shared<StatisticsImpl>(); }

}  // namespace annals
