// cafe_read_models: runs the café simulation (examples/cafe) with its two read
// models attached — the board of open orders (inline) and sales per item per
// day (asynchronous) — and prints what they show as one JSON object.
//
//   cafe_read_models <store-dir> [orders=300] [seed=42]
//
// While the simulation runs, a reader thread samples the board through
// ReadModelSnapshot (consistent views while the projection writes).

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "examples/cafe/traffic.h"
#include "examples/cafe_read_models/cafe_read_models.h"
#include "nlohmann/json.hpp"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: cafe_read_models <store-dir> [orders=300] [seed=42]\n");
    return 2;
  }
  cafe::TrafficOptions traffic;
  traffic.orders = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 300;
  traffic.seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 42;

  annals::Options options;
  options.durability = annals::Durability::kBuffered;
  auto store = annals::EventStore::Open(argv[1], options);
  if (!store.ok()) {
    std::fprintf(stderr, "cafe_read_models: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  annals::ProjectionOptions board_options;
  board_options.mode = annals::ProjectionMode::kInline;
  auto board = annals::ProjectionRunner::Start(
      **store, std::make_shared<cafe::OrderBoardProjection>(), board_options);
  auto sales = annals::ProjectionRunner::Start(**store, std::make_shared<cafe::SalesProjection>());
  if (!board.ok() || !sales.ok()) {
    std::fprintf(stderr, "cafe_read_models: %s\n",
                 std::string((board.ok() ? sales.status() : board.status()).message()).c_str());
    return 1;
  }

  std::atomic<bool> done{false};
  size_t max_open = 0;
  nlohmann::json busiest;
  std::thread sampler([&] {
    while (!done) {
      auto view = annals::ReadModelSnapshot::Open(**store, cafe::kBoardProjection);
      if (view.ok()) {
        auto open = cafe::OpenOrders(**view);
        if (open.ok() && open->size() > max_open) {
          max_open = open->size();
          busiest = {{"position", (*view)->position()}, {"open_orders", open->size()}};
          auto paid = cafe::OpenOrders(**view, "paid");
          if (paid.ok()) busiest["paid_waiting"] = paid->size();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto summary = cafe::RunTraffic(**store, traffic);
  done = true;
  sampler.join();
  if (!summary.ok()) {
    std::fprintf(stderr, "cafe_read_models: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  (*sales)->WaitForPosition((*store)->last_position(), absl::Minutes(1));

  nlohmann::json out;
  out["orders"] = summary->orders;
  out["events"] = summary->events;
  out["busiest_board_seen"] = busiest;
  auto board_view = annals::ReadModelSnapshot::Open(**store, cafe::kBoardProjection);
  auto sales_view = annals::ReadModelSnapshot::Open(**store, cafe::kSalesProjection);
  if (!board_view.ok() || !sales_view.ok()) return 1;
  auto open = cafe::OpenOrders(**board_view);
  out["open_orders_now"] = open.ok() ? open->size() : 0;
  auto per_item = cafe::Sales(**sales_view);
  int64_t revenue = 0;
  nlohmann::json items = nlohmann::json::array();
  if (per_item.ok()) {
    for (const cafe::ItemSales& s : *per_item) {
      revenue += s.revenue_cents;
      items.push_back({{"day", s.day},
                       {"sku", s.sku},
                       {"quantity", s.quantity},
                       {"revenue_cents", s.revenue_cents}});
    }
  }
  out["sales"] = items;
  out["sales_revenue_cents"] = revenue;
  for (auto* runner : {board->get(), sales->get()}) {
    annals::ProjectionStatus st = runner->status();
    out["projections"].push_back({{"name", st.name},
                                  {"mode", std::string(annals::ProjectionModeName(st.mode))},
                                  {"state", std::string(annals::ProjectionStateName(st.state))},
                                  {"position", st.position},
                                  {"lag", st.lag}});
  }
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
