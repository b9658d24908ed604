// What the store records into Options::statistics: exact counts for known
// workloads (appends, events, bytes, groups of known shapes, WAL syncs,
// failures by kind, reads), no lost counts under concurrent appenders, and
// nothing recorded (and nothing broken) without a Statistics object.
//
// Group shapes are made exact with a commit hook that holds the committer
// inside one group while the test waits, through
// StoreAccess::TEST_QueuedAppends(), until the other appends queued.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "annals/statistics.h"
#include "eventstore/internal/store_access.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/statistics/statistics_test_util.h"

namespace annals {
namespace {

// Every event of these tests: type "T", a 100-byte payload, no caller id.
// Its size as Options::max_append_bytes counts it: 16 (id) + 1 + 100.
constexpr uint64_t kEventBytes = 16 + 1 + 100;

std::vector<NewEvent> Events(size_t n, std::string_view type = "T") {
  static const std::string payload(100, 'p');
  std::vector<NewEvent> events(n);
  for (NewEvent& e : events) {
    e.type = type;
    e.payload = payload;
  }
  return events;
}

class StoreStatisticsTest : public ::testing::Test {
 protected:
  void Open(Durability durability) {
    store_ = testing::OpenWithStatistics(dir_.Sub("store"), stats_, durability);
    ASSERT_NE(store_, nullptr);
  }

  uint64_t Tick(Ticker t) const { return stats_->GetTickerCount(t); }
  HistogramData Hist(Histogram h) const { return stats_->GetHistogramData(h); }

  testing::TempDir dir_;
  std::shared_ptr<Statistics> stats_ = CreateStatistics();
  std::unique_ptr<EventStore> store_;
};

TEST_F(StoreStatisticsTest, SequentialDurableAppendsCountExactly) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kSync));
  EXPECT_EQ(store_->options().statistics, stats_);
  constexpr uint64_t kAppends = 20, kPerAppend = 3;
  for (uint64_t i = 0; i < kAppends; ++i) {
    auto r =
        store_->Append("s-" + std::to_string(i % 4), ExpectedVersion::Any(), Events(kPerAppend));
    ASSERT_TRUE(r.ok()) << r.status();
  }
  EXPECT_EQ(Tick(Ticker::kAppends), kAppends);
  EXPECT_EQ(Tick(Ticker::kAppendReplays), 0u);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), kAppends * kPerAppend);
  EXPECT_EQ(Tick(Ticker::kEventBytesAppended), kAppends * kPerAppend * kEventBytes);
  // One appender at a time: every append is its own group, its own batch,
  // and with kSync its own WAL sync.
  EXPECT_EQ(Tick(Ticker::kCommitGroups), kAppends);
  EXPECT_EQ(Tick(Ticker::kBatchesWritten), kAppends);
  EXPECT_EQ(Tick(Ticker::kWalSyncs), kAppends);
  EXPECT_EQ(Tick(Ticker::kBatchWriteFailures), 0u);

  const HistogramData appends = Hist(Histogram::kGroupAppends);
  EXPECT_EQ(appends.count, kAppends);
  EXPECT_EQ(appends.sum, kAppends);
  EXPECT_EQ(appends.min, 1u);
  EXPECT_EQ(appends.max, 1u);
  const HistogramData events = Hist(Histogram::kGroupEvents);
  EXPECT_EQ(events.count, kAppends);
  EXPECT_EQ(events.sum, kAppends * kPerAppend);
  EXPECT_EQ(events.min, kPerAppend);
  EXPECT_EQ(events.max, kPerAppend);
  EXPECT_DOUBLE_EQ(events.p50, static_cast<double>(kPerAppend));

  EXPECT_EQ(Hist(Histogram::kAppendLatency).count, kAppends);
  EXPECT_EQ(Hist(Histogram::kGroupWriteLatency).count, kAppends);
  // The batches carry the events plus index, heads, ids and commit record.
  const HistogramData bytes = Hist(Histogram::kGroupBytes);
  EXPECT_EQ(bytes.count, kAppends);
  EXPECT_EQ(bytes.sum, Tick(Ticker::kBytesWritten));
  EXPECT_GT(Tick(Ticker::kBytesWritten), kAppends * kPerAppend * kEventBytes);
  // Latency covers the synced write, so it is at least the write's time.
  EXPECT_GE(Hist(Histogram::kAppendLatency).sum, Hist(Histogram::kGroupWriteLatency).sum);
  // Appending reads nothing.
  EXPECT_EQ(Tick(Ticker::kEventsRead), 0u);
}

TEST_F(StoreStatisticsTest, BufferedAppendsSyncOnlyOnSync) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kBuffered));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store_->Append("s", ExpectedVersion::Any(), Events(2)).ok());
  }
  EXPECT_EQ(Tick(Ticker::kBatchesWritten), 5u);
  EXPECT_EQ(Tick(Ticker::kWalSyncs), 0u);
  ASSERT_TRUE(store_->Sync().ok());
  EXPECT_EQ(Tick(Ticker::kWalSyncs), 1u);
}

// Holds the committer in the first event of type "Gate" until released;
// throws on events of type "Throw".
class GateHook : public internal::CommitHook, public testing::Gate {
 public:
  absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch& batch) override {
    (void)batch;
    if (e.type == "Throw") throw std::runtime_error("projection bug");
    if (e.type == "Gate") Pass();
    return absl::OkStatus();
  }
};

TEST_F(StoreStatisticsTest, GroupShapesAreCountedExactly) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kSync));
  GateHook hook;
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  // Group 1: one append of 2 events (a "Gate" and a "T") that holds the
  // committer. Group 2: the kWaiting appends of 3 events that queue behind it.
  constexpr uint64_t kWaiting = 5, kPerAppend = 3;
  std::thread gate([&] {
    std::vector<NewEvent> events = Events(2);
    events[0].type = "Gate";
    EXPECT_TRUE(store_->Append("gate", ExpectedVersion::Any(), events).ok());
  });
  hook.WaitUntilEntered();
  std::vector<std::thread> waiting;
  for (uint64_t i = 0; i < kWaiting; ++i) {
    waiting.emplace_back([&, i] {
      auto r =
          store_->Append("w-" + std::to_string(i), ExpectedVersion::NoStream(), Events(kPerAppend));
      EXPECT_TRUE(r.ok()) << r.status();
    });
  }
  while (internal::StoreAccess::TEST_QueuedAppends(*store_) < kWaiting) std::this_thread::yield();
  hook.Release();
  gate.join();
  for (std::thread& t : waiting) t.join();
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);

  EXPECT_EQ(Tick(Ticker::kCommitGroups), 2u);
  EXPECT_EQ(Tick(Ticker::kBatchesWritten), 2u);
  EXPECT_EQ(Tick(Ticker::kWalSyncs), 2u);  // One fsync for the 5 waiting appends.
  EXPECT_EQ(Tick(Ticker::kAppends), 1 + kWaiting);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), 2 + kWaiting * kPerAppend);
  EXPECT_EQ(Tick(Ticker::kEventBytesAppended),
            (2 + kWaiting * kPerAppend) * kEventBytes + (4 - 1));  // "Gate" is 3 bytes longer.
  const HistogramData appends = Hist(Histogram::kGroupAppends);
  EXPECT_EQ(appends.count, 2u);
  EXPECT_EQ(appends.sum, 1 + kWaiting);
  EXPECT_EQ(appends.min, 1u);
  EXPECT_EQ(appends.max, kWaiting);
  const HistogramData events = Hist(Histogram::kGroupEvents);
  EXPECT_EQ(events.count, 2u);
  EXPECT_EQ(events.min, 2u);
  EXPECT_EQ(events.max, kWaiting * kPerAppend);
  EXPECT_EQ(Hist(Histogram::kAppendLatency).count, 1 + kWaiting);
}

TEST_F(StoreStatisticsTest, FailuresAreCountedByKind) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kBuffered));
  std::vector<NewEvent> with_id = Events(1);
  with_id[0].id = Uuid::V7();
  ASSERT_TRUE(store_->Append("s", ExpectedVersion::NoStream(), with_id).ok());  // ok
  // Replay of the same event: acknowledged, nothing written.
  auto replay = store_->Append("s", ExpectedVersion::NoStream(), with_id);
  ASSERT_TRUE(replay.ok() && replay->idempotent_replay);
  // Wrong expected version.
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Exact(7), Events(1)).status().code(),
            absl::StatusCode::kAborted);
  // Bad input, refused before it is queued.
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), Events(1, "")).status().code(),
            absl::StatusCode::kInvalidArgument);
  // The same id for other content.
  std::vector<NewEvent> changed = with_id;
  changed[0].payload = "other";
  EXPECT_EQ(store_->Append("t", ExpectedVersion::Any(), changed).status().code(),
            absl::StatusCode::kAlreadyExists);
  // A commit hook that throws: kInternal.
  GateHook hook;
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), Events(1, "Throw")).status().code(),
            absl::StatusCode::kInternal);
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
  // A failed group write: kUnknown, then the store refuses appends.
  internal::StoreAccess::TEST_FailNextWrite(*store_);
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), Events(1)).status().code(),
            absl::StatusCode::kUnknown);
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), Events(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);

  EXPECT_EQ(Tick(Ticker::kAppends), 2u);
  EXPECT_EQ(Tick(Ticker::kAppendReplays), 1u);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedConflict), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedInvalid), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedDuplicateId), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedInternal), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedWrite), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedRefused), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedOther), 0u);
  EXPECT_EQ(Tick(Ticker::kBatchWriteFailures), 1u);
  // Groups: ok, replay, conflict, duplicate, throw, failed write. The bad
  // input and the refused append never reached the queue.
  EXPECT_EQ(Tick(Ticker::kCommitGroups), 6u);
  EXPECT_EQ(Hist(Histogram::kAppendLatency).count, 6u);
  EXPECT_EQ(Tick(Ticker::kBatchesWritten), 1u);
  // Groups that wrote nothing record 0 events.
  EXPECT_EQ(Hist(Histogram::kGroupEvents).sum, 1u);
  EXPECT_EQ(Hist(Histogram::kGroupEvents).bucket_counts[0], 5u);
}

TEST_F(StoreStatisticsTest, ReadsCountCallsAndEvents) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kBuffered));
  // Three streams of four events; stream s1's events are of type "U".
  for (const std::string_view stream : {"s0", "s1", "s2"}) {
    ASSERT_TRUE(
        store_->Append(stream, ExpectedVersion::NoStream(), Events(4, stream == "s1" ? "U" : "T"))
            .ok());
  }
  ASSERT_TRUE(store_->ReadStream("s0").ok());                                 // 4 events
  ASSERT_TRUE(store_->ReadStream("s2", ReadStreamOptions{.limit = 2}).ok());  // 2
  ASSERT_TRUE(store_->ScanStream("s1", {}, [](const EventView&) { return false; }).ok());  // 1
  EXPECT_EQ(store_->ReadStream("missing").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Tick(Ticker::kStreamReads), 4u);
  EXPECT_EQ(Tick(Ticker::kEventsRead), 7u);
  EXPECT_EQ(Tick(Ticker::kAllScans), 0u);

  auto typed = store_->ReadAll(ReadAllOptions{.event_types = {"U"}});  // decodes 12, hands out 4
  ASSERT_TRUE(typed.ok());
  EXPECT_EQ(typed->size(), 4u);
  ASSERT_TRUE(store_->ReadAll(ReadAllOptions{.from_position = 11}).ok());  // 2 of 2
  EXPECT_EQ(Tick(Ticker::kAllScans), 2u);
  EXPECT_EQ(Tick(Ticker::kAllRecordsScanned), 14u);
  EXPECT_EQ(Tick(Ticker::kEventsRead), 7u + 4u + 2u);
}

// No lost counts: kThreads appenders at once, each kPerThread appends of one
// event to its own stream. Group shapes vary from run to run; the totals
// do not. (Also run under TSan: scripts/test.sh, tsan stage.)
TEST_F(StoreStatisticsTest, ConcurrentAppendersLoseNoCounts) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kBuffered));
  constexpr uint64_t kThreads = 8, kPerThread = 150;
  std::atomic<uint64_t> finished{0};
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string stream = "c-" + std::to_string(t);
      for (uint64_t i = 0; i < kPerThread; ++i) {
        auto r = store_->Append(stream, ExpectedVersion::Exact(i), Events(1));
        EXPECT_TRUE(r.ok()) << r.status();
      }
      finished.fetch_add(1);
    });
  }
  // Reading while appending is safe and sees growing counts.
  uint64_t seen = 0;
  while (finished.load() < kThreads) {
    const uint64_t now = Tick(Ticker::kAppends);
    EXPECT_GE(now, seen);
    seen = now;
    std::this_thread::yield();
  }
  for (std::thread& t : threads) t.join();
  constexpr uint64_t kTotal = kThreads * kPerThread;
  EXPECT_EQ(Tick(Ticker::kAppends), kTotal);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), kTotal);
  EXPECT_EQ(Tick(Ticker::kEventBytesAppended), kTotal * kEventBytes);
  EXPECT_EQ(Hist(Histogram::kAppendLatency).count, kTotal);
  const HistogramData appends = Hist(Histogram::kGroupAppends);
  EXPECT_EQ(appends.sum, kTotal);
  EXPECT_EQ(appends.count, Tick(Ticker::kCommitGroups));
  EXPECT_EQ(Tick(Ticker::kBatchesWritten), Tick(Ticker::kCommitGroups));
  EXPECT_EQ(Hist(Histogram::kGroupEvents).sum, kTotal);
  EXPECT_LE(appends.max, kThreads);
  EXPECT_EQ(store_->last_position(), kTotal);
}

// A service's own Statistics (here: one that keeps only tickers, in a map)
// gets the store's figures through the interface; Record()'s default
// implementation forwards to the single calls.
class TickerMap final : public Statistics {
 public:
  void RecordTick(Ticker ticker, uint64_t count) override {
    std::lock_guard lock(mu_);
    ticks_[ticker] += count;
  }
  void RecordInHistogram(Histogram histogram, uint64_t value) override {
    std::lock_guard lock(mu_);
    ++observations_[histogram];
    (void)value;
  }
  uint64_t GetTickerCount(Ticker ticker) const override {
    std::lock_guard lock(mu_);
    auto it = ticks_.find(ticker);
    return it == ticks_.end() ? 0 : it->second;
  }
  HistogramData GetHistogramData(Histogram histogram) const override {
    std::lock_guard lock(mu_);
    HistogramData d;
    auto it = observations_.find(histogram);
    d.count = it == observations_.end() ? 0 : it->second;
    return d;
  }
  void Reset() override {}

 private:
  mutable std::mutex mu_;
  std::map<Ticker, uint64_t> ticks_;
  std::map<Histogram, uint64_t> observations_;
};

TEST_F(StoreStatisticsTest, AServicesOwnImplementationReceivesTheFigures) {
  auto mine = std::make_shared<TickerMap>();
  std::unique_ptr<EventStore> store = testing::OpenWithStatistics(dir_.Sub("own"), mine);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), Events(2)).ok());
  }
  EXPECT_EQ(mine->GetTickerCount(Ticker::kAppends), 3u);
  EXPECT_EQ(mine->GetTickerCount(Ticker::kEventsAppended), 6u);
  EXPECT_EQ(mine->GetHistogramData(Histogram::kAppendLatency).count, 3u);
  EXPECT_EQ(mine->GetHistogramData(Histogram::kGroupEvents).count, 3u);
  EXPECT_NE(mine->ToString().find("events_appended 6\n"), std::string::npos);
}

TEST_F(StoreStatisticsTest, StoresSharingOneObjectCountTogether) {
  ASSERT_NO_FATAL_FAILURE(Open(Durability::kBuffered));
  std::unique_ptr<EventStore> other = testing::OpenWithStatistics(dir_.Sub("other"), stats_);
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(store_->Append("s", ExpectedVersion::Any(), Events(2)).ok());
  ASSERT_TRUE(other->Append("s", ExpectedVersion::Any(), Events(3)).ok());
  EXPECT_EQ(Tick(Ticker::kAppends), 2u);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), 5u);
}

TEST_F(StoreStatisticsTest, WithoutStatisticsNothingIsRecordedAndAllWorks) {
  Options options;
  options.durability = Durability::kBuffered;
  ASSERT_EQ(options.statistics, nullptr);
  auto store = EventStore::Open(dir_.Sub("plain"), options);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->options().statistics, nullptr);
  ASSERT_TRUE((*store)->Append("s", ExpectedVersion::NoStream(), Events(3)).ok());
  EXPECT_EQ((*store)->Append("s", ExpectedVersion::NoStream(), Events(1)).status().code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE((*store)->Sync().ok());
  auto read = (*store)->ReadStream("s");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->size(), 3u);
  auto all = (*store)->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  // The fixture's object, attached to no store, saw none of it.
  EXPECT_EQ(stats_->ToString(), CreateStatistics()->ToString());
}

}  // namespace
}  // namespace annals
