#include "examples/cafe/cafe_cli.h"

#include "examples/cafe/cafe_registry.h"
#include "examples/cafe/menu.h"
#include "examples/cafe/order.h"
#include "examples/cafe/stock.h"

namespace cafe {

std::vector<annals::CliAggregate> CafeCliAggregates() {
  return {
      {.name = "order",
       .description = "a café order (stream order-<n>): lines, payment, refund, status",
       .replay = &annals::ReplayToJson<Order>},
      {.name = "menu",
       .description = "the café menu (stream menu): items and prices",
       .replay = &annals::ReplayToJson<Menu>},
      {.name = "stock",
       .description = "stock of one menu item (stream stock-<sku>)",
       .replay = &annals::ReplayToJson<Stock>},
  };
}

std::optional<std::string> CafeRenderPayload(const annals::RecordedEvent& event) {
  return CafeEvents().RenderPayload(event);
}

}  // namespace cafe
