// File: examples/cafe/order.h
//
// Order: one customer order, stream "order-<n>". Life cycle:
//
//   Place -> AddItem* -> Pay -> MarkPrepared -> Serve
//                 \-> Cancel (customer, before paying)
//   Paid, but an item is out of stock -> CancelOutOfStock: ItemOutOfStock,
//   OrderCancelled and PaymentRefunded (compensation: the payment is undone
//   by a new event, nothing is deleted).
//
// Thread-safety: a value; not thread-safe.

#ifndef ANNALS_EXAMPLES_CAFE_ORDER_H_
#define ANNALS_EXAMPLES_CAFE_ORDER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "cafe_events_generated.h"
#include "cafe_state_generated.h"

namespace cafe {

class Order : public annals::Aggregate<Order, OrderStateT> {
 public:
  using Events = annals::EventList<OrderPlaced, ItemAdded, OrderPaid, OrderPrepared, OrderServed,
                                   ItemOutOfStock, OrderCancelled, PaymentRefunded>;
  static const annals::AggregateSpec& Spec();
  using Aggregate::Aggregate;

  // Commands. Each checks its invariants first and returns
  // kFailedPrecondition (wrong state) or kInvalidArgument (bad input) without
  // raising anything.
  absl::Status Place(int table_number, std::string customer);
  absl::Status AddItem(std::string sku, std::string name, int quantity, int unit_price_cents);
  absl::Status Pay(PaymentMethod method, int64_t amount_cents, int64_t tip_cents,
                   std::string payment_ref);
  absl::Status MarkPrepared(std::string barista);
  absl::Status Serve(std::string server);
  absl::Status Cancel(std::string reason);
  absl::Status CancelOutOfStock(std::string sku, int wanted, int available);

 private:
  friend class annals::Aggregate<Order, OrderStateT>;
  void Apply(const OrderPlaced& e);
  void Apply(const ItemAdded& e);
  void Apply(const OrderPaid& e);
  void Apply(const OrderPrepared& e);
  void Apply(const OrderServed& e);
  void Apply(const ItemOutOfStock& e);
  void Apply(const OrderCancelled& e);
  void Apply(const PaymentRefunded& e);
};

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_ORDER_H_
