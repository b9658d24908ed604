// File: eventstore/internal/scavenge_policy.h
//
// The seam between retention (what readers may no longer see) and
// scavenging (the compaction filter that turns such records into stubs,
// eventstore/internal/scavenge_filter.h). The store holds one policy,
// installed with EventStore::Impl::SetScavengePolicy(); without one nothing
// is scavenged for retention (log compaction by key still is).

#ifndef ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_POLICY_H_
#define ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_POLICY_H_

#include <cstdint>
#include <string_view>

namespace annals::internal {
// What a scavenge may turn into a stub. Every field comes from the record.
struct ScavengeCandidate {
  std::string_view stream;
  uint64_t version = 0;
  uint64_t position = 0;
  int64_t recorded_at_us = 0;
};
// Decides, for one record, whether retention, deletion or compaction made it
// unreachable for every reader, now and forever (a stub is never undone).
// Thread-safe: called from RocksDB's compaction threads and from Verify().
class ScavengePolicy {
 public:
  virtual ~ScavengePolicy() = default;
  virtual bool Unreachable(const ScavengeCandidate& c) const = 0;
  // Optional: whether an Unreachable event was hard-deleted (its stub then
  // says "deleted") rather than retained out (max_count, max_age,
  // truncate_before, soft delete: "retention"). Called only for candidates
  // Unreachable() accepted. The default answers false.
  virtual bool HardDeleted(const ScavengeCandidate& /*c*/) const { return false; }
};
}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_POLICY_H_
