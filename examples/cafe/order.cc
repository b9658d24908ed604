#include "examples/cafe/order.h"

#include <memory>
#include <utility>

#include "examples/cafe/cafe_registry.h"
#include "examples/cafe/strings.h"

namespace cafe {

const annals::AggregateSpec& Order::Spec() {
  static const annals::AggregateSpec spec{.name = "order",
                                          .registry = &CafeEvents(),
                                          .state_schema = kCafeStateSchema,
                                          .state_table = "cafe.OrderState"};
  return spec;
}

absl::Status Order::Place(int table_number, std::string customer) {
  if (version() != 0) return absl::FailedPreconditionError("the order was already placed");
  if (table_number < 0) return absl::InvalidArgumentError("table number must not be negative");
  OrderPlacedT e;
  e.order_id = id();
  e.table_number = table_number;
  e.customer = std::move(customer);
  return Raise(e);
}

absl::Status Order::AddItem(std::string sku, std::string name, int quantity, int unit_price_cents) {
  if (state().status != OrderStatus::Open) {
    return absl::FailedPreconditionError(Cat("items can be added to an open order only; order ",
                                             id(), " is ", EnumNameOrderStatus(state().status)));
  }
  if (quantity <= 0 || quantity > 20) {
    return absl::InvalidArgumentError(Cat("quantity must be 1..20, not ", quantity));
  }
  if (unit_price_cents < 0) return absl::InvalidArgumentError("price must not be negative");
  ItemAddedT e;
  e.sku = std::move(sku);
  e.name = std::move(name);
  e.quantity = quantity;
  e.unit_price_cents = unit_price_cents;
  return Raise(e);
}

absl::Status Order::Pay(PaymentMethod method, int64_t amount_cents, int64_t tip_cents,
                        std::string payment_ref) {
  if (state().status != OrderStatus::Open) {
    return absl::FailedPreconditionError(
        Cat("order ", id(), " cannot be paid: it is ", EnumNameOrderStatus(state().status)));
  }
  if (state().lines.empty()) return absl::FailedPreconditionError("an empty order cannot be paid");
  if (amount_cents != state().total_cents) {
    return absl::InvalidArgumentError(Cat("payment of ", amount_cents,
                                          " cents does not match the total of ",
                                          state().total_cents, " cents"));
  }
  if (tip_cents < 0) return absl::InvalidArgumentError("tip must not be negative");
  OrderPaidT e;
  e.amount_cents = amount_cents;
  e.tip_cents = tip_cents;
  e.method = method;
  e.payment_ref = std::move(payment_ref);
  return Raise(e);
}

absl::Status Order::MarkPrepared(std::string barista) {
  if (state().status != OrderStatus::Paid) {
    return absl::FailedPreconditionError(
        Cat("order ", id(), " cannot be prepared: it is ", EnumNameOrderStatus(state().status)));
  }
  OrderPreparedT e;
  e.barista = std::move(barista);
  return Raise(e);
}

absl::Status Order::Serve(std::string server) {
  if (state().status != OrderStatus::Prepared) {
    return absl::FailedPreconditionError(
        Cat("order ", id(), " cannot be served: it is ", EnumNameOrderStatus(state().status)));
  }
  OrderServedT e;
  e.server = std::move(server);
  return Raise(e);
}

absl::Status Order::Cancel(std::string reason) {
  if (state().status != OrderStatus::Open) {
    return absl::FailedPreconditionError(
        Cat("order ", id(), " can be cancelled by the customer only while open; it is ",
            EnumNameOrderStatus(state().status)));
  }
  OrderCancelledT e;
  e.reason = std::move(reason);
  return Raise(e);
}

absl::Status Order::CancelOutOfStock(std::string sku, int wanted, int available) {
  if (state().status != OrderStatus::Open && state().status != OrderStatus::Paid) {
    return absl::FailedPreconditionError(Cat("order ", id(),
                                             " cannot be cancelled for missing stock: it is ",
                                             EnumNameOrderStatus(state().status)));
  }
  const bool refund = state().status == OrderStatus::Paid;
  const int64_t refund_cents = state().paid_cents + state().tip_cents;
  const std::string payment_ref = state().payment_ref;
  ItemOutOfStockT out;
  out.sku = sku;
  out.wanted = wanted;
  out.available = available;
  if (absl::Status s = Raise(out); !s.ok()) return s;
  OrderCancelledT cancelled;
  cancelled.reason = Cat("out of stock: ", sku);
  if (absl::Status s = Raise(cancelled); !s.ok()) return s;
  if (!refund) return absl::OkStatus();
  PaymentRefundedT refunded;
  refunded.amount_cents = refund_cents;
  refunded.payment_ref = payment_ref;
  refunded.reason = Cat("order cancelled: ", sku, " out of stock");
  return Raise(refunded);
}

void Order::Apply(const OrderPlaced& e) {
  OrderStateT& s = mutable_state();
  s.order_id = e.order_id() ? e.order_id()->str() : std::string();
  s.table_number = e.table_number();
  s.customer = e.customer() ? e.customer()->str() : std::string();
  s.status = OrderStatus::Open;
}

void Order::Apply(const ItemAdded& e) {
  OrderStateT& s = mutable_state();
  const std::string sku = e.sku() ? e.sku()->str() : std::string();
  for (auto& line : s.lines) {
    if (line->sku == sku && line->unit_price_cents == e.unit_price_cents()) {
      line->quantity += e.quantity();
      s.total_cents += int64_t{e.quantity()} * e.unit_price_cents();
      return;
    }
  }
  auto line = std::make_unique<OrderLineT>();
  line->sku = sku;
  line->name = e.name() ? e.name()->str() : std::string();
  line->quantity = e.quantity();
  line->unit_price_cents = e.unit_price_cents();
  s.total_cents += int64_t{e.quantity()} * e.unit_price_cents();
  s.lines.push_back(std::move(line));
}

void Order::Apply(const OrderPaid& e) {
  OrderStateT& s = mutable_state();
  s.status = OrderStatus::Paid;
  s.paid_cents = e.amount_cents();
  s.tip_cents = e.tip_cents();
  s.payment_ref = e.payment_ref() ? e.payment_ref()->str() : std::string();
}

void Order::Apply(const OrderPrepared& e) {
  mutable_state().status = OrderStatus::Prepared;
  mutable_state().barista = e.barista() ? e.barista()->str() : std::string();
}

void Order::Apply(const OrderServed& e) {
  mutable_state().status = OrderStatus::Served;
  mutable_state().server = e.server() ? e.server()->str() : std::string();
}

void Order::Apply(const ItemOutOfStock&) {
  // A fact for the audit trail; the cancellation that follows changes state.
}

void Order::Apply(const OrderCancelled& e) {
  mutable_state().status = OrderStatus::Cancelled;
  mutable_state().cancel_reason = e.reason() ? e.reason()->str() : std::string();
}

void Order::Apply(const PaymentRefunded& e) { mutable_state().refunded_cents += e.amount_cents(); }

}  // namespace cafe
