#include "examples/cafe/traffic.h"

#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "annals/repository.h"
#include "examples/cafe/menu.h"
#include "examples/cafe/order.h"
#include "examples/cafe/stock.h"
#include "examples/cafe/strings.h"
#include "nlohmann/json.hpp"

namespace cafe {
namespace {

// RFC 3339 UTC with microseconds, as `annals replay --as-of` takes it.
std::string FormatAsOf(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

struct MenuSeed {
  const char* sku;
  const char* name;
  const char* category;
  int price_cents;
  int weight;   // popularity, out of 100
  bool scarce;  // delivered at 40% of the restocks
};

// The seasonal item is popular and scarce: it runs out now and then, and paid
// orders that contain it are cancelled and refunded.
constexpr MenuSeed kMenu[] = {
    {"espresso", "Espresso", "coffee", 250, 14, false},
    {"flat-white", "Flat white", "coffee", 380, 16, false},
    {"cappuccino", "Cappuccino", "coffee", 360, 14, false},
    {"latte", "Caffè latte", "coffee", 390, 14, false},
    {"chai", "Chai latte", "tea", 400, 6, false},
    {"croissant", "Croissant", "bakery", 280, 10, false},
    {"pain-choc", "Pain au chocolat", "bakery", 310, 8, false},
    {"banana-bread", "Banana bread", "bakery", 350, 6, false},
    {"avo-toast", "Avocado toast", "kitchen", 950, 5, false},
    {"pumpkin-spice", "Pumpkin spice latte", "seasonal", 520, 7, true},
};

// Orders between two restocks.
constexpr uint64_t kRestockEvery = 25;

// Units of `seed` the café sells in kRestockEvery orders (2.5 lines of 1.2
// units per order), plus a 30% margin.
int RestockQuantity(const MenuSeed& seed) {
  return static_cast<int>(kRestockEvery * 25 * 12 * seed.weight * 13 / (10 * 10 * 100 * 10)) + 1;
}

const char* kCustomers[] = {"Ana",  "Ben", "Chloé", "Dev", "Emil", "Farah", "Gus",   "Hana",
                            "Ines", "Jon", "Kofi",  "Lea", "Mika", "Nora",  "Oskar", "Priya"};
const char* kBaristas[] = {"Sam", "Rita", "Tomás"};
const char* kServers[] = {"Uma", "Vik", "Wen"};

enum class Stage { kPlace, kAdd, kPay, kPrepare, kServe };

struct InFlight {
  std::string id;
  Stage stage = Stage::kPlace;
  int items_left = 0;
};

class Simulation {
 public:
  Simulation(annals::EventStore& store, const TrafficOptions& options)
      : store_(store),
        options_(options),
        rng_(options.seed),
        orders_(store, {.snapshot_every = options.snapshot_every}),
        menus_(store, {.snapshot_every = options.snapshot_every}),
        stocks_(store, {.snapshot_every = options.snapshot_every}) {}

  absl::StatusOr<TrafficSummary> Run() {
    const auto start = std::chrono::steady_clock::now();
    const uint64_t first_position = store_.last_position();
    if (absl::Status s = SetUpMenu(); !s.ok()) return s;
    if (absl::Status s = CountExistingOrders(); !s.ok()) return s;

    uint64_t started = 0;
    std::vector<InFlight> in_flight;
    while (started < options_.orders || !in_flight.empty()) {
      const bool can_start =
          started < options_.orders && static_cast<int>(in_flight.size()) < options_.max_in_flight;
      if (can_start && (in_flight.empty() || Chance(0.3))) {
        InFlight order;
        order.id = Cat("order-", Pad(next_order_number_++));
        if (summary_.first_order.empty()) summary_.first_order = order.id;
        summary_.last_order = order.id;
        in_flight.push_back(order);
        ++started;
        if (started % kRestockEvery == 0) {
          if (absl::Status s = Restock(); !s.ok()) return s;
        }
        if (started % 200 == 0) {
          if (absl::Status s = Reprice(); !s.ok()) return s;
        }
        continue;
      }
      const size_t pick = Uniform(0, in_flight.size() - 1);
      absl::StatusOr<bool> done = Step(in_flight[pick]);
      if (!done.ok()) return done.status();
      if (*done) {
        in_flight[pick] = std::move(in_flight.back());
        in_flight.pop_back();
      }
    }
    summary_.orders = started;
    summary_.last_position = store_.last_position();
    summary_.events = summary_.last_position - first_position;
    summary_.snapshots_written = orders_.stats().snapshots_written +
                                 menus_.stats().snapshots_written +
                                 stocks_.stats().snapshots_written;
    if (absl::Status s = PickSample(); !s.ok()) return s;
    summary_.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary_;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  size_t Uniform(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }
  template <typename T, size_t N>
  const T& PickFrom(const T (&items)[N]) {
    return items[Uniform(0, N - 1)];
  }
  static std::string Pad(uint64_t n) {
    std::string s = std::to_string(n);
    return s.size() >= 6 ? s : std::string(6 - s.size(), '0') + s;
  }

  const MenuSeed& PickItem() {
    int total = 0;
    for (const MenuSeed& m : kMenu) total += m.weight;
    int r = static_cast<int>(Uniform(0, total - 1));
    for (const MenuSeed& m : kMenu) {
      if (r < m.weight) return m;
      r -= m.weight;
    }
    return kMenu[0];
  }

  // A command rejected by the domain is part of the traffic (customers try
  // things); anything else is an error of the run.
  absl::Status Expect(const absl::Status& status, bool* rejected) {
    *rejected = false;
    if (status.ok()) return status;
    if (status.code() == absl::StatusCode::kFailedPrecondition ||
        status.code() == absl::StatusCode::kInvalidArgument) {
      *rejected = true;
      ++summary_.rejected_commands;
      return absl::OkStatus();
    }
    return status;
  }

  absl::Status SetUpMenu() {
    absl::StatusOr<Menu> menu = menus_.Execute(kMenuStream, [&](Menu& m) -> absl::Status {
      for (const MenuSeed& seed : kMenu) {
        if (m.Find(seed.sku) != nullptr) continue;
        if (absl::Status s = m.AddItem(seed.sku, seed.name, seed.category, seed.price_cents);
            !s.ok()) {
          return s;
        }
      }
      return absl::OkStatus();
    });
    if (!menu.ok()) return menu.status();
    menu_ = std::move(*menu);
    // Opening stock: two restocks' worth.
    for (const MenuSeed& seed : kMenu) {
      absl::StatusOr<Stock> stock = stocks_.Execute(StockStream(seed.sku), [&](Stock& s) {
        return s.Receive(seed.sku, 2 * RestockQuantity(seed), "opening stock");
      });
      if (!stock.ok()) return stock.status();
    }
    return absl::OkStatus();
  }

  absl::Status CountExistingOrders() {
    uint64_t existing = 0;
    absl::Status s = store_.ListStreams("order-", [&](const annals::StreamInfo&) {
      ++existing;
      return true;
    });
    next_order_number_ = existing + 1;
    return s;
  }

  absl::Status Restock() {
    ++summary_.restocks;
    for (const MenuSeed& seed : kMenu) {
      if (seed.scarce && Chance(0.6)) continue;  // the supplier could not deliver
      const int quantity = RestockQuantity(seed) + static_cast<int>(Uniform(0, 2));
      absl::StatusOr<Stock> stock = stocks_.Execute(StockStream(seed.sku), [&](Stock& s) {
        return s.Receive(seed.sku, quantity, Chance(0.5) ? "Bean & Co" : "Daily Bakery");
      });
      if (!stock.ok()) return stock.status();
    }
    return absl::OkStatus();
  }

  absl::Status Reprice() {
    const MenuSeed& seed = PickItem();
    absl::StatusOr<Menu> menu = menus_.Execute(kMenuStream, [&](Menu& m) {
      const MenuEntryT* item = m.Find(seed.sku);
      if (item == nullptr) return absl::NotFoundError(Cat("menu lost ", seed.sku));
      return m.Reprice(seed.sku, item->price_cents + 10);
    });
    if (!menu.ok()) return menu.status();
    menu_ = std::move(*menu);
    ++summary_.reprices;
    return absl::OkStatus();
  }

  // Advances one order by one step; true when the order is finished.
  absl::StatusOr<bool> Step(InFlight& order) {
    bool rejected = false;
    switch (order.stage) {
      case Stage::kPlace: {
        const int table = static_cast<int>(Uniform(1, 24));
        const std::string customer = PickFrom(kCustomers);
        auto placed = orders_.Execute(order.id, [&](Order& o) { return o.Place(table, customer); });
        if (!placed.ok()) return placed.status();
        order.items_left = static_cast<int>(Uniform(1, 4));
        order.stage = Stage::kAdd;
        return false;
      }
      case Stage::kAdd: {
        const MenuSeed& seed = PickItem();
        const MenuEntryT* item = menu_.Find(seed.sku);
        const int quantity = Chance(0.8) ? 1 : 2;
        auto added = orders_.Execute(order.id, [&](Order& o) {
          return o.AddItem(item->sku, item->name, quantity, item->price_cents);
        });
        if (!added.ok()) return added.status();
        if (--order.items_left > 0) return false;
        if (Chance(0.03)) {
          auto cancelled = orders_.Execute(
              order.id, [&](Order& o) { return o.Cancel("customer changed their mind"); });
          if (!cancelled.ok()) return cancelled.status();
          ++summary_.cancelled_by_customer;
          return true;
        }
        order.stage = Stage::kPay;
        return false;
      }
      case Stage::kPay: {
        if (Chance(0.02)) {
          // The card terminal was keyed with a wrong amount: the domain refuses.
          auto wrong = orders_.Execute(order.id, [&](Order& o) {
            return o.Pay(PaymentMethod::Card, o.state().total_cents - 50, 0, "typo");
          });
          if (absl::Status s = Expect(wrong.status(), &rejected); !s.ok()) return s;
        }
        const bool card = Chance(0.75);
        const int64_t tip = Chance(0.4) ? static_cast<int64_t>(Uniform(1, 6)) * 50 : 0;
        const std::string ref = Cat(card ? "card-" : "cash-", Uniform(100000, 999999));
        auto paid = orders_.Execute(order.id, [&](Order& o) {
          return o.Pay(card ? PaymentMethod::Card : PaymentMethod::Cash, o.state().total_cents, tip,
                       ref);
        });
        if (!paid.ok()) return paid.status();
        summary_.revenue_cents += paid->state().paid_cents + paid->state().tip_cents;
        order.stage = Stage::kPrepare;
        return false;
      }
      case Stage::kPrepare:
        return Prepare(order);
      case Stage::kServe: {
        auto served =
            orders_.Execute(order.id, [&](Order& o) { return o.Serve(PickFrom(kServers)); });
        if (!served.ok()) return served.status();
        ++summary_.served;
        if (sample_served_.empty()) sample_served_ = order.id;
        if (Chance(0.01)) {
          // A customer asks to add a cake to a served order: refused.
          auto late = orders_.Execute(order.id, [&](Order& o) {
            return o.AddItem("banana-bread", "Banana bread", 1, 350);
          });
          if (absl::Status s = Expect(late.status(), &rejected); !s.ok()) return s;
        }
        return true;
      }
    }
    return absl::InternalError("unknown stage");
  }

  // The kitchen: reserve stock for every line; if one is missing, release
  // what was reserved (compensation), cancel the order and refund it.
  absl::StatusOr<bool> Prepare(InFlight& order) {
    absl::StatusOr<Order> current = orders_.Load(order.id);
    if (!current.ok()) return current.status();
    std::vector<std::pair<std::string, int>> reserved;
    for (const auto& line : current->state().lines) {
      int available = 0;
      auto stock = stocks_.Execute(StockStream(line->sku), [&](Stock& s) {
        available = s.state().on_hand;
        return s.Reserve(order.id, line->quantity);
      });
      if (stock.ok()) {
        reserved.emplace_back(line->sku, line->quantity);
        continue;
      }
      if (stock.status().code() != absl::StatusCode::kFailedPrecondition) return stock.status();
      for (const auto& [sku, reserved_quantity] : reserved) {
        // A named copy: clang 14 cannot capture a structured binding.
        const auto quantity = reserved_quantity;
        auto released = stocks_.Execute(StockStream(sku), [&](Stock& s) {
          return s.Release(order.id, quantity, "order cancelled: another item is out of stock");
        });
        if (!released.ok()) return released.status();
      }
      auto cancelled = orders_.Execute(order.id, [&](Order& o) {
        return o.CancelOutOfStock(line->sku, line->quantity, available);
      });
      if (!cancelled.ok()) return cancelled.status();
      ++summary_.cancelled_out_of_stock;
      if (cancelled->state().refunded_cents > 0) {
        ++summary_.refunds;
        summary_.refunded_cents += cancelled->state().refunded_cents;
        summary_.revenue_cents -= cancelled->state().refunded_cents;
        if (sample_refunded_.empty()) sample_refunded_ = order.id;
      }
      return true;
    }
    auto prepared =
        orders_.Execute(order.id, [&](Order& o) { return o.MarkPrepared(PickFrom(kBaristas)); });
    if (!prepared.ok()) return prepared.status();
    order.stage = Stage::kServe;
    return false;
  }

  // The sample order for the audit walk-through and the time it was paid.
  absl::Status PickSample() {
    summary_.sample_order = !sample_refunded_.empty() ? sample_refunded_ : sample_served_;
    if (summary_.sample_order.empty()) return absl::OkStatus();
    absl::StatusOr<std::vector<annals::RecordedEvent>> events =
        store_.ReadStream(summary_.sample_order);
    if (!events.ok()) return events.status();
    for (const annals::RecordedEvent& e : *events) {
      if (e.type == "OrderPaid") summary_.sample_as_of_us = e.recorded_at_us;
    }
    if (summary_.sample_as_of_us == 0 && !events->empty()) {
      summary_.sample_as_of_us = events->front().recorded_at_us;
    }
    return absl::OkStatus();
  }

  annals::EventStore& store_;
  const TrafficOptions options_;
  std::mt19937_64 rng_;
  annals::Repository<Order> orders_;
  annals::Repository<Menu> menus_;
  annals::Repository<Stock> stocks_;
  Menu menu_{std::string(kMenuStream)};
  uint64_t next_order_number_ = 1;
  std::string sample_refunded_;
  std::string sample_served_;
  TrafficSummary summary_;
};

}  // namespace

absl::StatusOr<TrafficSummary> RunTraffic(annals::EventStore& store,
                                          const TrafficOptions& options) {
  Simulation simulation(store, options);
  return simulation.Run();
}

std::string SummaryJson(const TrafficSummary& s, const std::string& store_dir) {
  nlohmann::json j;
  j["store"] = store_dir;
  j["orders"] = s.orders;
  j["first_order"] = s.first_order;
  j["last_order"] = s.last_order;
  j["served"] = s.served;
  j["cancelled_by_customer"] = s.cancelled_by_customer;
  j["cancelled_out_of_stock"] = s.cancelled_out_of_stock;
  j["refunds"] = s.refunds;
  j["refunded_cents"] = s.refunded_cents;
  j["revenue_cents"] = s.revenue_cents;
  j["rejected_commands"] = s.rejected_commands;
  j["restocks"] = s.restocks;
  j["reprices"] = s.reprices;
  j["events"] = s.events;
  j["last_position"] = s.last_position;
  j["snapshots_written"] = s.snapshots_written;
  j["seconds"] = s.seconds;
  j["events_per_second"] = s.seconds > 0 ? static_cast<double>(s.events) / s.seconds : 0.0;
  if (!s.sample_order.empty()) {
    j["sample_order"] = s.sample_order;
    j["sample_as_of"] = FormatAsOf(s.sample_as_of_us);
  }
  return j.dump();
}

}  // namespace cafe
