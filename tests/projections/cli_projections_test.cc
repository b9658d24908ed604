// `annals projections` / `annals projection rebuild|parked|replay-parked`
// through RunCli() with projections registered in CliOptions, as a service's
// own annals binary would have them.

#include "annals/cli.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/cli_runner.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

using ::testing::HasSubstr;
using Json = testing::CliJson;
using testing::CliRun;

// Fails on the event at `fail_at` while `broken`.
class Breakable : public testing::CounterProjection {
 public:
  explicit Breakable(std::string name) : CounterProjection(std::move(name)) {}
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    if (broken && e.position == fail_at) return absl::InternalError("cannot apply");
    return CounterProjection::Apply(e, w);
  }
  bool broken = true;
  uint64_t fail_at = 2;
};

class CliProjectionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.durability = Durability::kBuffered;
    auto store = EventStore::Open(path(), options);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 5; ++i) {
      NewEvent e{.type = "E", .payload = "{}"};
      ASSERT_TRUE((*store)->Append("s-" + std::to_string(i % 2), ExpectedVersion::Any(), {e}).ok());
    }
    store_ = std::move(*store);
  }

  std::string path() const { return dir_.Sub("store"); }

  CliRun Run(const std::vector<std::string>& args) {
    return testing::RunCliInProcess(cli_options_, args);
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  CliOptions cli_options_;
};

TEST_F(CliProjectionsTest, ListsStatusLagAndErrorsWhileAServiceRuns) {
  ProjectionOptions stop_on_failure;
  stop_on_failure.retry.max_attempts = 1;
  auto failing = std::make_shared<Breakable>("failing");
  auto failed = ProjectionRunner::Start(*store_, failing, stop_on_failure);
  auto healthy = ProjectionRunner::Start(*store_, std::make_shared<testing::CounterProjection>());
  ASSERT_TRUE(failed.ok() && healthy.ok());
  ASSERT_TRUE((*healthy)->WaitForPosition(5, absl::Seconds(30)));
  EXPECT_FALSE((*failed)->WaitForPosition(5, absl::Seconds(30)));
  cli_options_.projections = {std::make_shared<testing::CounterProjection>("never_ran")};

  // The store is open in this process: the CLI reads it as a follower.
  CliRun r = Run({"projections", path()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> lines = r.lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["name"], "counter");
  EXPECT_EQ(lines[0]["state"], "running");
  EXPECT_EQ(lines[0]["position"], 5);
  EXPECT_EQ(lines[0]["lag"], 0);
  EXPECT_EQ(lines[1]["name"], "failing");
  EXPECT_EQ(lines[1]["state"], "failed");
  EXPECT_EQ(lines[1]["position"], 1);
  EXPECT_EQ(lines[1]["lag"], 4);
  EXPECT_THAT(lines[1]["error"].get<std::string>(), HasSubstr("cannot apply"));
  EXPECT_EQ(lines[2]["name"], "never_ran");
  EXPECT_EQ(lines[2]["state"], "stopped");
  EXPECT_EQ(lines[2]["lag"], 5);
  EXPECT_EQ(lines[2]["compiled_in"], true);
}

TEST_F(CliProjectionsTest, RebuildsACompiledInProjection) {
  {
    auto runner = ProjectionRunner::Start(*store_, std::make_shared<testing::CounterProjection>());
    ASSERT_TRUE(runner.ok());
    ASSERT_TRUE((*runner)->WaitForPosition(5, absl::Seconds(30)));
  }
  store_.reset();  // The rebuild needs the store for writing.
  cli_options_.projections = {std::make_shared<testing::CounterProjection>()};
  CliRun r = Run({"projection", "rebuild", path(), "counter"});
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = Json::parse(r.out);
  EXPECT_EQ(j["rebuilt"], true);
  EXPECT_EQ(j["position"], 5);

  CliRun unknown = Run({"projection", "rebuild", path(), "nope"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_THAT(unknown.err, HasSubstr("knows: counter"));
  CliRun missing = Run({"projection", "rebuild", dir_.Sub("missing"), "counter"});
  EXPECT_NE(missing.code, 0);
}

TEST_F(CliProjectionsTest, ListsAndReplaysParkedEvents) {
  ProjectionOptions park;
  park.retry.max_attempts = 2;
  park.retry.initial_backoff = absl::Milliseconds(1);
  park.on_failure = FailurePolicy::kPark;
  {
    auto runner = ProjectionRunner::Start(*store_, std::make_shared<Breakable>("p"), park);
    ASSERT_TRUE(runner.ok());
    ASSERT_TRUE((*runner)->WaitForPosition(5, absl::Seconds(30)));
  }
  store_.reset();
  CliRun parked = Run({"projection", "parked", path(), "p"});
  ASSERT_EQ(parked.code, 0) << parked.err;
  std::vector<Json> lines = parked.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["position"], 2);
  EXPECT_EQ(lines[0]["attempts"], 2);
  EXPECT_EQ(lines[0]["stream"], "s-1");
  EXPECT_THAT(lines[0]["error"].get<std::string>(), HasSubstr("cannot apply"));

  auto fixed = std::make_shared<Breakable>("p");
  fixed->broken = false;
  cli_options_.projections = {fixed};
  CliRun replay = Run({"projection", "replay-parked", path(), "p"});
  ASSERT_EQ(replay.code, 0) << replay.err;
  Json j = Json::parse(replay.out);
  EXPECT_EQ(j["replayed"], 1);
  EXPECT_EQ(j["remaining"], 0);
  EXPECT_TRUE(Run({"projection", "parked", path(), "p"}).out.empty());
}

}  // namespace
}  // namespace annals
