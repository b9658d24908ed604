// File: eventstore/internal/commit_group.h
//
// The committer's private types, shared by event_store_append.cc (queue and
// group write) and event_store_stage.cc (checking and staging one request).
// A Request belongs to the appender thread that queued it; the committer
// touches it only while that thread waits. A GroupState belongs to the
// current committer for the duration of one group.

#ifndef ANNALS_EVENTSTORE_INTERNAL_COMMIT_GROUP_H_
#define ANNALS_EVENTSTORE_INTERNAL_COMMIT_GROUP_H_

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/strings.h"
#include "eventstore/internal/event_store_impl.h"
#include "flatbuffers/flatbuffers.h"

namespace annals {
namespace internal {

// Calls into a commit hook (user code), turning an exception that escapes it
// into kInternal: an exception crossing the committer would leave the
// committer role taken and wedge every later append.
template <typename F>
absl::Status CallHook(std::string_view what, F&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat(what, " threw an exception: ", e.what()));
  } catch (...) {
    return absl::InternalError(StrCat(what, " threw an exception that is not a std::exception"));
  }
}

}  // namespace internal

// A metadata, delete or consumer request: its input, and its result.
struct EventStore::Impl::MetaOp {
  enum class Kind : uint8_t { kSetMetadata, kDelete, kSetConsumer, kRemoveConsumer };
  Kind kind = Kind::kSetMetadata;
  std::string_view name;  // The stream or consumer; borrowed from the caller.
  ExpectedVersion expected = ExpectedVersion::Any();
  StreamMetadata metadata;
  DeleteMode mode = DeleteMode::kSoft;
  uint64_t position = 0;
  StreamMetadataInfo result;
};

struct EventStore::Impl::Request {
  absl::Span<const StreamAppend> parts;
  // Set for a metadata, delete or consumer request (then `parts` is empty).
  MetaOp* meta = nullptr;
  size_t bytes = 0;
  absl::Status status;
  std::vector<AppendResult> results;
  // Set by StageRequest when the request put events into the group's batch.
  bool writes = false;
  // Set by StageRequest when the result (a replay, or an empty part) refers
  // to events staged earlier in the same group: it holds only if the group's
  // write succeeds.
  bool depends_on_group = false;
  // Set under queue_mu_ by the committer; read under it by the waiting
  // appender. Prose, not ABSL_GUARDED_BY: a Request cannot name the store's
  // queue_mu_ for the analysis.
  bool done = false;
};

// What one group commit has staged but not yet written.
struct EventStore::Impl::GroupState {
  // Heads as they will be after this group (overlay over head_cache_).
  absl::flat_hash_map<std::string, internal::Head> heads;
  // Event ids staged by this group, with the event staged under each (owned
  // by its request, which stays alive until the group is done) so that a
  // replay within the group can compare content.
  struct StagedId {
    internal::EventIdEntry entry;
    const NewEvent* event = nullptr;
  };
  absl::flat_hash_map<Uuid, StagedId> ids;
  // Set when a commit hook threw from OnRollback() or OnGroupDone(): the
  // hook's state may no longer match the store, so the rest of the group is
  // refused and the store refuses appends until reopened.
  absl::Status hook_error;
  flatbuffers::FlatBufferBuilder fbb{1024};
  int64_t now_us = 0;
  uint64_t first_stream_id = 0;
  // The published retention view when the group began.
  std::shared_ptr<const internal::RetentionView> view;
  // Stream metadata staged by this group (overlay over `view`), with the
  // stream's last version when it was staged.
  absl::flat_hash_map<std::string, internal::StreamMetaRecord> meta;
  // Consumers staged by this group: a position, or nullopt when removed.
  absl::flat_hash_map<std::string, std::optional<uint64_t>> consumers;
  std::optional<uint64_t> consumer_floor;
  // A metadata change or delete is in the group: write it synced.
  bool sync = false;
};

}  // namespace annals

#endif  // ANNALS_EVENTSTORE_INTERNAL_COMMIT_GROUP_H_
