// Projections: async and inline application (each event once, in order),
// read-your-writes, inline failure writes nothing, filters, resume from the
// checkpoint, rebuild == incremental, side-by-side take-over, retries,
// parking and replay, failure and stall reporting.

#include "annals/projection.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "annals/event_store.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

using testing::CounterProjection;
using testing::Dump;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using KVs = std::vector<std::pair<std::string, std::string>>;

// A counter that fails while `broken(position)` says so, counting calls.
class FlakyProjection : public CounterProjection {
 public:
  explicit FlakyProjection(std::string name = "counter") : CounterProjection(std::move(name)) {}
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    ++calls;
    if (e.position == fail_at && failures_left.load() != 0) {
      if (failures_left > 0) --failures_left;
      // A write before failing: it must not survive.
      w.Put("count", "poison", "1").IgnoreError();
      return absl::UnavailableError("downstream unavailable");
    }
    return CounterProjection::Apply(e, w);
  }
  std::atomic<uint64_t> fail_at{0};
  std::atomic<int> failures_left{0};  // -1 = forever.
  std::atomic<int> calls{0};
};

// Fails inline on events of type "Bad".
class RejectBad : public CounterProjection {
 public:
  using CounterProjection::CounterProjection;
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    absl::Status s = CounterProjection::Apply(e, w);
    if (!s.ok()) return s;
    if (e.type == "Bad") return absl::InvalidArgumentError("Bad events are rejected");
    return absl::OkStatus();
  }
};

// Blocks in Apply() until opened.
class GatedProjection : public CounterProjection {
 public:
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return open_; });
    }
    return CounterProjection::Apply(e, w);
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class ProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  absl::Status Append(std::string_view stream, std::string_view type = "E") {
    NewEvent e{.type = type, .payload = "{}"};
    return store_->Append(stream, ExpectedVersion::Any(), {e}).status();
  }

  void AppendMany(int n, std::string_view prefix = "s-") {
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(Append(std::string(prefix) + std::to_string(i % 5)).ok());
    }
  }

  KVs Table(std::string_view projection, std::string_view table) {
    auto snapshot = ReadModelSnapshot::Open(*store_, projection);
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? Dump(**snapshot, table) : KVs{};
  }

  // A clean pass of CounterProjection logic under another name.
  KVs CleanPass(std::string_view table, std::vector<std::string> types = {},
                std::string prefix = {}) {
    CounterProjection clean("clean", std::move(types), std::move(prefix));
    EXPECT_TRUE(RebuildProjection(*store_, clean).ok());
    return Table("clean", table);
  }

  static ProjectionOptions Inline() {
    ProjectionOptions o;
    o.mode = ProjectionMode::kInline;
    return o;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(ProjectionTest, AsyncAppliesEveryEventOnceInOrder) {
  AppendMany(200);
  ProjectionOptions options;
  options.batch_events = 16;
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), options);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->WaitForPosition(200, absl::Seconds(30)));
  AppendMany(50);  // Live.
  ASSERT_TRUE((*runner)->WaitForPosition(250, absl::Seconds(30)));
  EXPECT_THAT(Table("counter", "count"),
              ElementsAre(Pair("s-0", "50"), Pair("s-1", "50"), Pair("s-2", "50"),
                          Pair("s-3", "50"), Pair("s-4", "50")));
  KVs log = Table("counter", "log");
  ASSERT_EQ(log.size(), 250u);
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(coding::DecodeBigEndian64(log[i].first), i + 1);
  }
  ProjectionStatus st = (*runner)->status();
  EXPECT_EQ(st.state, ProjectionState::kRunning);
  EXPECT_EQ(st.position, 250u);
  EXPECT_EQ(st.lag, 0u);
  EXPECT_EQ(st.mode, ProjectionMode::kAsync);
}

// Stop() may be called from any thread, several at once (the destructor
// too): the hook is detached and the runner thread joined once. Without the
// serialization two joins raced (std::system_error, or TSan's data race on
// the thread handle).
TEST_F(ProjectionTest, ConcurrentStopsStopOnce) {
  AppendMany(20);
  for (int round = 0; round < 20; ++round) {
    ProjectionOptions options;
    options.mode = round % 2 == 0 ? ProjectionMode::kAsync : ProjectionMode::kInline;
    auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), options);
    ASSERT_TRUE(runner.ok()) << runner.status();
    ASSERT_TRUE((*runner)->WaitForPosition(20, absl::Seconds(30)));
    std::vector<std::thread> stoppers;
    for (int i = 0; i < 4; ++i) stoppers.emplace_back([&] { (*runner)->Stop(); });
    for (std::thread& t : stoppers) t.join();
    EXPECT_EQ((*runner)->status().state, ProjectionState::kStopped) << "round " << round;
  }
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
}

TEST_F(ProjectionTest, AsyncResumesFromItsCheckpoint) {
  AppendMany(100);
  {
    auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
    ASSERT_TRUE(runner.ok());
    ASSERT_TRUE((*runner)->WaitForPosition(100, absl::Seconds(30)));
  }
  AppendMany(100);
  auto status = ReadProjectionStatus(*store_, "counter");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->state, ProjectionState::kStopped);
  EXPECT_EQ(status->position, 100u);
  EXPECT_EQ(status->lag, 100u);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->WaitForPosition(200, absl::Seconds(30)));
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
}

TEST_F(ProjectionTest, FiltersByTypeAndStreamPrefix) {
  ASSERT_TRUE(Append("order-1", "Placed").ok());
  ASSERT_TRUE(Append("order-1", "Paid").ok());
  ASSERT_TRUE(Append("table-1", "Placed").ok());
  ASSERT_TRUE(Append("order-2", "Placed").ok());
  auto runner = ProjectionRunner::Start(
      *store_,
      std::make_shared<CounterProjection>("orders", std::vector<std::string>{"Placed"}, "order-"));
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->WaitForPosition(4, absl::Seconds(30)));
  EXPECT_THAT(Table("orders", "count"), ElementsAre(Pair("order-1", "1"), Pair("order-2", "1")));
  EXPECT_EQ(Table("orders", "log").size(), 2u);
}

TEST_F(ProjectionTest, InlineReadYourWrites) {
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(runner.ok()) << runner.status();
  for (int i = 1; i <= 30; ++i) {
    ASSERT_TRUE(Append("s").ok());
    auto snapshot = ReadModelSnapshot::Open(*store_, "counter");
    ASSERT_TRUE(snapshot.ok());
    EXPECT_EQ((*snapshot)->position(), static_cast<uint64_t>(i));
    auto count = (*snapshot)->Get("count", "s");
    ASSERT_TRUE(count.ok());
    ASSERT_TRUE(count->has_value());
    EXPECT_EQ(**count, std::to_string(i));
  }
  EXPECT_EQ((*runner)->status().mode, ProjectionMode::kInline);
  EXPECT_EQ((*runner)->status().lag, 0u);
}

TEST_F(ProjectionTest, InlineCatchesUpWithEventsStoredBeforeItStarted) {
  AppendMany(120);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(runner.ok());
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
  ASSERT_TRUE(Append("s-0").ok());
  EXPECT_EQ(Table("counter", "log").size(), 121u);
}

// Concurrent appends to one stream land in shared group commits: each event's
// read-modify-write must see the previous events' writes of the same group.
TEST_F(ProjectionTest, InlineSeesEarlierWritesOfTheSameGroupCommit) {
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(runner.ok());
  constexpr int kThreads = 8, kEach = 150;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) ASSERT_TRUE(Append("hot").ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(Table("counter", "count"),
              ElementsAre(Pair("hot", std::to_string(kThreads * kEach))));
  EXPECT_EQ(Table("counter", "log").size(), static_cast<size_t>(kThreads * kEach));
}

TEST_F(ProjectionTest, InlineFailureFailsTheAppendAndWritesNothing) {
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<RejectBad>(), Inline());
  ASSERT_TRUE(runner.ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append("s").ok());
  NewEvent good{.type = "Good", .payload = "{}"};
  NewEvent bad{.type = "Bad", .payload = "{}"};
  auto failed = store_->Append("s", ExpectedVersion::Any(), {good, bad});
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(failed.status().message(), HasSubstr("Bad events are rejected"));
  auto all = store_->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  EXPECT_THAT(Table("counter", "count"), ElementsAre(Pair("s", "3")));
  EXPECT_EQ(Table("counter", "log").size(), 3u);
  auto snapshot = ReadModelSnapshot::Open(*store_, "counter");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_EQ((*snapshot)->position(), 3u);

  // Failing and succeeding appends mixed in the same group commits: the read
  // model ends equal to a clean pass over what was stored.
  std::atomic<int> ok_count{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        const bool make_bad = (i + t) % 3 == 0;
        if (Append("m-" + std::to_string(t % 2), make_bad ? "Bad" : "Good").ok()) {
          EXPECT_FALSE(make_bad);
          ++ok_count;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(store_->last_position(), 3u + ok_count.load());
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
  EXPECT_EQ(Table("counter", "log"), Table("clean", "log"));
  EXPECT_EQ((*runner)->status().position, store_->last_position());
}

TEST_F(ProjectionTest, RebuildEqualsIncremental) {
  ProjectionOptions options;
  options.batch_events = 13;
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), options);
  ASSERT_TRUE(runner.ok());
  for (int round = 0; round < 5; ++round) {
    AppendMany(97, StrCat("r", round, "-"));
    ASSERT_TRUE((*runner)->WaitForPosition(store_->last_position(), absl::Seconds(30)));
  }
  const KVs incremental_count = Table("counter", "count");
  const KVs incremental_log = Table("counter", "log");
  ASSERT_EQ(incremental_log.size(), 5u * 97);
  ASSERT_TRUE((*runner)->Rebuild().ok());
  EXPECT_EQ(Table("counter", "count"), incremental_count);
  EXPECT_EQ(Table("counter", "log"), incremental_log);
  AppendMany(10);
  ASSERT_TRUE((*runner)->WaitForPosition(store_->last_position(), absl::Seconds(30)));
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
}

TEST_F(ProjectionTest, SideBySideRebuildTakesOverWhileQueriesAreServed) {
  AppendMany(2000);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->WaitForPosition(2000, absl::Seconds(30)));

  // Queries during the rebuild always see one whole generation.
  std::atomic<bool> done{false};
  std::atomic<int> bad_views{0}, views{0};
  std::thread reader([&] {
    while (!done) {
      auto snapshot = ReadModelSnapshot::Open(*store_, "counter");
      if (!snapshot.ok()) {
        ++bad_views;
        continue;
      }
      const char* table = (*snapshot)->generation() == 1 ? "count" : "count_v2";
      long total = 0;
      for (const auto& [k, v] : Dump(**snapshot, table)) total += std::stol(v);
      if (static_cast<uint64_t>(total) != (*snapshot)->position()) ++bad_views;
      ++views;
    }
  });
  std::thread writer([&] { AppendMany(300, "w-"); });
  auto v2 = std::make_shared<CounterProjection>("counter", std::vector<std::string>{},
                                                std::string{}, "count_v2");
  ASSERT_TRUE((*runner)->RebuildSideBySide(v2).ok());
  writer.join();
  ASSERT_TRUE((*runner)->WaitForPosition(store_->last_position(), absl::Seconds(30)));
  done = true;
  reader.join();
  EXPECT_EQ(bad_views.load(), 0);
  EXPECT_GT(views.load(), 0);
  EXPECT_EQ((*runner)->status().generation, 2u);
  EXPECT_TRUE(Table("counter", "count").empty());  // The old generation is gone.
  EXPECT_EQ(Table("counter", "count_v2"), CleanPass("count"));
}

TEST_F(ProjectionTest, InlineSideBySideRebuildTakesOverBetweenGroupCommits) {
  AppendMany(1500);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(runner.ok());
  std::thread writer([&] { AppendMany(300, "w-"); });
  auto v2 = std::make_shared<CounterProjection>("counter", std::vector<std::string>{},
                                                std::string{}, "count_v2");
  ASSERT_TRUE((*runner)->RebuildSideBySide(v2).ok());
  writer.join();
  EXPECT_EQ((*runner)->status().generation, 2u);
  EXPECT_EQ(Table("counter", "count_v2"), CleanPass("count"));
  EXPECT_TRUE(Table("counter", "count").empty());
  // Still inline: read-your-writes with the new version.
  ASSERT_TRUE(Append("after").ok());
  EXPECT_THAT(Table("counter", "count_v2"), ::testing::Contains(Pair("after", "1")));
}

TEST_F(ProjectionTest, RetriesWithBackoffThenApplies) {
  AppendMany(10);
  auto flaky = std::make_shared<FlakyProjection>();
  flaky->fail_at = 5;
  flaky->failures_left = 3;
  ProjectionOptions options;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_attempts = 5;
  options.jitter_seed = 42;
  auto runner = ProjectionRunner::Start(*store_, flaky, options);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->WaitForPosition(10, absl::Seconds(30)));
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));  // No "poison", no duplicate.
  EXPECT_EQ((*runner)->status().parked, 0u);
  EXPECT_TRUE((*runner)->status().error.empty());
  EXPECT_EQ(flaky->calls.load(), 10 + 3);
}

TEST_F(ProjectionTest, ParksAfterRetriesGoesOnAndReplays) {
  AppendMany(10);
  auto flaky = std::make_shared<FlakyProjection>();
  flaky->fail_at = 3;
  flaky->failures_left = -1;
  ProjectionOptions options;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_attempts = 3;
  options.on_failure = FailurePolicy::kPark;
  auto runner = ProjectionRunner::Start(*store_, flaky, options);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->WaitForPosition(10, absl::Seconds(30)));
  auto parked = (*runner)->ListParked();
  ASSERT_TRUE(parked.ok());
  ASSERT_EQ(parked->size(), 1u);
  EXPECT_EQ((*parked)[0].position, 3u);
  EXPECT_EQ((*parked)[0].attempts, 3u);
  EXPECT_EQ((*parked)[0].stream, "s-2");
  EXPECT_THAT((*parked)[0].error, HasSubstr("downstream unavailable"));
  EXPECT_EQ((*runner)->status().parked, 1u);
  EXPECT_EQ(Table("counter", "log").size(), 9u);

  // Still broken: the replay fails and the event stays parked.
  EXPECT_FALSE((*runner)->ReplayParked(3).ok());
  ASSERT_EQ((*runner)->ListParked()->size(), 1u);
  EXPECT_EQ((*runner)->ListParked()->front().attempts, 4u);

  flaky->failures_left = 0;
  ASSERT_TRUE((*runner)->ReplayParked(3).ok());
  EXPECT_TRUE((*runner)->ListParked()->empty());
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
  EXPECT_EQ((*runner)->ReplayParked(3).code(), absl::StatusCode::kNotFound);
}

TEST_F(ProjectionTest, StopPolicyStopsWithTheErrorVisible) {
  AppendMany(10);
  auto flaky = std::make_shared<FlakyProjection>();
  flaky->fail_at = 4;
  flaky->failures_left = -1;
  ProjectionOptions options;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.retry.max_attempts = 2;
  auto runner = ProjectionRunner::Start(*store_, flaky, options);
  ASSERT_TRUE(runner.ok());
  EXPECT_FALSE((*runner)->WaitForPosition(10, absl::Seconds(30)));
  ProjectionStatus st = (*runner)->status();
  EXPECT_EQ(st.state, ProjectionState::kFailed);
  EXPECT_EQ(st.position, 3u);
  EXPECT_EQ(st.lag, 7u);
  EXPECT_THAT(st.error, HasSubstr("position 4"));
  EXPECT_THAT(st.error, HasSubstr("downstream unavailable"));
  auto stored = ReadProjectionStatus(*store_, "counter");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state, ProjectionState::kFailed);
  EXPECT_THAT(stored->error, HasSubstr("position 4"));
  auto names = ListProjections(*store_);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, ElementsAre("counter"));
}

// A store made by a process without the projection module has none of its
// families: a follower reads it as a store where no projection ever ran; a
// writer open adds the families and projections run.
TEST_F(ProjectionTest, AStoreWithoutTheProjectionFamiliesHasNoProjections) {
  AppendMany(3);
  store_.reset();
  testing::DropColumnFamilies(dir_.Sub("store"), {"checkpoints", "read_models", "parked"});
  Options ro;
  ro.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto names = ListProjections(**follower);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(names->empty());
  EXPECT_EQ(ReadProjectionStatus(**follower, "counter").status().code(),
            absl::StatusCode::kNotFound);
  auto parked = ListParkedEvents(**follower, "counter");
  ASSERT_TRUE(parked.ok()) << parked.status();
  EXPECT_TRUE(parked->empty());
  auto view = ReadModelSnapshot::Open(**follower, "counter");
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ((*view)->position(), 0u);
  EXPECT_TRUE(Dump(**view, "count").empty());
  view->reset();
  follower->reset();

  store_ = testing::OpenBufferedStore(dir_.Sub("store"));
  ASSERT_NE(store_, nullptr);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_TRUE((*runner)->WaitForPosition(3, absl::Seconds(30)));
  EXPECT_EQ(Table("counter", "count"), CleanPass("count"));
}

TEST_F(ProjectionTest, ReportsStalledWhenBehindAndNotAdvancing) {
  auto gated = std::make_shared<GatedProjection>();
  ProjectionOptions options;
  options.stall_after = absl::Milliseconds(1);
  auto runner = ProjectionRunner::Start(*store_, gated, options);
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE(Append("s").ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((*runner)->status().state != ProjectionState::kStalled && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ((*runner)->status().state, ProjectionState::kStalled);
  EXPECT_EQ((*runner)->status().lag, 1u);
  gated->Open();
  ASSERT_TRUE((*runner)->WaitForPosition(1, absl::Seconds(30)));
  EXPECT_EQ((*runner)->status().state, ProjectionState::kRunning);
}

TEST_F(ProjectionTest, OneRunnerPerNameAndStore) {
  auto first = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
  ASSERT_TRUE(first.ok());
  auto second = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  CounterProjection offline;
  EXPECT_EQ(RebuildProjection(*store_, offline).code(), absl::StatusCode::kAlreadyExists);
  first->reset();
  EXPECT_TRUE(RebuildProjection(*store_, offline).ok());
}

TEST_F(ProjectionTest, StoppedInlineRunnerLeavesAppendsWorking) {
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE(Append("s").ok());
  runner->reset();
  ASSERT_TRUE(Append("s").ok());
  EXPECT_THAT(Table("counter", "count"), ElementsAre(Pair("s", "1")));
  // Restarted, it catches up with what it missed.
  auto again = ProjectionRunner::Start(*store_, std::make_shared<CounterProjection>(), Inline());
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(Table("counter", "count"), ElementsAre(Pair("s", "2")));
}

}  // namespace
}  // namespace annals
