// What projection runners record into the store's Options::statistics:
// events applied, checkpoint commits and their sizes, the lag left after each
// commit (down to 0 once caught up), retries, parked events and failed
// runners; inline runners count the events of written groups only.

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/statistics.h"
#include "eventstore/internal/store_access.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"
#include "tests/statistics/statistics_test_util.h"

namespace annals {
namespace {

using testing::CounterProjection;

// CounterProjection, but Apply() fails on events of type "Bad", and on the
// first event of type "Gate" waits until Release() (holding the committer,
// when inline).
class GatedProjection : public CounterProjection, public ::annals::testing::Gate {
 public:
  GatedProjection() : CounterProjection("gated") {}
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    if (e.type == "Bad") return absl::InvalidArgumentError("cannot project Bad");
    if (e.type == "Gate") Pass();
    return CounterProjection::Apply(e, w);
  }
};

class ProjectionStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = ::annals::testing::OpenWithStatistics(dir_.Sub("store"), stats_);
    ASSERT_NE(store_, nullptr);
  }

  absl::Status Append(std::string_view stream, std::string_view type, size_t n = 1) {
    std::vector<NewEvent> events(n, NewEvent{.type = type, .payload = "{}"});
    return store_->Append(stream, ExpectedVersion::Any(), events).status();
  }

  uint64_t Tick(Ticker t) const { return stats_->GetTickerCount(t); }
  HistogramData Hist(Histogram h) const { return stats_->GetHistogramData(h); }

  ::annals::testing::TempDir dir_;
  std::shared_ptr<Statistics> stats_ = CreateStatistics();
  std::unique_ptr<EventStore> store_;
};

TEST_F(ProjectionStatisticsTest, CatchUpCountsBatchesAndLagReachesZero) {
  // Ten events, two of another stream prefix the projection skips; batches
  // of four: the checkpoint moves 4, 4, 2 and leaves a lag of 6, 2, 0.
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(Append("p-1", "T").ok());
  ASSERT_TRUE(Append("q-1", "T", 2).ok());
  ProjectionOptions options;
  options.batch_events = 4;
  auto runner = ProjectionRunner::Start(
      *store_, std::make_shared<CounterProjection>("counter", std::vector<std::string>{}, "p-"),
      options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->WaitForPosition(10, absl::Seconds(30)));
  (*runner)->Stop();

  EXPECT_EQ(Tick(Ticker::kProjectionEventsApplied), 8u);
  EXPECT_EQ(Tick(Ticker::kProjectionBatches), 3u);
  const HistogramData moved = Hist(Histogram::kProjectionBatchEvents);
  EXPECT_EQ(moved.count, 3u);
  EXPECT_EQ(moved.sum, 10u);
  EXPECT_EQ(moved.min, 2u);
  EXPECT_EQ(moved.max, 4u);
  const HistogramData lag = Hist(Histogram::kProjectionLag);
  EXPECT_EQ(lag.count, 3u);
  EXPECT_EQ(lag.sum, 6u + 2u + 0u);
  EXPECT_EQ(lag.max, 6u);
  EXPECT_EQ(lag.min, 0u);  // Caught up: the last commit left no lag.
  EXPECT_EQ((*runner)->status().lag, 0u);
  // The runner read the log through the store: its scans are counted too.
  EXPECT_GE(Tick(Ticker::kAllScans), 3u);
  EXPECT_EQ(Tick(Ticker::kProjectionRetries), 0u);
  EXPECT_EQ(Tick(Ticker::kProjectionFailures), 0u);
}

TEST_F(ProjectionStatisticsTest, RetriesAndParkedEventsAreCounted) {
  auto projection = std::make_shared<GatedProjection>();
  ProjectionOptions options;
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.on_failure = FailurePolicy::kPark;
  ASSERT_TRUE(Append("s", "T").ok());
  ASSERT_TRUE(Append("s", "Bad").ok());
  ASSERT_TRUE(Append("s", "T").ok());
  auto runner = ProjectionRunner::Start(*store_, projection, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->WaitForPosition(3, absl::Seconds(30)));
  (*runner)->Stop();
  EXPECT_EQ((*runner)->status().parked, 1u);
  EXPECT_EQ(Tick(Ticker::kProjectionRetries), 2u);  // Attempts 2 and 3.
  EXPECT_EQ(Tick(Ticker::kProjectionEventsParked), 1u);
  EXPECT_EQ(Tick(Ticker::kProjectionEventsApplied), 2u);
  EXPECT_EQ(Tick(Ticker::kProjectionFailures), 0u);
}

TEST_F(ProjectionStatisticsTest, AFailedRunnerIsCounted) {
  ProjectionOptions options;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.on_failure = FailurePolicy::kStop;
  ASSERT_TRUE(Append("s", "Bad").ok());
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<GatedProjection>(), options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_FALSE((*runner)->WaitForPosition(1, absl::Seconds(30)));
  EXPECT_EQ((*runner)->status().state, ProjectionState::kFailed);
  EXPECT_EQ(Tick(Ticker::kProjectionFailures), 1u);
  EXPECT_EQ(Tick(Ticker::kProjectionRetries), 1u);
  EXPECT_EQ(Tick(Ticker::kProjectionEventsApplied), 0u);
}

TEST_F(ProjectionStatisticsTest, InlineCountsOnlyWhatWasWritten) {
  auto projection = std::make_shared<GatedProjection>();
  ProjectionOptions options;
  options.mode = ProjectionMode::kInline;
  auto runner = ProjectionRunner::Start(*store_, projection, options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE(Append("s", "T", 3).ok());                                     // 3 applied
  EXPECT_EQ(Append("s", "Bad").code(), absl::StatusCode::kInvalidArgument);  // none
  EXPECT_EQ(Tick(Ticker::kProjectionEventsApplied), 3u);

  // One group of four appends: the gate's (1 event) holds the committer in
  // Apply() while a good one (2 events), a failing one (2 events, the second
  // "Bad": rolled back) and another good one (1 event) queue behind it.
  std::thread gate([&] { EXPECT_TRUE(Append("g", "Gate").ok()); });
  projection->WaitUntilEntered();
  std::vector<std::thread> appends;
  appends.emplace_back([&] { EXPECT_TRUE(Append("a", "T", 2).ok()); });
  while (internal::StoreAccess::TEST_QueuedAppends(*store_) < 1) std::this_thread::yield();
  appends.emplace_back([&] {
    std::vector<NewEvent> events = {NewEvent{.type = "T", .payload = "{}"},
                                    NewEvent{.type = "Bad", .payload = "{}"}};
    EXPECT_FALSE(store_->Append("b", ExpectedVersion::Any(), events).ok());
  });
  while (internal::StoreAccess::TEST_QueuedAppends(*store_) < 2) std::this_thread::yield();
  appends.emplace_back([&] { EXPECT_TRUE(Append("c", "T").ok()); });
  while (internal::StoreAccess::TEST_QueuedAppends(*store_) < 3) std::this_thread::yield();
  projection->Release();
  gate.join();
  for (std::thread& t : appends) t.join();
  (*runner)->Stop();

  EXPECT_EQ(store_->last_position(), 3u + 1 + 2 + 1);
  EXPECT_EQ(Tick(Ticker::kProjectionEventsApplied), 3u + 1 + 2 + 1);
  // Inline runners commit no batches of their own and have no lag.
  EXPECT_EQ(Tick(Ticker::kProjectionBatches), 0u);
  EXPECT_EQ(Hist(Histogram::kProjectionLag).count, 0u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedInvalid), 2u);
}

}  // namespace
}  // namespace annals
