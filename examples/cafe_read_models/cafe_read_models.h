// File: examples/cafe_read_models/cafe_read_models.h
//
// Read models of the café example (examples/cafe), built from its events:
//
//   OrderBoardProjection  "cafe_board", inline: the board of open orders the
//                         staff looks at. An order appears when placed and
//                         leaves when served or cancelled; because it runs in
//                         the append's commit, the board shows an order the
//                         moment the command that placed it returns.
//     tables  board      order stream -> JSON {order_id, table, customer,
//                        status (open|paid|prepared), items, total_cents}
//             by_status  SecondaryIndex: status -> order streams
//             by_table   SecondaryIndex: table number -> order streams
//
//   SalesProjection       "cafe_sales", asynchronous: quantity and revenue per
//                         menu item per day (UTC day of the payment); a refund
//                         takes its order's lines off the day it was paid.
//     tables  sales      "YYYY-MM-DD/sku" -> JSON {quantity, revenue_cents}
//             lines      order stream 0x00 sku -> JSON {quantity, unit_price_cents}
//                        (working state: lines of orders not yet settled)
//             paid_day   order stream -> "YYYY-MM-DD"
//
// Thread-safety: the projections are stateless (all state is in their
// tables); the query functions take any ReadModelReader.

#ifndef ANNALS_EXAMPLES_CAFE_READ_MODELS_CAFE_READ_MODELS_H_
#define ANNALS_EXAMPLES_CAFE_READ_MODELS_CAFE_READ_MODELS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "annals/projection.h"
#include "annals/read_model.h"

namespace cafe {

inline constexpr std::string_view kBoardProjection = "cafe_board";
inline constexpr std::string_view kSalesProjection = "cafe_sales";

class OrderBoardProjection : public annals::Projection {
 public:
  std::string_view name() const override { return kBoardProjection; }
  std::vector<std::string> event_types() const override;
  std::string stream_prefix() const override { return "order-"; }
  absl::Status Apply(const annals::EventView& event, annals::ReadModelWriter& writer) override;
};

class SalesProjection : public annals::Projection {
 public:
  std::string_view name() const override { return kSalesProjection; }
  std::vector<std::string> event_types() const override;
  std::string stream_prefix() const override { return "order-"; }
  absl::Status Apply(const annals::EventView& event, annals::ReadModelWriter& writer) override;
};

// Both, for annals::CliOptions::projections and services.
std::vector<std::shared_ptr<annals::Projection>> CafeProjections();

struct BoardEntry {
  std::string stream;
  std::string order_id;
  int table = 0;
  std::string customer;
  std::string status;
  int64_t items = 0;
  int64_t total_cents = 0;
};

// Open orders in stream order; with `status` non-empty, only those in it
// (through the by_status index).
absl::StatusOr<std::vector<BoardEntry>> OpenOrders(const annals::ReadModelReader& board,
                                                   std::string_view status = {});
// Open orders at one table (through the by_table index).
absl::StatusOr<std::vector<BoardEntry>> OrdersAtTable(const annals::ReadModelReader& board,
                                                      int table);

struct ItemSales {
  std::string day;  // YYYY-MM-DD (UTC)
  std::string sku;
  int64_t quantity = 0;
  int64_t revenue_cents = 0;
};

// Sales of one day (empty `day`: every day), by day then sku.
absl::StatusOr<std::vector<ItemSales>> Sales(const annals::ReadModelReader& sales,
                                             std::string_view day = {});

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_READ_MODELS_CAFE_READ_MODELS_H_
