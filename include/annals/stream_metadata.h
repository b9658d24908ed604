// File: annals/stream_metadata.h
//
// Stream metadata (retention limits), deletion and durable consumers: how a
// store forgets events on purpose. docs/lifecycle.md describes the whole
// life cycle; in short:
//
//   * StreamMetadata sets a stream's retention limits. An event beyond them
//     is no longer returned by any reader (stream reads, $all reads,
//     subscriptions, projections catching up) from the moment the metadata
//     is committed; scavenging later reclaims its space.
//   * A soft delete hides every event the stream has; appending to it again
//     continues its version numbers (EventStoreDB's semantics).
//   * A hard delete leaves a tombstone: the name can never be used again.
//   * Durable consumers (projections, relays) record how far they have read;
//     with Options::retention_waits_for_consumers the retention limits wait
//     until every registered consumer has passed an event.
//
// Every member has a default member initializer (see annals/event.h).

#ifndef ANNALS_STREAM_METADATA_H_
#define ANNALS_STREAM_METADATA_H_

#include <cstdint>
#include <string>

namespace annals {

// A stream's retention limits. An event of the stream is visible only while
// it passes every limit that is set (see docs/lifecycle.md, "What a reader
// sees").
struct StreamMetadata {
  // Keep only the newest max_count events; 0 = no limit.
  uint64_t max_count = 0;
  // Keep only events recorded in the last max_age_us microseconds
  // (RecordedEvent::recorded_at_us against the reader's clock); 0 = no limit.
  int64_t max_age_us = 0;
  // Hide every version below this one; 0 (or 1) = hide nothing. A soft
  // delete sets it to the stream's last version + 1.
  uint64_t truncate_before = 0;

  bool operator==(const StreamMetadata&) const = default;
};

// Whether and how a stream was deleted.
enum class StreamDeletion : uint8_t {
  kNone,
  // Soft-deleted and not appended to since: nothing of it is visible, it is
  // not listed, and an append to it recreates it (clearing the mark).
  kSoft,
  // Hard-deleted: a tombstone, forever.
  kHard,
};

// How EventStore::DeleteStream() deletes.
enum class DeleteMode : uint8_t {
  kSoft,
  kHard,
};

// What EventStore::GetStreamMetadata() returns.
struct StreamMetadataInfo {
  StreamMetadata metadata{};
  // Incremented by every SetStreamMetadata() and DeleteStream(); 0 while the
  // stream never had metadata (ExpectedVersion::NoStream() matches it).
  uint64_t metadata_version = 0;
  StreamDeletion deleted = StreamDeletion::kNone;

  bool operator==(const StreamMetadataInfo&) const = default;
};

// One durable consumer (EventStore::ListConsumers()).
struct ConsumerInfo {
  std::string name{};
  // The global position up to which (inclusive) the consumer has handled
  // the log.
  uint64_t position = 0;
};

}  // namespace annals

#endif  // ANNALS_STREAM_METADATA_H_
