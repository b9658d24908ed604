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
//   annals::NewEvent placed{.type = "OrderPlaced", .payload = R"({"table":4})"};
//   auto result = (*store)->Append("order-42", annals::ExpectedVersion::NoStream(),
//                                  {placed});
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
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "annals/event.h"
#include "annals/expected_version.h"
#include "annals/options.h"

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
};

// One stream's part of a multi-stream append. Views must stay valid until
// AppendMulti() returns.
struct StreamAppend {
  std::string_view stream;
  ExpectedVersion expected = ExpectedVersion::Any();
  absl::Span<const NewEvent> events;
};

enum class Direction : uint8_t { kForward, kBackward };

struct ReadStreamOptions {
  // First version to return. Forward: 0 or 1 = from the start. Backward:
  // 0 = from the last event.
  uint64_t from_version = 0;
  Direction direction = Direction::kForward;
  // Most events to return; 0 = no limit.
  uint64_t limit = 0;
};

struct ReadAllOptions {
  // First position to return; 0 or 1 = from the start.
  uint64_t from_position = 0;
  // Most events to return (after filtering); 0 = no limit.
  uint64_t limit = 0;
  // Only events of this type, when non-empty.
  std::string event_type;
  // Only events of streams whose name starts with this, when non-empty.
  std::string stream_prefix;
};

struct StreamInfo {
  std::string stream;
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
  std::string last_hash;
  // When !ok: the first position found damaged (0 when the damage is not in
  // a record, e.g. the stream index) and why.
  uint64_t first_bad_position = 0;
  std::string reason;
};

// The store's size now, as RocksDB reports it (a point-in-time answer).
// What the store did over time (appends, events, bytes written, fsyncs,
// reads, latencies) is counted in Options::statistics (annals/statistics.h).
struct StoreStats {
  uint64_t events = 0;
  uint64_t streams = 0;
  uint64_t last_position = 0;
  uint64_t bytes_on_disk = 0;   // SST + WAL files
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

  // EventStore::ReadStream()
  //
  // Returns the events of `stream` per `options`. kNotFound when the stream
  // has no events; kDataLoss on corruption.
  absl::StatusOr<std::vector<RecordedEvent>> ReadStream(std::string_view stream,
                                                        const ReadStreamOptions& options = {});

  // EventStore::ScanStream()
  //
  // Like ReadStream() but hands each event to `visit` without copying;
  // `visit` returns false to stop. kNotFound when the stream has no events.
  absl::Status ScanStream(std::string_view stream, const ReadStreamOptions& options,
                          absl::FunctionRef<bool(const EventView&)> visit);

  // EventStore::ReadAll()
  //
  // Returns events of the global log in position order per `options`.
  // kDataLoss on corruption (never a silently shorter log).
  absl::StatusOr<std::vector<RecordedEvent>> ReadAll(const ReadAllOptions& options = {});

  // EventStore::ScanAll()
  //
  // Like ReadAll() without copying; `visit` returns false to stop. Sees the
  // log up to last_position() as of the call.
  absl::Status ScanAll(const ReadAllOptions& options,
                       absl::FunctionRef<bool(const EventView&)> visit);

  // EventStore::GetStream()
  //
  // kNotFound when the stream has no events.
  absl::StatusOr<StreamInfo> GetStream(std::string_view stream);

  // EventStore::ListStreams()
  //
  // Visits streams in name order (byte-wise), optionally only those whose
  // name starts with `prefix`; `visit` returns false to stop.
  absl::Status ListStreams(std::string_view prefix,
                           absl::FunctionRef<bool(const StreamInfo&)> visit);

  // EventStore::last_position()
  //
  // The position of the newest committed event (0 for an empty store).
  uint64_t last_position() const;

  // EventStore::WaitForPosition()
  //
  // Blocks until last_position() >= `position` or `timeout` passes. Returns
  // true when the position was reached. Woken by commits, not by polling
  // (for a read-only follower it polls CatchUp() every 50 ms).
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
  // non-OK only when the check itself could not run.
  absl::StatusOr<VerifyReport> Verify();

  // EventStore::Stats()
  absl::StatusOr<StoreStats> Stats();

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

  std::unique_ptr<Impl> impl_;
};

}  // namespace annals

#endif  // ANNALS_EVENT_STORE_H_
