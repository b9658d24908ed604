// File: annals/event.h
//
// The event types that cross the EventStore API:
//
//   EventData      what a caller appends, owning its strings: the safe
//                  default (build it in a loop, keep it in a container)
//   NewEvent       what a caller appends, borrowing everything (views, no
//                  copies): for hot paths whose bytes outlive the call anyway
//   EventView      a stored event seen during a scan; views into the store's
//                  buffers, valid only inside the callback that received it
//   RecordedEvent  an owning copy of a stored event
//
// Every member has a default member initializer, so designated initializers
// that name only some fields (`EventData{.type = "X", .payload = p}`) compile
// without -Wmissing-field-initializers warnings.
//
// Example:
//   std::vector<annals::EventData> events;
//   for (int i = 0; i < 3; ++i) {
//     events.push_back({.type = "Tick", .payload = std::to_string(i)});  // owned: safe
//   }
//   store->Append("clock", annals::ExpectedVersion::Any(), events);
//
// Thread-safety: plain value types.

#ifndef ANNALS_EVENT_H_
#define ANNALS_EVENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "annals/uuid.h"

namespace annals {

// How a payload is encoded. The CLI renders kJson as JSON, kFlatBuffers
// through a registered schema (or base64), kBytes as base64.
enum class ContentType : uint8_t {
  kBytes = 0,
  kJson = 1,
  kFlatBuffers = 2,
};

// "bytes", "json" or "flatbuffers".
std::string_view ContentTypeName(ContentType type);

using MetadataEntry = std::pair<std::string_view, std::string_view>;

// An event to append, borrowing everything: NewEvent owns none of its bytes.
// Every view must stay valid until Append() returns; the store copies what it
// keeps.
//
// BORROWS: a view from a temporary dangles at the end of the full expression
// (GCC 12 never warns; clang 14 only for a named NewEvent, -Wdangling-gsl):
//   NewEvent e{.type = "Tick", .payload = std::to_string(i)};  // dangles!
// Use EventData for anything built at run time, in loops or kept in
// containers; NewEvent suits literals and bytes the caller already owns
// (no copy is made).
struct NewEvent {
  // Nil (the default) means "generate a UUIDv7". Give ids to make retries
  // idempotent: see EventStore::Append().
  Uuid id{};
  // Required, non-empty, at most 256 bytes of UTF-8.
  std::string_view type{};
  // Version of the payload's schema, for upcasters. Default 1.
  uint32_t schema_version = 1;
  ContentType content_type = ContentType::kJson;
  std::string_view payload{};
  std::string_view correlation_id{};
  std::string_view causation_id{};
  absl::Span<const MetadataEntry> metadata{};
  // UTC microseconds since the Unix epoch. 0 (the default) means "now, as the
  // committer assigns it". Import uses this to keep original timestamps.
  int64_t recorded_at_us = 0;
  // The data subject the event is about (a person, a customer id), or empty
  // for none: at most 256 bytes of UTF-8 without control characters. Stored
  // in the clear and covered by the hash. With Options::encryption, the
  // payload (and the personal metadata) of an event with a subject is sealed
  // under that subject's key, which EventStore::ForgetSubject() destroys
  // (crypto-shredding, docs/lifecycle.md). Never put the personal data itself
  // here: use an opaque id.
  std::string_view subject{};
};

// An event to append that owns its bytes: the same fields, in the same order
// and with the same meaning and defaults, as NewEvent, held in std::string.
// EventStore::Append() and AppendMulti() (StreamAppendData) take spans of it
// as they take spans of NewEvent, so `std::vector<EventData>` is appended
// directly. Costs one copy of each string when built; the store makes no
// further copy than for a NewEvent.
struct EventData {
  Uuid id{};
  std::string type{};
  uint32_t schema_version = 1;
  ContentType content_type = ContentType::kJson;
  std::string payload{};
  std::string correlation_id{};
  std::string causation_id{};
  std::vector<std::pair<std::string, std::string>> metadata{};
  int64_t recorded_at_us = 0;
  std::string subject{};
};

struct RecordedEvent;

// A stored event as seen during a scan. Every view points into buffers owned
// by the store's iterator and is valid only until the callback returns; call
// ToOwned() to keep it.
struct EventView {
  uint64_t position = 0;
  std::string_view stream{};
  uint64_t version = 0;
  Uuid id{};
  std::string_view type{};
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;
  std::string_view correlation_id{};
  std::string_view causation_id{};
  std::vector<MetadataEntry> metadata{};
  ContentType content_type = ContentType::kBytes;
  std::string_view payload{};
  // SHA-256 chaining this record to the previous one in the global log.
  std::string_view hash{};
  // The event's data subject (NewEvent::subject), empty for none.
  std::string_view subject{};
  // True when the payload was sealed under a subject key that
  // EventStore::ForgetSubject() destroyed: `payload` is then empty and
  // `metadata` holds only the entries that were not personal. Everything
  // else (ids, type, hash) is as stored; the hash chain still verifies.
  bool erased = false;

  RecordedEvent ToOwned() const;
};

// An owning copy of a stored event.
struct RecordedEvent {
  uint64_t position = 0;
  std::string stream{};
  uint64_t version = 0;
  Uuid id{};
  std::string type{};
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;
  std::string correlation_id{};
  std::string causation_id{};
  std::vector<std::pair<std::string, std::string>> metadata{};
  ContentType content_type = ContentType::kBytes;
  std::string payload{};
  std::string hash{};
  std::string subject{};
  // See EventView::erased.
  bool erased = false;

  // A view of this event (the inverse of EventView::ToOwned()), for code
  // written against EventView; valid while this object is neither changed,
  // moved nor destroyed.
  EventView View() const;
};

}  // namespace annals

#endif  // ANNALS_EVENT_H_
