#include "examples/cafe/cafe_registry.h"

#include <cstdio>
#include <cstdlib>

#include "cafe_events_generated.h"

namespace cafe {
namespace {

void Check(const absl::Status& status) {
  // Registration errors are programming errors in this file: fail loudly at
  // startup rather than at the first event.
  if (!status.ok()) {
    std::fprintf(stderr, "cafe: event registry: %s\n", std::string(status.message()).c_str());
    std::abort();
  }
}

}  // namespace

const annals::EventRegistry& CafeEvents() {
  static const annals::EventRegistry* registry = [] {
    auto* r = new annals::EventRegistry();
    Check(r->AddSchema(kCafeEventsSchema));
    Check(r->Register<MenuItemAdded>("MenuItemAdded"));
    Check(r->Register<MenuItemRepriced>("MenuItemRepriced"));
    Check(r->Register<StockReceived>("StockReceived"));
    Check(r->Register<StockReserved>("StockReserved"));
    Check(r->Register<StockReleased>("StockReleased"));
    Check(r->Register<OrderPlaced>("OrderPlaced"));
    Check(r->Register<ItemAdded>("ItemAdded"));
    Check(r->Register<OrderPaid>("OrderPaid"));
    Check(r->Register<OrderPrepared>("OrderPrepared"));
    Check(r->Register<OrderServed>("OrderServed"));
    Check(r->Register<ItemOutOfStock>("ItemOutOfStock"));
    Check(r->Register<OrderCancelled>("OrderCancelled"));
    Check(r->Register<PaymentRefunded>("PaymentRefunded"));
    return r;
  }();
  return *registry;
}

}  // namespace cafe
