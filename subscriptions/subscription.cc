// Subscription: one loop over the log from a cursor. Catch-up and live
// delivery are the same code path (scan from cursor + 1; when nothing is
// left, wait for the committer to publish a higher position), which is why the
// switch can neither lose nor repeat an event.

#include "annals/subscription.h"

#include <algorithm>

#include "annals/event_store.h"
#include "common/strings.h"

namespace annals {
namespace {

// Longest single wait on the store's commit notification, so that Stop() is
// noticed promptly; commits wake the wait earlier.
constexpr absl::Duration kStopCheck = absl::Milliseconds(50);

// Events scanned (matching or not) per Next() before it returns or re-checks
// Stop(): bounds the time one call spends skipping filtered-out events.
constexpr size_t kScanPerCallFactor = 64;

}  // namespace

absl::StatusOr<std::unique_ptr<Subscription>> Subscription::Open(EventStore& store,
                                                                 SubscriptionOptions options) {
  if (options.batch_size == 0) {
    return absl::InvalidArgumentError("SubscriptionOptions::batch_size must be > 0");
  }
  if (!options.stream.empty() && !options.stream_prefix.empty()) {
    return absl::InvalidArgumentError(
        "a stream subscription cannot have a stream_prefix; use one or the other");
  }
  return std::unique_ptr<Subscription>(new Subscription(store, std::move(options)));
}

Subscription::Subscription(EventStore& store, SubscriptionOptions options)
    : store_(store), options_(std::move(options)) {
  cursor_.store(options_.from == 0 ? 0 : options_.from - 1);
}

Subscription::~Subscription() = default;

void Subscription::Stop() { stopped_.store(true, std::memory_order_release); }

bool Subscription::Matches(const EventView& e) const {
  if (!options_.event_types.empty() &&
      std::find(options_.event_types.begin(), options_.event_types.end(), e.type) ==
          options_.event_types.end()) {
    return false;
  }
  return options_.stream_prefix.empty() || e.stream.starts_with(options_.stream_prefix);
}

absl::StatusOr<std::vector<RecordedEvent>> Subscription::Next(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<RecordedEvent> out;
  const size_t scan_limit = options_.batch_size * kScanPerCallFactor;
  for (;;) {
    if (stopped_.load(std::memory_order_acquire)) {
      return absl::CancelledError("subscription stopped");
    }
    uint64_t cursor = cursor_.load(std::memory_order_relaxed);
    // The position to wait for when nothing is left to read.
    uint64_t wait_for = 0;
    size_t scanned = 0;
    if (options_.stream.empty()) {
      ReadAllOptions ro;
      ro.from_position = cursor + 1;
      // Committed before the scan: a scan that runs to its end has passed
      // it, even when retention hid the last events (ScanAll skips them).
      const uint64_t watermark = store_.last_position();
      bool stopped = false;
      absl::Status s = store_.ScanAll(ro, [&](const EventView& e) {
        cursor = e.position;
        ++scanned;
        if (Matches(e)) out.push_back(e.ToOwned());
        stopped = out.size() >= options_.batch_size || scanned >= scan_limit;
        return !stopped;
      });
      if (s.ok() && !stopped && watermark > cursor) cursor = watermark;
      cursor_.store(cursor, std::memory_order_release);
      if (!s.ok()) return s;
      wait_for = cursor + 1;
    } else {
      // Any commit after this point can extend the stream; waiting for a
      // position above the one seen before the read cannot miss it.
      const uint64_t watermark = store_.last_position();
      ReadStreamOptions ro;
      ro.from_version = cursor + 1;
      ro.limit = scan_limit;
      absl::Status s = store_.ScanStream(options_.stream, ro, [&](const EventView& e) {
        cursor = e.version;
        ++scanned;
        if (Matches(e)) out.push_back(e.ToOwned());
        return out.size() < options_.batch_size;
      });
      cursor_.store(cursor, std::memory_order_release);
      if (!s.ok() && !absl::IsNotFound(s)) return s;  // NotFound: no stream yet.
      wait_for = watermark + 1;
      if (scanned == 0) live_.store(true, std::memory_order_release);
    }
    if (!out.empty()) return out;
    if (scanned > 0) continue;  // Skipped only filtered-out events; read on.
    if (options_.stream.empty()) live_.store(true, std::memory_order_release);
    const absl::Time now = absl::Now();
    if (now >= deadline) return out;
    store_.WaitForPosition(wait_for, std::min(kStopCheck, deadline - now));
  }
}

}  // namespace annals
