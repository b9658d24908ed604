// The café domain: given-when-then tests of its aggregates, and the traffic
// simulation end to end (every order replays to a consistent final state).

#include <string>

#include "annals/given_when_then.h"
#include "annals/repository.h"
#include "examples/cafe/cafe_cli.h"
#include "examples/cafe/menu.h"
#include "examples/cafe/order.h"
#include "examples/cafe/stock.h"
#include "examples/cafe/traffic.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/recorded_events.h"
#include "tests/common/temp_dir.h"

namespace cafe {
namespace {

using ::testing::HasSubstr;

OrderPlacedT Placed(std::string id, int table, std::string customer) {
  OrderPlacedT e;
  e.order_id = std::move(id);
  e.table_number = table;
  e.customer = std::move(customer);
  return e;
}

ItemAddedT Added(std::string sku, std::string name, int quantity, int price) {
  ItemAddedT e;
  e.sku = std::move(sku);
  e.name = std::move(name);
  e.quantity = quantity;
  e.unit_price_cents = price;
  return e;
}

OrderPaidT Paid(int64_t amount, int64_t tip, std::string ref) {
  OrderPaidT e;
  e.amount_cents = amount;
  e.tip_cents = tip;
  e.method = PaymentMethod::Card;
  e.payment_ref = std::move(ref);
  return e;
}

OrderPreparedT Prepared(std::string barista) {
  OrderPreparedT e;
  e.barista = std::move(barista);
  return e;
}

class OrderTest : public ::testing::Test {
 protected:
  annals::GivenWhenThen<Order> order_{"order-000001"};
};

TEST_F(OrderTest, PlacingANewOrder) {
  EXPECT_TRUE(order_.When([](Order& o) { return o.Place(4, "Ana"); })
                  .ThenEvents(Placed("order-000001", 4, "Ana")));
  EXPECT_EQ(order_.aggregate().state().status, OrderStatus::Open);
}

TEST_F(OrderTest, PlacingTwiceIsRejected) {
  EXPECT_TRUE(order_.Given(Placed("order-000001", 4, "Ana"))
                  .When([](Order& o) { return o.Place(5, "Ben"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "already placed"));
}

TEST_F(OrderTest, AddingItemsAddsUpTheTotal) {
  order_.Given(Placed("order-000001", 4, "Ana"), Added("latte", "Caffè latte", 1, 390));
  EXPECT_TRUE(order_.When([](Order& o) { return o.AddItem("latte", "Caffè latte", 2, 390); })
                  .ThenEvents(Added("latte", "Caffè latte", 2, 390)));
  EXPECT_EQ(order_.aggregate().state().total_cents, 3 * 390);
  ASSERT_EQ(order_.aggregate().state().lines.size(), 1u);
  EXPECT_EQ(order_.aggregate().state().lines[0]->quantity, 3);
}

TEST_F(OrderTest, BadQuantityIsRejected) {
  EXPECT_TRUE(order_.Given(Placed("order-000001", 4, "Ana"))
                  .When([](Order& o) { return o.AddItem("latte", "Caffè latte", 0, 390); })
                  .ThenError(absl::StatusCode::kInvalidArgument, "quantity"));
}

TEST_F(OrderTest, PaymentMustMatchTheTotal) {
  order_.Given(Placed("order-000001", 4, "Ana"), Added("espresso", "Espresso", 2, 250));
  EXPECT_TRUE(order_.When([](Order& o) { return o.Pay(PaymentMethod::Card, 450, 0, "r"); })
                  .ThenError(absl::StatusCode::kInvalidArgument, "does not match the total"));
  EXPECT_TRUE(order_.When([](Order& o) { return o.Pay(PaymentMethod::Card, 500, 50, "r1"); })
                  .ThenEvents(Paid(500, 50, "r1")));
}

TEST_F(OrderTest, EmptyOrderCannotBePaid) {
  EXPECT_TRUE(order_.Given(Placed("order-000001", 4, "Ana"))
                  .When([](Order& o) { return o.Pay(PaymentMethod::Cash, 0, 0, "r"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "empty order"));
}

TEST_F(OrderTest, NothingCanBeAddedAfterPaying) {
  EXPECT_TRUE(order_
                  .Given(Placed("order-000001", 4, "Ana"), Added("chai", "Chai latte", 1, 400),
                         Paid(400, 0, "r1"))
                  .When([](Order& o) { return o.AddItem("chai", "Chai latte", 1, 400); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "is Paid"));
}

TEST_F(OrderTest, PreparedThenServed) {
  order_.Given(Placed("order-000001", 4, "Ana"), Added("chai", "Chai latte", 1, 400),
               Paid(400, 0, "r1"));
  EXPECT_TRUE(order_.When([](Order& o) { return o.Serve("Uma"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "cannot be served"));
  EXPECT_TRUE(
      order_.When([](Order& o) { return o.MarkPrepared("Sam"); }).ThenEvents(Prepared("Sam")));
  OrderServedT served;
  served.server = "Uma";
  EXPECT_TRUE(order_.When([](Order& o) { return o.Serve("Uma"); }).ThenEvents(served));
  EXPECT_EQ(order_.aggregate().state().status, OrderStatus::Served);
}

TEST_F(OrderTest, OutOfStockAfterPaymentCancelsAndRefunds) {
  order_.Given(Placed("order-000001", 4, "Ana"),
               Added("pumpkin-spice", "Pumpkin spice latte", 1, 520),
               Paid(520, 100, "card-123456"));
  ItemOutOfStockT out;
  out.sku = "pumpkin-spice";
  out.wanted = 1;
  out.available = 0;
  OrderCancelledT cancelled;
  cancelled.reason = "out of stock: pumpkin-spice";
  PaymentRefundedT refunded;
  refunded.amount_cents = 620;  // the payment and the tip
  refunded.payment_ref = "card-123456";
  refunded.reason = "order cancelled: pumpkin-spice out of stock";
  EXPECT_TRUE(order_.When([](Order& o) { return o.CancelOutOfStock("pumpkin-spice", 1, 0); })
                  .ThenEvents(out, cancelled, refunded));
  const OrderStateT& s = order_.aggregate().state();
  EXPECT_EQ(s.status, OrderStatus::Cancelled);
  EXPECT_EQ(s.paid_cents, 520);  // history is kept: paid, then refunded
  EXPECT_EQ(s.refunded_cents, 620);
}

TEST_F(OrderTest, OutOfStockBeforePaymentRefundsNothing) {
  ItemOutOfStockT out;
  out.sku = "chai";
  out.wanted = 2;
  out.available = 1;
  OrderCancelledT cancelled;
  cancelled.reason = "out of stock: chai";
  EXPECT_TRUE(order_.Given(Placed("order-000001", 4, "Ana"), Added("chai", "Chai latte", 2, 400))
                  .When([](Order& o) { return o.CancelOutOfStock("chai", 2, 1); })
                  .ThenEvents(out, cancelled));
}

TEST_F(OrderTest, ServedOrderCannotBeCancelled) {
  OrderServedT served;
  served.server = "Uma";
  EXPECT_TRUE(order_
                  .Given(Placed("order-000001", 4, "Ana"), Added("chai", "Chai latte", 1, 400),
                         Paid(400, 0, "r1"), Prepared("Sam"), served)
                  .When([](Order& o) { return o.CancelOutOfStock("chai", 1, 0); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "is Served"));
  EXPECT_TRUE(order_.When([](Order& o) { return o.Cancel("changed mind"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "only while open"));
}

TEST(StockTest, ReservationsCannotExceedWhatIsOnHand) {
  annals::GivenWhenThen<Stock> stock("stock-chai");
  StockReceivedT received;
  received.sku = "chai";
  received.quantity = 2;
  received.supplier = "Daily Bakery";
  StockReservedT reserved;
  reserved.sku = "chai";
  reserved.order_id = "order-1";
  reserved.quantity = 2;
  EXPECT_TRUE(stock.Given(received)
                  .When([](Stock& s) { return s.Reserve("order-1", 2); })
                  .ThenEvents(reserved));
  EXPECT_TRUE(stock.When([](Stock& s) { return s.Reserve("order-2", 1); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "out of stock"));
  StockReleasedT released;
  released.sku = "chai";
  released.order_id = "order-1";
  released.quantity = 2;
  released.reason = "compensation";
  EXPECT_TRUE(stock.When([](Stock& s) { return s.Release("order-1", 2, "compensation"); })
                  .ThenEvents(released));
  EXPECT_EQ(stock.aggregate().state().on_hand, 2);
  EXPECT_TRUE(stock.When([](Stock& s) { return s.Release("order-1", 1, "again"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "more than was reserved"));
}

TEST(MenuTest, ItemsAreUniqueAndRepricingIsRecorded) {
  annals::GivenWhenThen<Menu> menu("menu");
  MenuItemAddedT latte;
  latte.sku = "latte";
  latte.name = "Caffè latte";
  latte.category = "coffee";
  latte.price_cents = 390;
  EXPECT_TRUE(menu.Given(latte)
                  .When([](Menu& m) { return m.AddItem("latte", "Latte", "coffee", 400); })
                  .ThenError(absl::StatusCode::kAlreadyExists));
  MenuItemRepricedT repriced;
  repriced.sku = "latte";
  repriced.price_cents = 410;
  EXPECT_TRUE(menu.When([](Menu& m) { return m.Reprice("latte", 410); }).ThenEvents(repriced));
  EXPECT_TRUE(menu.When([](Menu& m) { return m.Reprice("latte", 410); }).ThenNothing());
  EXPECT_EQ(menu.aggregate().Find("latte")->price_cents, 410);
}

TEST(CafeTrafficTest, EveryOrderEndsConsistently) {
  annals::testing::TempDir dir;
  annals::Options options;
  options.durability = annals::Durability::kBuffered;
  auto store = annals::EventStore::Open(dir.Sub("cafe"), options);
  ASSERT_TRUE(store.ok()) << store.status();
  const uint64_t seed = annals::testing::TestSeed();
  auto summary = RunTraffic(**store, {.orders = 300, .seed = seed, .snapshot_every = 20});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->orders, 300u);
  EXPECT_EQ(summary->served + summary->cancelled_by_customer + summary->cancelled_out_of_stock,
            300u);
  EXPECT_GT(summary->events, 300u * 4);
  EXPECT_GT(summary->snapshots_written, 0u);

  // Replay every order from its events alone and check its final state.
  annals::Repository<Order> orders(**store);
  uint64_t served = 0, cancelled = 0, refunds = 0;
  int64_t refunded = 0;
  ASSERT_TRUE(
      (*store)
          ->ListStreams(
              "order-",
              [&](const annals::StreamInfo& info) {
                auto order = orders.Load(info.stream, {.use_snapshots = false});
                EXPECT_TRUE(order.ok()) << order.status();
                if (!order.ok()) return false;
                const OrderStateT& s = order->state();
                if (s.status == OrderStatus::Served) ++served;
                if (s.status == OrderStatus::Cancelled) ++cancelled;
                EXPECT_TRUE(s.status == OrderStatus::Served || s.status == OrderStatus::Cancelled)
                    << info.stream;
                if (s.refunded_cents > 0) {
                  ++refunds;
                  refunded += s.refunded_cents;
                  EXPECT_EQ(s.refunded_cents, s.paid_cents + s.tip_cents);
                }
                return true;
              })
          .ok());
  EXPECT_EQ(served, summary->served);
  EXPECT_EQ(cancelled, summary->cancelled_by_customer + summary->cancelled_out_of_stock);
  EXPECT_EQ(refunds, summary->refunds);
  EXPECT_EQ(refunded, summary->refunded_cents);

  // Stock never goes negative and adds up.
  annals::Repository<Stock> stocks(**store);
  auto chai = stocks.Load(StockStream("chai"));
  ASSERT_TRUE(chai.ok());
  EXPECT_GE(chai->state().on_hand, 0);
  EXPECT_EQ(chai->state().on_hand, chai->state().received_total - chai->state().reserved_total +
                                       chai->state().released_total);

  auto verify = (*store)->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;

  // The sample order for the audit walk-through replays "as of" its payment.
  ASSERT_FALSE(summary->sample_order.empty());
  auto as_of = orders.Load(summary->sample_order, {.as_of_us = summary->sample_as_of_us});
  ASSERT_TRUE(as_of.ok()) << as_of.status();
  EXPECT_EQ(as_of->state().status, OrderStatus::Paid);
}

TEST(CafeCliTest, AggregatesAndPayloadRendering) {
  auto aggregates = CafeCliAggregates();
  ASSERT_EQ(aggregates.size(), 3u);
  EXPECT_EQ(aggregates[0].name, "order");
  EXPECT_EQ(aggregates[1].name, "menu");
  EXPECT_EQ(aggregates[2].name, "stock");

  Order order("order-000042");
  ASSERT_TRUE(order.Place(7, "Zoë").ok());
  ASSERT_TRUE(order.AddItem("latte", "Caffè latte", 2, 390).ok());
  const std::vector<annals::RecordedEvent> events =
      annals::testing::AsRecorded("order-000042", order.TakePendingEvents());
  auto placed_json = CafeRenderPayload(events[0]);
  ASSERT_TRUE(placed_json.has_value());
  EXPECT_EQ(*placed_json, R"({"order_id":"order-000042","table_number":7,"customer":"Zoë"})");
  auto state = aggregates[0].replay(events);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_THAT(*state, HasSubstr(R"("status":"Open")"));
  EXPECT_THAT(*state, HasSubstr(R"("total_cents":780)"));
  auto first_only = aggregates[0].replay(absl::MakeConstSpan(events).subspan(0, 1));
  EXPECT_THAT(*first_only, HasSubstr(R"("total_cents":0)"));
}

}  // namespace
}  // namespace cafe
