#include "examples/cafe/stock.h"

#include <utility>

#include "examples/cafe/cafe_registry.h"
#include "examples/cafe/strings.h"

namespace cafe {

std::string StockStream(std::string_view sku) { return Cat("stock-", sku); }

const annals::AggregateSpec& Stock::Spec() {
  static const annals::AggregateSpec spec{.name = "stock",
                                          .registry = &CafeEvents(),
                                          .state_schema = kCafeStateSchema,
                                          .state_table = "cafe.StockState"};
  return spec;
}

absl::Status Stock::Receive(std::string sku, int quantity, std::string supplier) {
  if (quantity <= 0) return absl::InvalidArgumentError("received quantity must be positive");
  if (!state().sku.empty() && state().sku != sku) {
    return absl::InvalidArgumentError(Cat("stream ", id(), " holds ", state().sku, ", not ", sku));
  }
  StockReceivedT e;
  e.sku = std::move(sku);
  e.quantity = quantity;
  e.supplier = std::move(supplier);
  return Raise(e);
}

absl::Status Stock::Reserve(std::string order_id, int quantity) {
  if (quantity <= 0) return absl::InvalidArgumentError("reserved quantity must be positive");
  if (state().on_hand < quantity) {
    return absl::FailedPreconditionError(Cat("out of stock: ", state().sku, " has ",
                                             state().on_hand, " on hand, ", order_id, " wants ",
                                             quantity));
  }
  StockReservedT e;
  e.sku = state().sku;
  e.order_id = std::move(order_id);
  e.quantity = quantity;
  return Raise(e);
}

absl::Status Stock::Release(std::string order_id, int quantity, std::string reason) {
  if (quantity <= 0) return absl::InvalidArgumentError("released quantity must be positive");
  if (quantity > state().reserved_total - state().released_total) {
    return absl::FailedPreconditionError("cannot release more than was reserved");
  }
  StockReleasedT e;
  e.sku = state().sku;
  e.order_id = std::move(order_id);
  e.quantity = quantity;
  e.reason = std::move(reason);
  return Raise(e);
}

void Stock::Apply(const StockReceived& e) {
  StockStateT& s = mutable_state();
  if (s.sku.empty() && e.sku()) s.sku = e.sku()->str();
  s.on_hand += e.quantity();
  s.received_total += e.quantity();
}

void Stock::Apply(const StockReserved& e) {
  mutable_state().on_hand -= e.quantity();
  mutable_state().reserved_total += e.quantity();
}

void Stock::Apply(const StockReleased& e) {
  mutable_state().on_hand += e.quantity();
  mutable_state().released_total += e.quantity();
}

}  // namespace cafe
