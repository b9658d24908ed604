// Staging one append request in the committer: checks its expected
// versions against the stream heads as they will be after the group so far,
// recognises idempotent retries (comparing content), and adds its records,
// index entries, heads and inline-projection writes to the group's batch.
// Runs only on the current committer (see event_store_append.cc).

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "annals/errors.h"
#include "codec/internal/record_codec.h"
#include "codec/internal/stub_codec.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "eventstore/internal/commit_group.h"
#include "eventstore/internal/event_store_impl.h"
#include "eventstore/internal/rocksdb_status.h"

namespace annals {
namespace {

using internal::CallHook;

// What makes a re-sent event "the same event" as the stored one with its id
// (see EventStore::Append): everything the caller chose except the id (equal
// by construction) and recorded_at (the store assigns it, and a retry made
// later would differ). Metadata compares as a multiset of entries, so a
// caller that builds it from an unordered map still retries cleanly.
struct EventContent {
  std::string_view type;
  uint32_t schema_version;
  ContentType content_type;
  std::string_view payload;
  absl::Span<const MetadataEntry> metadata;
  std::string_view correlation_id;
  std::string_view causation_id;
  std::string_view subject;
};

EventContent ContentOf(const NewEvent& e) {
  return {e.type,     e.schema_version, e.content_type, e.payload,
          e.metadata, e.correlation_id, e.causation_id, e.subject};
}

EventContent ContentOf(const EventView& e) {
  return {e.type,     e.schema_version, e.content_type, e.payload,
          e.metadata, e.correlation_id, e.causation_id, e.subject};
}

// The name of the first field in which `a` and `b` differ, or "" when they
// are the same event.
std::string_view DifferingField(const EventContent& a, const EventContent& b) {
  if (a.type != b.type) return "type";
  if (a.schema_version != b.schema_version) return "schema version";
  if (a.content_type != b.content_type) return "content type";
  if (a.payload != b.payload) return "data";
  if (a.correlation_id != b.correlation_id) return "correlation id";
  if (a.causation_id != b.causation_id) return "causation id";
  if (a.subject != b.subject) return "subject";
  if (a.metadata.size() != b.metadata.size()) return "metadata";
  if (!std::equal(a.metadata.begin(), a.metadata.end(), b.metadata.begin())) {
    std::vector<MetadataEntry> x(a.metadata.begin(), a.metadata.end());
    std::vector<MetadataEntry> y(b.metadata.begin(), b.metadata.end());
    std::sort(x.begin(), x.end());
    std::sort(y.begin(), y.end());
    if (x != y) return "metadata";
  }
  return "";
}

// The result of a part with no events: nothing written, the stream's current
// state, and empty ranges (first = last + 1).
AppendResult EmptyPartResult(const internal::Head& head, bool replay) {
  return AppendResult{head.version + 1, head.version, head.last_position + 1, head.last_position,
                      replay};
}

// An id of a retried event and where it is already: `entry`, and the event
// staged under it when that was earlier in the same group (null when it is
// stored).
struct KnownId {
  internal::EventIdEntry entry;
  const NewEvent* staged = nullptr;
};

// The retry path only (every id of `part` is already at its place): checks
// that each event is the same event as the one stored or staged under its id,
// reading stored ones from the `log` family. kAlreadyExists names the first
// id whose event differs and the field. Sets `*recorded_at_us` to the time of
// the first event as stored (as it will be stored when it is staged in this
// group, whose time is `group_now_us`): the replay reports the original time.
absl::Status CheckReplayContent(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                                const codec_internal::PayloadCipher* cipher,
                                const StreamAppend& part, absl::Span<const KnownId> known,
                                int64_t group_now_us, int64_t* recorded_at_us) {
  codec_internal::RecordDecoder decoder(cipher);
  char key[8];
  for (size_t i = 0; i < part.events.size(); ++i) {
    const NewEvent& retry = part.events[i];
    std::string_view field;
    if (known[i].staged != nullptr) {
      field = DifferingField(ContentOf(retry), ContentOf(*known[i].staged));
      if (i == 0) {
        const int64_t given = known[i].staged->recorded_at_us;
        *recorded_at_us = given != 0 ? given : group_now_us;
      }
    } else {
      coding::EncodeBigEndian64(key, known[i].entry.position);
      rocksdb::PinnableSlice value;
      rocksdb::Status s = db->Get(rocksdb::ReadOptions(), log, rocksdb::Slice(key, 8), &value);
      if (s.IsNotFound()) {
        return absl::DataLossError(StrCat("the event-id index places ", retry.id.ToString(),
                                          " at position ", known[i].entry.position,
                                          ", which is not in the log; run verify"));
      }
      if (!s.ok()) return internal::FromRocksDb(s, "reading a stored event to compare a retry");
      if (codec_internal::IsStub(std::string_view(value.data(), value.size()))) {
        return absl::FailedPreconditionError(StrCat(
            "event id ", retry.id.ToString(), " was appended at position ", known[i].entry.position,
            " and has since been scavenged (retention, deletion or compaction by key); "
            "a retry of that append cannot be recognized any more"));
      }
      EventView stored;
      RETURN_IF_ERROR(decoder.Decode(std::string_view(value.data(), value.size()),
                                     /*verify_checksum=*/true, &stored));
      if (stored.id != retry.id) {
        return absl::DataLossError(StrCat("the event-id index places ", retry.id.ToString(),
                                          " at position ", known[i].entry.position,
                                          ", which holds ", stored.id.ToString(), "; run verify"));
      }
      // An erased payload (ForgetSubject) cannot be compared: not a replay.
      field = stored.erased ? std::string_view("data, erased by ForgetSubject,")
                            : DifferingField(ContentOf(retry), ContentOf(stored));
      if (i == 0) *recorded_at_us = stored.recorded_at_us;
    }
    if (!field.empty()) {
      return absl::AlreadyExistsError(StrCat(
          "event id ", retry.id.ToString(), " is already stored at position ",
          known[i].entry.position, " (version ", known[i].entry.version, " of '", part.stream,
          "') for a different event: its ", field,
          " differs; a retry must re-send exactly the events of the original append, and a new "
          "event needs a new id"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {
absl::Status HardDeletedError(std::string_view stream) {
  return absl::FailedPreconditionError(StrCat(
      "stream '", stream,
      "' was deleted (hard delete): nothing can be appended to it, ever, and its name cannot "
      "be reused; append to a stream of another name"));
}
}  // namespace internal

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
  if (!group.hook_error.ok()) {
    return absl::FailedPreconditionError(
        StrCat("append refused: ", group.hook_error.message(),
               "; the store refuses appends until it is reopened"));
  }
  const auto parts = request.parts;
  std::vector<internal::Head> heads(parts.size());
  std::vector<std::optional<AppendResult>> replays(parts.size());
  std::vector<std::optional<internal::StreamMetaRecord>> metas(parts.size());
  size_t replay_count = 0;
  size_t empty_parts = 0;

  // Idempotency: look up every id the caller chose in one MultiGet. The ids
  // are random and the index grows with the store, so each lookup probes a
  // filter per level; batching shares the per-level and per-file work across
  // the request (one Get per id cost ~30% of a buffered append at 10M events).
  std::vector<std::vector<KnownId>> entries(parts.size());
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
          entries[p][i] = KnownId{it->second.entry, it->second.event};
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
                                          &entries[p][i].entry)) {
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
    metas[p] = LookupMeta(part.stream, group);
    if (metas[p] && metas[p]->info.deleted == StreamDeletion::kHard) {
      return internal::HardDeletedError(part.stream);
    }
    absl::StatusOr<internal::Head> head = LookupHead(part.stream, group);
    if (!head.ok()) return head.status();
    heads[p] = *head;
    if (part.events.empty()) {
      // Checked below, once it is known whether the call is a replay.
      ++empty_parts;
      continue;
    }

    size_t found = 0;
    std::optional<internal::EventIdEntry> first_found;
    bool any_staged = false;
    for (size_t i = 0; i < part.events.size(); ++i) {
      if (!known[p][i]) continue;
      ++found;
      if (!first_found) first_found = entries[p][i].entry;
      any_staged = any_staged || entries[p][i].staged != nullptr;
    }
    if (found == 0) {
      if (!internal::ExpectedMatches(part.expected, head->version, metas[p])) {
        return WrongExpectedVersionError({std::string(part.stream), part.expected, head->version});
      }
      continue;
    }
    const std::vector<KnownId>& ids = entries[p];
    bool same_place = found == part.events.size() && head->stream_id != 0;
    for (size_t i = 0; same_place && i < ids.size(); ++i) {
      same_place = ids[i].entry.stream_id == head->stream_id &&
                   ids[i].entry.version == ids[0].entry.version + i &&
                   ids[i].entry.position == ids[0].entry.position + i;
    }
    if (!same_place) {
      size_t i = 0;
      while (!known[p][i] || ids[i].entry.position != first_found->position) ++i;
      return absl::AlreadyExistsError(
          StrCat("event id ", part.events[i].id.ToString(), " is already stored at position ",
                 first_found->position, " (version ", first_found->version,
                 " of another stream or another place); event ids must be unique, and a retry must "
                 "re-send exactly the events of the original append"));
    }
    // The right ids at the right place: a replay only if the events are the
    // same, too. This reads stored records, on the retry path only.
    int64_t recorded_at_us = 0;
    RETURN_IF_ERROR(CheckReplayContent(db_.get(), families_[internal::kLogFamily],
                                       codec_options_.cipher.get(), part, ids, group.now_us,
                                       &recorded_at_us));
    replays[p] = AppendResult{.first_version = ids.front().entry.version,
                              .last_version = ids.back().entry.version,
                              .first_position = ids.front().entry.position,
                              .last_position = ids.back().entry.position,
                              .idempotent_replay = true,
                              .recorded_at_us = recorded_at_us};
    request.depends_on_group = request.depends_on_group || any_staged;
    ++replay_count;
  }
  // A part with no events carries no ids: it neither makes nor breaks a
  // replay. In a replay it reports the stream as it is now, unchecked, like
  // the rest of the replay.
  if (replay_count > 0 && replay_count + empty_parts == parts.size()) {
    for (size_t p = 0; p < parts.size(); ++p) {
      if (!replays[p]) {
        replays[p] = EmptyPartResult(heads[p], /*replay=*/true);
        request.depends_on_group =
            request.depends_on_group || group.heads.find(Sv(parts[p].stream)) != group.heads.end();
      }
      request.results.push_back(*replays[p]);
    }
    return absl::OkStatus();
  }
  if (replay_count > 0) {
    request.depends_on_group = false;
    return absl::AlreadyExistsError(
        "some streams of this multi-stream append hold its event ids already and others do "
        "not; a retry must re-send exactly the original append");
  }
  for (size_t p = 0; p < parts.size(); ++p) {
    if (parts[p].events.empty() &&
        !internal::ExpectedMatches(parts[p].expected, heads[p].version, metas[p])) {
      return WrongExpectedVersionError(
          {std::string(parts[p].stream), parts[p].expected, heads[p].version});
    }
  }

  // Phase 2: stage. Remember what to restore if an inline hook fails.
  const uint64_t saved_position = next_position_;
  const uint64_t saved_stream_id = next_stream_id_;
  const std::string saved_hash = last_hash_;
  std::vector<std::pair<std::string, std::optional<internal::Head>>> saved_heads;
  std::vector<Uuid> staged_ids;
  std::vector<std::pair<std::string, std::optional<internal::StreamMetaRecord>>> saved_meta;
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
    for (auto& [stream, meta] : saved_meta) {
      if (meta) {
        group.meta[stream] = *meta;
      } else {
        group.meta.erase(stream);
      }
    }
    request.results.clear();
  };
  // A failure at one event of the request: rolls the request back and tells
  // every hook (which may have cached the request's earlier events), then
  // returns `s` with `what` before its message.
  auto fail = [&](const absl::Status& s, std::string_view what) {
    rollback();
    std::string also;
    for (internal::CommitHook* h : group_hooks_) {
      absl::Status r = CallHook("a commit hook's OnRollback()", [&] {
        h->OnRollback();
        return absl::OkStatus();
      });
      if (!r.ok() && group.hook_error.ok()) {
        group.hook_error = r;
        also =
            StrCat("; then ", r.message(), ", so the store refuses appends until it is reopened");
      }
    }
    return absl::Status(s.code(), StrCat(what, ": ", s.message(), also));
  };

  char position_key[8];
  char position_value[8];
  EventView view;
  for (size_t p = 0; p < parts.size(); ++p) {
    const StreamAppend& part = parts[p];
    internal::Head head = heads[p];
    const auto staged_head = group.heads.find(Sv(part.stream));
    if (part.events.empty()) {
      // Nothing to write: no stream is created and no position is consumed.
      request.results.push_back(EmptyPartResult(head, /*replay=*/false));
      request.depends_on_group = request.depends_on_group || staged_head != group.heads.end();
      continue;
    }
    if (staged_head != group.heads.end()) {
      saved_heads.emplace_back(std::string(part.stream), staged_head->second);
    } else {
      saved_heads.emplace_back(std::string(part.stream), std::nullopt);
    }
    if (head.stream_id == 0) head.stream_id = next_stream_id_++;
    AppendResult result;
    result.first_version = head.version + 1;
    result.first_position = next_position_;
    result.recorded_at_us =
        part.events.front().recorded_at_us != 0 ? part.events.front().recorded_at_us : group.now_us;
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
      view.subject = e.subject;
      absl::StatusOr<Sha256::Digest> hash = record_encoder_.Encode(view, last_hash_, group.fbb);
      if (!hash.ok()) {
        return fail(hash.status(), StrCat("encoding event ", view.version, " of '", part.stream,
                                          "' failed; nothing was appended"));
      }
      last_hash_.assign(reinterpret_cast<const char*>(hash->data()), hash->size());
      view.hash = last_hash_;

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
      group.ids[view.id] = GroupState::StagedId{entry, &e};
      staged_ids.push_back(view.id);

      for (internal::CommitHook* hook : group_hooks_) {
        absl::Status s =
            CallHook("a commit hook's OnEvent()", [&] { return hook->OnEvent(view, batch); });
        if (!s.ok()) {
          return fail(s, StrCat("inline projection failed at event ", view.version, " of '",
                                part.stream, "'; nothing was appended"));
        }
      }
    }
    head.last_position = next_position_ - 1;
    result.last_version = head.version;
    result.last_position = head.last_position;
    batch.Put(families_[internal::kHeadsFamily], part.stream, internal::EncodeHead(head));
    group.heads[std::string(part.stream)] = head;
    if (metas[p] && metas[p]->info.deleted == StreamDeletion::kSoft) {
      // A new event recreates a soft-deleted stream: the mark clears in the
      // same batch; its older events stay hidden (deleted_before).
      const auto staged_meta = group.meta.find(Sv(part.stream));
      saved_meta.emplace_back(std::string(part.stream),
                              staged_meta == group.meta.end()
                                  ? std::nullopt
                                  : std::optional<internal::StreamMetaRecord>(staged_meta->second));
      internal::StreamMetaRecord cleared = *metas[p];
      cleared.info.deleted = StreamDeletion::kNone;
      batch.Put(stream_meta_cf_, part.stream, internal::EncodeStreamMeta(cleared));
      group.meta[std::string(part.stream)] = cleared;
    }
    request.results.push_back(result);
  }
  request.writes = empty_parts < parts.size();
  return absl::OkStatus();
}

}  // namespace annals
