// File: annals/event.h
//
// The event types that cross the EventStore API:
//
//   NewEvent       what a caller appends (borrowed views, no copies)
//   EventView      a stored event seen during a scan; views into the store's
//                  buffers, valid only inside the callback that received it
//   RecordedEvent  an owning copy of a stored event
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

// An event to append. Every view must stay valid until Append() returns; the
// store copies what it keeps.
struct NewEvent {
  // Nil (the default) means "generate a UUIDv7". Give ids to make retries
  // idempotent: see EventStore::Append().
  Uuid id;
  // Required, non-empty, at most 256 bytes of UTF-8.
  std::string_view type;
  // Version of the payload's schema, for upcasters. Default 1.
  uint32_t schema_version = 1;
  ContentType content_type = ContentType::kJson;
  std::string_view payload;
  std::string_view correlation_id;
  std::string_view causation_id;
  absl::Span<const MetadataEntry> metadata;
  // UTC microseconds since the Unix epoch. 0 (the default) means "now, as the
  // committer assigns it". Import uses this to keep original timestamps.
  int64_t recorded_at_us = 0;
};

struct RecordedEvent;

// A stored event as seen during a scan. Every view points into buffers owned
// by the store's iterator and is valid only until the callback returns; call
// ToOwned() to keep it.
struct EventView {
  uint64_t position = 0;
  std::string_view stream;
  uint64_t version = 0;
  Uuid id;
  std::string_view type;
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;
  std::string_view correlation_id;
  std::string_view causation_id;
  std::vector<MetadataEntry> metadata;
  ContentType content_type = ContentType::kBytes;
  std::string_view payload;
  // SHA-256 chaining this record to the previous one in the global log.
  std::string_view hash;

  RecordedEvent ToOwned() const;
};

// An owning copy of a stored event.
struct RecordedEvent {
  uint64_t position = 0;
  std::string stream;
  uint64_t version = 0;
  Uuid id;
  std::string type;
  uint32_t schema_version = 1;
  int64_t recorded_at_us = 0;
  std::string correlation_id;
  std::string causation_id;
  std::vector<std::pair<std::string, std::string>> metadata;
  ContentType content_type = ContentType::kBytes;
  std::string payload;
  std::string hash;
};

}  // namespace annals

#endif  // ANNALS_EVENT_H_
