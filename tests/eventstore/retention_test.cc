// Retention by stream metadata (max_count, max_age, truncate_before) through
// every reader: stream reads, $all, ReadEvent, GetStream, subscriptions,
// projections (async and rebuilt), read-only followers; optimistic
// concurrency on metadata; reopen; consumer-aware retention; the scavenge
// policy agrees with the readers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/statistics.h"
#include "annals/stream_metadata.h"
#include "annals/subscription.h"
#include "common/clock.h"
#include "eventstore/internal/scavenge_policy.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(bool waits_for_consumers = false) {
    store_.reset();
    Options options;
    options.durability = Durability::kBuffered;
    options.statistics = stats_;
    options.retention_waits_for_consumers = waits_for_consumers;
    auto store = EventStore::Open(dir_.Sub("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  void Append(std::string_view stream, int n, int64_t recorded_at_us = 0) {
    for (int i = 0; i < n; ++i) {
      NewEvent e{.type = "E", .payload = "{}", .recorded_at_us = recorded_at_us};
      auto r = store_->Append(stream, ExpectedVersion::Any(), {e});
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  std::vector<uint64_t> Versions(std::string_view stream, ReadStreamOptions options = {}) {
    auto events = store_->ReadStream(stream, options);
    std::vector<uint64_t> out;
    if (!events.ok()) return out;
    for (const RecordedEvent& e : *events) out.push_back(e.version);
    return out;
  }

  // (stream, version) of every event $all shows.
  std::vector<std::string> All(EventStore& store) {
    auto events = store.ReadAll();
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> out;
    if (!events.ok()) return out;
    for (const RecordedEvent& e : *events) out.push_back(StrCatForTest(e.stream, e.version));
    return out;
  }
  static std::string StrCatForTest(std::string_view s, uint64_t v) {
    return std::string(s) + "/" + std::to_string(v);
  }

  StreamMetadataInfo SetMeta(std::string_view stream, StreamMetadata m) {
    auto r = store_->SetStreamMetadata(stream, ExpectedVersion::Any(), m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : StreamMetadataInfo{};
  }

  std::shared_ptr<Statistics> stats_ = CreateStatistics();
  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

// Metadata changes, deletes and consumer moves are synced in a buffered
// store (a scavenge must never act on a change a power loss takes back).
TEST_F(RetentionTest, MetadataWritesAreSyncedWhateverTheDurability) {
  Append("a", 2);
  const uint64_t before = stats_->GetTickerCount(Ticker::kWalSyncs);
  Append("a", 1);
  EXPECT_EQ(stats_->GetTickerCount(Ticker::kWalSyncs), before);  // Buffered.
  SetMeta("a", {.max_count = 5});
  EXPECT_EQ(stats_->GetTickerCount(Ticker::kWalSyncs), before + 1);
  ASSERT_TRUE(store_->DeleteStream("a", ExpectedVersion::Any(), DeleteMode::kSoft).ok());
  EXPECT_EQ(stats_->GetTickerCount(Ticker::kWalSyncs), before + 2);
  ASSERT_TRUE(store_->SetConsumerPosition("c", 1).ok());
  EXPECT_EQ(stats_->GetTickerCount(Ticker::kWalSyncs), before + 3);
}

TEST_F(RetentionTest, MaxCountKeepsTheNewestThroughEveryReader) {
  Append("a", 10);
  Append("b", 2);
  auto first = store_->ReadStream("a", {.limit = 1});
  ASSERT_TRUE(first.ok());
  const Uuid first_id = first->front().id;
  SetMeta("a", {.max_count = 3});
  EXPECT_THAT(Versions("a"), ElementsAre(8, 9, 10));
  EXPECT_THAT(Versions("a", {.direction = Direction::kBackward}), ElementsAre(10, 9, 8));
  // `limit` counts visible events; a range below the visible ones is empty.
  EXPECT_THAT(Versions("a", {.limit = 2}), ElementsAre(8, 9));
  EXPECT_THAT(Versions("a", {.from_version = 1, .to_version = 5}), IsEmpty());
  EXPECT_THAT(All(*store_), ElementsAre("a/8", "a/9", "a/10", "b/1", "b/2"));
  EXPECT_TRUE(absl::IsNotFound(store_->ReadEvent(first_id).status()));
  // Newer events push older ones out.
  Append("a", 2);
  EXPECT_THAT(Versions("a"), ElementsAre(10, 11, 12));
  auto info = store_->GetStream("a");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, 12u);
}

TEST_F(RetentionTest, MaxAgeHidesOldEvents) {
  const int64_t now = NowMicros();
  Append("a", 3, now - 48 * 3600 * int64_t{1000000});  // Two days old.
  Append("a", 2);
  SetMeta("a", {.max_age_us = 24 * 3600 * int64_t{1000000}});
  EXPECT_THAT(Versions("a"), ElementsAre(4, 5));
  EXPECT_THAT(All(*store_), ElementsAre("a/4", "a/5"));
  // Every event old: nothing visible, kNotFound saying why.
  Append("old", 2, now - 48 * 3600 * int64_t{1000000});
  SetMeta("old", {.max_age_us = 3600 * int64_t{1000000}});
  auto read = store_->ReadStream("old");
  EXPECT_TRUE(absl::IsNotFound(read.status()));
  EXPECT_THAT(read.status().message(), HasSubstr("retention limits"));
  EXPECT_TRUE(absl::IsNotFound(store_->GetStream("old").status()));
}

TEST_F(RetentionTest, TruncateBeforeThroughSubscriptionsProjectionsAndFollowers) {
  Append("a", 5);
  Append("b", 1);
  SetMeta("a", {.truncate_before = 4});
  EXPECT_THAT(Versions("a"), ElementsAre(4, 5));
  EXPECT_THAT(All(*store_), ElementsAre("a/4", "a/5", "b/1"));

  // A subscription to $all and one to the stream.
  auto all = Subscription::Open(*store_, {});
  ASSERT_TRUE(all.ok());
  auto got = (*all)->Next(absl::Seconds(1));
  ASSERT_TRUE(got.ok());
  std::vector<uint64_t> positions;
  for (const RecordedEvent& e : *got) positions.push_back(e.position);
  EXPECT_THAT(positions, ElementsAre(4, 5, 6));
  auto one = Subscription::Open(*store_, {.stream = "a"});
  ASSERT_TRUE(one.ok());
  got = (*one)->Next(absl::Seconds(1));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ(got->front().version, 4u);

  // A projection rebuilt from the log sees only what is visible.
  testing::CounterProjection counter("counter");
  ASSERT_TRUE(RebuildProjection(*store_, counter).ok());
  auto snapshot = ReadModelSnapshot::Open(*store_, "counter");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_THAT(testing::Dump(**snapshot, "count"), ElementsAre(Pair("a", "2"), Pair("b", "1")));

  // A follower loads the metadata at open and on CatchUp().
  Options ro;
  ro.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_THAT(All(**follower), ElementsAre("a/4", "a/5", "b/1"));
  SetMeta("b", {.truncate_before = 2});
  ASSERT_TRUE(store_->Sync().ok());
  ASSERT_TRUE((*follower)->CatchUp().ok());
  EXPECT_THAT(All(**follower), ElementsAre("a/4", "a/5"));
  EXPECT_TRUE(absl::IsNotFound((*follower)->ReadStream("b").status()));
  EXPECT_EQ((*follower)->GetStreamMetadata("b")->metadata.truncate_before, 2u);
}

TEST_F(RetentionTest, AsyncProjectionCatchingUpSkipsHiddenEventsAndFinishes) {
  Append("a", 10);
  Append("tail", 3);  // Positions 11-13, all hidden below.
  SetMeta("a", {.max_count = 2});
  SetMeta("tail", {.truncate_before = 100});
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<testing::CounterProjection>(),
                                        ProjectionOptions{});
  ASSERT_TRUE(runner.ok()) << runner.status();
  // The hidden events are skipped and the checkpoint still reaches the end.
  ASSERT_TRUE((*runner)->WaitForPosition(13, absl::Seconds(30)));
  auto snapshot = ReadModelSnapshot::Open(*store_, "counter");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_THAT(testing::Dump(**snapshot, "count"), ElementsAre(Pair("a", "2")));
}

TEST_F(RetentionTest, SubscriptionDoesNotSpinOnAHiddenTail) {
  Append("a", 3);
  SetMeta("a", {.truncate_before = 10});
  auto sub = Subscription::Open(*store_, {});
  ASSERT_TRUE(sub.ok());
  const uint64_t scans = stats_->GetTickerCount(Ticker::kAllScans);
  auto got = (*sub)->Next(absl::Milliseconds(200));
  ASSERT_TRUE(got.ok());
  EXPECT_THAT(*got, IsEmpty());
  // It waited for new commits (waking every kStopCheck to see whether it was
  // stopped) instead of rescanning the hidden tail in a busy loop.
  EXPECT_LE(stats_->GetTickerCount(Ticker::kAllScans) - scans, 20u);
  Append("b", 1);
  got = (*sub)->Next(absl::Seconds(5));
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().position, 4u);
}

TEST_F(RetentionTest, MetadataHasOptimisticConcurrency) {
  auto r = store_->SetStreamMetadata("a", ExpectedVersion::NoStream(), {.max_count = 5});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->metadata_version, 1u);
  r = store_->SetStreamMetadata("a", ExpectedVersion::NoStream(), {.max_count = 6});
  EXPECT_TRUE(absl::IsAborted(r.status())) << r.status();
  r = store_->SetStreamMetadata("a", ExpectedVersion::Exact(2), {.max_count = 6});
  EXPECT_TRUE(absl::IsAborted(r.status())) << r.status();
  r = store_->SetStreamMetadata("a", ExpectedVersion::Exact(1), {.max_count = 6});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->metadata_version, 2u);
  auto got = store_->GetStreamMetadata("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->metadata.max_count, 6u);
  EXPECT_EQ(got->metadata_version, 2u);
  EXPECT_TRUE(absl::IsInvalidArgument(
      store_->SetStreamMetadata("a", ExpectedVersion::Any(), {.max_age_us = -1}).status()));
}

TEST_F(RetentionTest, ReopenKeepsMetadataAndConsumers) {
  Append("a", 5);
  SetMeta("a", {.max_count = 2, .max_age_us = 3'600'000'000, .truncate_before = 1});
  ASSERT_TRUE(store_->SetConsumerPosition("relay", 3).ok());
  Open();
  auto got = store_->GetStreamMetadata("a");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->metadata,
            (StreamMetadata{.max_count = 2, .max_age_us = 3'600'000'000, .truncate_before = 1}));
  EXPECT_EQ(got->metadata_version, 1u);
  EXPECT_THAT(Versions("a"), ElementsAre(4, 5));
  ASSERT_EQ(store_->ListConsumers().size(), 1u);
  EXPECT_EQ(store_->ListConsumers()[0].position, 3u);
}

TEST_F(RetentionTest, ConsumerAwareRetentionWaitsForTheSlowestConsumer) {
  Open(/*waits_for_consumers=*/true);
  ASSERT_TRUE(store_->SetConsumerPosition("slow", 0).ok());
  ASSERT_TRUE(store_->SetConsumerPosition("fast", 0).ok());
  Append("a", 5);
  SetMeta("a", {.max_count = 1});
  // Nobody has passed anything: everything stays.
  EXPECT_THAT(Versions("a"), ElementsAre(1, 2, 3, 4, 5));
  ASSERT_TRUE(store_->SetConsumerPosition("fast", 5).ok());
  ASSERT_TRUE(store_->SetConsumerPosition("slow", 3).ok());
  EXPECT_THAT(Versions("a"), ElementsAre(4, 5));
  // Never backward silently.
  absl::Status back = store_->SetConsumerPosition("slow", 2);
  EXPECT_TRUE(absl::IsFailedPrecondition(back)) << back;
  EXPECT_TRUE(absl::IsInvalidArgument(store_->SetConsumerPosition("slow", 99)));
  // The scavenge policy agrees with the readers.
  auto impl_policy = internal::StoreAccess::RetentionPolicy(*store_);
  EXPECT_TRUE(impl_policy->Unreachable({.stream = "a", .version = 3, .position = 3}));
  EXPECT_FALSE(impl_policy->Unreachable({.stream = "a", .version = 4, .position = 4}));
  // A new consumer cannot bring back what was hidden (the bound never
  // decreases), and the limits wait for it from here on.
  ASSERT_TRUE(store_->RemoveConsumer("slow").ok());
  ASSERT_TRUE(store_->SetConsumerPosition("late", 0).ok());
  EXPECT_THAT(Versions("a"), ElementsAre(5));  // fast at 5 = the floor.
  // Reopen: same answer.
  Open(/*waits_for_consumers=*/true);
  EXPECT_THAT(Versions("a"), ElementsAre(5));
  // A delete acts at once, whatever the consumers.
  Append("b", 3);
  ASSERT_TRUE(store_->DeleteStream("b", ExpectedVersion::Any(), DeleteMode::kSoft).ok());
  EXPECT_TRUE(absl::IsNotFound(store_->ReadStream("b").status()));
  // With no consumer left, the limits act at once.
  ASSERT_TRUE(store_->RemoveConsumer("fast").ok());
  ASSERT_TRUE(store_->RemoveConsumer("late").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->RemoveConsumer("late")));
  EXPECT_THAT(Versions("a"), ElementsAre(5));
}

TEST_F(RetentionTest, WithoutTheOptionConsumersDoNotHoldRetention) {
  ASSERT_TRUE(store_->SetConsumerPosition("slow", 0).ok());
  Append("a", 5);
  SetMeta("a", {.max_count = 1});
  EXPECT_THAT(Versions("a"), ElementsAre(5));
}

TEST_F(RetentionTest, AsyncProjectionRegistersAsConsumer) {
  Open(/*waits_for_consumers=*/true);
  Append("a", 6);
  auto runner = ProjectionRunner::Start(*store_, std::make_shared<testing::CounterProjection>(),
                                        ProjectionOptions{});
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->WaitForPosition(6, absl::Seconds(30)));
  for (int i = 0; i < 300; ++i) {
    auto consumers = store_->ListConsumers();
    if (consumers.size() == 1 && consumers[0].position == 6) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  auto consumers = store_->ListConsumers();
  ASSERT_EQ(consumers.size(), 1u);
  EXPECT_EQ(consumers[0].name, "projection:counter");
  EXPECT_EQ(consumers[0].position, 6u);
}

TEST_F(RetentionTest, ScavengePolicyIsTheReadersRule) {
  Append("a", 4);
  Append("b", 1);
  auto policy = internal::StoreAccess::RetentionPolicy(*store_);
  EXPECT_FALSE(policy->Unreachable({.stream = "a", .version = 1, .position = 1}));
  SetMeta("a", {.max_count = 2});
  EXPECT_TRUE(policy->Unreachable({.stream = "a", .version = 2, .position = 2}));
  EXPECT_FALSE(policy->Unreachable({.stream = "a", .version = 3, .position = 3}));
  EXPECT_FALSE(policy->Unreachable({.stream = "b", .version = 1, .position = 5}));
  // Monotone: newer events only push more out.
  Append("a", 1);
  EXPECT_TRUE(policy->Unreachable({.stream = "a", .version = 3, .position = 3}));
  ASSERT_TRUE(store_->DeleteStream("b", ExpectedVersion::Any(), DeleteMode::kHard).ok());
  EXPECT_TRUE(policy->Unreachable({.stream = "b", .version = 1, .position = 5}));
}

}  // namespace
}  // namespace annals
