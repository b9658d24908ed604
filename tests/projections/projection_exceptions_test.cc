// A projection that throws cannot break the store (annals/user_code.h).
//
// Inline: the exception fails only the append whose event threw (kInternal
// with the exception's type and message, nothing of it written); appends
// from other threads, before and after, complete. Async: the runner applies
// its failure policy (retry, then stop or park) and the process survives.
// Rebuilds, side-by-side rebuilds, parked-event replays and Start() return
// kInternal.
//
// The scenarios with threads run in a child process (a death test) that must
// exit 0 within a deadline: without the catches, an async exception
// terminates the child (SIGABRT) and an inline one leaves the committer role
// taken, so the next append blocks until the alarm kills the child. Each
// scenario collects its failed checks and prints them before exiting 1.

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/read_model.h"
#include "common/status_macros.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

// Counts events per stream without throwing itself; throws what
// `ThrowFor()` says for some events.
class ThrowingProjection : public Projection {
 public:
  explicit ThrowingProjection(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }

  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    calls.fetch_add(1);
    ASSIGN_OR_RETURN(std::optional<std::string> stored, w.Get("count", e.stream));
    int64_t n = 0;
    if (stored.has_value()) {
      std::from_chars(stored->data(), stored->data() + stored->size(), n);
    }
    // A write before throwing: it must not survive.
    RETURN_IF_ERROR(w.Put("count", e.stream, std::to_string(n + 1)));
    if (e.type == "Boom") throw std::invalid_argument("stoll");
    if (e.type == "Weird") throw 42;
    if (e.position == throw_at.load() && throws_left.load() != 0) {
      if (throws_left.load() > 0) throws_left.fetch_sub(1);
      throw std::runtime_error("downstream exploded");
    }
    return absl::OkStatus();
  }

  std::atomic<uint64_t> throw_at{0};
  std::atomic<int> throws_left{0};  // -1 = forever.
  std::atomic<int> calls{0};

 private:
  std::string name_;
};

// Failed checks of a scenario run in a child process.
class Checks {
 public:
  void Expect(bool ok, int line, std::string_view what) {
    if (!ok) out_ << "line " << line << ": " << what << "\n";
  }
  // Prints the failures and ends the child: 0 = every check passed.
  [[noreturn]] void Exit() {
    const std::string text = out_.str();
    std::fputs(text.c_str(), stderr);
    std::fflush(nullptr);
    _exit(text.empty() ? 0 : 1);
  }

 private:
  std::ostringstream out_;
};
#define CHECK_THAT_(checks, cond, detail) \
  (checks).Expect((cond), __LINE__, std::string(#cond) + " -- " + (detail))

std::string Str(const absl::Status& s) { return s.ToString(); }

int64_t CountOf(EventStore& store, std::string_view projection, std::string_view stream) {
  auto view = ReadModelSnapshot::Open(store, projection);
  if (!view.ok()) return -1;
  auto v = (*view)->Get("count", stream);
  if (!v.ok()) return -1;
  if (!v->has_value()) return 0;
  int64_t n = 0;
  std::from_chars((*v)->data(), (*v)->data() + (*v)->size(), n);
  return n;
}

// Runs `scenario` in a child that must exit 0 within a minute.
#define EXPECT_CHILD_SURVIVES(scenario)             \
  do {                                              \
    GTEST_FLAG_SET(death_test_style, "threadsafe"); \
    EXPECT_EXIT(                                    \
        {                                           \
          alarm(60);                                \
          scenario();                               \
        },                                          \
        ::testing::ExitedWithCode(0), "");          \
  } while (0)

NewEvent Event(std::string type) { return NewEvent{.type = std::move(type), .payload = "{}"}; }

void InlineScenario() {
  Checks checks;
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  auto projection = std::make_shared<ThrowingProjection>("inline_boom");
  auto runner = ProjectionRunner::Start(*store, projection,
                                        ProjectionOptions{.mode = ProjectionMode::kInline});
  CHECK_THAT_(checks, runner.ok(), Str(runner.status()));
  if (!runner.ok()) checks.Exit();
  CHECK_THAT_(checks, store->Append("a", ExpectedVersion::Any(), {Event("Ok")}).ok(), "");

  // The append with a throwing event fails whole; nothing of it is written.
  const uint64_t before = store->last_position();
  auto failed = store->Append("a", ExpectedVersion::Any(), {Event("Ok"), Event("Boom")});
  CHECK_THAT_(checks, failed.status().code() == absl::StatusCode::kInternal, Str(failed.status()));
  CHECK_THAT_(checks,
              absl::StrContains(failed.status().message(),
                                "projection 'inline_boom' Apply() threw std::invalid_argument: "
                                "stoll"),
              Str(failed.status()));
  auto weird = store->Append("b", ExpectedVersion::Any(), {Event("Weird")});
  CHECK_THAT_(checks, weird.status().code() == absl::StatusCode::kInternal, Str(weird.status()));
  CHECK_THAT_(checks, absl::StrContains(weird.status().message(), "threw an unknown exception"),
              Str(weird.status()));
  CHECK_THAT_(checks, store->last_position() == before, "a failed append wrote events");
  CHECK_THAT_(checks, CountOf(*store, "inline_boom", "a") == 1,
              "the throwing append's writes survived");
  CHECK_THAT_(checks,
              absl::StrContains((*runner)->status().error, "std::invalid_argument") ||
                  absl::StrContains((*runner)->status().error, "unknown exception"),
              "status().error: " + (*runner)->status().error);

  // Four threads append at once, every fifth append throwing: the throwing
  // ones fail alone (group commits roll back only their part), all others
  // complete.
  constexpr int kThreads = 4;
  constexpr int kAppends = 100;
  std::atomic<int> ok{0}, refused{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        const bool boom = i % 5 == 4;
        auto r = store->Append("t-" + std::to_string(t), ExpectedVersion::Any(),
                               {Event(boom ? "Boom" : "Ok")});
        if (r.ok() && !boom) {
          ++ok;
        } else if (!r.ok() && boom && r.status().code() == absl::StatusCode::kInternal) {
          ++refused;
        } else {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK_THAT_(checks, ok.load() == kThreads * kAppends * 4 / 5, std::to_string(ok.load()));
  CHECK_THAT_(checks, refused.load() == kThreads * kAppends / 5, std::to_string(refused.load()));
  CHECK_THAT_(checks, wrong.load() == 0, std::to_string(wrong.load()));
  for (int t = 0; t < kThreads; ++t) {
    const std::string stream = "t-" + std::to_string(t);
    CHECK_THAT_(checks, CountOf(*store, "inline_boom", stream) == kAppends * 4 / 5,
                stream + " count " + std::to_string(CountOf(*store, "inline_boom", stream)));
  }
  auto view = ReadModelSnapshot::Open(*store, "inline_boom");
  CHECK_THAT_(checks, view.ok() && (*view)->position() == store->last_position(),
              "checkpoint behind the log");
  auto report = store->Verify();
  CHECK_THAT_(checks, report.ok() && report->ok, "verify");
  // The projection still runs; stopping it leaves the store usable.
  CHECK_THAT_(checks, (*runner)->status().state == ProjectionState::kRunning, "not running");
  (*runner)->Stop();
  CHECK_THAT_(checks, store->Append("a", ExpectedVersion::Any(), {Event("Boom")}).ok(),
              "append after Stop()");
  checks.Exit();
}

TEST(ProjectionExceptionsTest, InlineThrowFailsOnlyItsAppendAndOthersComplete) {
  EXPECT_CHILD_SURVIVES(InlineScenario);
}

void AsyncStopScenario() {
  Checks checks;
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  for (int i = 0; i < 10; ++i)
    store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).IgnoreError();
  auto projection = std::make_shared<ThrowingProjection>("async_stop");
  projection->throw_at = 6;
  projection->throws_left = -1;
  ProjectionOptions options;
  options.retry.max_attempts = 3;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.on_failure = FailurePolicy::kStop;
  auto runner = ProjectionRunner::Start(*store, projection, options);
  CHECK_THAT_(checks, runner.ok(), Str(runner.status()));
  if (!runner.ok()) checks.Exit();
  CHECK_THAT_(checks, !(*runner)->WaitForPosition(10, absl::Seconds(30)), "passed the bad event");
  const ProjectionStatus st = (*runner)->status();
  CHECK_THAT_(checks, st.state == ProjectionState::kFailed,
              std::string(ProjectionStateName(st.state)));
  CHECK_THAT_(checks, st.position == 5, std::to_string(st.position));
  CHECK_THAT_(checks,
              absl::StrContains(st.error, "event at position 6") &&
                  absl::StrContains(st.error, "failed after 3 attempts") &&
                  absl::StrContains(st.error, "threw std::runtime_error: downstream exploded"),
              st.error);
  // 5 good events + 3 attempts of the bad one.
  CHECK_THAT_(checks, projection->calls.load() == 8, std::to_string(projection->calls.load()));
  CHECK_THAT_(checks, CountOf(*store, "async_stop", "s") == 5, "the bad event's write survived");
  // Another process sees the failure (`annals projections` reads this).
  auto recorded = ReadProjectionStatus(*store, "async_stop");
  CHECK_THAT_(checks,
              recorded.ok() && recorded->state == ProjectionState::kFailed &&
                  absl::StrContains(recorded->error, "std::runtime_error"),
              recorded.ok() ? recorded->error : Str(recorded.status()));
  // The store goes on.
  CHECK_THAT_(checks, store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).ok(), "append");
  // The failed runner's thread has ended; Stop() joins it. _exit() skips the
  // destructor that would, and TSan reports an ended, unjoined thread.
  (*runner)->Stop();
  checks.Exit();
}

TEST(ProjectionExceptionsTest, AsyncThrowIsRetriedThenStopsWithTheErrorVisible) {
  EXPECT_CHILD_SURVIVES(AsyncStopScenario);
}

void AsyncParkScenario() {
  Checks checks;
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  auto projection = std::make_shared<ThrowingProjection>("async_park");
  ProjectionOptions options;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.on_failure = FailurePolicy::kPark;
  auto runner = ProjectionRunner::Start(*store, projection, options);
  CHECK_THAT_(checks, runner.ok(), Str(runner.status()));
  if (!runner.ok()) checks.Exit();
  // Appends while the runner works: "Boom" at 3, "Weird" at 7.
  for (int i = 1; i <= 10; ++i) {
    const std::string type = i == 3 ? "Boom" : i == 7 ? "Weird" : "Ok";
    CHECK_THAT_(checks, store->Append("s", ExpectedVersion::Any(), {Event(type)}).ok(), "append");
  }
  CHECK_THAT_(checks, (*runner)->WaitForPosition(10, absl::Seconds(30)), (*runner)->status().error);
  CHECK_THAT_(checks, CountOf(*store, "async_park", "s") == 8, "count");
  auto parked = (*runner)->ListParked();
  CHECK_THAT_(checks, parked.ok() && parked->size() == 2, "parked");
  if (parked.ok() && parked->size() == 2) {
    CHECK_THAT_(checks,
                (*parked)[0].position == 3 && (*parked)[0].attempts == 2 &&
                    absl::StrContains((*parked)[0].error, "std::invalid_argument: stoll"),
                (*parked)[0].error);
    CHECK_THAT_(
        checks,
        (*parked)[1].position == 7 && absl::StrContains((*parked)[1].error, "unknown exception"),
        (*parked)[1].error);
  }
  const ProjectionStatus st = (*runner)->status();
  CHECK_THAT_(checks, st.state == ProjectionState::kRunning && st.parked == 2 && st.error.empty(),
              st.error);
  // Replaying a parked event that still throws: kInternal, it stays parked.
  absl::Status replay = (*runner)->ReplayParked(3);
  CHECK_THAT_(checks,
              replay.code() == absl::StatusCode::kInternal &&
                  absl::StrContains(replay.message(), "std::invalid_argument"),
              Str(replay));
  auto still = (*runner)->ListParked();
  CHECK_THAT_(checks, still.ok() && still->size() == 2 && (*still)[0].attempts == 3, "replayed");
  checks.Exit();
}

TEST(ProjectionExceptionsTest, AsyncThrowIsParkedAndTheRunnerGoesOn) {
  EXPECT_CHILD_SURVIVES(AsyncParkScenario);
}

void AsyncRetryScenario() {
  Checks checks;
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  for (int i = 0; i < 6; ++i)
    store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).IgnoreError();
  auto projection = std::make_shared<ThrowingProjection>("async_retry");
  projection->throw_at = 4;
  projection->throws_left = 2;
  ProjectionOptions options;
  options.retry.max_attempts = 5;
  options.retry.initial_backoff = absl::Milliseconds(1);
  auto runner = ProjectionRunner::Start(*store, projection, options);
  CHECK_THAT_(checks, runner.ok(), Str(runner.status()));
  if (!runner.ok()) checks.Exit();
  CHECK_THAT_(checks, (*runner)->WaitForPosition(6, absl::Seconds(30)), (*runner)->status().error);
  // Applied exactly once in the end: 6 events + 2 throwing attempts.
  CHECK_THAT_(checks, CountOf(*store, "async_retry", "s") == 6, "count");
  CHECK_THAT_(checks, projection->calls.load() == 8, std::to_string(projection->calls.load()));
  const ProjectionStatus st = (*runner)->status();
  CHECK_THAT_(checks, st.state == ProjectionState::kRunning && st.parked == 0 && st.error.empty(),
              st.error);
  checks.Exit();
}

TEST(ProjectionExceptionsTest, AsyncThrowIsRetriedAndThenApplied) {
  EXPECT_CHILD_SURVIVES(AsyncRetryScenario);
}

void RebuildScenario() {
  Checks checks;
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  for (int i = 0; i < 20; ++i)
    store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).IgnoreError();

  // Async runner: Rebuild() meets a throwing event and returns kInternal.
  auto projection = std::make_shared<ThrowingProjection>("rebuilt");
  ProjectionOptions options;
  options.retry.max_attempts = 2;
  options.retry.initial_backoff = absl::Milliseconds(1);
  options.on_failure = FailurePolicy::kPark;
  auto runner = ProjectionRunner::Start(*store, projection, options);
  CHECK_THAT_(checks, runner.ok(), Str(runner.status()));
  if (!runner.ok()) checks.Exit();
  CHECK_THAT_(checks, (*runner)->WaitForPosition(20, absl::Seconds(30)), "catch up");
  projection->throw_at = 12;
  projection->throws_left = -1;
  absl::Status rebuilt = (*runner)->Rebuild();
  CHECK_THAT_(checks,
              rebuilt.code() == absl::StatusCode::kInternal &&
                  absl::StrContains(rebuilt.message(), "std::runtime_error"),
              Str(rebuilt));
  // The runner then applies its policy to that event (park) and goes on.
  CHECK_THAT_(checks, (*runner)->WaitForPosition(20, absl::Seconds(30)), (*runner)->status().error);
  CHECK_THAT_(checks, (*runner)->status().parked == 1, "parked");

  // A side-by-side rebuild whose new version throws is abandoned; the
  // current one keeps running.
  auto next = std::make_shared<ThrowingProjection>("rebuilt");
  next->throw_at = 3;
  next->throws_left = -1;
  absl::Status side = (*runner)->RebuildSideBySide(next);
  CHECK_THAT_(
      checks,
      side.code() == absl::StatusCode::kInternal && absl::StrContains(side.message(), "abandoned"),
      Str(side));
  CHECK_THAT_(
      checks,
      (*runner)->status().generation == 1 && (*runner)->status().state == ProjectionState::kRunning,
      "generation or state changed");
  (*runner)->Stop();

  // Offline rebuild (`annals projection rebuild`).
  ThrowingProjection offline("offline");
  offline.throw_at = 5;
  offline.throws_left = -1;
  absl::Status off = RebuildProjection(*store, offline);
  CHECK_THAT_(checks,
              off.code() == absl::StatusCode::kInternal &&
                  absl::StrContains(off.message(), "projection 'offline' Apply() threw"),
              Str(off));

  // Inline: Rebuild() fails, and so does every later append (an inline model
  // never skips an event) until the runner is stopped.
  auto inline_projection = std::make_shared<ThrowingProjection>("inline_rebuilt");
  auto inline_runner = ProjectionRunner::Start(*store, inline_projection,
                                               ProjectionOptions{.mode = ProjectionMode::kInline});
  CHECK_THAT_(checks, inline_runner.ok(), Str(inline_runner.status()));
  if (!inline_runner.ok()) checks.Exit();
  inline_projection->throw_at = 7;
  inline_projection->throws_left = -1;
  absl::Status inline_rebuilt = (*inline_runner)->Rebuild();
  CHECK_THAT_(checks, inline_rebuilt.code() == absl::StatusCode::kInternal, Str(inline_rebuilt));
  auto refused = store->Append("s", ExpectedVersion::Any(), {Event("Ok")});
  CHECK_THAT_(checks, refused.status().code() == absl::StatusCode::kInternal,
              Str(refused.status()));
  (*inline_runner)->Stop();
  CHECK_THAT_(checks, store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).ok(),
              "append after stopping the failing inline projection");
  checks.Exit();
}

TEST(ProjectionExceptionsTest, RebuildsReturnInternalAndTheProcessSurvives) {
  EXPECT_CHILD_SURVIVES(RebuildScenario);
}

// --- Without threads: the exception would reach the test body. ---

class ThrowingName : public ThrowingProjection {
 public:
  ThrowingName() : ThrowingProjection("unused") {}
  std::string_view name() const override { throw std::length_error("no name today"); }
};

class ThrowingTypes : public ThrowingProjection {
 public:
  ThrowingTypes() : ThrowingProjection("types") {}
  std::vector<std::string> event_types() const override { throw std::bad_alloc(); }
};

TEST(ProjectionExceptionsTest, StartReturnsInternalWhenTheProjectionThrows) {
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  auto named = ProjectionRunner::Start(*store, std::make_shared<ThrowingName>());
  EXPECT_EQ(named.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(named.status().message(),
              HasSubstr("Projection::name() threw std::length_error: no name today"));
  auto typed = ProjectionRunner::Start(*store, std::make_shared<ThrowingTypes>());
  EXPECT_EQ(typed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(typed.status().message(), HasSubstr("event_types() threw std::bad_alloc"));

  // Inline catch-up in Start() meets a throwing event.
  ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {Event("Ok"), Event("Boom")}).ok());
  auto inline_runner =
      ProjectionRunner::Start(*store, std::make_shared<ThrowingProjection>("catch_up"),
                              ProjectionOptions{.mode = ProjectionMode::kInline});
  EXPECT_EQ(inline_runner.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(inline_runner.status().message(), HasSubstr("failed at position 2"));
  // Nothing stays claimed or attached.
  EXPECT_TRUE(store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).ok());
}

TEST(ProjectionExceptionsTest, AThrowingScanVisitorIsInternal) {
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  testing::CounterProjection counter("scanned");
  ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {Event("Ok"), Event("Ok")}).ok());
  ASSERT_TRUE(RebuildProjection(*store, counter).ok());
  auto view = ReadModelSnapshot::Open(*store, "scanned");
  ASSERT_TRUE(view.ok());
  absl::Status s = (*view)->Scan("log", "", [](std::string_view, std::string_view) -> bool {
    throw std::out_of_range("visitor");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("Scan() visitor threw std::out_of_range: visitor"));
  EXPECT_EQ(testing::Dump(**view, "log").size(), 2u) << "the view is still usable";
}

// Inside Apply(), a scan that merges uncommitted writes (the overlay) with
// committed ones: a throwing visitor is kInternal there too.
class ScanningProjection : public Projection {
 public:
  std::string_view name() const override { return "scanning"; }
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    RETURN_IF_ERROR(w.Put("t", std::to_string(e.position), "x"));
    scan_status = w.Scan("t", "", [](std::string_view, std::string_view) -> bool {
      throw std::runtime_error("visitor inside Apply");
    });
    return absl::OkStatus();
  }
  absl::Status scan_status;
};

TEST(ProjectionExceptionsTest, AThrowingVisitorOfAnUncommittedScanIsInternal) {
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  auto projection = std::make_shared<ScanningProjection>();
  auto runner = ProjectionRunner::Start(*store, projection,
                                        ProjectionOptions{.mode = ProjectionMode::kInline});
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {Event("Ok")}).ok());
  EXPECT_EQ(projection->scan_status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(projection->scan_status.message(), HasSubstr("visitor inside Apply"));
}

// The example of annals/projection.h, verbatim: it must not throw, even on a
// value that is not a number.
class TypeCounts : public annals::Projection {
 public:
  std::string_view name() const override { return "type_counts"; }
  absl::Status Apply(const annals::EventView& e, annals::ReadModelWriter& w) override {
    ASSIGN_OR_RETURN(std::optional<std::string> stored, w.Get("by_type", e.type));
    int64_t n = 0;
    if (stored.has_value()) {
      // from_chars, not std::stoll: it reports bad input instead of throwing.
      auto [end, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), n);
      if (ec != std::errc() || end != stored->data() + stored->size()) {
        return absl::DataLossError("by_type holds a value that is not a count");
      }
    }
    return w.Put("by_type", e.type, std::to_string(n + 1));
  }
};

// Writes a non-number where TypeCounts keeps its count.
class Vandal : public Projection {
 public:
  std::string_view name() const override { return "type_counts"; }
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    return w.Put("by_type", e.type, "not a number");
  }
};

TEST(ProjectionExceptionsTest, TheHeaderExampleCountsAndNeverThrows) {
  testing::TempDir dir;
  std::unique_ptr<EventStore> store = testing::OpenBufferedStore(dir.Sub("store"));
  ASSERT_TRUE(
      store->Append("s", ExpectedVersion::Any(), {Event("A"), Event("A"), Event("B")}).ok());
  TypeCounts counts;
  ASSERT_TRUE(RebuildProjection(*store, counts).ok());
  auto view = ReadModelSnapshot::Open(*store, "type_counts");
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(*(*view)->Get("by_type", "A"), std::optional<std::string>("2"));
  EXPECT_EQ(*(*view)->Get("by_type", "B"), std::optional<std::string>("1"));

  // Where std::stoll would throw, the example returns kDataLoss.
  Vandal vandal;
  ASSERT_TRUE(RebuildProjection(*store, vandal).ok());
  ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {Event("A")}).ok());
  auto runner = ProjectionRunner::Start(*store, std::make_shared<TypeCounts>(),
                                        ProjectionOptions{.mode = ProjectionMode::kInline});
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace annals
