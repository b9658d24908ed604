// The owning append API and what an append reports: EventData and
// StreamAppendData own their bytes, so events built in a loop from
// temporaries (which would dangle as NewEvent views) are stored intact (run
// this binary under ASan to see that nothing is read after it was freed);
// the NewEvent and EventData overloads coexist without ambiguity; and
// AppendResult::recorded_at_us is the stored time of the events, also on an
// idempotent replay.

#include <array>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "annals/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class AppendApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  std::vector<RecordedEvent> Read(std::string_view stream) {
    auto events = store_->ReadStream(stream);
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<RecordedEvent>();
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

// Longer than any small-string buffer, so each temporary lives on the heap
// and a dangling view would be a heap-use-after-free under ASan.
std::string Payload(int i) {
  return R"({"tick":)" + std::to_string(i) + R"(,"padding":")" + std::string(40, 'x') + R"("})";
}

TEST_F(AppendApiTest, EventsBuiltFromTemporariesInALoopAreStoredIntact) {
  std::vector<EventData> events;
  for (int i = 0; i < 50; ++i) {
    // Every string here is a temporary that dies at the end of its line;
    // with NewEvent these would be dangling views.
    events.push_back({.type = "Tick" + std::to_string(i % 3),
                      .payload = Payload(i),
                      .correlation_id = "corr-" + std::to_string(i),
                      .metadata = {{"i", std::to_string(i)}, {"parity", i % 2 ? "odd" : "even"}}});
  }
  auto result = store_->Append("clock", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->last_version, 50u);

  const std::vector<RecordedEvent> stored = Read("clock");
  ASSERT_EQ(stored.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(stored[i].type, "Tick" + std::to_string(i % 3));
    EXPECT_EQ(stored[i].payload, Payload(i));
    EXPECT_EQ(stored[i].correlation_id, "corr-" + std::to_string(i));
    EXPECT_EQ(stored[i].content_type, ContentType::kJson);
    EXPECT_EQ(stored[i].schema_version, 1u);
    EXPECT_THAT(stored[i].metadata,
                ElementsAre(Pair("i", std::to_string(i)), Pair("parity", i % 2 ? "odd" : "even")));
  }
}

// Parts built by a function and returned by value: nothing they own can
// dangle.
std::vector<StreamAppendData> TransferParts(int amount) {
  std::vector<StreamAppendData> parts;
  parts.push_back({.stream = "account-" + std::to_string(1),
                   .expected = ExpectedVersion::NoStream(),
                   .events = {{.type = "Debited", .payload = Payload(-amount)}}});
  parts.push_back({.stream = "account-" + std::to_string(2),
                   .events = {{.type = "Credited", .payload = Payload(amount)},
                              {.type = "Noted", .payload = Payload(0)}}});
  return parts;
}

TEST_F(AppendApiTest, OwnedMultiStreamPartsAppendAtomically) {
  auto results = store_->AppendMulti(TransferParts(5));
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].first_position, 1u);
  EXPECT_EQ((*results)[1].first_position, 2u);
  EXPECT_EQ((*results)[1].last_position, 3u);
  EXPECT_EQ(Read("account-1").front().payload, Payload(-5));
  EXPECT_EQ(Read("account-2").back().payload, Payload(0));

  // The owned form checks expected versions like the borrowed one: all or
  // nothing.
  auto again = store_->AppendMulti(TransferParts(7));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->last_position(), 3u);
}

TEST_F(AppendApiTest, OwnedAndBorrowedOverloadsCoexist) {
  // A braced list that fits both overloads goes to the NewEvent one.
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::NoStream(), {}).ok());
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::Any(), {{.type = "A", .payload = "{}"}}).ok());
  // Braced lists of EventData, std::array and std::vector go to EventData.
  EXPECT_TRUE(
      store_
          ->Append("s", ExpectedVersion::Exact(1), {EventData{.type = "B", .payload = Payload(1)}})
          .ok());
  const std::array<EventData, 2> pair = {EventData{.type = "C", .payload = "{}"},
                                         EventData{.type = "D", .payload = "{}"}};
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::Exact(2), pair).ok());
  const std::vector<NewEvent> borrowed = {{.type = "E", .payload = "{}"}};
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::Exact(4), borrowed).ok());
  EXPECT_EQ(store_->AppendMulti({}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<std::string> types;
  for (const RecordedEvent& e : Read("s")) types.push_back(e.type);
  EXPECT_THAT(types, ElementsAre("A", "B", "C", "D", "E"));
}

TEST_F(AppendApiTest, OwnedEventsAreValidatedAndRetriedLikeBorrowedOnes) {
  const std::vector<EventData> bad = {{.type = "", .payload = "{}"}};
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->last_position(), 0u);

  const std::vector<EventData> events = {
      {.id = Uuid::V7(), .type = "A", .payload = "{}", .metadata = {{"k", "v"}, {"l", "w"}}},
      {.id = Uuid::V7(), .type = "B", .payload = "{}"}};
  auto first = store_->Append("s", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = store_->Append("s", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->idempotent_replay);
  EXPECT_EQ(retry->last_position, first->last_position);
}

TEST_F(AppendApiTest, ResultCarriesTheStoredRecordingTime) {
  const int64_t before = absl::ToUnixMicros(absl::Now());
  const std::vector<EventData> events = {{.id = Uuid::V7(), .type = "A", .payload = "{}"},
                                         {.id = Uuid::V7(), .type = "B", .payload = "{}"}};
  auto result = store_->Append("s", ExpectedVersion::NoStream(), events);
  const int64_t after = absl::ToUnixMicros(absl::Now());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(result->recorded_at_us, before);
  EXPECT_LE(result->recorded_at_us, after);
  for (const RecordedEvent& e : Read("s")) EXPECT_EQ(e.recorded_at_us, result->recorded_at_us);

  // A retry later reports the time of the original append, not its own.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto retry = store_->Append("s", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(retry.ok()) << retry.status();
  ASSERT_TRUE(retry->idempotent_replay);
  EXPECT_EQ(retry->recorded_at_us, result->recorded_at_us);
}

TEST_F(AppendApiTest, ResultTimeOfGivenTimesAndOfEmptyParts) {
  // An event that carries its own time (import) keeps it, and the result
  // reports it.
  const std::vector<EventData> imported = {
      {.type = "Old", .payload = "{}", .recorded_at_us = 1'600'000'000'000'000}};
  auto old = store_->Append("imported", ExpectedVersion::NoStream(), imported);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->recorded_at_us, 1'600'000'000'000'000);

  // Per part in a multi-stream append; a part with no events recorded
  // nothing.
  const std::vector<NewEvent> one = {{.type = "X", .payload = "{}"}};
  const StreamAppend parts[] = {{.stream = "a", .events = one}, {.stream = "empty"}};
  auto results = store_->AppendMulti(parts);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_EQ((*results)[0].recorded_at_us, Read("a").front().recorded_at_us);
  EXPECT_EQ((*results)[1].recorded_at_us, 0);
}

}  // namespace
}  // namespace annals
