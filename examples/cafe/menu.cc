#include "examples/cafe/menu.h"

#include <memory>
#include <utility>

#include "examples/cafe/cafe_registry.h"
#include "examples/cafe/strings.h"

namespace cafe {

const annals::AggregateSpec& Menu::Spec() {
  static const annals::AggregateSpec spec{.name = "menu",
                                          .registry = &CafeEvents(),
                                          .state_schema = kCafeStateSchema,
                                          .state_table = "cafe.MenuState"};
  return spec;
}

const MenuEntryT* Menu::Find(std::string_view sku) const {
  for (const auto& item : state().items) {
    if (item->sku == sku) return item.get();
  }
  return nullptr;
}

MenuEntryT* Menu::MutableFind(std::string_view sku) {
  for (auto& item : mutable_state().items) {
    if (item->sku == sku) return item.get();
  }
  return nullptr;
}

absl::Status Menu::AddItem(std::string sku, std::string name, std::string category,
                           int price_cents) {
  if (sku.empty() || name.empty())
    return absl::InvalidArgumentError("an item needs a sku and a name");
  if (price_cents <= 0) return absl::InvalidArgumentError("price must be positive");
  if (Find(sku) != nullptr) {
    return absl::AlreadyExistsError(Cat("the menu already has ", sku));
  }
  MenuItemAddedT e;
  e.sku = std::move(sku);
  e.name = std::move(name);
  e.category = std::move(category);
  e.price_cents = price_cents;
  return Raise(e);
}

absl::Status Menu::Reprice(std::string_view sku, int price_cents) {
  const MenuEntryT* item = Find(sku);
  if (item == nullptr) return absl::NotFoundError(Cat("the menu has no ", sku));
  if (price_cents <= 0) return absl::InvalidArgumentError("price must be positive");
  if (item->price_cents == price_cents) return absl::OkStatus();  // nothing to record
  MenuItemRepricedT e;
  e.sku = std::string(sku);
  e.price_cents = price_cents;
  return Raise(e);
}

void Menu::Apply(const MenuItemAdded& e) {
  auto item = std::make_unique<MenuEntryT>();
  item->sku = e.sku() ? e.sku()->str() : std::string();
  item->name = e.name() ? e.name()->str() : std::string();
  item->category = e.category() ? e.category()->str() : std::string();
  item->price_cents = e.price_cents();
  mutable_state().items.push_back(std::move(item));
}

void Menu::Apply(const MenuItemRepriced& e) {
  if (MenuEntryT* item = MutableFind(e.sku() ? e.sku()->string_view() : std::string_view())) {
    item->price_cents = e.price_cents();
  }
}

}  // namespace cafe
