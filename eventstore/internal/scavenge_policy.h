// File: eventstore/internal/scavenge_policy.h
//
// The seam between retention (which decides what no reader can see any
// more) and scavenging (which turns such records into stubs). Shared with the
// scavenge branch: the interface is the one of the issue-13 design.

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
};

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_SCAVENGE_POLICY_H_
