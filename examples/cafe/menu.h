// File: examples/cafe/menu.h
//
// Menu: the café's single menu, stream "menu": items and their prices.
// Orders copy name and price when an item is added, so repricing never
// changes an order already taken.
//
// Thread-safety: a value; not thread-safe.

#ifndef ANNALS_EXAMPLES_CAFE_MENU_H_
#define ANNALS_EXAMPLES_CAFE_MENU_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "cafe_events_generated.h"
#include "cafe_state_generated.h"

namespace cafe {

inline constexpr std::string_view kMenuStream = "menu";

class Menu : public annals::Aggregate<Menu, MenuStateT> {
 public:
  using Events = annals::EventList<MenuItemAdded, MenuItemRepriced>;
  static const annals::AggregateSpec& Spec();
  using Aggregate::Aggregate;

  absl::Status AddItem(std::string sku, std::string name, std::string category, int price_cents);
  absl::Status Reprice(std::string_view sku, int price_cents);

  // nullptr when the menu has no such item.
  const MenuEntryT* Find(std::string_view sku) const;

 private:
  friend class annals::Aggregate<Menu, MenuStateT>;
  void Apply(const MenuItemAdded& e);
  void Apply(const MenuItemRepriced& e);
  MenuEntryT* MutableFind(std::string_view sku);
};

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_MENU_H_
