// Subscriptions: order and content exactly as stored, start positions,
// filters, stream subscriptions, the catch-up-to-live switch under concurrent
// appends (no loss, no duplicate), bounded batches and Stop().

#include "annals/subscription.h"

#include <stdexcept>
#include <thread>

#include "annals/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  void Append(std::string_view stream, std::string_view type, std::string_view payload = "{}") {
    NewEvent e{.type = type, .payload = payload};
    auto r = store_->Append(stream, ExpectedVersion::Any(), {e});
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Drains a subscription until it is live and has nothing more.
  std::vector<RecordedEvent> Drain(Subscription& sub) {
    std::vector<RecordedEvent> out;
    for (;;) {
      auto batch = sub.Next(absl::ZeroDuration());
      EXPECT_TRUE(batch.ok()) << batch.status();
      if (!batch.ok() || batch->empty()) return out;
      for (auto& e : *batch) out.push_back(std::move(e));
    }
  }

  static std::vector<uint64_t> Positions(const std::vector<RecordedEvent>& events) {
    std::vector<uint64_t> out;
    for (const auto& e : events) out.push_back(e.position);
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(SubscriptionTest, DeliversTheGlobalLogInOrderExactlyAsStored) {
  for (int i = 0; i < 50; ++i) {
    Append("s-" + std::to_string(i % 7), i % 2 ? "Odd" : "Even",
           "{\"i\":" + std::to_string(i) + "}");
  }
  SubscriptionOptions options;
  options.batch_size = 8;  // Several batches.
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  std::vector<RecordedEvent> got = Drain(**sub);
  auto stored = store_->ReadAll();
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(got.size(), stored->size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].position, (*stored)[i].position);
    EXPECT_EQ(got[i].stream, (*stored)[i].stream);
    EXPECT_EQ(got[i].version, (*stored)[i].version);
    EXPECT_EQ(got[i].id, (*stored)[i].id);
    EXPECT_EQ(got[i].type, (*stored)[i].type);
    EXPECT_EQ(got[i].payload, (*stored)[i].payload);
    EXPECT_EQ(got[i].hash, (*stored)[i].hash);
  }
  EXPECT_TRUE((*sub)->live());
  EXPECT_EQ((*sub)->position(), 50u);
}

TEST_F(SubscriptionTest, BatchesNeverExceedBatchSize) {
  for (int i = 0; i < 30; ++i) Append("s", "E");
  SubscriptionOptions options;
  options.batch_size = 4;
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  size_t total = 0;
  for (;;) {
    auto batch = (*sub)->Next(absl::ZeroDuration());
    ASSERT_TRUE(batch.ok());
    if (batch->empty()) break;
    EXPECT_LE(batch->size(), 4u);
    total += batch->size();
  }
  EXPECT_EQ(total, 30u);
}

TEST_F(SubscriptionTest, StartsAtTheGivenPosition) {
  for (int i = 0; i < 10; ++i) Append("s", "E");
  SubscriptionOptions options;
  options.from = 7;
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  EXPECT_THAT(Positions(Drain(**sub)), ::testing::ElementsAre(7, 8, 9, 10));
}

TEST_F(SubscriptionTest, FiltersByTypeAndStreamPrefix) {
  Append("order-1", "Placed");   // 1
  Append("order-1", "Paid");     // 2
  Append("table-1", "Placed");   // 3
  Append("order-2", "Placed");   // 4
  Append("order-2", "Shipped");  // 5
  SubscriptionOptions options;
  options.event_types = {"Placed", "Shipped"};
  options.stream_prefix = "order-";
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  EXPECT_THAT(Positions(Drain(**sub)), ::testing::ElementsAre(1, 4, 5));
  // Filtered-out events still move the cursor.
  EXPECT_EQ((*sub)->position(), 5u);
}

TEST_F(SubscriptionTest, FollowsOneStreamByVersion) {
  Append("a", "X");
  Append("b", "X");
  Append("a", "Y");
  Append("a", "X");
  SubscriptionOptions options;
  options.stream = "a";
  options.event_types = {"X"};
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  std::vector<RecordedEvent> got = Drain(**sub);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].version, 1u);
  EXPECT_EQ(got[1].version, 3u);
  EXPECT_EQ((*sub)->position(), 3u);  // A version, for stream subscriptions.

  // Live: an append wakes the waiting Next().
  std::thread writer([&] { Append("a", "X"); });
  std::vector<RecordedEvent> live;
  while (live.empty()) {
    auto batch = (*sub)->Next(absl::Seconds(30));
    ASSERT_TRUE(batch.ok());
    live = std::move(*batch);
  }
  writer.join();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].version, 4u);
}

TEST_F(SubscriptionTest, StreamSubscriptionBeforeTheStreamExists) {
  SubscriptionOptions options;
  options.stream = "later";
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  auto none = (*sub)->Next(absl::ZeroDuration());
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->empty());
  Append("later", "E");
  EXPECT_EQ(Drain(**sub).size(), 1u);
}

// The switch from catch-up to live while appenders run: every position is
// delivered once, in order, none missing.
TEST_F(SubscriptionTest, CatchUpToLiveUnderConcurrentAppendsLosesAndRepeatsNothing) {
  for (int i = 0; i < 300; ++i) Append("pre", "E");
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 400;
  SubscriptionOptions options;
  options.batch_size = 7;
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) Append("w-" + std::to_string(w), "E");
    });
  }
  const uint64_t total = 300 + kWriters * kPerWriter;
  std::vector<uint64_t> seen;
  while (seen.size() < total) {
    auto batch = (*sub)->Next(absl::Seconds(30));
    ASSERT_TRUE(batch.ok()) << batch.status();
    ASSERT_FALSE(batch->empty()) << "no event for 30 s after " << seen.size();
    for (const auto& e : *batch) seen.push_back(e.position);
  }
  for (auto& t : writers) t.join();
  for (uint64_t i = 0; i < total; ++i) ASSERT_EQ(seen[i], i + 1);
  auto more = (*sub)->Next(absl::ZeroDuration());
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
  EXPECT_TRUE((*sub)->live());
}

TEST_F(SubscriptionTest, StopEndsABlockedNext) {
  auto sub = Subscription::Open(*store_, {});
  ASSERT_TRUE(sub.ok());
  std::thread stopper([&] {
    absl::SleepFor(absl::Milliseconds(20));
    (*sub)->Stop();
  });
  auto batch = (*sub)->Next(absl::Hours(1));
  stopper.join();
  EXPECT_EQ(batch.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(SubscriptionTest, RejectsBadOptions) {
  SubscriptionOptions zero;
  zero.batch_size = 0;
  EXPECT_EQ(Subscription::Open(*store_, zero).status().code(), absl::StatusCode::kInvalidArgument);
  SubscriptionOptions both;
  both.stream = "a";
  both.stream_prefix = "a";
  EXPECT_EQ(Subscription::Open(*store_, both).status().code(), absl::StatusCode::kInvalidArgument);
}

// A Subscription runs no user code: a consumer that throws while handling a
// batch throws on its own thread, the store is not locked by it (appends go
// on), and the subscription goes on after the batch it returned (documented
// in annals/subscription.h: a returned batch counts as delivered).
TEST_F(SubscriptionTest, AConsumerThatThrowsLeavesTheStoreAndTheSubscriptionUsable) {
  for (int i = 0; i < 5; ++i) Append("s", "E");
  SubscriptionOptions options;
  options.batch_size = 2;
  auto sub = Subscription::Open(*store_, options);
  ASSERT_TRUE(sub.ok());
  std::vector<uint64_t> handled;
  std::string failure;
  std::thread consumer([&] {
    try {
      for (;;) {
        auto batch = (*sub)->Next(absl::Seconds(5));
        if (!batch.ok() || batch->empty()) return;
        for (const RecordedEvent& e : *batch) {
          if (e.position == 3) throw std::runtime_error("consumer failed");
          handled.push_back(e.position);
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  });
  consumer.join();
  EXPECT_EQ(failure, "consumer failed");
  EXPECT_EQ(handled, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ((*sub)->position(), 4u) << "the batch 3..4 was delivered";
  Append("s", "E");  // The store is not locked by the consumer's failure.
  EXPECT_EQ(Positions(Drain(**sub)), (std::vector<uint64_t>{5, 6}));
}

}  // namespace
}  // namespace annals
