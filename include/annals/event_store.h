// File: annals/event_store.h
//
// EventStore: an embedded, durable, append-only event log on RocksDB.
//
// A store holds streams (one per aggregate), each a sequence of events with
// versions 1, 2, 3, ... and one global log ("$all") in which every event has a
// position 1, 2, 3, ... in commit order. The invariants every caller can rely
// on:
//
//   * Per-stream versions are contiguous and unique.
//   * Global positions are contiguous (no gaps, no duplicates) and are
//     assigned in commit order: a reader that has seen position P never later
//     sees a new event below P.
//   * An append, single- or multi-stream, is atomic: its events, stream index
//     entries, stream heads and inline-projection writes are one RocksDB
//     WriteBatch, recovered entirely or not at all.
//   * An append returns OK only after its batch is durable per
//     Options::durability.
//   * Every record carries a CRC32C and a SHA-256 chained to the previous
//     record; Verify() proves the log intact or names the first bad position.
//
// Example:
//   annals::Options options;
//   auto store = annals::EventStore::Open("/var/lib/orders", options);
//   if (!store.ok()) return store.status();
//   annals::EventData placed{.type = "OrderPlaced", .payload = R"({"table":4})"};
//   auto result = (*store)->Append("order-42", annals::ExpectedVersion::NoStream(),
//                                  {placed});
//   auto newest = (*store)->ReadAll({.direction = annals::Direction::kBackward, .limit = 10});
//
// Every public struct here has a default member initializer on every member,
// so designated initializers naming only some fields compile warning-free
// under -Wall -Wextra (see annals/event.h).
//
// Thread-safety: an EventStore is safe for concurrent use from any number of
// threads. Appends are funnelled to one committer thread that batches them
// (group commit); reads run on the calling thread and never block appends.
// Only one process may open a store for writing (RocksDB's LOCK file); any
// number may open it with Options::read_only.

#ifndef ANNALS_EVENT_STORE_H_
#define ANNALS_EVENT_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "annals/event.h"
#include "annals/expected_version.h"
#include "annals/options.h"
#include "annals/stream_metadata.h"

namespace annals {

namespace internal {
// annals' own modules (snapshots, projections) reach the storage through
// this accessor (eventstore/internal/store_access.h), which is not part of
// the public API.
class StoreAccess;
}  // namespace internal

// The outcome of appending to one stream.
//
// For an append (or a multi-stream part) with no events nothing is written
// and the fields describe the stream as it is: last_version is its current
// version (0 when it has no events), last_position the position of its last
// event (0 when none), and first_version = last_version + 1, first_position =
// last_position + 1, so both ranges are empty (first > last) and a loop from
// first to last visits nothing. last_version is the next expected version.
struct AppendResult {
  uint64_t first_version = 0;
  uint64_t last_version = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  // True when every event id was already stored at these versions, for the
  // same events: the call was a retry of an append that had succeeded, and
  // nothing was written.
  bool idempotent_replay = false;
  // When the events were recorded: the stored recorded_at_us (UTC
  // microseconds since the Unix epoch, as RecordedEvent::recorded_at_us) of
  // the first event of this stream's part. The committer stamps every event
  // of a commit group with one time, so for an ordinary append it is the
  // time of all its events; an event given NewEvent::recorded_at_us (import)
  // keeps that time instead. On an idempotent replay it is the time stored by
  // the original append, not the time of the retry. 0 for a part with no
  // events (nothing was recorded).
  int64_t recorded_at_us = 0;
};

// One stream's part of a multi-stream append, borrowing everything like
// NewEvent: the name and the events must stay valid until AppendMulti()
// returns. StreamAppendData is the owning form.
struct StreamAppend {
  std::string_view stream{};
  ExpectedVersion expected = ExpectedVersion::Any();
  absl::Span<const NewEvent> events{};
};

// One stream's part of a multi-stream append that owns its name and events
// (see EventData).
struct StreamAppendData {
  std::string stream{};
  ExpectedVersion expected = ExpectedVersion::Any();
  std::vector<EventData> events{};
};

enum class Direction : uint8_t { kForward, kBackward };

// Which versions of a stream a read returns, in reading order:
//
//   forward:  from max(from_version, 1) up to to_version (0 = the last
//             version), ascending;
//   backward: from from_version (0 = the last version) down to
//             max(to_version, 1), descending;
//
// each bound inclusive and clamped to the versions the stream has (a
// from_version past the last version reads from the last one backward, and
// reads nothing forward). A range whose `to` lies before its `from` in the
// reading direction is empty (OK, no events). `limit` then keeps the first
// `limit` events of the range in reading order (0 = all).
struct ReadStreamOptions {
  uint64_t from_version = 0;
  // Inclusive last version in reading order; 0 = no bound (the stream's last
  // version forward, version 1 backward).
  uint64_t to_version = 0;
  Direction direction = Direction::kForward;
  // Most events to return; 0 = no limit.
  uint64_t limit = 0;
};

// Which events of the global log ("$all") a read returns, in reading order:
//
//   forward:  positions from max(from_position, 1) up to to_position
//             (0 = the end of the log), ascending;
//   backward: positions from from_position (0 = the end of the log) down to
//             max(to_position, 1), descending;
//
// each bound inclusive; a from_position past the end reads nothing forward
// and starts at the end backward. A range whose `to` lies before its `from`
// in the reading direction is empty (OK, no events). The filters then keep
// the events that match every given filter, and `limit` keeps the first
// `limit` of those in reading order (0 = all). "The end of the log" is its
// last event as the read's RocksDB view sees it when the read starts.
struct ReadAllOptions {
  uint64_t from_position = 0;
  // Inclusive last position in reading order; 0 = no bound.
  uint64_t to_position = 0;
  Direction direction = Direction::kForward;
  // Most events to return, counted after filtering; 0 = no limit.
  uint64_t limit = 0;
  // Only events whose type is one of these; empty = every type. (The same
  // filter as SubscriptionOptions::event_types.)
  std::vector<std::string> event_types{};
  // Only events of streams whose name starts with this, when non-empty.
  std::string stream_prefix{};
};

struct StreamInfo {
  std::string stream{};
  // Last version; 0 for a stream without events.
  uint64_t version = 0;
  // Global position of the last event.
  uint64_t last_position = 0;
};

struct VerifyReport {
  bool ok = true;
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t last_position = 0;
  // Lower-case hex SHA-256 of the last record: an auditor who notes it can
  // later prove that nothing up to that position was rewritten.
  std::string last_hash{};
  // When !ok: the first position found damaged (0 when the damage is not in
  // a record, e.g. the stream index) and why.
  uint64_t first_bad_position = 0;
  std::string reason{};
  // Positions that hold a stub, what remains of an event scavenging removed
  // (format 4; docs/lifecycle.md, "Scavenging"). Counted in neither
  // `events` nor as damage: the chain runs through each stub.
  uint64_t scavenged = 0;
  // Events whose payload was crypto-shredded (ForgetSubject): intact links
  // of the chain (the hash covers their ciphertext), counted, not damage.
  uint64_t erased = 0;
};

// What EventStore::Scavenge() did.
struct ScavengeReport {
  // Events this call turned into stubs (background compactions running at
  // the same time may add theirs).
  uint64_t scavenged = 0;
  // Bytes of the store's live table files (every column family, after a
  // flush) before and after.
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
};

// What log compaction by key keeps the newest event of, within a category
// (EventStore::SetCategoryCompaction()).
struct CompactionKey {
  // Empty: the stream name (each stream of the category keeps its newest
  // event). Otherwise the name of a top-level field of JSON payloads: the
  // category keeps the newest event per value of that field; events whose
  // payload is not JSON or lacks the field are never compacted.
  std::string json_field{};
};

// The store's size now, as RocksDB reports it (a point-in-time answer).
// What the store did over time (appends, events, bytes written, fsyncs,
// reads, latencies) is counted in Options::statistics (annals/statistics.h).
struct StoreStats {
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t last_position = 0;
  uint64_t bytes_on_disk = 0;  // SST + WAL files
  uint64_t sst_bytes = 0;
  uint64_t memtable_bytes = 0;
  uint64_t block_cache_bytes = 0;
};

class EventStore {
 public:
  // EventStore::Open()
  //
  // Opens the store in directory `path`, creating it when missing (unless
  // options.create_if_missing is false). Errors:
  //   kNotFound           no store at `path` and create_if_missing is false
  //                       (or read_only).
  //   kInvalidArgument    `path` is an existing directory that is not an
  //                       annals store, or the store has a newer format.
  //   kUnavailable        another process has the store open for writing.
  //   kDataLoss           the store is corrupt (e.g. a damaged WAL record).
  static absl::StatusOr<std::unique_ptr<EventStore>> Open(std::string_view path,
                                                          const Options& options = Options());

  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;
  // Waits for appends in flight, then closes RocksDB.
  ~EventStore();

  // EventStore::Append()
  //
  // Appends `events` to `stream` if its version matches `expected`.
  //
  // Stream names: 1 to 512 bytes of UTF-8, not starting with '$' (reserved
  // for system streams), without control characters (bytes 0x00-0x1f and
  // 0x7f), and not made only of whitespace (Unicode White_Space).
  //
  // No events: checks `expected` and returns the stream's current version
  // (see AppendResult) without writing anything; no position is consumed and
  // a missing stream is not created.
  //
  // Errors (nothing is written on any of them):
  //   kAborted          the stream's version does not match; see
  //                     GetWrongExpectedVersion() for the actual version.
  //   kInvalidArgument  a stream name breaking the rules above (the message
  //                     shows it with control bytes escaped), an empty event
  //                     type, an event over Options::max_event_bytes,
  //                     duplicate ids in the call.
  //   kAlreadyExists    an event id is already stored for another event, or
  //                     at another place; the message names the id (and the
  //                     field that differs).
  //   kInternal         an inline projection (commit hook) threw; the message
  //                     carries the exception's.
  //   kFailedPrecondition  read-only store, or an earlier write failed, or a
  //                     commit hook threw while finishing a group (reopen).
  //   kUnknown          the RocksDB write failed: the outcome is unknown and
  //                     the store refuses appends until reopened.
  //
  // Idempotency: when every event has an id and all of them are already
  // stored, in this stream, at consecutive versions, in this order, and each
  // stored event is the same event, the call returns the original result with
  // idempotent_replay = true and writes nothing, whatever `expected` says.
  // "The same event" compares type, schema_version, content_type, payload,
  // correlation_id, causation_id and metadata (as a set of entries, order
  // ignored); recorded_at_us is not compared (the store assigns it). An id
  // stored with different content is kAlreadyExists: a new event needs a new
  // id.
  absl::StatusOr<AppendResult> Append(std::string_view stream, ExpectedVersion expected,
                                      absl::Span<const NewEvent> events);

  // EventStore::Append() of owned events
  //
  // The same append for events that own their bytes: takes a
  // std::vector<EventData>, a std::array, or a braced list of EventData.
  // Semantics, errors and idempotency as above.
  //
  // (A template only for overload resolution: `Owned` is never deduced and
  // must stay EventData. Between two equally good candidates C++ prefers the
  // non-template, so a braced list that fits both, `{}` or
  // `{{.type = "X"}}`, goes to the NewEvent overload instead of being
  // ambiguous.)
  template <typename Owned = EventData>
  absl::StatusOr<AppendResult> Append(std::string_view stream, ExpectedVersion expected,
                                      absl::Span<const std::type_identity_t<Owned>> events) {
    static_assert(std::is_same_v<Owned, EventData>, "owned events are EventData");
    return AppendOwned(stream, expected, events);
  }

  // EventStore::AppendMulti()
  //
  // Appends to several distinct streams atomically: either every part is
  // stored, or none. Results come in the order of `parts`. The events get
  // consecutive positions in the order of `parts`. Errors as Append(); a
  // stream named twice, or no parts at all, is kInvalidArgument.
  //
  // A part with no events follows Append()'s rule: its expected version is
  // checked (a mismatch fails the whole call) and its result is the stream's
  // current state. It carries no ids, so it neither makes nor breaks a
  // replay: when every other part is a replay, the call is a replay and the
  // empty parts report their streams as they are now (idempotent_replay =
  // true, expected not checked, like the rest of the replay).
  absl::StatusOr<std::vector<AppendResult>> AppendMulti(absl::Span<const StreamAppend> parts);

  // EventStore::AppendMulti() of owned parts
  //
  // The same for parts that own their names and events (StreamAppendData);
  // a template for the reason given at Append() above.
  template <typename Owned = StreamAppendData>
  absl::StatusOr<std::vector<AppendResult>> AppendMulti(
      absl::Span<const std::type_identity_t<Owned>> parts) {
    static_assert(std::is_same_v<Owned, StreamAppendData>, "owned parts are StreamAppendData");
    return AppendMultiOwned(parts);
  }

  // Stream metadata, deletes and consumers (annals/stream_metadata.h,
  // docs/lifecycle.md). Each change is ordered with appends by the committer
  // (an append queued after it sees it), is atomic, and is synced to disk
  // before the call returns, whatever Options::durability says: a scavenge
  // must never act on a change a power loss could take back. Every reader
  // applies it from the moment the call returns. On a read-only store the
  // changes fail with kFailedPrecondition.

  // EventStore::GetStreamMetadata()
  //
  // The metadata of `stream`, its metadata version and whether it was
  // deleted; all zero for a stream that never had any (whether or not it has
  // events). kInvalidArgument for a bad stream name.
  absl::StatusOr<StreamMetadataInfo> GetStreamMetadata(std::string_view stream) const;

  // EventStore::SetStreamMetadata()
  //
  // Replaces the metadata of `stream` if its metadata version matches
  // `expected_metadata_version` (NoStream() = it never had metadata;
  // Exact(n); Any()); returns the new state, whose metadata_version is one
  // more. The stream need not exist yet. Errors: kAborted on a metadata
  // version mismatch (reread, retry); kFailedPrecondition for a hard-deleted
  // stream; kInvalidArgument for a bad name or a negative max_age_us.
  absl::StatusOr<StreamMetadataInfo> SetStreamMetadata(std::string_view stream,
                                                       ExpectedVersion expected_metadata_version,
                                                       const StreamMetadata& metadata);

  // EventStore::DeleteStream()
  //
  // Deletes `stream` if its version matches `expected` (of the stream, as
  // Append() checks it). kSoft: hides every event it has now
  // (truncate_before := last version + 1) and marks it deleted until its
  // next append, which recreates it with the next version. kHard: a
  // tombstone; every later append fails with kFailedPrecondition, every
  // read with kNotFound saying it was deleted, forever. A hard delete of a
  // stream with no events reserves the name. Both act at once, whatever
  // Options::retention_waits_for_consumers. Errors: kAborted (version
  // mismatch); kNotFound (soft delete of a stream without events);
  // kFailedPrecondition (already hard-deleted).
  absl::StatusOr<StreamMetadataInfo> DeleteStream(std::string_view stream, ExpectedVersion expected,
                                                  DeleteMode mode);

  // EventStore::SetConsumerPosition()
  //
  // Registers durable consumer `name` (1 to 256 bytes, no control
  // characters) or moves it to `position`: it has handled the log up to
  // `position` inclusive. A consumer never moves backward silently: a lower
  // position than its current one is kFailedPrecondition (RemoveConsumer()
  // it first to restart it); a position past the end of the log is
  // kInvalidArgument.
  absl::Status SetConsumerPosition(std::string_view name, uint64_t position);

  // EventStore::RemoveConsumer()
  //
  // Forgets consumer `name`; kNotFound when there is none.
  absl::Status RemoveConsumer(std::string_view name);

  // EventStore::ListConsumers()
  //
  // Every registered consumer, by name.
  std::vector<ConsumerInfo> ListConsumers() const;

  // Reads. The const methods below only read: they neither change the store
  // nor what this handle shows later, and run concurrently with each other
  // and with appends. (CatchUp(), WaitForPosition() and Verify() are not
  // const: on a read-only follower each of them catches up with the writer,
  // which moves the view every later read sees.)

  // EventStore::ReadStream()
  //
  // Returns the events of `stream` per `options` (see ReadStreamOptions for
  // how from_version, to_version, direction and limit combine), skipping
  // the events its retention hides (annals/stream_metadata.h; `limit`
  // counts returned events). kNotFound when the stream has no visible
  // event, the message saying when it was deleted; kDataLoss on corruption.
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(
      std::string_view stream, const ReadStreamOptions& options = {}) const;

  // EventStore::ScanStream()
  //
  // Like ReadStream() but hands each event to `visit` without copying;
  // `visit` returns false to stop. kNotFound when the stream has no visible
  // event.
  absl::Status ScanStream(std::string_view stream, const ReadStreamOptions& options,
                          absl::FunctionRef<bool(const EventView&)> visit) const;

  // EventStore::ReadAll()
  //
  // Returns events of the global log per `options`, in position order
  // forward or in reverse position order backward (see ReadAllOptions).
  // Events hidden by retention or deletion are skipped (positions keep
  // their gaps). kDataLoss on corruption (never a silently shorter log).
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(const ReadAllOptions& options = {}) const;

  // EventStore::ScanAll()
  //
  // Like ReadAll() without copying; `visit` returns false to stop. Sees one
  // consistent view of the log, as of the call.
  absl::Status ScanAll(const ReadAllOptions& options,
                       absl::FunctionRef<bool(const EventView&)> visit) const;

  // EventStore::ReadEvent()
  //
  // The event with id `id`, wherever it is stored, through the event-id
  // index (one index lookup and one log read). kNotFound when no event has
  // this id or its event is hidden by retention or deletion; kInvalidArgument for the nil id (it
  // names no event: an event appended without an id gets a generated one); kDataLoss when the index
  // and the log disagree. Works on read-only followers too.
  absl::StatusOr<RecordedEvent> ReadEvent(const Uuid& id) const;

  // EventStore::GetStream()
  //
  // kNotFound when the stream has no visible event (saying so when it was
  // deleted). version is the last version, visible or not.
  absl::StatusOr<StreamInfo> GetStream(std::string_view stream) const;

  // EventStore::ListStreams()
  //
  // Visits streams in name order (byte-wise), optionally only those whose
  // name starts with `prefix`; `visit` returns false to stop. A deleted
  // stream (hard, or soft and not appended to since) is not listed.
  absl::Status ListStreams(std::string_view prefix,
                           absl::FunctionRef<bool(const StreamInfo&)> visit) const;

  // EventStore::last_position()
  //
  // The position of the newest committed event (0 for an empty store).
  uint64_t last_position() const;

  // EventStore::WaitForPosition()
  //
  // Blocks until last_position() >= `position` or `timeout` passes. Returns
  // true when the position was reached. Woken by commits, not by polling
  // (for a read-only follower it polls CatchUp() every 50 ms, which is why
  // it is not const).
  bool WaitForPosition(uint64_t position, absl::Duration timeout);

  // EventStore::Sync()
  //
  // Makes every append acknowledged so far durable (fsyncs the WAL). With
  // Durability::kBuffered, call it where losing buffered appends to a power
  // failure stops being acceptable (e.g. at the end of a bulk import). A
  // failure is kUnknown-like: the store then refuses appends until reopened
  // (an fsync is never retried). A no-op for a read-only store.
  absl::Status Sync();

  // EventStore::CatchUp()
  //
  // For a read-only store: reads what the writer process committed since the
  // last call. A no-op for a writable store.
  absl::Status CatchUp();

  // EventStore::Verify()
  //
  // Reads the whole store and checks RocksDB's file and block checksums,
  // every record's CRC32C and hash-chain link, that positions are 1..N with
  // no gap, and that the stream index and heads match the log. Returns a
  // report; !report.ok names the first bad position. The returned status is
  // non-OK only when the check itself could not run. Not const: a read-only
  // follower first catches up with the writer, to compare what it serves
  // with the writer's MANIFEST.
  absl::StatusOr<VerifyReport> Verify();

  // EventStore::Scavenge()
  //
  // Scavenges now: forces a compaction of the log (then of the stream index
  // and the event-id index) in which every event that retention or deletion
  // made unreachable, and every event log compaction by key superseded,
  // becomes a stub, and the index entries of stubs are dropped. The same
  // happens in the background in every compaction RocksDB runs; this call
  // makes it happen for the whole store before it returns. Runs while other
  // threads append and read; readers never deliver a stub. Calls are
  // serialized. kFailedPrecondition for a read-only store.
  absl::StatusOr<ScavengeReport> Scavenge();

  // EventStore::SetCategoryCompaction()
  //
  // Marks the streams of `category` (the part of a stream name before its
  // first '-', or the whole name when it has none) as compacted by `key`:
  // from the next Scavenge() on, only the newest event per key stays, older
  // ones become stubs (never undone). Stored in the store (synced).
  // kInvalidArgument for an empty category or one holding '-'.
  absl::Status SetCategoryCompaction(std::string_view category, const CompactionKey& key);

  // EventStore::ForgetSubject()
  //
  // Crypto-shredding (docs/lifecycle.md): destroys every data key of
  // `subject`, so the payload and personal metadata of its events can never
  // be read again. Needs Options::encryption (kFailedPrecondition otherwise,
  // and in a read-only store). The deletion is synced first; then every
  // family is flushed, the key family compacted with its bottommost level
  // forced and the obsolete WALs and SSTs deleted, so that no file of the
  // store holds the keys when it returns (files another holder pins, e.g.
  // a checkpoint in progress, go when it lets go). Linearizable with
  // appends: an event of the subject appended before it returns reads as
  // erased (EventView::erased, empty payload); one appended after gets a
  // new key and reads normally. The events stay in the log, their hashes
  // unchanged: Verify() passes and counts them as erased. Forgetting a
  // subject with no key is OK (idempotent).
  absl::Status ForgetSubject(std::string_view subject);

  // EventStore::Stats()
  absl::StatusOr<StoreStats> Stats() const;

  bool read_only() const;
  const std::string& path() const;

  // EventStore::options()
  //
  // The options the store was opened with. Modules built on the store
  // (snapshots, repositories, projections) record into its
  // Options::statistics.
  const Options& options() const;

 private:
  class Impl;
  friend class internal::StoreAccess;

  explicit EventStore(std::unique_ptr<Impl> impl);

  absl::StatusOr<AppendResult> AppendOwned(std::string_view stream, ExpectedVersion expected,
                                           absl::Span<const EventData> events);
  absl::StatusOr<std::vector<AppendResult>> AppendMultiOwned(
      absl::Span<const StreamAppendData> parts);

  std::unique_ptr<Impl> impl_;
};

}  // namespace annals

#endif  // ANNALS_EVENT_STORE_H_
