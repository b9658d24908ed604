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
#include <exception>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"
#include "annals/errors.h"
#include "common/clock.h"
#include "common/coding.h"
#include "common/status_macros.h"
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

// `name` quoted for an error message with every byte a terminal could act on
// escaped: C0 controls and DEL as \xNN (\t, \n, \r by name), backslash and
// quote escaped, and bytes of invalid UTF-8 as \xNN. Valid UTF-8 stays
// readable. Never echo raw control bytes: a message may reach a terminal or a
// log parser.
std::string QuotedName(std::string_view name) {
  const bool utf8 = IsValidUtf8(name);
  std::string out = "'";
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\' || c == '\'') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  out += '\'';
  return out;
}

// Decodes the code point starting at text[*i] and advances *i past it.
// REQUIRES: `text` is valid UTF-8.
char32_t NextCodePoint(std::string_view text, size_t* i) {
  const auto c = static_cast<unsigned char>(text[*i]);
  const int length = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
  char32_t cp = length == 1 ? c : c & (0x7f >> length);
  for (int k = 1; k < length; ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(text[*i + k]) & 0x3f);
  }
  *i += length;
  return cp;
}

// Unicode's White_Space property (PropList.txt).
bool IsUnicodeWhitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

// Stream names are identifiers that end up in CLI output, JSON exports and
// logs: control characters would be invisible or act on a terminal there, and
// a name of only whitespace looks like no name at all. Both are refused.
absl::Status ValidateStreamName(std::string_view stream) {
  if (stream.empty()) {
    return absl::InvalidArgumentError("stream name is empty; give each aggregate a stream id");
  }
  if (stream.size() > kMaxStreamNameBytes) {
    return absl::InvalidArgumentError(StrCat("stream name is ", stream.size(),
                                                   " bytes; the limit is ", kMaxStreamNameBytes));
  }
  if (!IsValidUtf8(stream)) {
    return absl::InvalidArgumentError(
        StrCat("stream name ", QuotedName(stream), " is not valid UTF-8"));
  }
  for (size_t i = 0; i < stream.size(); ++i) {
    const auto c = static_cast<unsigned char>(stream[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(StrCat(
          "stream name ", QuotedName(stream), " contains a control character (byte ", i,
          "); stream names may not contain bytes 0x00-0x1f or 0x7f"));
    }
  }
  bool only_whitespace = true;
  for (size_t i = 0; only_whitespace && i < stream.size();) {
    only_whitespace = IsUnicodeWhitespace(NextCodePoint(stream, &i));
  }
  if (only_whitespace) {
    return absl::InvalidArgumentError(StrCat("stream name ", QuotedName(stream), " (",
                                             stream.size(),
                                             " bytes) is only whitespace; give a visible name"));
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
};

EventContent ContentOf(const NewEvent& e) {
  return {e.type,    e.schema_version, e.content_type, e.payload,
          e.metadata, e.correlation_id, e.causation_id};
}

EventContent ContentOf(const EventView& e) {
  return {e.type,    e.schema_version, e.content_type, e.payload,
          e.metadata, e.correlation_id, e.causation_id};
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
// id whose event differs and the field.
absl::Status CheckReplayContent(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* log,
                                const StreamAppend& part, absl::Span<const KnownId> known) {
  internal::AlignedScratch scratch;
  char key[8];
  for (size_t i = 0; i < part.events.size(); ++i) {
    const NewEvent& retry = part.events[i];
    std::string_view field;
    if (known[i].staged != nullptr) {
      field = DifferingField(ContentOf(retry), ContentOf(*known[i].staged));
    } else {
      coding::EncodeBigEndian64(key, known[i].entry.position);
      rocksdb::PinnableSlice value;
      rocksdb::Status s =
          db->Get(rocksdb::ReadOptions(), log, rocksdb::Slice(key, 8), &value);
      if (s.IsNotFound()) {
        return absl::DataLossError(StrCat("the event-id index places ", retry.id.ToString(),
                                          " at position ", known[i].entry.position,
                                          ", which is not in the log; run verify"));
      }
      if (!s.ok()) return internal::FromRocksDb(s, "reading a stored event to compare a retry");
      EventView stored;
      RETURN_IF_ERROR(internal::DecodeRecord(std::string_view(value.data(), value.size()),
                                             /*verify_checksum=*/true, &stored, scratch));
      if (stored.id != retry.id) {
        return absl::DataLossError(StrCat("the event-id index places ", retry.id.ToString(),
                                          " at position ", known[i].entry.position,
                                          ", which holds ", stored.id.ToString(), "; run verify"));
      }
      field = DifferingField(ContentOf(retry), ContentOf(stored));
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

}  // namespace

struct EventStore::Impl::Request {
  absl::Span<const StreamAppend> parts;
  size_t bytes = 0;
  absl::Status status;
  std::vector<AppendResult> results;
  // Set by StageRequest when the request put events into the group's batch.
  bool writes = false;
  // Set by StageRequest when the result (a replay, or an empty part) refers
  // to events staged earlier in the same group: it holds only if the group's
  // write succeeds.
  bool depends_on_group = false;
  bool done = false;  // Set under queue_mu_ by the committer.
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
  if (!group.hook_error.ok()) {
    return absl::FailedPreconditionError(StrCat(
        "append refused: ", group.hook_error.message(),
        "; the store refuses appends until it is reopened"));
  }
  const auto parts = request.parts;
  std::vector<internal::Head> heads(parts.size());
  std::vector<std::optional<AppendResult>> replays(parts.size());
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
      if (!part.expected.Matches(head->version)) {
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
      return absl::AlreadyExistsError(StrCat(
          "event id ", part.events[i].id.ToString(), " is already stored at position ",
          first_found->position, " (version ", first_found->version,
          " of another stream or another place); event ids must be unique, and a retry must "
          "re-send exactly the events of the original append"));
    }
    // The right ids at the right place: a replay only if the events are the
    // same, too. This reads stored records, on the retry path only.
    RETURN_IF_ERROR(
        CheckReplayContent(db_.get(), families_[internal::kLogFamily], part, ids));
    replays[p] = AppendResult{ids.front().entry.version, ids.back().entry.version,
                              ids.front().entry.position, ids.back().entry.position, true};
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
        request.depends_on_group = request.depends_on_group ||
                                   group.heads.find(Sv(parts[p].stream)) != group.heads.end();
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
    if (parts[p].events.empty() && !parts[p].expected.Matches(heads[p].version)) {
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
      group.ids[view.id] = GroupState::StagedId{entry, &e};
      staged_ids.push_back(view.id);

      for (internal::CommitHook* hook : group_hooks_) {
        absl::Status s = CallHook("a commit hook's OnEvent()",
                                  [&] { return hook->OnEvent(view, batch); });
        if (!s.ok()) {
          rollback();
          std::string also;
          for (internal::CommitHook* h : group_hooks_) {
            absl::Status r = CallHook("a commit hook's OnRollback()", [&] {
              h->OnRollback();
              return absl::OkStatus();
            });
            if (!r.ok() && group.hook_error.ok()) {
              group.hook_error = r;
              also = StrCat("; then ", r.message(),
                            ", so the store refuses appends until it is reopened");
            }
          }
          return absl::Status(s.code(), StrCat("inline projection failed at event ",
                                                     view.version, " of '", part.stream,
                                                     "'; nothing was appended: ", s.message(),
                                                     also));
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
  request.writes = empty_parts < parts.size();
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
    any_staged = any_staged || (r->status.ok() && r->writes);
  }

  absl::Status write_status;
  if (any_staged) {
    if (next_stream_id_ != state.first_stream_id) {
      batch.Put(families_[internal::kDefaultFamily], internal::kNextStreamIdKey,
                coding::BigEndian64(next_stream_id_));
    }
    // The commit record (eventstore/internal/keys.h) rides in the same batch,
    // so it always names the end of the log this batch makes visible.
    batch.Put(families_[internal::kDefaultFamily], internal::kCommitKey,
              internal::EncodeCommitRecord(next_position_ - 1, last_hash_));
    rocksdb::Status s;
    if (test_fail_next_write_.exchange(false)) {
      s = rocksdb::Status::IOError("injected failure (TEST_FailNextWrite)");
    } else {
      s = db_->Write(write_options_, &batch);
    }
    write_status = internal::FromRocksDb(s, "writing a group of appends");
  }
  for (internal::CommitHook* hook : group_hooks_) {
    absl::Status s = CallHook("a commit hook's OnGroupDone()", [&] {
      hook->OnGroupDone(write_status.ok());
      return absl::OkStatus();
    });
    if (!s.ok() && state.hook_error.ok()) state.hook_error = s;
  }

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
  } else if (!state.hook_error.ok() && write_error_.ok()) {
    // A hook threw from OnRollback() or OnGroupDone(): its state may not
    // match the store any more. Refusing appends until reopen (which reloads
    // every hook's state from disk) is visible and never wedges.
    write_error_ = state.hook_error;
  }
  for (Request* r : group) {
    if (!write_status.ok() && r->status.ok() && (r->writes || r->depends_on_group)) {
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
