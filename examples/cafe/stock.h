// File: examples/cafe/stock.h
//
// Stock: the kitchen's stock of one menu item, stream "stock-<sku>". Orders
// reserve stock when they are prepared; a reservation that cannot be kept
// (another item of the order ran out) is released by a compensating event.
//
// Thread-safety: a value; not thread-safe.

#ifndef ANNALS_EXAMPLES_CAFE_STOCK_H_
#define ANNALS_EXAMPLES_CAFE_STOCK_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "cafe_events_generated.h"
#include "cafe_state_generated.h"

namespace cafe {

// "stock-<sku>"
std::string StockStream(std::string_view sku);

class Stock : public annals::Aggregate<Stock, StockStateT> {
 public:
  using Events = annals::EventList<StockReceived, StockReserved, StockReleased>;
  static const annals::AggregateSpec& Spec();
  using Aggregate::Aggregate;

  absl::Status Receive(std::string sku, int quantity, std::string supplier);
  // kFailedPrecondition "out of stock" when fewer than `quantity` are on hand.
  absl::Status Reserve(std::string order_id, int quantity);
  absl::Status Release(std::string order_id, int quantity, std::string reason);

 private:
  friend class annals::Aggregate<Stock, StockStateT>;
  void Apply(const StockReceived& e);
  void Apply(const StockReserved& e);
  void Apply(const StockReleased& e);
};

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_STOCK_H_
