// File: examples/cafe/traffic.h
//
// A café simulation that drives the domain through Repository::Execute():
// customers place orders at tables, add items, sometimes change their mind,
// pay; the kitchen reserves stock and prepares, or — when an item has run
// out — releases what it reserved, cancels the order and refunds the payment
// (compensating events); orders are served. Many orders are in flight at
// once, so their events interleave in the global log as in a real café.
// Deterministic for a given seed (apart from timestamps and event ids).
//
// Thread-safety: RunTraffic() uses the store from the calling thread only.

#ifndef ANNALS_EXAMPLES_CAFE_TRAFFIC_H_
#define ANNALS_EXAMPLES_CAFE_TRAFFIC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "annals/event_store.h"

namespace cafe {

struct TrafficOptions {
  // Orders to run to completion. Default: 1000.
  uint64_t orders = 1000;
  uint64_t seed = 42;
  // Orders in progress at the same time. Default: 16.
  int max_in_flight = 16;
  // Snapshot policy of the repositories. Default: every 100 events.
  uint64_t snapshot_every = 100;
};

struct TrafficSummary {
  uint64_t orders = 0;
  uint64_t served = 0;
  uint64_t cancelled_by_customer = 0;
  uint64_t cancelled_out_of_stock = 0;
  uint64_t refunds = 0;
  int64_t refunded_cents = 0;
  int64_t revenue_cents = 0;  // kept payments (incl. tips) minus refunds
  uint64_t rejected_commands = 0;
  uint64_t restocks = 0;
  uint64_t reprices = 0;
  uint64_t events = 0;  // appended by this run
  uint64_t last_position = 0;
  uint64_t snapshots_written = 0;
  std::string first_order;
  std::string last_order;
  // An order worth auditing (cancelled after payment when there was one) and
  // a time at which it was paid but not yet cancelled.
  std::string sample_order;
  int64_t sample_as_of_us = 0;
  double seconds = 0;
};

absl::StatusOr<TrafficSummary> RunTraffic(annals::EventStore& store, const TrafficOptions& options);

// The summary as one JSON object (what the `cafe` program prints).
std::string SummaryJson(const TrafficSummary& summary, const std::string& store_dir);

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_TRAFFIC_H_
