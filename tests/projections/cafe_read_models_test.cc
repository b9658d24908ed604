// The café read models on the café simulation: the inline board is consistent
// (index and table agree) in every snapshot taken while orders flow and is
// empty when every order is done; the asynchronous sales model matches an
// independent fold over the order streams, and a rebuild reproduces it.

#include "examples/cafe_read_models/cafe_read_models.h"

#include <atomic>
#include <thread>

#include "annals/event_store.h"
#include "cafe_events_generated.h"
#include "examples/cafe/cafe_registry.h"
#include "examples/cafe/traffic.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

TEST(CafeReadModelsTest, BoardAndSalesFollowTheCafe) {
  testing::TempDir dir;
  Options options;
  options.durability = Durability::kBuffered;
  auto store = EventStore::Open(dir.Sub("store"), options);
  ASSERT_TRUE(store.ok());
  ProjectionOptions inline_options;
  inline_options.mode = ProjectionMode::kInline;
  auto board = ProjectionRunner::Start(**store, std::make_shared<cafe::OrderBoardProjection>(),
                                       inline_options);
  auto sales = ProjectionRunner::Start(**store, std::make_shared<cafe::SalesProjection>());
  ASSERT_TRUE(board.ok() && sales.ok());

  std::atomic<bool> done{false};
  std::atomic<int> inconsistent{0}, nonempty_views{0};
  std::thread sampler([&] {
    while (!done) {
      auto view = ReadModelSnapshot::Open(**store, cafe::kBoardProjection);
      if (!view.ok()) {
        ++inconsistent;
        continue;
      }
      auto all = cafe::OpenOrders(**view);
      auto open = cafe::OpenOrders(**view, "open");
      auto paid = cafe::OpenOrders(**view, "paid");
      auto prepared = cafe::OpenOrders(**view, "prepared");
      if (!all.ok() || !open.ok() || !paid.ok() || !prepared.ok() ||
          all->size() != open->size() + paid->size() + prepared->size()) {
        ++inconsistent;
      }
      if (all.ok() && !all->empty()) {
        ++nonempty_views;
        auto at_table = cafe::OrdersAtTable(**view, all->front().table);
        if (!at_table.ok() || at_table->empty()) ++inconsistent;
      }
    }
  });
  cafe::TrafficOptions traffic;
  traffic.orders = 150;
  traffic.seed = testing::TestSeed();
  auto summary = cafe::RunTraffic(**store, traffic);
  done = true;
  sampler.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(inconsistent.load(), 0);
  EXPECT_GT(nonempty_views.load(), 0);

  auto board_view = ReadModelSnapshot::Open(**store, cafe::kBoardProjection);
  ASSERT_TRUE(board_view.ok());
  EXPECT_EQ((*board_view)->position(), (*store)->last_position());  // Inline: no lag.
  EXPECT_TRUE(cafe::OpenOrders(**board_view)->empty());  // Every order ran to completion.

  // Independent fold: revenue of item lines of orders paid and not refunded.
  int64_t expected = 0;
  ASSERT_TRUE((*store)
                  ->ListStreams("order-",
                                [&](const StreamInfo& info) {
                                  auto events = (*store)->ReadStream(info.stream);
                                  EXPECT_TRUE(events.ok());
                                  int64_t lines = 0;
                                  bool paid = false, refunded = false;
                                  for (const RecordedEvent& e : *events) {
                                    if (e.type == "ItemAdded") {
                                      auto item = cafe::CafeEvents().Decode<cafe::ItemAdded>(
                                          e.type, e.schema_version, e.payload);
                                      EXPECT_TRUE(item.ok());
                                      lines += int64_t{item->quantity} * item->unit_price_cents;
                                    }
                                    paid = paid || e.type == "OrderPaid";
                                    refunded = refunded || e.type == "PaymentRefunded";
                                  }
                                  if (paid && !refunded) expected += lines;
                                  return true;
                                })
                  .ok());
  ASSERT_TRUE((*sales)->WaitForPosition((*store)->last_position(), absl::Seconds(30)));
  auto sales_view = ReadModelSnapshot::Open(**store, cafe::kSalesProjection);
  ASSERT_TRUE(sales_view.ok());
  auto per_item = cafe::Sales(**sales_view);
  ASSERT_TRUE(per_item.ok());
  int64_t revenue = 0;
  for (const auto& s : *per_item) revenue += s.revenue_cents;
  EXPECT_EQ(revenue, expected);
  EXPECT_GT(revenue, 0);
  // Settled orders leave no working state behind.
  EXPECT_TRUE(testing::Dump(**sales_view, "lines").empty());

  const auto incremental = testing::Dump(**sales_view, "sales");
  ASSERT_TRUE((*sales)->Rebuild().ok());
  auto rebuilt = ReadModelSnapshot::Open(**store, cafe::kSalesProjection);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(testing::Dump(**rebuilt, "sales"), incremental);
}

}  // namespace
}  // namespace annals
