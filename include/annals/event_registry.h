// File: annals/event_registry.h
//
// EventRegistry: the dictionary of a domain's events. It maps
//
//   event type name ("ItemAdded")  <->  C++ FlatBuffers table (cafe::ItemAdded)
//                                  <->  current schema version (1, 2, ...)
//
// and knows how to encode an event (object API -> bytes), check and decode
// stored bytes, upcast payloads written by an older schema version, and render
// any registered event as JSON for the CLI and for tests.
//
// Domain events are FlatBuffers tables generated from the domain's own .fbs
// with the object API (annals_flatbuffers() in CMake does that). The
// registry's templates therefore use the generated code's conventions
// (E::NativeTableType, E::Pack, Verifier); no annals-internal FlatBuffers
// type appears here.
//
// Schema evolution:
//   * Compatible changes (adding a field at the end of a table, deprecating a
//     field) need nothing: old payloads decode with the new code, the new
//     field has its default. Do not bump the schema version for them.
//   * Breaking changes (changing a field's type or meaning) bump the schema
//     version at Register() and add an upcaster from the previous version.
//     Upcasters form chains v1 -> v2 -> v3 and run on read; stored events are
//     never rewritten (they are hash-chained, and they are the audit trail).
//
// Example:
//   annals::EventRegistry registry;
//   registry.AddSchema(kCafeEventsFbs);                   // for JSON rendering
//   registry.Register<cafe::OrderPlaced>("OrderPlaced");
//   registry.Register<cafe::OrderPaid>("OrderPaid", /*schema_version=*/2);
//   registry.AddUpcaster("OrderPaid", 1, UpcastOrderPaidV1);   // v1 -> v2
//
// Thread-safety: register everything first (single thread), then any number
// of threads may use the const methods concurrently.

#ifndef ANNALS_EVENT_REGISTRY_H_
#define ANNALS_EVENT_REGISTRY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event.h"
#include "flatbuffers/flatbuffers.h"

namespace annals {

// Converts one event type's payload from schema version N to N + 1. Gets the
// stored (or previously upcast) bytes; returns the bytes at version N + 1, or
// kDataLoss when they cannot be converted. It must not throw; if it does
// (annals/user_code.h), the exception is caught and Upcast() (and so Decode(),
// ToJson(), Aggregate::ApplyStored() and Repository::Load()) returns kInternal
// with its message; nothing else changes. Called from any thread that reads
// events, possibly concurrently: it must be thread-safe.
using Upcaster = std::function<absl::StatusOr<std::string>(std::string_view payload)>;

// A unique key per C++ type without RTTI.
using TypeKey = const void*;
template <typename T>
TypeKey TypeKeyOf() {
  static const char key = 0;
  return &key;
}

// What the registry knows about one event type.
struct EventTypeInfo {
  std::string type{};           // stored type name
  uint32_t schema_version = 1;  // the version new events are written with
  std::string table{};          // fully qualified FlatBuffers table name
  TypeKey cpp_type = nullptr;
  // Checks that `payload` is a well-formed buffer of this table.
  bool (*verify)(std::string_view payload) = nullptr;
};

class EventRegistry {
 public:
  EventRegistry();
  ~EventRegistry();
  EventRegistry(const EventRegistry&) = delete;
  EventRegistry& operator=(const EventRegistry&) = delete;

  // EventRegistry::AddSchema()
  //
  // Adds the text of a .fbs file that defines event tables (needed to render
  // them as JSON). kInvalidArgument when flatc's parser rejects it.
  absl::Status AddSchema(std::string_view fbs_text);

  // EventRegistry::Register()
  //
  // Registers FlatBuffers table E under the stored type name `type`, written
  // with `schema_version`. `table` is E's name in the schema given to
  // AddSchema() (qualified or not); empty means "same as `type`".
  // kAlreadyExists when `type` or E is already registered; kInvalidArgument
  // for an empty type or a version of 0.
  template <typename E>
  absl::Status Register(std::string_view type, uint32_t schema_version = 1,
                        std::string_view table = {}) {
    return RegisterImpl(EventTypeInfo{std::string(type), schema_version,
                                      std::string(table.empty() ? type : table), TypeKeyOf<E>(),
                                      &VerifyPayload<E>});
  }

  // EventRegistry::AddUpcaster()
  //
  // Registers the conversion of `type` payloads from `from_version` to
  // `from_version + 1`. kInvalidArgument when `type` is unknown or
  // from_version is not below its current version; kAlreadyExists for a
  // second upcaster of the same step.
  absl::Status AddUpcaster(std::string_view type, uint32_t from_version, Upcaster upcaster);

  // Lookups; nullptr when not registered. The pointers stay valid for the
  // registry's lifetime.
  const EventTypeInfo* Find(std::string_view type) const;
  const EventTypeInfo* FindByKey(TypeKey key) const;
  template <typename E>
  const EventTypeInfo* Find() const {
    return FindByKey(TypeKeyOf<E>());
  }

  // EventRegistry::Encode()
  //
  // The FlatBuffers bytes of `event`. E must be registered (kNotFound).
  template <typename E>
  absl::StatusOr<std::string> Encode(const typename E::NativeTableType& event) const {
    if (Find<E>() == nullptr) return NotRegistered("the C++ type given to Encode()");
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(E::Pack(fbb, &event));
    return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }

  // EventRegistry::Upcast()
  //
  // Brings a stored payload of `type` at `schema_version` to the current
  // version, running the upcaster chain, and verifies the result. Returns a
  // view of `payload` itself when no upcast was needed, else of `*scratch`.
  // Errors: kNotFound (type not registered), kFailedPrecondition (stored
  // version newer than this code, or a missing upcaster step), kDataLoss
  // (malformed payload or a failed upcaster), kInternal (an upcaster threw).
  absl::StatusOr<std::string_view> Upcast(std::string_view type, uint32_t schema_version,
                                          std::string_view payload, std::string* scratch) const;

  // EventRegistry::Decode()
  //
  // Upcasts and unpacks a stored payload into E's object-API type.
  template <typename E>
  absl::StatusOr<typename E::NativeTableType> Decode(std::string_view type, uint32_t schema_version,
                                                     std::string_view payload) const {
    const EventTypeInfo* info = Find(type);
    if (info == nullptr || info->cpp_type != TypeKeyOf<E>()) {
      return NotRegistered(type);
    }
    std::string scratch;
    absl::StatusOr<std::string_view> bytes = Upcast(type, schema_version, payload, &scratch);
    if (!bytes.ok()) return bytes.status();
    typename E::NativeTableType out;
    flatbuffers::GetRoot<E>(bytes->data())->UnPackTo(&out);
    return out;
  }

  // EventRegistry::ToJson()
  //
  // The payload as one line of JSON, upcast to the current version first.
  // kFailedPrecondition when no schema given to AddSchema() defines the
  // type's table; other errors as Upcast().
  absl::StatusOr<std::string> ToJson(std::string_view type, uint32_t schema_version,
                                     std::string_view payload) const;

  // EventRegistry::RenderPayload()
  //
  // CliOptions::render_payload: the JSON of a registered FlatBuffers event,
  // nullopt for anything else (the CLI then falls back to its default).
  std::optional<std::string> RenderPayload(const RecordedEvent& event) const;

  // A callable for CliOptions::render_payload. The registry must outlive it.
  std::function<std::optional<std::string>(const RecordedEvent&)> PayloadRenderer() const {
    return [this](const RecordedEvent& event) { return RenderPayload(event); };
  }

  // Every registered type, in registration order.
  std::vector<const EventTypeInfo*> types() const;

 private:
  struct Rep;

  template <typename E>
  static bool VerifyPayload(std::string_view payload) {
    // Stored payloads are not necessarily 8-byte aligned (they live inside
    // RocksDB blocks); x86 and ARMv8 read unaligned scalars fine.
    flatbuffers::Verifier::Options options;
    options.check_alignment = false;
    flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                                   options);
    return verifier.VerifyBuffer<E>(nullptr);
  }

  static absl::Status NotRegistered(std::string_view what);
  absl::Status RegisterImpl(EventTypeInfo info);

  std::unique_ptr<Rep> rep_;
};

}  // namespace annals

#endif  // ANNALS_EVENT_REGISTRY_H_
