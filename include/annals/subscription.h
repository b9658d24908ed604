// File: annals/subscription.h
//
// Subscription: a catch-up-then-live reader of the global log ("$all") or of
// one stream.
//
// A subscription starts at a given position (or stream version), reads the
// stored events in order, and, when it has reached the end of the log, waits
// for the next commit (it is woken by the committer, it does not sleep-poll)
// and goes on. Catch-up and live delivery are one loop over the log from the
// subscription's cursor, so the switch between them can neither lose nor
// repeat an event.
//
// Memory is bounded: events are pulled in batches of at most
// SubscriptionOptions::batch_size; the store never buffers events for a slow
// consumer (a consumer that does not call Next() simply falls behind; its
// lag is last_position() - position()).
//
// Example:
//   annals::SubscriptionOptions options;
//   options.event_types = {"OrderPlaced"};
//   auto sub = annals::Subscription::Open(store, options);
//   while (true) {
//     auto batch = (*sub)->Next(absl::Seconds(1));
//     if (!batch.ok()) break;            // kCancelled after Stop()
//     for (const annals::RecordedEvent& e : *batch) Handle(e);
//   }
//
// User code: a Subscription calls none. The consumer pulls batches with
// Next() on its own thread, so an exception in its handling code stays on
// that thread and never reaches the store (nothing is locked between calls;
// appends and other readers go on). The subscription stays usable after it:
// a batch Next() returned counts as delivered (position() is past it), so a
// consumer that must not lose events on a failure records the position of
// the last event it handled and reopens with `from` = that + 1, or handles
// the batch inside a try block and retries it itself.
//
// Thread-safety: Next() is called by one consumer thread at a time; Stop(),
// position() and live() may be called from any thread.

#ifndef ANNALS_SUBSCRIPTION_H_
#define ANNALS_SUBSCRIPTION_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "annals/event.h"

namespace annals {

class EventStore;

struct SubscriptionOptions {
  // Subscribe to this stream only; empty (the default) = the global log.
  std::string stream{};
  // First global position (global log) or first version (one stream) to
  // deliver. 0 or 1 = from the start. Default: 0.
  uint64_t from = 0;
  // Deliver only events of these types; empty (the default) = every type.
  std::vector<std::string> event_types{};
  // Deliver only events of streams whose name starts with this (global log
  // only); empty (the default) = every stream.
  std::string stream_prefix{};
  // Most events one Next() returns, and so the most a subscription holds.
  // Default: 512.
  size_t batch_size = 512;
};

class Subscription {
 public:
  // Subscription::Open()
  //
  // kInvalidArgument when batch_size is 0 or a stream subscription has a
  // stream_prefix. `store` must outlive the subscription.
  static absl::StatusOr<std::unique_ptr<Subscription>> Open(EventStore& store,
                                                            SubscriptionOptions options);

  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription();

  // Subscription::Next()
  //
  // Returns the next events (1..batch_size, in order), waiting up to
  // `timeout` for a commit when none is stored yet. Returns an empty batch
  // when the timeout passed without a matching event. kCancelled after
  // Stop(); kDataLoss on corruption.
  absl::StatusOr<std::vector<RecordedEvent>> Next(absl::Duration timeout);

  // Subscription::Stop()
  //
  // Makes a blocked Next() return kCancelled within ~50 ms, and every later
  // Next() at once.
  void Stop();

  // The global position (global log) or stream version (one stream) of the
  // last event read, matching or not: the next Next() starts after it.
  uint64_t position() const { return cursor_.load(std::memory_order_acquire); }

  // True once the subscription has read everything committed (it is live).
  bool live() const { return live_.load(std::memory_order_acquire); }

 private:
  Subscription(EventStore& store, SubscriptionOptions options);
  bool Matches(const EventView& e) const;

  EventStore& store_;
  const SubscriptionOptions options_;
  std::atomic<uint64_t> cursor_{0};
  std::atomic<bool> live_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace annals

#endif  // ANNALS_SUBSCRIPTION_H_
