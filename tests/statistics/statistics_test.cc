// The Statistics object on its own: tickers, histograms on known inputs
// (exact count/sum/min/max, percentiles within their bucket), metadata,
// Reset(), ToString(), and no lost counts under concurrent recording.

#include "annals/statistics.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

constexpr size_t kTickers = static_cast<size_t>(Ticker::kTickerCount);
constexpr size_t kHistograms = static_cast<size_t>(Histogram::kHistogramCount);

TEST(StatisticsTest, StartsEmpty) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  for (size_t i = 0; i < kTickers; ++i) {
    EXPECT_EQ(stats->GetTickerCount(static_cast<Ticker>(i)), 0u) << i;
  }
  for (size_t i = 0; i < kHistograms; ++i) {
    const HistogramData d = stats->GetHistogramData(static_cast<Histogram>(i));
    EXPECT_EQ(d.count, 0u);
    EXPECT_EQ(d.sum, 0u);
    EXPECT_EQ(d.min, 0u);
    EXPECT_EQ(d.max, 0u);
    EXPECT_EQ(d.p50, 0.0);
    EXPECT_EQ(d.bucket_counts.size(), BucketBounds().size());
  }
}

TEST(StatisticsTest, TickersAddUpAndStayApart) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  stats->RecordTick(Ticker::kAppends, 3);
  stats->RecordTick(Ticker::kAppends, 4);
  stats->RecordTick(Ticker::kEventsAppended, 1);
  RecordTick(stats.get(), Ticker::kWalSyncs);
  EXPECT_EQ(stats->GetTickerCount(Ticker::kAppends), 7u);
  EXPECT_EQ(stats->GetTickerCount(Ticker::kEventsAppended), 1u);
  EXPECT_EQ(stats->GetTickerCount(Ticker::kWalSyncs), 1u);
  EXPECT_EQ(stats->GetTickerCount(Ticker::kAppendReplays), 0u);
}

TEST(StatisticsTest, RecordIsTheSameAsSingleCalls) {
  std::shared_ptr<Statistics> batched = CreateStatistics();
  std::shared_ptr<Statistics> single = CreateStatistics();
  batched->Record({{Ticker::kAppends, 2}, {Ticker::kWalSyncs, 1}},
                  {{Histogram::kGroupEvents, 7}, {Histogram::kGroupEvents, 9}});
  batched->Record({}, {});
  single->RecordTick(Ticker::kAppends, 2);
  single->RecordTick(Ticker::kWalSyncs, 1);
  single->RecordInHistogram(Histogram::kGroupEvents, 7);
  single->RecordInHistogram(Histogram::kGroupEvents, 9);
  EXPECT_EQ(batched->ToString(), single->ToString());
  EXPECT_EQ(batched->GetHistogramData(Histogram::kGroupEvents).sum, 16u);
}

TEST(StatisticsTest, NullStatisticsRecordNothingAndDoNotCrash) {
  RecordTick(nullptr, Ticker::kAppends, 5);
  RecordInHistogram(nullptr, Histogram::kAppendLatency, 5);
  // Out-of-range ids are ignored, never a write past the arrays.
  std::shared_ptr<Statistics> stats = CreateStatistics();
  stats->RecordTick(Ticker::kTickerCount, 1);
  stats->RecordInHistogram(Histogram::kHistogramCount, 1);
  stats->Record({{Ticker::kTickerCount, 1}}, {{Histogram::kHistogramCount, 1}});
  EXPECT_EQ(stats->GetTickerCount(Ticker::kTickerCount), 0u);
  EXPECT_EQ(stats->GetHistogramData(Histogram::kHistogramCount).count, 0u);
}

TEST(StatisticsTest, BucketBoundsAscendAndEndAtInfinity) {
  const std::vector<uint64_t>& bounds = BucketBounds();
  ASSERT_GE(bounds.size(), 12u);
  for (uint64_t v = 0; v <= 10; ++v) EXPECT_EQ(bounds[v], v);
  for (size_t i = 1; i < bounds.size(); ++i) EXPECT_LT(bounds[i - 1], bounds[i]) << i;
  EXPECT_EQ(bounds.back(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(bounds[bounds.size() - 2], 10'000'000'000'000u);
}

TEST(StatisticsTest, HistogramOfOneToHundred) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  for (uint64_t v = 1; v <= 100; ++v) stats->RecordInHistogram(Histogram::kGroupEvents, v);
  const HistogramData d = stats->GetHistogramData(Histogram::kGroupEvents);
  EXPECT_EQ(d.count, 100u);
  EXPECT_EQ(d.sum, 5050u);
  EXPECT_EQ(d.min, 1u);
  EXPECT_EQ(d.max, 100u);
  EXPECT_DOUBLE_EQ(d.average, 50.5);
  // 50 falls on a bucket bound (45, 50]: exact. 95 and 99 lie in (90, 100],
  // which holds 91..100: interpolated over that range.
  EXPECT_DOUBLE_EQ(d.p50, 50.0);
  EXPECT_DOUBLE_EQ(d.p95, 95.5);
  EXPECT_DOUBLE_EQ(d.p99, 99.1);
  EXPECT_DOUBLE_EQ(d.Percentile(100), 100.0);
  EXPECT_DOUBLE_EQ(d.Percentile(10), 10.0);
  EXPECT_DOUBLE_EQ(d.Percentile(1), 1.0);
  uint64_t total = 0;
  for (uint64_t n : d.bucket_counts) total += n;
  EXPECT_EQ(total, 100u);
  // Ten single-value buckets 1..10 hold one value each.
  for (size_t b = 1; b <= 10; ++b) EXPECT_EQ(d.bucket_counts[b], 1u) << b;
  EXPECT_EQ(d.bucket_counts[0], 0u);
}

TEST(StatisticsTest, SmallIntegersAreExact) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  // 90 values of 1, 9 of 4, one of 7: p50 = 1, p95 = 4, p99 = 4, max 7.
  for (int i = 0; i < 90; ++i) stats->RecordInHistogram(Histogram::kGroupAppends, 1);
  for (int i = 0; i < 9; ++i) stats->RecordInHistogram(Histogram::kGroupAppends, 4);
  stats->RecordInHistogram(Histogram::kGroupAppends, 7);
  const HistogramData d = stats->GetHistogramData(Histogram::kGroupAppends);
  EXPECT_EQ(d.count, 100u);
  EXPECT_EQ(d.sum, 90u + 36u + 7u);
  EXPECT_DOUBLE_EQ(d.p50, 1.0);
  EXPECT_DOUBLE_EQ(d.p95, 4.0);
  EXPECT_DOUBLE_EQ(d.p99, 4.0);
  EXPECT_DOUBLE_EQ(d.Percentile(100), 7.0);
  EXPECT_EQ(d.min, 1u);
  EXPECT_EQ(d.max, 7u);
}

TEST(StatisticsTest, PercentilesStayWithinTheirBucketForLargeValues) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  // Latencies of 1000 us ... 2000 us in steps of 1: the true p50 is 1500.
  for (uint64_t v = 1000; v <= 2000; ++v) stats->RecordInHistogram(Histogram::kAppendLatency, v);
  const HistogramData d = stats->GetHistogramData(Histogram::kAppendLatency);
  EXPECT_EQ(d.count, 1001u);
  EXPECT_EQ(d.sum, 1001u * 1500u);
  EXPECT_EQ(d.min, 1000u);
  EXPECT_EQ(d.max, 2000u);
  // The bucket holding the p50 is (1400, 1600]: the estimate lies in it.
  EXPECT_GT(d.p50, 1400.0);
  EXPECT_LE(d.p50, 1600.0);
  EXPECT_GT(d.p99, 1800.0);
  EXPECT_LE(d.p99, 2000.0);
  // Values beyond every finite bound land in the last bucket, and the
  // estimate never exceeds the maximum seen.
  stats->RecordInHistogram(Histogram::kGroupBytes, std::numeric_limits<uint64_t>::max());
  const HistogramData huge = stats->GetHistogramData(Histogram::kGroupBytes);
  EXPECT_EQ(huge.bucket_counts.back(), 1u);
  EXPECT_EQ(huge.p50, static_cast<double>(std::numeric_limits<uint64_t>::max()));
}

TEST(StatisticsTest, ZeroIsAValue) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  stats->RecordInHistogram(Histogram::kProjectionLag, 0);
  stats->RecordInHistogram(Histogram::kProjectionLag, 0);
  const HistogramData d = stats->GetHistogramData(Histogram::kProjectionLag);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.sum, 0u);
  EXPECT_EQ(d.min, 0u);
  EXPECT_EQ(d.max, 0u);
  EXPECT_EQ(d.bucket_counts[0], 2u);
}

TEST(StatisticsTest, ResetEmptiesEverything) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  stats->RecordTick(Ticker::kAppends, 9);
  stats->RecordInHistogram(Histogram::kAppendLatency, 40);
  stats->Reset();
  EXPECT_EQ(stats->GetTickerCount(Ticker::kAppends), 0u);
  const HistogramData d = stats->GetHistogramData(Histogram::kAppendLatency);
  EXPECT_EQ(d.count, 0u);
  EXPECT_EQ(d.min, 0u);
  // And records again from there (min not stuck at the old value).
  stats->RecordInHistogram(Histogram::kAppendLatency, 50);
  EXPECT_EQ(stats->GetHistogramData(Histogram::kAppendLatency).min, 50u);
}

TEST(StatisticsTest, EveryIdHasAUniqueNameAndHelp) {
  std::set<std::string> names;
  for (size_t i = 0; i < kTickers; ++i) {
    const StatisticsInfo& info = TickerInfo(static_cast<Ticker>(i));
    EXPECT_FALSE(info.name.empty()) << "ticker " << i;
    EXPECT_FALSE(info.help.empty()) << info.name;
    EXPECT_TRUE(names.insert(std::string(info.name)).second) << info.name;
    EXPECT_EQ(info.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string::npos)
        << info.name;
  }
  for (size_t i = 0; i < kHistograms; ++i) {
    const StatisticsInfo& info = HistogramInfo(static_cast<Histogram>(i));
    EXPECT_FALSE(info.name.empty()) << "histogram " << i;
    EXPECT_FALSE(info.help.empty()) << info.name;
    EXPECT_TRUE(names.insert(std::string(info.name)).second) << info.name;
  }
  // The naming rule exporters rely on (docs/statistics.md): byte figures end
  // in "_bytes", durations in "_latency" (microseconds), and nothing else does.
  auto check_rule = [](const StatisticsInfo& info) {
    const bool bytes = info.name.ends_with("_bytes");
    const bool latency = info.name.ends_with("_latency");
    EXPECT_EQ(bytes, info.unit == StatisticsUnit::kBytes) << info.name;
    EXPECT_EQ(latency, info.unit == StatisticsUnit::kMicroseconds) << info.name;
  };
  for (size_t i = 0; i < kTickers; ++i) check_rule(TickerInfo(static_cast<Ticker>(i)));
  for (size_t i = 0; i < kHistograms; ++i) check_rule(HistogramInfo(static_cast<Histogram>(i)));
  EXPECT_EQ(TickerInfo(Ticker::kWalSyncs).name, "wal_syncs");
  EXPECT_EQ(HistogramInfo(Histogram::kAppendLatency).name, "append_latency");
  EXPECT_EQ(HistogramInfo(Histogram::kAppendLatency).unit, StatisticsUnit::kMicroseconds);
  EXPECT_EQ(TickerInfo(Ticker::kBytesWritten).unit, StatisticsUnit::kBytes);
  EXPECT_EQ(HistogramInfo(Histogram::kProjectionLag).unit, StatisticsUnit::kCount);
}

TEST(StatisticsTest, ToStringListsEveryTickerAndHistogram) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  stats->RecordTick(Ticker::kAppends, 12);
  stats->RecordInHistogram(Histogram::kAppendLatency, 3);
  const std::string text = stats->ToString();
  EXPECT_TRUE(text.starts_with("appends 12\n")) << text;
  EXPECT_THAT(text, HasSubstr("append_latency_us count=1 sum=3 avg=3.0 min=3 p50=3.0"));
  EXPECT_THAT(text, HasSubstr("\ngroup_bytes count=0 "));
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, kTickers + kHistograms);
}

// No lost counts: T threads record concurrently into the same tickers and
// histograms; the totals are exact. (Run under TSan by scripts/test.sh.)
TEST(StatisticsTest, ConcurrentRecordingLosesNothing) {
  std::shared_ptr<Statistics> stats = CreateStatistics();
  constexpr int kThreads = 8;
  constexpr uint64_t kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) {
        stats->RecordTick(Ticker::kEventsAppended, 2);
        stats->RecordInHistogram(Histogram::kGroupEvents, (i % 100) + t);
      }
    });
  }
  // A reader during the writes sees growing, never decreasing, totals.
  uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    const uint64_t now = stats->GetTickerCount(Ticker::kEventsAppended);
    EXPECT_GE(now, last);
    last = now;
    (void)stats->GetHistogramData(Histogram::kGroupEvents);
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(stats->GetTickerCount(Ticker::kEventsAppended), kThreads * kPerThread * 2);
  const HistogramData d = stats->GetHistogramData(Histogram::kGroupEvents);
  EXPECT_EQ(d.count, kThreads * kPerThread);
  // Sum over threads of sum over i of (i % 100 + t).
  const uint64_t per_thread_base = (kPerThread / 100) * 4950;
  uint64_t expected = 0;
  for (int t = 0; t < kThreads; ++t) expected += per_thread_base + kPerThread * t;
  EXPECT_EQ(d.sum, expected);
  EXPECT_EQ(d.min, 0u);
  EXPECT_EQ(d.max, 99u + kThreads - 1);
}

}  // namespace
}  // namespace annals
