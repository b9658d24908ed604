// Operating on projections without running them: status from the records a
// runner leaves in the store (works from any process, including a read-only
// follower), listing, offline rebuild and dead-letter replay.

#include <set>

#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "projections/internal/families.h"
#include "projections/internal/runner_impl.h"

namespace annals {

using projections_internal::DbGet;
using projections_internal::DbScan;

std::string_view ProjectionStateName(ProjectionState state) {
  switch (state) {
    case ProjectionState::kRunning:
      return "running";
    case ProjectionState::kStopped:
      return "stopped";
    case ProjectionState::kFailed:
      return "failed";
    case ProjectionState::kStalled:
      return "stalled";
  }
  return "unknown";
}

std::string_view ProjectionModeName(ProjectionMode mode) {
  return mode == ProjectionMode::kInline ? "inline" : "async";
}

absl::StatusOr<std::vector<std::string>> ListProjections(EventStore& store) {
  ASSIGN_OR_RETURN(const projections_internal::ProjectionFamilies families,
                   projections_internal::GetFamilies(store));
  std::set<std::string> names;
  RETURN_IF_ERROR(DbScan(families.db, families.checkpoints, nullptr, "", 0,
                         [&](std::string_view key, std::string_view) {
                           if (key.empty()) return true;
                           std::string_view rest = key.substr(1);
                           if (key[0] == 'C') rest = rest.substr(0, rest.find('\0'));
                           if (key[0] == 'A' || key[0] == 'C' || key[0] == 'H') {
                             names.emplace(rest);
                           }
                           return true;
                         }));
  return std::vector<std::string>(names.begin(), names.end());
}

absl::StatusOr<ProjectionStatus> ReadProjectionStatus(EventStore& store, std::string_view name) {
  RETURN_IF_ERROR(projections_internal::ValidateName("projection", name));
  ASSIGN_OR_RETURN(const projections_internal::ProjectionFamilies families,
                   projections_internal::GetFamilies(store));
  rocksdb::DB* db = families.db;
  rocksdb::ColumnFamilyHandle* cf = families.checkpoints;
  // One snapshot: generation, checkpoint and health belong together.
  const rocksdb::Snapshot* snapshot = db->GetSnapshot();
  struct Release {
    rocksdb::DB* db;
    const rocksdb::Snapshot* s;
    ~Release() { db->ReleaseSnapshot(s); }
  } release{db, snapshot};

  ProjectionStatus st;
  st.name = std::string(name);
  ASSIGN_OR_RETURN(std::optional<std::string> gen,
                   DbGet(db, cf, snapshot, projections_internal::ActiveGenerationKey(name)));
  if (gen.has_value()) {
    if (gen->size() != 4) return absl::DataLossError("malformed active-generation record");
    st.generation = projections_internal::DecodeGeneration(*gen);
  }
  ASSIGN_OR_RETURN(
      std::optional<std::string> cp,
      DbGet(db, cf, snapshot, projections_internal::CheckpointKey(name, st.generation)));
  if (cp.has_value()) {
    if (cp->size() != 8) return absl::DataLossError("malformed checkpoint record");
    st.position = coding::DecodeBigEndian64(*cp);
  }
  ASSIGN_OR_RETURN(std::optional<std::string> health,
                   DbGet(db, cf, snapshot, projections_internal::HealthKey(name)));
  st.last_position = store.last_position();
  st.lag = st.last_position > st.position ? st.last_position - st.position : 0;
  ASSIGN_OR_RETURN(st.parked, projections_internal::CountParked(store, name));
  if (!health.has_value()) {
    if (!gen.has_value() && !cp.has_value()) {
      return absl::NotFoundError(StrCat("projection '", name, "' has never run on this store"));
    }
    return st;  // kStopped.
  }
  projections_internal::Health h;
  if (!projections_internal::DecodeHealth(*health, &h)) {
    return absl::DataLossError(StrCat("malformed health record of projection '", name, "'"));
  }
  st.mode = h.mode;
  st.state = h.state;
  st.error = h.error;
  st.heartbeat_us = h.heartbeat_us;
  st.advanced_at_us = h.advanced_at_us;
  if (st.state == ProjectionState::kRunning || st.state == ProjectionState::kStalled) {
    // A runner refreshes its heartbeat every heartbeat_every; three missed
    // ones mean its process is gone.
    if (NowMicros() - h.heartbeat_us > 3 * h.heartbeat_every_us + 1'000'000) {
      st.state = ProjectionState::kStopped;
      st.error = StrCat("no heartbeat since ", FormatTimestampMicros(h.heartbeat_us),
                        "; its process is gone");
    } else if (projections_internal::IsStalled(store, st.position, h.advanced_at_us,
                                               absl::Microseconds(h.stall_after_us))) {
      st.state = ProjectionState::kStalled;
    } else {
      st.state = ProjectionState::kRunning;
    }
  }
  return st;
}

absl::StatusOr<std::vector<ParkedEvent>> ListParkedEvents(EventStore& store,
                                                          std::string_view name) {
  RETURN_IF_ERROR(projections_internal::ValidateName("projection", name));
  ASSIGN_OR_RETURN(const projections_internal::ProjectionFamilies families,
                   projections_internal::GetFamilies(store));
  const std::string prefix = projections_internal::ParkedPrefix(name);
  std::vector<ParkedEvent> out;
  bool bad = false;
  RETURN_IF_ERROR(DbScan(families.db, families.parked, nullptr, prefix, prefix.size(),
                         [&](std::string_view key, std::string_view value) {
                           ParkedEvent p;
                           if (key.size() != 8 || !projections_internal::DecodeParked(value, &p)) {
                             bad = true;
                             return false;
                           }
                           p.position = coding::DecodeBigEndian64(key);
                           out.push_back(std::move(p));
                           return true;
                         }));
  if (bad) return absl::DataLossError(StrCat("malformed dead letter of projection '", name, "'"));
  return out;
}

namespace {

// A runner Impl without a thread, for one offline operation.
absl::StatusOr<std::unique_ptr<ProjectionRunner::Impl>> Offline(EventStore& store,
                                                                Projection& projection) {
  if (store.read_only()) {
    return absl::FailedPreconditionError(
        "the store is open read-only (another process may be writing it); stop that process "
        "or use its API");
  }
  // Not owned: the caller's projection outlives the Impl.
  std::shared_ptr<Projection> alias(std::shared_ptr<Projection>(), &projection);
  auto impl = std::make_unique<ProjectionRunner::Impl>(store, alias, ProjectionOptions());
  RETURN_IF_ERROR(impl->Init());
  RETURN_IF_ERROR(impl->Claim());
  return impl;
}

}  // namespace

absl::Status RebuildProjection(EventStore& store, Projection& projection) {
  ASSIGN_OR_RETURN(std::unique_ptr<ProjectionRunner::Impl> impl, Offline(store, projection));
  return impl->Rebuild();
}

absl::Status ReplayParkedEvents(EventStore& store, Projection& projection, uint64_t position) {
  ASSIGN_OR_RETURN(std::unique_ptr<ProjectionRunner::Impl> impl, Offline(store, projection));
  return impl->ReplayParked(position);
}

}  // namespace annals
