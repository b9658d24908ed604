// File: eventstore/internal/retention.h
//
// Retention: the one visibility rule every reader applies, the records of the
// `stream_meta` and `consumers` families, and the scavenge policy built on
// the same rule (docs/lifecycle.md).
//
//   stream_meta  stream name          -> StreamMetaRecord (EncodeStreamMeta)
//   consumers    consumer name        -> position:be64
//                "" (empty key)       -> floor:be64 (see RetentionView)
//
// The rule. An event (stream, version, position, recorded_at_us) is visible
// iff its stream is not hard-deleted, version >= deleted_before (a soft
// delete: always immediate) and either it passes every retention limit
//   version >= truncate_before,
//   version >  last_version - max_count     (max_count > 0),
//   recorded_at_us >= now - max_age_us      (max_age_us > 0),
// or its position lies above the consumers' bound (retention that waits for
// consumers; UINT64_MAX when it does not wait, so the limits always act).
//
// Monotone, as the scavenge policy needs (an event unreachable once stays
// so): last_version, now and deleted_before only grow, a hard delete is
// forever, the consumers' bound only grows (RetentionView::limits_bound).
// Only a user raising or lowering a limit changes the answer back; reads
// never show a scavenged event (a stub), so raising a limit after a scavenge
// shows only what was not scavenged.
//
// Threading: a RetentionView is immutable once published, except the
// per-stream last_version, an atomic only the committer (or a follower's
// catch-up, under its exclusive lock) raises. Readers share it through a
// shared_ptr that the committer swaps after every metadata commit.

#ifndef ANNALS_EVENTSTORE_INTERNAL_RETENTION_H_
#define ANNALS_EVENTSTORE_INTERNAL_RETENTION_H_

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/expected_version.h"
#include "annals/stream_metadata.h"
#include "eventstore/internal/column_family.h"
#include "eventstore/internal/scavenge_policy.h"

namespace annals::internal {

inline constexpr ColumnFamilySpec kStreamMetaFamily{.name = "stream_meta"};
inline constexpr ColumnFamilySpec kConsumersFamily{.name = "consumers"};
inline constexpr std::string_view kConsumerFloorKey = "";

// What `stream_meta` holds for one stream.
struct StreamMetaRecord {
  StreamMetadataInfo info{};
  // Versions below this are hidden at once, whatever the consumers (set by a
  // soft delete to the last version + 1; 0 = none).
  uint64_t deleted_before = 0;

  bool operator==(const StreamMetaRecord&) const = default;
};

// 42 bytes: format:u8(1) metadata_version:be64 max_count:be64
// max_age_us:be64 truncate_before:be64 deleted:u8 deleted_before:be64.
std::string EncodeStreamMeta(const StreamMetaRecord& record);
// kDataLoss for a malformed value.
absl::StatusOr<StreamMetaRecord> DecodeStreamMeta(std::string_view stream, std::string_view value);

// The rule for one stream, derived once per read (or per stream of a scan).
struct StreamRule {
  bool hard_deleted = false;
  uint64_t deleted_before = 0;
  // max(truncate_before, last_version - max_count + 1).
  uint64_t limit_first_version = 0;
  int64_t min_recorded_at_us = std::numeric_limits<int64_t>::min();
  // The limits act only at positions <= this.
  uint64_t limits_bound = std::numeric_limits<uint64_t>::max();

  bool Visible(uint64_t version, uint64_t position, int64_t recorded_at_us) const {
    if (hard_deleted || version < deleted_before) return false;
    if (position > limits_bound) return true;
    return version >= limit_first_version && recorded_at_us >= min_recorded_at_us;
  }
  // The first version that can be visible by version alone (a forward read
  // may start there).
  uint64_t FirstPossibleVersion() const {
    if (limits_bound != std::numeric_limits<uint64_t>::max()) return deleted_before;
    return deleted_before > limit_first_version ? deleted_before : limit_first_version;
  }
};

// ExpectedVersion against a stream that may be soft-deleted: while the
// deleted mark stands the stream looks absent (NoStream matches,
// StreamExists does not), yet Exact(n) still matches its last version n,
// because appending continues the version numbers (docs/lifecycle.md).
bool ExpectedMatches(ExpectedVersion expected, uint64_t version,
                     const std::optional<StreamMetaRecord>& meta);

// kFailedPrecondition for a write to a hard-deleted stream.
absl::Status HardDeletedError(std::string_view stream);

StreamRule RuleFor(const StreamMetaRecord& record, uint64_t last_version, int64_t now_us,
                   uint64_t limits_bound);

// A published, immutable snapshot of every stream's metadata and of the
// consumers. Memory: one hash-map slot (about 40 bytes) plus one shared
// Entry (about 100 bytes with its control block) per stream with metadata,
// plus the name when it is longer than 15 bytes; the same per consumer
// without the Entry. Streams without metadata cost nothing.
class RetentionView {
 public:
  struct Entry {
    explicit Entry(const StreamMetaRecord& r, uint64_t last) : record(r), last_version(last) {}
    const StreamMetaRecord record;
    // The stream's last committed version, raised by the committer after
    // each group that appended to it (max_count needs it).
    std::atomic<uint64_t> last_version;
  };

  RetentionView() = default;
  RetentionView(const RetentionView&) = delete;
  RetentionView& operator=(const RetentionView&) = delete;

  // Null when the stream has no metadata.
  const Entry* Find(std::string_view stream) const;
  bool has_stream_metadata() const { return !streams.empty(); }

  // The rule of `stream` as of `now_us` (a stream without metadata: the
  // default rule, everything visible). `last_version` 0 means "use the
  // entry's".
  StreamRule Rule(std::string_view stream, uint64_t last_version, int64_t now_us) const;

  // Position up to which the retention limits act: UINT64_MAX unless
  // retention waits for consumers and some are registered; then
  // max(floor, min position of the consumers). Never decreases.
  uint64_t limits_bound() const;

  absl::flat_hash_map<std::string, std::shared_ptr<Entry>> streams;
  absl::flat_hash_map<std::string, uint64_t> consumers;
  // The consumers' bound as last committed: when the set of consumers goes
  // from empty to non-empty the floor becomes the end of the log then, so
  // that an event the limits hid while nobody was registered stays hidden.
  uint64_t consumer_floor = 0;
  bool waits_for_consumers = false;
};

// The scavenge policy: Unreachable() = not visible by the rule above for
// every reader, now and later. Holds a function that returns the current
// view (the store's), so a metadata commit reaches the compaction threads.
class RetentionScavengePolicy : public ScavengePolicy {
 public:
  using ViewFn = std::shared_ptr<const RetentionView> (*)(const void* store);
  RetentionScavengePolicy(const void* store, ViewFn view) : store_(store), view_(view) {}
  bool Unreachable(const ScavengeCandidate& c) const override;
  // The stream is hard-deleted: its stubs say "deleted", not "retention".
  bool HardDeleted(const ScavengeCandidate& c) const override;

 private:
  const void* store_;  // Not owned: the EventStore::Impl, which outlives the policy's use.
  ViewFn view_;
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_RETENTION_H_
