// The append path: input validation on the caller's thread, then one
// committer at a time (the leader among waiting appenders) that orders,
// checks and writes groups of appends.
//
// Why one committer: it is the only writer, so its in-memory view of stream
// heads is exact, and it assigns global positions in the same order in which
// it writes the batches. Because batch N+1 is handed to RocksDB only after
// batch N's Write() returned, and a WriteBatch becomes visible atomically,
// no reader can ever see position P+1 without P: the global log is gap-free
// by construction, not by a sequence that transactions race on.
//
// Group commit: every append queued while the previous batch was being
// synced goes into the next batch: N waiting appenders cost one fsync.

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "annals/errors.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/utf8.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/record_codec.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals {
namespace {

constexpr size_t kMaxStreamNameBytes = 512;
constexpr size_t kMaxEventTypeBytes = 256;

size_t EventBytes(const NewEvent& e) {
  size_t n = 16 + e.type.size() + e.payload.size() + e.correlation_id.size() +
             e.causation_id.size();
  for (const auto& [k, v] : e.metadata) n += k.size() + v.size();
  return n;
}

absl::Status ValidateStreamName(std::string_view stream) {
  if (stream.empty()) {
    return absl::InvalidArgumentError("stream name is empty; give each aggregate a stream id");
  }
  if (stream.size() > kMaxStreamNameBytes) {
    return absl::InvalidArgumentError(StrCat("stream name is ", stream.size(),
                                                   " bytes; the limit is ", kMaxStreamNameBytes));
  }
  if (!IsValidUtf8(stream)) {
    return absl::InvalidArgumentError("stream name is not valid UTF-8");
  }
  if (stream.front() == '$') {
    return absl::InvalidArgumentError(StrCat(
        "stream name '", stream, "' starts with '$', which is reserved for system streams"));
  }
  return absl::OkStatus();
}

// Checks one call's input before it is queued, so that the committer sees
// only well-formed requests. Returns the call's size in bytes.
absl::StatusOr<size_t> ValidateAppend(absl::Span<const StreamAppend> parts,
                                      const Options& options) {
  if (parts.empty()) return absl::InvalidArgumentError("append has no streams");
  size_t total = 0;
  absl::flat_hash_set<std::string_view> streams;
  absl::flat_hash_set<Uuid> ids;
  for (const StreamAppend& part : parts) {
    if (absl::Status s = ValidateStreamName(part.stream); !s.ok()) return s;
    if (!streams.insert(part.stream).second) {
      return absl::InvalidArgumentError(StrCat(
          "stream '", part.stream, "' appears twice in one multi-stream append; merge its events"));
    }
    if (part.events.empty()) {
      return absl::InvalidArgumentError(
          StrCat("append to stream '", part.stream, "' has no events"));
    }
    if (part.expected.kind() == ExpectedVersion::Kind::kExact &&
        part.expected.version() > (uint64_t{1} << 62)) {
      return absl::InvalidArgumentError(StrCat("expected version ",
                                                     part.expected.version(), " is out of range"));
    }
    for (size_t i = 0; i < part.events.size(); ++i) {
      const NewEvent& e = part.events[i];
      auto where = [&] { return StrCat("event ", i, " of stream '", part.stream, "'"); };
      if (e.type.empty()) {
        return absl::InvalidArgumentError(StrCat(where(), " has an empty type"));
      }
      if (e.type.size() > kMaxEventTypeBytes || !IsValidUtf8(e.type)) {
        return absl::InvalidArgumentError(StrCat(
            where(), " has a type that is not UTF-8 of at most ", kMaxEventTypeBytes, " bytes"));
      }
      if (e.schema_version == 0) {
        return absl::InvalidArgumentError(StrCat(where(), ": schema_version starts at 1"));
      }
      if (e.recorded_at_us < 0) {
        return absl::InvalidArgumentError(StrCat(where(), ": recorded_at_us is negative"));
      }
      const size_t bytes = EventBytes(e);
      if (bytes > options.max_event_bytes) {
        return absl::InvalidArgumentError(
            StrCat(where(), " is ", bytes, " bytes; the limit (Options::max_event_bytes) is ",
                         options.max_event_bytes));
      }
      if (!e.id.is_nil() && !ids.insert(e.id).second) {
        return absl::InvalidArgumentError(StrCat(
            where(), " repeats event id ", e.id.ToString(), "; every event needs its own id"));
      }
      total += bytes;
    }
  }
  if (total > options.max_append_bytes) {
    return absl::InvalidArgumentError(StrCat("append is ", total,
                                                   " bytes; the limit (Options::max_append_bytes) is ",
                                                   options.max_append_bytes));
  }
  return total;
}

}  // namespace

struct EventStore::Impl::Request {
  absl::Span<const StreamAppend> parts;
  size_t bytes = 0;
  absl::Status status;
  std::vector<AppendResult> results;
  bool done = false;  // Set under queue_mu_ by the committer.
};

// What one group commit has staged but not yet written.
struct EventStore::Impl::GroupState {
  // Heads as they will be after this group (overlay over head_cache_).
  absl::flat_hash_map<std::string, internal::Head> heads;
  // Event ids staged by this group.
  absl::flat_hash_map<Uuid, internal::EventIdEntry> ids;
  flatbuffers::FlatBufferBuilder fbb{1024};
  int64_t now_us = 0;
  uint64_t first_stream_id = 0;
};

absl::Status EventStore::Impl::Sync() {
  if (options_.read_only) return absl::OkStatus();
  {
    std::lock_guard lock(queue_mu_);
    if (!write_error_.ok()) {
      return absl::FailedPreconditionError(StrCat(
          "store refuses writes after an earlier write error (", write_error_.message(),
          "); reopen it"));
    }
  }
  rocksdb::Status s = db_->SyncWAL();
  if (s.ok()) return absl::OkStatus();
  absl::Status error = internal::FromRocksDb(s, "syncing the WAL");
  std::lock_guard lock(queue_mu_);
  // Never retry an fsync: the kernel may have dropped the dirty pages.
  write_error_ = error;
  return absl::UnknownError(StrCat(error.message(),
                                   "; buffered appends may be lost; the store refuses appends "
                                   "until it is reopened"));
}

absl::Status EventStore::Impl::write_error() const {
  std::unique_lock lock(queue_mu_);
  return write_error_;
}

void EventStore::Impl::AddCommitHook(internal::CommitHook* hook) {
  std::unique_lock lock(queue_mu_);
  hooks_.push_back(hook);
}

void EventStore::Impl::RemoveCommitHook(internal::CommitHook* hook) {
  std::unique_lock lock(queue_mu_);
  hooks_.erase(std::remove(hooks_.begin(), hooks_.end(), hook), hooks_.end());
  // A group already in flight copied the hook list before the erase; once
  // it is done, no committer can call `hook` again and the caller may free it.
  if (committing_) {
    const uint64_t generation = commit_generation_;
    queue_cv_.wait(lock, [&] { return commit_generation_ != generation; });
  }
}

absl::StatusOr<std::vector<AppendResult>> EventStore::Impl::AppendMulti(
    absl::Span<const StreamAppend> parts) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        "store is open read-only; open it without Options::read_only to append");
  }
  absl::StatusOr<size_t> bytes = ValidateAppend(parts, options_);
  if (!bytes.ok()) return bytes.status();

  Request request;
  request.parts = parts;
  request.bytes = *bytes;
  std::unique_lock lock(queue_mu_);
  if (!write_error_.ok()) {
    return absl::FailedPreconditionError(StrCat(
        "store refuses appends after an earlier write error (", write_error_.message(),
        "); reopen the store, then retry with the same event ids"));
  }
  if (shutting_down_) return absl::FailedPreconditionError("store is closing");
  queue_.push_back(&request);
  // Leader/follower group commit: the appender that finds no commit in
  // progress becomes the committer for everything queued so far; the others
  // wait until their request is done or the committer role is free again.
  // Uncontended, an append is committed on its own thread with no hand-off.
  while (!request.done) {
    queue_cv_.wait(lock, [&] { return request.done || !committing_; });
    if (request.done) break;
    committing_ = true;
    std::vector<Request*> group = TakeGroup();
    lock.unlock();
    CommitGroup(group);  // Marks the group's requests done under queue_mu_.
    lock.lock();
    committing_ = false;
    ++commit_generation_;
    queue_cv_.notify_all();
  }
  if (!request.status.ok()) return request.status;
  return std::move(request.results);
}

std::vector<EventStore::Impl::Request*> EventStore::Impl::TakeGroup() {
  std::vector<Request*> group;
  size_t bytes = 0;
  while (!queue_.empty() &&
         (group.empty() || bytes + queue_.front()->bytes <= options_.max_group_commit_bytes)) {
    bytes += queue_.front()->bytes;
    group.push_back(queue_.front());
    queue_.pop_front();
  }
  return group;
}

absl::StatusOr<internal::Head> EventStore::Impl::LookupHead(std::string_view stream,
                                                            const GroupState& group) {
  if (auto it = group.heads.find(Sv(stream)); it != group.heads.end()) return it->second;
  if (auto it = head_cache_.find(Sv(stream)); it != head_cache_.end()) return it->second;
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), families_[internal::kHeadsFamily], stream, &value);
  internal::Head head;
  if (s.IsNotFound()) return head;  // stream_id 0: a new stream.
  if (!s.ok()) return internal::FromRocksDb(s, StrCat("reading head of '", stream, "'"));
  if (!internal::DecodeHead(value, &head)) {
    return absl::DataLossError(StrCat("head of stream '", stream, "' is malformed"));
  }
  if (head_cache_.size() >= options_.stream_head_cache_entries) head_cache_.clear();
  head_cache_.emplace(stream, head);
  return head;
}

// Checks a request against the current heads and, when it passes, adds its
// records to `batch`. On any error the request leaves `batch`, `group` and the
// committer state as they were.
absl::Status EventStore::Impl::StageRequest(Request& request, GroupState& group,
                                            rocksdb::WriteBatch& batch) {
  const auto parts = request.parts;
  std::vector<internal::Head> heads(parts.size());
  std::vector<std::optional<AppendResult>> replays(parts.size());
  size_t replay_count = 0;

  // Idempotency: look up every id the caller chose in one MultiGet. The ids
  // are random and the index grows with the store, so each lookup probes a
  // filter per level; batching shares the per-level and per-file work across
  // the request (one Get per id cost ~30% of a buffered append at 10M events).
  std::vector<std::vector<internal::EventIdEntry>> entries(parts.size());
  std::vector<std::vector<bool>> known(parts.size());
  {
    std::vector<rocksdb::Slice> keys;
    std::vector<std::pair<size_t, size_t>> where;  // (part, event) of each key.
    for (size_t p = 0; p < parts.size(); ++p) {
      entries[p].resize(parts[p].events.size());
      known[p].resize(parts[p].events.size());
      for (size_t i = 0; i < parts[p].events.size(); ++i) {
        const Uuid& id = parts[p].events[i].id;
        if (id.is_nil()) continue;
        if (auto it = group.ids.find(id); it != group.ids.end()) {
          entries[p][i] = it->second;
          known[p][i] = true;
        } else {
          keys.emplace_back(id.AsBytes().data(), id.AsBytes().size());
          where.emplace_back(p, i);
        }
      }
    }
    if (!keys.empty()) {
      std::vector<rocksdb::PinnableSlice> values(keys.size());
      std::vector<rocksdb::Status> statuses(keys.size());
      db_->MultiGet(rocksdb::ReadOptions(), families_[internal::kEventIdsFamily], keys.size(),
                    keys.data(), values.data(), statuses.data());
      for (size_t k = 0; k < keys.size(); ++k) {
        if (statuses[k].IsNotFound()) continue;
        if (!statuses[k].ok()) return internal::FromRocksDb(statuses[k], "looking up an event id");
        const auto [p, i] = where[k];
        if (!internal::DecodeEventIdEntry(std::string_view(values[k].data(), values[k].size()),
                                          &entries[p][i])) {
          return absl::DataLossError(StrCat("event-id index entry of ",
                                            parts[p].events[i].id.ToString(), " is malformed"));
        }
        known[p][i] = true;
      }
    }
  }

  // Phase 1: checks only.
  for (size_t p = 0; p < parts.size(); ++p) {
    const StreamAppend& part = parts[p];
    absl::StatusOr<internal::Head> head = LookupHead(part.stream, group);
    if (!head.ok()) return head.status();
    heads[p] = *head;

    size_t found = 0;
    std::optional<internal::EventIdEntry> first_found;
    for (size_t i = 0; i < part.events.size(); ++i) {
      if (!known[p][i]) continue;
      ++found;
      if (!first_found) first_found = entries[p][i];
    }
    if (found == 0) {
      if (!part.expected.Matches(head->version)) {
        return WrongExpectedVersionError({std::string(part.stream), part.expected, head->version});
      }
      continue;
    }
    const std::vector<internal::EventIdEntry>& ids = entries[p];
    bool same_place = found == part.events.size() && head->stream_id != 0;
    for (size_t i = 0; same_place && i < ids.size(); ++i) {
      same_place = ids[i].stream_id == head->stream_id &&
                   ids[i].version == ids[0].version + i &&
                   ids[i].position == ids[0].position + i;
    }
    if (!same_place) {
      size_t i = 0;
      while (!known[p][i] || ids[i].position != first_found->position) ++i;
      return absl::AlreadyExistsError(StrCat(
          "event id ", part.events[i].id.ToString(), " is already stored at position ",
          first_found->position, " (version ", first_found->version,
          " of another stream or another place); event ids must be unique, and a retry must "
          "re-send exactly the events of the original append"));
    }
    replays[p] = AppendResult{ids.front().version, ids.back().version, ids.front().position,
                              ids.back().position, true};
    ++replay_count;
  }
  if (replay_count == parts.size()) {
    for (auto& r : replays) request.results.push_back(*r);
    return absl::OkStatus();
  }
  if (replay_count > 0) {
    return absl::AlreadyExistsError(
        "some streams of this multi-stream append hold its event ids already and others do "
        "not; a retry must re-send exactly the original append");
  }

  // Phase 2: stage. Remember what to restore if an inline hook fails.
  const uint64_t saved_position = next_position_;
  const uint64_t saved_stream_id = next_stream_id_;
  const std::string saved_hash = last_hash_;
  std::vector<std::pair<std::string, std::optional<internal::Head>>> saved_heads;
  std::vector<Uuid> staged_ids;
  batch.SetSavePoint();

  auto rollback = [&] {
    batch.RollbackToSavePoint().PermitUncheckedError();  // A save point was set above.
    next_position_ = saved_position;
    next_stream_id_ = saved_stream_id;
    last_hash_ = saved_hash;
    for (auto& [stream, head] : saved_heads) {
      if (head) {
        group.heads[stream] = *head;
      } else {
        group.heads.erase(stream);
      }
    }
    for (const Uuid& id : staged_ids) group.ids.erase(id);
    request.results.clear();
  };

  char position_key[8];
  char position_value[8];
  EventView view;
  for (size_t p = 0; p < parts.size(); ++p) {
    const StreamAppend& part = parts[p];
    internal::Head head = heads[p];
    if (auto it = group.heads.find(Sv(part.stream)); it != group.heads.end()) {
      saved_heads.emplace_back(std::string(part.stream), it->second);
    } else {
      saved_heads.emplace_back(std::string(part.stream), std::nullopt);
    }
    if (head.stream_id == 0) head.stream_id = next_stream_id_++;
    AppendResult result;
    result.first_version = head.version + 1;
    result.first_position = next_position_;
    for (const NewEvent& e : part.events) {
      view.position = next_position_++;
      view.stream = part.stream;
      view.version = ++head.version;
      view.id = e.id.is_nil() ? Uuid::V7() : e.id;
      view.type = e.type;
      view.schema_version = e.schema_version;
      view.recorded_at_us = e.recorded_at_us != 0 ? e.recorded_at_us : group.now_us;
      view.correlation_id = e.correlation_id;
      view.causation_id = e.causation_id;
      view.metadata.assign(e.metadata.begin(), e.metadata.end());
      view.content_type = e.content_type;
      view.payload = e.payload;
      const Sha256::Digest hash = internal::ChainHash(sha_, last_hash_, view);
      last_hash_.assign(reinterpret_cast<const char*>(hash.data()), hash.size());
      view.hash = last_hash_;
      internal::EncodeRecord(view, internal::RecordChecksum(view, view.hash), group.fbb);

      coding::EncodeBigEndian64(position_key, view.position);
      batch.Put(families_[internal::kLogFamily], rocksdb::Slice(position_key, 8),
                rocksdb::Slice(reinterpret_cast<const char*>(group.fbb.GetBufferPointer()),
                               group.fbb.GetSize()));
      std::memcpy(position_value, position_key, 8);
      batch.Put(families_[internal::kStreamIndexFamily],
                internal::StreamIndexKey(head.stream_id, view.version),
                rocksdb::Slice(position_value, 8));
      const internal::EventIdEntry entry{view.position, head.stream_id, view.version};
      batch.Put(families_[internal::kEventIdsFamily], view.id.AsBytes(),
                internal::EncodeEventIdEntry(entry));
      group.ids[view.id] = entry;
      staged_ids.push_back(view.id);

      for (internal::CommitHook* hook : group_hooks_) {
        absl::Status s = hook->OnEvent(view, batch);
        if (!s.ok()) {
          rollback();
          for (internal::CommitHook* h : group_hooks_) h->OnRollback();
          return absl::Status(s.code(), StrCat("inline projection failed at event ",
                                                     view.version, " of '", part.stream,
                                                     "'; nothing was appended: ", s.message()));
        }
      }
    }
    head.last_position = next_position_ - 1;
    result.last_version = head.version;
    result.last_position = head.last_position;
    batch.Put(families_[internal::kHeadsFamily], part.stream, internal::EncodeHead(head));
    group.heads[std::string(part.stream)] = head;
    request.results.push_back(result);
  }
  return absl::OkStatus();
}

void EventStore::Impl::CommitGroup(std::vector<Request*>& group) {
  {
    std::unique_lock lock(queue_mu_);
    if (!write_error_.ok()) {
      for (Request* r : group) {
        r->status = absl::FailedPreconditionError(StrCat(
            "store refuses appends after an earlier write error (", write_error_.message(),
            "); reopen the store, then retry with the same event ids"));
        r->done = true;
      }
      return;
    }
    group_hooks_ = hooks_;
  }
  GroupState state;
  state.now_us = NowMicros();
  state.first_stream_id = next_stream_id_;
  rocksdb::WriteBatch batch;
  bool any_staged = false;
  for (Request* r : group) {
    r->status = StageRequest(*r, state, batch);
    any_staged = any_staged || (r->status.ok() && !r->results.empty() &&
                                !r->results.front().idempotent_replay);
  }

  absl::Status write_status;
  if (any_staged) {
    if (next_stream_id_ != state.first_stream_id) {
      batch.Put(families_[internal::kDefaultFamily], internal::kNextStreamIdKey,
                coding::BigEndian64(next_stream_id_));
    }
    rocksdb::Status s;
    if (test_fail_next_write_.exchange(false)) {
      s = rocksdb::Status::IOError("injected failure (TEST_FailNextWrite)");
    } else {
      s = db_->Write(write_options_, &batch);
    }
    write_status = internal::FromRocksDb(s, "writing a group of appends");
  }
  for (internal::CommitHook* hook : group_hooks_) hook->OnGroupDone(write_status.ok());

  if (write_status.ok()) {
    for (auto& [stream, head] : state.heads) {
      if (head_cache_.size() >= options_.stream_head_cache_entries) head_cache_.clear();
      head_cache_[stream] = head;
    }
    if (any_staged) PublishPosition(next_position_ - 1);
  }

  std::unique_lock lock(queue_mu_);
  if (!write_status.ok()) {
    // The outcome is unknown (RocksDB 7.8 may have the batch in its WAL), and
    // a failed fsync must not be retried: refuse appends until reopen.
    write_error_ = write_status;
  }
  for (Request* r : group) {
    if (!write_status.ok() && r->status.ok() &&
        !(r->results.empty() || r->results.front().idempotent_replay)) {
      r->status = absl::UnknownError(StrCat(
          "append outcome unknown: ", write_status.message(),
          "; the store refuses appends until it is reopened; then retry with the same event ids "
          "(retries are idempotent)"));
      r->results.clear();
    }
    r->done = true;
  }
}

}  // namespace annals
