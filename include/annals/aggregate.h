// File: annals/aggregate.h
//
// Aggregate: the consistency boundary of a domain. An aggregate has
//
//   * a state: a FlatBuffers object-API struct generated from the domain's
//     .fbs (so that snapshots and the CLI can store and render it without
//     hand-written serialization code);
//   * one Apply(const E&) per event type E it handles, the only code that
//     mutates the state (it receives the FlatBuffers table, zero-copy);
//   * command methods that check invariants and Raise() events. A rejected
//     command returns a non-OK absl::Status before raising anything (by
//     convention; Repository::Execute() never saves the events of a command
//     that returned an error, so a half-raised rejection is never stored).
//
// Example (examples/cafe/order.h has the full one):
//
//   class Order : public annals::Aggregate<Order, cafe::OrderStateT> {
//    public:
//     using Events = annals::EventList<cafe::OrderPlaced, cafe::ItemAdded>;
//     static const annals::AggregateSpec& Spec();   // name, registry, state schema
//     using Aggregate::Aggregate;                   // Order(std::string id)
//
//     absl::Status AddItem(std::string sku, int quantity) {
//       if (state().status != cafe::OrderStatus::Open)
//         return absl::FailedPreconditionError("order is already paid");
//       cafe::ItemAddedT added;
//       added.sku = std::move(sku);
//       added.quantity = quantity;
//       return Raise(added);
//     }
//
//    private:
//     friend class annals::Aggregate<Order, cafe::OrderStateT>;
//     void Apply(const cafe::OrderPlaced& e);
//     void Apply(const cafe::ItemAdded& e);
//   };
//
// Versions: version() counts every applied event, raised ones included;
// persisted_version() is the version the store had when the aggregate was
// loaded (or last saved) and becomes the expected version of the next save.
// Every applied event must carry version() + 1, checked before the state is
// touched.
//
// If Apply() throws (annals/user_code.h): the exception is caught where
// annals called it (ApplyStored(), Raise()), which return kInternal with its
// message. The state may then be half-updated, so the aggregate is marked
// broken (apply_error()): every later ApplyStored()/Raise() returns that
// error and Repository::Save() refuses it. Repository::Load() returns the
// error and no aggregate; Repository::Execute() returns it and saves
// nothing. Apply() should not throw: it runs on stored, already-decided
// facts.
//
// Thread-safety: an aggregate instance is not thread-safe; it is a value a
// single command works on. Its static dispatch table is built once,
// thread-safely.

#ifndef ANNALS_AGGREGATE_H_
#define ANNALS_AGGREGATE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "annals/event.h"
#include "annals/event_registry.h"
#include "annals/user_code.h"
#include "annals/uuid.h"
#include "flatbuffers/flatbuffers.h"

namespace annals {

// The event tables an aggregate handles: `using Events = EventList<A, B, C>;`
template <typename... E>
struct EventList {};

// Static description of an aggregate type.
struct AggregateSpec {
  // Short name, e.g. "order" (the CLI's --aggregate).
  std::string_view name{};
  // Where the aggregate's events are registered. Must outlive every use.
  const EventRegistry* registry = nullptr;
  // The .fbs text that defines the state table, and the table's name in it.
  // Their hash is the state's fingerprint: snapshots taken with another
  // fingerprint are ignored, so any change of the state schema invalidates
  // old snapshots automatically.
  std::string_view state_schema{};
  std::string_view state_table{};
  // Bump when Apply() logic changed but the state schema did not: it is part
  // of the fingerprint. Default: 1.
  uint32_t state_version = 1;
};

// Hex SHA-256 of the state schema text, table name and state_version.
std::string StateFingerprint(const AggregateSpec& spec);

// One line of JSON for a state buffer of `spec`'s state table.
absl::StatusOr<std::string> StateToJson(const AggregateSpec& spec, std::string_view state_bytes);

// An event raised by a command and not yet saved.
struct PendingEvent {
  Uuid id{};                // generated at Raise(): makes a re-sent save idempotent
  std::string_view type{};  // points into the EventRegistry
  uint32_t schema_version = 1;
  std::string payload{};  // FlatBuffers bytes
};

namespace aggregate_internal {
// Stored payloads are not necessarily aligned (they live in RocksDB blocks).
inline flatbuffers::Verifier::Options UnalignedVerifierOptions() {
  flatbuffers::Verifier::Options options;
  options.check_alignment = false;
  return options;
}
absl::Status WrongVersion(std::string_view id, uint64_t got, uint64_t have);
absl::Status UnknownEvent(std::string_view aggregate, std::string_view type);
absl::Status BadState(std::string_view aggregate);
// kInternal for an exception thrown by aggregate `aggregate`'s Apply() of
// `type`; call inside a catch block.
absl::Status ApplyThrew(std::string_view aggregate, std::string_view type);
}  // namespace aggregate_internal

template <typename Derived, typename StateT>
class Aggregate {
 public:
  using State = StateT;
  using StateTable = typename StateT::TableType;

  explicit Aggregate(std::string id = {}) : id_(std::move(id)) {}
  Aggregate(Aggregate&&) = default;
  Aggregate& operator=(Aggregate&&) = default;

  const std::string& id() const { return id_; }
  // The version of the state: persisted_version() + raised events.
  uint64_t version() const { return version_; }
  // The stream version the state was loaded at or last saved at.
  uint64_t persisted_version() const { return persisted_version_; }
  const State& state() const { return state_; }

  const std::vector<PendingEvent>& pending_events() const { return pending_; }

  // OK, or the kInternal error of an Apply() that threw: the state may be
  // half-updated, so the aggregate accepts no more events and
  // Repository::Save() refuses it. Load it again.
  const absl::Status& apply_error() const { return apply_error_; }

  // Aggregate::TakePendingEvents()
  //
  // Drains the raised events and marks them persisted (the repository calls
  // it after a successful append).
  std::vector<PendingEvent> TakePendingEvents() {
    persisted_version_ = version_;
    return std::exchange(pending_, {});
  }

  // Aggregate::ApplyStored()
  //
  // Replays one stored event. kInvalidArgument when `version` is not
  // version() + 1 or the event is not a FlatBuffers payload; kNotFound /
  // kFailedPrecondition / kDataLoss from the registry (unknown type, missing
  // upcaster, malformed payload); kInternal when an upcaster throws (nothing
  // changes) or Apply() throws (the aggregate is broken: apply_error()).
  // Nothing changes on the other errors.
  absl::Status ApplyStored(uint64_t version, std::string_view type, uint32_t schema_version,
                           std::string_view payload) {
    if (!apply_error_.ok()) return apply_error_;
    const Dispatch& dispatch = GetDispatch();
    if (!dispatch.status.ok()) return dispatch.status;
    if (version != version_ + 1) return aggregate_internal::WrongVersion(id_, version, version_);
    auto it = dispatch.by_type.find(absl::string_view(type.data(), type.size()));
    if (it == dispatch.by_type.end()) {
      return aggregate_internal::UnknownEvent(Derived::Spec().name, type);
    }
    std::string_view bytes = payload;
    if (reinterpret_cast<uintptr_t>(payload.data()) % 8 != 0) {
      // FlatBuffers reads scalars in place: give it an aligned copy.
      scratch_.assign(payload);
      bytes = scratch_;
    }
    if (schema_version != it->second.info->schema_version || !it->second.info->verify(bytes)) {
      absl::StatusOr<std::string_view> upcast =
          Derived::Spec().registry->Upcast(type, schema_version, bytes, &upcast_scratch_);
      if (!upcast.ok()) return upcast.status();
      bytes = *upcast;
    }
    if (absl::Status s = CallApply(it->second, bytes.data()); !s.ok()) return s;
    version_ = version;
    persisted_version_ = version;
    return absl::OkStatus();
  }

  // EventView or RecordedEvent.
  template <typename StoredEvent>
  absl::Status ApplyStored(const StoredEvent& event) {
    if (event.content_type != ContentType::kFlatBuffers) {
      return absl::InvalidArgumentError(
          "aggregates replay FlatBuffers events only; this event has another content type");
    }
    return ApplyStored(event.version, event.type, event.schema_version, event.payload);
  }

  // Aggregate::RestoreState()
  //
  // Replaces the state with a snapshot's state at `version` (only on an
  // aggregate without pending events). kDataLoss when the bytes are not a
  // valid state table.
  absl::Status RestoreState(uint64_t version, std::string_view state_bytes) {
    std::string aligned;
    if (reinterpret_cast<uintptr_t>(state_bytes.data()) % 8 != 0) {
      aligned.assign(state_bytes);
      state_bytes = aligned;
    }
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(state_bytes.data()),
                                   state_bytes.size(),
                                   aggregate_internal::UnalignedVerifierOptions());
    if (!verifier.VerifyBuffer<StateTable>(nullptr)) {
      return aggregate_internal::BadState(Derived::Spec().name);
    }
    state_ = State();
    flatbuffers::GetRoot<StateTable>(state_bytes.data())->UnPackTo(&state_);
    version_ = persisted_version_ = version;
    pending_.clear();
    return absl::OkStatus();
  }

  // The state's FlatBuffers bytes (what a snapshot stores).
  std::string EncodeState() const {
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(StateTable::Pack(fbb, &state_));
    return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }

  // The state as one line of JSON (what `annals replay` prints).
  absl::StatusOr<std::string> StateJson() const {
    return StateToJson(Derived::Spec(), EncodeState());
  }

  // The state fingerprint of this aggregate type (see AggregateSpec).
  static const std::string& Fingerprint() { return GetDispatch().fingerprint; }

 protected:
  State& mutable_state() { return state_; }

  // Aggregate::Raise()
  //
  // Records a new event (an object-API struct of a table in Derived::Events)
  // and applies it at version() + 1. kFailedPrecondition when the table is
  // not in Derived::Events or not registered; kInternal when Apply() throws
  // (the event is not recorded and the aggregate is broken: apply_error()).
  template <typename Native>
  absl::Status Raise(const Native& event) {
    using E = typename Native::TableType;
    if (!apply_error_.ok()) return apply_error_;
    const Dispatch& dispatch = GetDispatch();
    if (!dispatch.status.ok()) return dispatch.status;
    auto it = dispatch.by_key.find(TypeKeyOf<E>());
    if (it == dispatch.by_key.end()) {
      return absl::FailedPreconditionError(
          "Raise(): the event's table is not in the aggregate's Events list");
    }
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(E::Pack(fbb, &event));
    PendingEvent pending{
        Uuid::V7(), it->second.info->type, it->second.info->schema_version,
        std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize())};
    // What is applied is exactly what will be stored.
    if (absl::Status s = CallApply(it->second, pending.payload.data()); !s.ok()) return s;
    ++version_;
    pending_.push_back(std::move(pending));
    return absl::OkStatus();
  }

 private:
  struct Handler {
    const EventTypeInfo* info = nullptr;
    void (*apply)(Derived&, const void* buffer) = nullptr;
  };
  struct Dispatch {
    absl::Status status;
    absl::flat_hash_map<std::string, Handler> by_type;
    absl::flat_hash_map<TypeKey, Handler> by_key;
    std::string fingerprint;
  };

  // Runs the user's Apply() for one event; an exception breaks the
  // aggregate (see the file comment).
  absl::Status CallApply(const Handler& handler, const void* buffer) {
    try {
      handler.apply(static_cast<Derived&>(*this), buffer);
      return absl::OkStatus();
    } catch (...) {
      apply_error_ = aggregate_internal::ApplyThrew(Derived::Spec().name, handler.info->type);
      return apply_error_;
    }
  }

  template <typename E>
  static void AddHandler(Dispatch& d) {
    const EventTypeInfo* info = Derived::Spec().registry->template Find<E>();
    if (info == nullptr) {
      if (d.status.ok()) {
        d.status = absl::FailedPreconditionError(
            std::string("aggregate '") + std::string(Derived::Spec().name) +
            "' handles an event table that is not registered in its EventRegistry");
      }
      return;
    }
    Handler h{info, [](Derived& self, const void* buffer) {
                self.Apply(*flatbuffers::GetRoot<E>(buffer));
              }};
    d.by_type.emplace(info->type, h);
    d.by_key.emplace(TypeKeyOf<E>(), h);
  }

  template <typename... E>
  static void AddHandlers(Dispatch& d, EventList<E...>) {
    (AddHandler<E>(d), ...);
  }

  static const Dispatch& GetDispatch() {
    static const Dispatch* dispatch = [] {
      auto* d = new Dispatch();
      if (Derived::Spec().registry == nullptr) {
        d->status = absl::FailedPreconditionError("AggregateSpec::registry is null");
      } else {
        AddHandlers(*d, typename Derived::Events{});
      }
      d->fingerprint = StateFingerprint(Derived::Spec());
      return d;
    }();
    return *dispatch;
  }

  std::string id_;
  uint64_t version_ = 0;
  uint64_t persisted_version_ = 0;
  State state_;
  std::vector<PendingEvent> pending_;
  absl::Status apply_error_;    // see apply_error()
  std::string scratch_;         // aligned copy of a payload, reused across events
  std::string upcast_scratch_;  // upcaster output, reused across events
};

// ReplayToJson<A>()
//
// Replays `events` (one stream, in version order) into a fresh A and returns
// its state as JSON: the shape of CliAggregate::replay. No events give the
// initial (default) state.
template <typename A>
absl::StatusOr<std::string> ReplayToJson(absl::Span<const RecordedEvent> events) {
  A aggregate(events.empty() ? std::string() : events.front().stream);
  for (const RecordedEvent& event : events) {
    absl::Status status = aggregate.ApplyStored(event);
    if (!status.ok()) return status;
  }
  return aggregate.StateJson();
}

}  // namespace annals

#endif  // ANNALS_AGGREGATE_H_
