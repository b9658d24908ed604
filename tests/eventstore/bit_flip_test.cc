// Single-bit flips in every kind of file of a flushed store: each must be
// detected (kDataLoss; exit 5 from the CLI) or harmless (every read gives
// exactly what the undamaged store gives). Never a shorter or different log
// with OK ("silent"), never another error code ("mislabeled"), never a crash.
//
// The store: 300 events in 3 streams, appended in three phases with every
// column family flushed after each (history in SST files of all nine
// families, kFamilies). An inline projection fills read_models and
// checkpoints, an async one parks some events (parked), snapshots are taken
// per stream (snapshots).
// Two variants: "tail" keeps the last phase in the WAL only; "flushed"
// flushes it too and leaves only a snapshot in the WAL. A table that a reader
// silently drops is a gap in the tail store's log (the WAL tail is still
// there) but a clean shorter prefix in the flushed one.
//
// A trial copies the store, flips one bit and reads the copy three ways:
//   writer     EventStore::Open (recovers the WAL, may rewrite the MANIFEST)
//   read-only  EventStore::Open with Options::read_only, as the CLI opens
//   cli        the annals binary: verify, export, streams (every tenth
//              trial; each command is its own process)
// Library reads run in a forked child, so that a crash (a RocksDB assertion,
// a segfault) or a hang is reported as such instead of killing the test. No
// RocksDB database is ever opened in the test process itself: a child forked
// from a process whose RocksDB thread pools exist would inherit them without
// their threads.
//
// Each read is judged on its own, against the same read of the undamaged
// store: the same output with OK, or kDataLoss. A trial is "detected" when at
// least one read reported kDataLoss and none misbehaved, "harmless" when every
// read gave the original output. Verify counts as a read: a report that says
// ok must equal the original report (events, streams, last hash).
//
// Where the flips go: trials cycle through strata (SST data, index, filter,
// properties, metaindex and footer blocks, WAL, MANIFEST, CURRENT, OPTIONS,
// IDENTITY); within a stratum a file, a block and a bit are drawn from the
// seed. Blocks are located by parsing the table footer, metaindex and index
// (tests/common/bit_flip_layout.h), not through RocksDB.
//
// Environment:
//   ANNALS_TEST_SEED=N          replay a run (the seed is printed)
//   ANNALS_SOAK=1               3000 trials instead of 300
//   ANNALS_BIT_FLIP_TRIALS=N    exactly N trials
//   ANNALS_BIT_FLIP_ONLY=I      only trial I of the seed's sequence
//   ANNALS_BIT_FLIP_VERBOSE=1   one line per trial: where the bit was, what each
//                               way of reading made of it
//   ANNALS_BIT_FLIP_KEEP=DIR    keep the undamaged stores (DIR/original-tail,
//                               DIR/original-flushed) and a damaged copy of every
//                               failing trial (DIR/trial-I)
//   ANNALS_CLI=PATH             the annals binary (default: the one built with
//                               this test)
// The events are deterministic (fixed ids, timestamps and payloads), so a
// replayed seed draws the same stratum, file, block and relative position;
// the exact byte can move a little, because projection heartbeats and
// RocksDB's table properties carry the time of the run. The copies that
// ANNALS_BIT_FLIP_KEEP leaves are the exact reproduction.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/snapshot_store.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "gtest/gtest.h"
#include "tests/common/bit_flip_layout.h"
#include "tests/common/files.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

#ifndef ANNALS_CLI_PATH
#define ANNALS_CLI_PATH ""
#endif

namespace annals {
namespace {

namespace fs = std::filesystem;
using testing::ClassifyStoreFile;
using testing::Region;
using testing::SstLayout;
using testing::StoreFileKind;
using testing::StoreFileKindName;

constexpr int kEvents = 300;
constexpr std::array<std::string_view, 3> kStreams = {"order-0", "order-1", "order-2"};
// Every family the store's workload fills: the event store's and those of
// the projection and snapshot modules.
constexpr std::array<std::string_view, 9> kFamilies = {"default",     "log",         "stream_index",
                                                       "heads",       "event_ids",   "snapshots",
                                                       "checkpoints", "read_models", "parked"};
constexpr int64_t kFirstRecordedAtUs = 1'790'000'000'000'000;  // fixed: a deterministic store
// A trial's child gets this long; a read that takes longer is a hang.
constexpr std::chrono::milliseconds kChildTimeout(60'000);

// ---------------------------------------------------------------------------
// Child processes.

// A child's end and output (tests/common/subprocess.h); for a library
// child, `out` is what it wrote to its fd.
using ChildOutcome = testing::ProcessResult;
using testing::Process;

std::string LastLines(const std::string& text, int lines) {
  size_t at = text.size();
  while (at > 0 && text[at - 1] == '\n') --at;
  for (int i = 0; i < lines && at != std::string::npos && at > 0; ++i) {
    at = text.rfind('\n', at - 1);
  }
  std::string tail = text.substr(at == std::string::npos ? 0 : at);
  std::replace(tail.begin(), tail.end(), '\n', ' ');
  return tail;
}

// The last lines of a child's stderr, on one line.
std::string StderrTail(const ChildOutcome& c) { return LastLines(c.err, 3); }

// Starts `body` in a forked child; it writes its result to the fd it gets
// (a file, so that a crash leaves what was written before it). `body` must
// not use gtest. Killed at `timeout`.
Process StartForked(const std::function<void(int fd)>& body, const std::string& scratch,
                    std::chrono::milliseconds timeout = kChildTimeout) {
  return Process::Fork(body, scratch, {.timeout = timeout});
}

// Starts a program with stdin from /dev/null and stdout, stderr to files.
Process StartProgram(const std::vector<std::string>& argv, const std::string& scratch) {
  return Process::Start(argv, scratch, {.timeout = kChildTimeout});
}

ChildOutcome RunForked(const std::function<void(int fd)>& body, const std::string& scratch,
                       std::chrono::milliseconds timeout = kChildTimeout) {
  return StartForked(body, scratch, timeout).Wait();
}

// Length-prefixed fields: a child's results survive any bytes in messages.
void PutField(std::string* out, std::string_view s) { *out += StrCat(s.size(), ":", s); }

bool GetField(std::string_view* in, std::string* s) {
  const size_t colon = in->find(':');
  if (colon == std::string_view::npos) return false;
  const size_t n = std::strtoull(std::string(in->substr(0, colon)).c_str(), nullptr, 10);
  if (in->size() - colon - 1 < n) return false;
  s->assign(in->substr(colon + 1, n));
  in->remove_prefix(colon + 1 + n);
  return true;
}

void WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(120);
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// ---------------------------------------------------------------------------
// Building the store (in a child process).

Uuid EventId(int n) {
  std::array<uint8_t, 16> b{};
  b[0] = 0x01;
  b[6] = 0x70;  // version 7
  b[8] = 0x80;  // variant
  b[14] = static_cast<uint8_t>(n >> 8);
  b[15] = static_cast<uint8_t>(n);
  return Uuid(b);
}

// Counts events per type into a read model (inline: read_models and
// checkpoints are written in the append's batch).
class TypeCounts : public Projection {
 public:
  std::string_view name() const override { return "type_counts"; }
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    absl::StatusOr<std::optional<std::string>> n = w.Get("by_type", e.type);
    if (!n.ok()) return n.status();
    const long long count = n->has_value() ? std::atoll((*n)->c_str()) : 0;
    return w.Put("by_type", e.type, StrCat(count + 1));
  }
};

// Refuses every event whose payload says "refuse": with FailurePolicy::kPark
// they end up in the parked family.
class Picky : public Projection {
 public:
  std::string_view name() const override { return "picky"; }
  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    if (e.payload.find("refuse") != std::string_view::npos) {
      return absl::FailedPreconditionError("picky refuses this event");
    }
    return w.Put("seen", e.stream, StrCat(e.version));
  }
};

// Appends events [from, to) as a mix of single-stream and multi-stream
// appends. Returns an error message, or "".
std::string AppendRange(EventStore& store, int from, int to) {
  int n = from;
  while (n < to) {
    const int count = std::min(to - n, 1 + n % 4);
    std::vector<std::string> payloads;
    std::vector<std::string> correlations;
    for (int i = 0; i < count; ++i) {
      payloads.push_back(StrCat("{\"n\":", n + i, ",\"sku\":\"A", (n + i) * 7 % 100, "\"",
                                (n + i) % 23 == 5 ? ",\"refuse\":true" : "", "}"));
      correlations.push_back(StrCat("corr-", (n + i) / 10));
    }
    static const std::array<MetadataEntry, 1> kMetadata = {MetadataEntry{"user", "ann"}};
    std::vector<NewEvent> events(count);
    for (int i = 0; i < count; ++i) {
      events[i] = NewEvent{.id = EventId(n + i),
                           .type = (n + i) % 3 == 0 ? "OrderPlaced" : "ItemAdded",
                           .payload = payloads[i],
                           .correlation_id = correlations[i],
                           .metadata = absl::MakeConstSpan(kMetadata),
                           .recorded_at_us = kFirstRecordedAtUs + (n + i) * 1000};
    }
    if (count >= 2 && n % 5 == 0) {
      // One multi-stream append: the first event to one stream, the rest to the next.
      std::array<StreamAppend, 2> parts = {
          StreamAppend{kStreams[n % 3], ExpectedVersion::Any(),
                       absl::MakeConstSpan(events).subspan(0, 1)},
          StreamAppend{kStreams[(n + 1) % 3], ExpectedVersion::Any(),
                       absl::MakeConstSpan(events).subspan(1)}};
      absl::StatusOr<std::vector<AppendResult>> r = store.AppendMulti(parts);
      if (!r.ok()) return r.status().ToString();
    } else {
      absl::StatusOr<AppendResult> r =
          store.Append(kStreams[n % 3], ExpectedVersion::Any(), events);
      if (!r.ok()) return r.status().ToString();
    }
    n += count;
  }
  return "";
}

// Two variants of the same 300 events (the same reads): kTail leaves the last
// 50 events in the WAL only; kFlushed flushes them too and leaves only a
// snapshot in the WAL. A table that a reader silently drops shows as a gap in
// the log of kTail (the WAL tail is still there), but as a clean, shorter
// prefix in kFlushed: both must be caught.
enum Variant { kTail = 0, kFlushed = 1 };
constexpr std::array<std::string_view, 2> kVariantNames = {"tail", "flushed"};

std::string BuildStoreInChild(const std::string& path, Variant variant) {
  Options options;
  options.durability = Durability::kBuffered;
  options.low_priority_compaction = false;
  absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(path, options);
  if (!opened.ok()) return opened.status().ToString();
  EventStore& store = **opened;
  std::string error;
  {
    ProjectionOptions inline_options;
    inline_options.mode = ProjectionMode::kInline;
    auto counts = ProjectionRunner::Start(store, std::make_shared<TypeCounts>(), inline_options);
    if (!counts.ok()) return counts.status().ToString();
    ProjectionOptions park_options;
    park_options.on_failure = FailurePolicy::kPark;
    park_options.retry.max_attempts = 1;
    auto picky = ProjectionRunner::Start(store, std::make_shared<Picky>(), park_options);
    if (!picky.ok()) return picky.status().ToString();
    SnapshotStore snapshots(store);

    auto flush_all = [&]() -> std::string {
      const std::vector<rocksdb::ColumnFamilyHandle*> families =
          internal::StoreAccess::AllFamilies(store);
      rocksdb::FlushOptions flush;
      flush.wait = true;
      rocksdb::Status s = internal::StoreAccess::Db(store)->Flush(flush, families);
      return s.ok() ? "" : s.ToString();
    };
    auto phase = [&](int from, int to, bool flush) -> std::string {
      if (std::string e = AppendRange(store, from, to); !e.empty()) return e;
      if (!(*picky)->WaitForPosition(store.last_position(), absl::Seconds(60))) {
        return "the async projection did not catch up";
      }
      for (std::string_view stream : kStreams) {
        absl::StatusOr<StreamInfo> info = store.GetStream(stream);
        if (!info.ok()) return info.status().ToString();
        Snapshot snapshot{.stream = std::string(stream),
                          .version = info->version,
                          .fingerprint = "v1",
                          .state = StrCat("{\"version\":", info->version, "}"),
                          .event_recorded_at_us = kFirstRecordedAtUs,
                          .taken_at_us = kFirstRecordedAtUs};
        if (absl::Status s = snapshots.Put(snapshot, 2); !s.ok()) return s.ToString();
      }
      return flush ? flush_all() : "";
    };
    if (error = phase(0, 150, true); !error.empty()) return error;
    if (error = phase(150, 250, true); !error.empty()) return error;
    if (variant == kFlushed) {
      if (error = phase(250, kEvents, true); !error.empty()) return error;
    }
    (*picky)->Stop();
    (*counts)->Stop();
    if (variant == kTail) {
      // The tail: appended after the last flush, so only the WAL has it.
      if (error = AppendRange(store, 250, kEvents); !error.empty()) return error;
    } else {
      // Something for the WAL that is not an event.
      Snapshot snapshot{.stream = std::string(kStreams[0]),
                        .version = 1,
                        .fingerprint = "v2",
                        .state = "{}",
                        .event_recorded_at_us = kFirstRecordedAtUs,
                        .taken_at_us = kFirstRecordedAtUs};
      if (absl::Status s = snapshots.Put(snapshot, 1); !s.ok()) return s.ToString();
    }
    if (store.last_position() != kEvents) return "unexpected last position";
  }
  if (absl::Status s = store.Sync(); !s.ok()) return s.ToString();
  opened->reset();
  return "";
}

// ---------------------------------------------------------------------------
// Reading a store: one result per read, compared with the undamaged store's.

struct Read {
  std::string name{};
  absl::StatusCode code = absl::StatusCode::kOk;
  std::string message{};       // the error, or a note (verify's reason)
  std::string text{};          // what the read returned
  bool verify_damage = false;  // Verify returned a report with ok == false
};

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string RenderEvent(const EventView& e) {
  std::string metadata;
  for (const auto& [k, v] : e.metadata) metadata += StrCat(k, "=", v, ";");
  return StrCat(e.position, " ", e.stream, " v", e.version, " ", e.id.ToString(), " ", e.type, " s",
                e.schema_version, " t", e.recorded_at_us, " c", static_cast<int>(e.content_type),
                " corr=", e.correlation_id, " cause=", e.causation_id, " meta=", metadata,
                " payload=", Hex(e.payload), " hash=", Hex(e.hash), "\n");
}

void SendRead(int fd, const Read& r) {
  std::string out;
  PutField(&out, r.name);
  PutField(&out, StrCat(static_cast<int>(r.code)));
  PutField(&out, r.message);
  PutField(&out, r.text);
  PutField(&out, r.verify_damage ? "1" : "0");
  WriteAll(fd, out);
}

std::vector<Read> ParseReads(std::string_view in) {
  std::vector<Read> reads;
  for (;;) {
    Read r;
    std::string code, damage;
    if (!GetField(&in, &r.name) || !GetField(&in, &code) || !GetField(&in, &r.message) ||
        !GetField(&in, &r.text) || !GetField(&in, &damage)) {
      break;
    }
    r.code = static_cast<absl::StatusCode>(std::atoi(code.c_str()));
    r.verify_damage = damage == "1";
    reads.push_back(std::move(r));
  }
  return reads;
}

// The reads of the library, in the child: open, verify, a full export, the
// stream listing, every head, every stream, stats. Each result goes to `fd`
// as soon as it is known, so that a crash shows which read it hit.
void LibraryReadsInChild(const std::string& path, bool read_only, int fd) {
  Options options;
  options.read_only = read_only;
  options.create_if_missing = false;
  options.block_cache_bytes = 16u << 20;
  options.low_priority_compaction = false;
  // Small memtables: an open allocates and zeroes the memtable Bloom filters
  // of two families (a tenth of write_buffer_bytes each), which was a large
  // part of a trial's CPU with the default 32 MiB. Reads do not depend on it.
  options.write_buffer_bytes = 1u << 20;
  absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(path, options);
  if (!opened.ok()) {
    SendRead(fd, Read{.name = "open",
                      .code = opened.status().code(),
                      .message = std::string(opened.status().message())});
    return;
  }
  EventStore& store = **opened;
  SendRead(fd, Read{.name = "open"});
  auto send_status = [&](std::string name, const absl::Status& s, std::string text) {
    SendRead(fd, Read{.name = std::move(name),
                      .code = s.code(),
                      .message = std::string(s.message()),
                      .text = s.ok() ? std::move(text) : std::string()});
  };

  {
    absl::StatusOr<VerifyReport> report = store.Verify();
    Read r{.name = "verify"};
    if (!report.ok()) {
      r.code = report.status().code();
      r.message = std::string(report.status().message());
    } else if (!report->ok) {
      r.verify_damage = true;
      r.message = StrCat("first_bad_position ", report->first_bad_position, ": ", report->reason);
    } else {
      r.text = StrCat("ok events=", report->events, " streams=", report->streams,
                      " last_position=", report->last_position, " last_hash=", report->last_hash);
    }
    SendRead(fd, r);
  }
  {
    std::string text;
    absl::Status s = store.ScanAll({}, [&](const EventView& e) {
      text += RenderEvent(e);
      return true;
    });
    send_status("export", s, std::move(text));
  }
  {
    std::string text;
    absl::Status s = store.ListStreams("", [&](const StreamInfo& info) {
      text += StrCat(info.stream, " v", info.version, " p", info.last_position, "\n");
      return true;
    });
    send_status("streams", s, std::move(text));
  }
  for (std::string_view stream : kStreams) {
    absl::StatusOr<StreamInfo> info = store.GetStream(stream);
    send_status(
        StrCat("head ", stream), info.status(),
        info.ok() ? StrCat(info->stream, " v", info->version, " p", info->last_position) : "");
  }
  for (std::string_view stream : kStreams) {
    std::string text;
    absl::Status s = store.ScanStream(stream, {}, [&](const EventView& e) {
      text += RenderEvent(e);
      return true;
    });
    send_status(StrCat("read ", stream), s, std::move(text));
  }
  {
    absl::StatusOr<StoreStats> stats = store.Stats();
    send_status("stats", stats.status(),
                stats.ok() ? StrCat("events=", stats->events, " streams=", stats->streams,
                                    " last_position=", stats->last_position,
                                    " store.last_position=", store.last_position())
                           : "");
  }
}

// The reads of the CLI: the audit, the export and the stream listing (the
// library reads cover the rest through the same read-only open).
std::vector<std::vector<std::string>> CliCommands(const std::string& cli, const std::string& path) {
  return {{cli, "verify", path}, {cli, "export", path}, {cli, "streams", path}};
}

// ---------------------------------------------------------------------------
// Judging.

enum class Outcome { kHarmless, kDetected, kSilent, kMislabeled, kCrash };
constexpr int kOutcomeCount = 5;
constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    "harmless", "detected", "SILENT", "MISLABELED", "CRASH"};

// What a mode's reads of one trial came to, and the problems found.
struct Verdict {
  Outcome outcome = Outcome::kHarmless;
  std::vector<std::string> problems;  // one line per bad read
  bool verify_missed = false;         // verify said ok (unchanged) but another read found damage
  std::string detected_by;            // the first read that reported the damage
};

void Worsen(Verdict* v, Outcome o) {
  if (static_cast<int>(o) > static_cast<int>(v->outcome)) v->outcome = o;
}

std::string Clip(std::string_view s, size_t n = 160) {
  std::string out(s.substr(0, n));
  std::replace(out.begin(), out.end(), '\n', ' ');
  return s.size() > n ? out + "..." : out;
}

// "200 of 300 lines; first difference at line 201: got <...> want <...>"
std::string DescribeDifference(const std::string& got, const std::string& want) {
  auto lines = [](const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
  };
  const std::vector<std::string> g = lines(got), w = lines(want);
  size_t i = 0;
  while (i < g.size() && i < w.size() && g[i] == w[i]) ++i;
  return StrCat(g.size(), " of ", w.size(), " lines; first difference at line ", i + 1, ": got <",
                i < g.size() ? Clip(g[i], 100) : "end", "> want <",
                i < w.size() ? Clip(w[i], 100) : "end", ">");
}

std::string_view CodeName(absl::StatusCode code) {
  static const std::map<absl::StatusCode, std::string_view> kNames = {
      {absl::StatusCode::kOk, "OK"},
      {absl::StatusCode::kCancelled, "kCancelled"},
      {absl::StatusCode::kUnknown, "kUnknown"},
      {absl::StatusCode::kInvalidArgument, "kInvalidArgument"},
      {absl::StatusCode::kNotFound, "kNotFound"},
      {absl::StatusCode::kAlreadyExists, "kAlreadyExists"},
      {absl::StatusCode::kFailedPrecondition, "kFailedPrecondition"},
      {absl::StatusCode::kAborted, "kAborted"},
      {absl::StatusCode::kUnavailable, "kUnavailable"},
      {absl::StatusCode::kDataLoss, "kDataLoss"},
      {absl::StatusCode::kInternal, "kInternal"},
      {absl::StatusCode::kUnimplemented, "kUnimplemented"},
      {absl::StatusCode::kOutOfRange, "kOutOfRange"},
      {absl::StatusCode::kPermissionDenied, "kPermissionDenied"},
      {absl::StatusCode::kResourceExhausted, "kResourceExhausted"},
      {absl::StatusCode::kDeadlineExceeded, "kDeadlineExceeded"},
      {absl::StatusCode::kUnauthenticated, "kUnauthenticated"}};
  auto it = kNames.find(code);
  return it == kNames.end() ? "unknown code" : it->second;
}

std::string DescribeCrash(const ChildOutcome& c, std::string_view last_read) {
  std::string how = c.timed_out ? "hung (killed after the timeout)"
                    : c.signal != 0
                        ? StrCat("killed by signal ", c.signal, " (", strsignal(c.signal), ")")
                        : StrCat("exited with ", c.exit_code);
  return StrCat(how, " after read '", last_read, "'; stderr: ", Clip(StderrTail(c), 300));
}

Verdict JudgeLibrary(const ChildOutcome& child, const std::vector<Read>& baseline) {
  Verdict v;
  const std::vector<Read> reads = ParseReads(child.out);
  bool verify_ok_unchanged = false;
  bool other_detected = false;
  for (const Read& r : reads) {
    const Read* base = nullptr;
    for (const Read& b : baseline) {
      if (b.name == r.name) base = &b;
    }
    if (base == nullptr) {
      Worsen(&v, Outcome::kCrash);
      v.problems.push_back(StrCat(r.name, ": unknown read (test bug)"));
      continue;
    }
    if (r.verify_damage) {
      Worsen(&v, Outcome::kDetected);
      if (v.detected_by.empty()) v.detected_by = r.name;
    } else if (r.code == absl::StatusCode::kDataLoss) {
      Worsen(&v, Outcome::kDetected);
      if (v.detected_by.empty()) v.detected_by = r.name;
      if (r.name != "verify" && r.name != "open") other_detected = true;
    } else if (r.code != absl::StatusCode::kOk) {
      Worsen(&v, Outcome::kMislabeled);
      v.problems.push_back(
          StrCat(r.name, " MISLABELED: ", CodeName(r.code), ": ", Clip(r.message, 300)));
    } else if (r.text != base->text) {
      Worsen(&v, Outcome::kSilent);
      v.problems.push_back(
          StrCat(r.name, " SILENT (OK): ", DescribeDifference(r.text, base->text)));
    } else if (r.name == "verify") {
      verify_ok_unchanged = true;
    }
  }
  const bool complete =
      child.exited && child.exit_code == 0 &&
      (reads.size() == baseline.size() ||
       (reads.size() == 1 && reads[0].name == "open" && reads[0].code != absl::StatusCode::kOk));
  if (!complete) {
    Worsen(&v, Outcome::kCrash);
    v.problems.push_back(
        StrCat("CRASH: ", DescribeCrash(child, reads.empty() ? "(none)" : reads.back().name)));
  }
  v.verify_missed = verify_ok_unchanged && other_detected;
  return v;
}

struct CliRun {
  std::string name;
  ChildOutcome outcome;
};

Verdict JudgeCli(const std::vector<CliRun>& runs, const std::vector<CliRun>& baseline) {
  Verdict v;
  bool verify_ok_unchanged = false;
  bool other_detected = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    const ChildOutcome& c = runs[i].outcome;
    const std::string& name = runs[i].name;
    if (!c.exited) {
      Worsen(&v, Outcome::kCrash);
      v.problems.push_back(StrCat(name, " CRASH: ", DescribeCrash(c, name)));
    } else if (c.exit_code == 5) {
      Worsen(&v, Outcome::kDetected);
      if (v.detected_by.empty()) v.detected_by = name;
      if (name != "verify") other_detected = true;
    } else if (c.exit_code != 0) {
      Worsen(&v, Outcome::kMislabeled);
      v.problems.push_back(
          StrCat(name, " MISLABELED: exit ", c.exit_code, ": ", Clip(StderrTail(c), 300)));
    } else {
      const std::string& got = c.out;
      const std::string& want = baseline[i].outcome.out;
      if (got != want) {
        Worsen(&v, Outcome::kSilent);
        v.problems.push_back(StrCat(name, " SILENT (exit 0): ", DescribeDifference(got, want)));
      } else if (name == "verify") {
        verify_ok_unchanged = true;
      }
    }
  }
  v.verify_missed = verify_ok_unchanged && other_detected;
  return v;
}

// ---------------------------------------------------------------------------
// Trials.

struct StoreFile {
  std::string name;
  StoreFileKind kind;
  std::string bytes;
  SstLayout layout;  // for SSTs
};

struct Trial {
  int index = 0;
  std::string stratum;
  std::string file;
  std::string family;  // SSTs: the column family
  uint64_t offset = 0;
  int bit = 0;
  std::string where;
};

const std::vector<std::string>& Strata() {
  static const std::vector<std::string> kStrata = {
      "sst:data", "sst:index", "sst:filter", "sst:properties", "sst:metaindex", "sst:footer",
      "wal",      "manifest",  "current",    "options",        "identity"};
  return kStrata;
}

// Draws trial `index`: its stratum cycles, the rest comes from the seed (one
// generator per trial, so that ANNALS_BIT_FLIP_ONLY replays it alone).
Trial DrawTrial(uint64_t seed, int index, const std::vector<StoreFile>& files) {
  std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index + 1)));
  Trial t;
  t.index = index;
  t.stratum = Strata()[static_cast<size_t>(index) % Strata().size()];
  t.bit = static_cast<int>(rng() % 8);
  if (t.stratum.starts_with("sst:")) {
    const std::string kind = t.stratum.substr(4);
    std::vector<std::pair<const StoreFile*, std::vector<const Region*>>> candidates;
    for (const StoreFile& f : files) {
      if (f.kind != StoreFileKind::kSst) continue;
      std::vector<const Region*> regions;
      for (const Region& r : f.layout.regions) {
        if (r.kind == kind) regions.push_back(&r);
      }
      if (!regions.empty()) candidates.emplace_back(&f, std::move(regions));
    }
    if (candidates.empty()) return t;  // reported by the caller
    const auto& [file, regions] = candidates[rng() % candidates.size()];
    const Region* region = regions[rng() % regions.size()];
    t.file = file->name;
    t.family = file->layout.column_family;
    t.offset = region->offset + rng() % region->size;
    t.where = testing::DescribeSstOffset(file->bytes, file->layout, t.offset);
    return t;
  }
  std::vector<const StoreFile*> candidates;
  for (const StoreFile& f : files) {
    if (StoreFileKindName(f.kind) == t.stratum && !f.bytes.empty()) candidates.push_back(&f);
  }
  if (candidates.empty()) return t;
  const StoreFile* file = candidates[rng() % candidates.size()];
  t.file = file->name;
  t.offset = rng() % file->bytes.size();
  if (file->kind == StoreFileKind::kWal || file->kind == StoreFileKind::kManifest) {
    t.where = testing::DescribeLogOffset(file->bytes, t.offset);
  } else {
    const unsigned char c = static_cast<unsigned char>(file->bytes[t.offset]);
    t.where = StrCat("byte ", t.offset, " of ", file->bytes.size(), " ('",
                     c >= 32 && c < 127 ? std::string(1, static_cast<char>(c))
                                        : StrCat("\\x", Hex(std::string(1, c))),
                     "')");
  }
  return t;
}

void CopyStore(const std::string& from, const std::string& to) {
  fs::remove_all(to);
  fs::copy(from, to, fs::copy_options::recursive);
}

void FlipBit(const std::string& path, uint64_t offset, int bit) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f) << "cannot open " << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  ASSERT_TRUE(f) << "cannot read byte " << offset << " of " << path;
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  ASSERT_TRUE(f) << "cannot write " << path;
}

std::vector<StoreFile> LoadStoreFiles(const std::string& path) {
  std::vector<StoreFile> files;
  for (const auto& entry : fs::directory_iterator(path)) {
    if (!entry.is_regular_file()) continue;
    StoreFile f;
    f.name = entry.path().filename().string();
    f.kind = ClassifyStoreFile(f.name);
    f.bytes = testing::ReadFile(entry.path().string());
    if (f.kind == StoreFileKind::kSst) {
      std::string error;
      EXPECT_TRUE(testing::ParseSst(f.bytes, &f.layout, &error)) << f.name << ": " << error;
    }
    files.push_back(std::move(f));
  }
  std::sort(files.begin(), files.end(),
            [](const StoreFile& a, const StoreFile& b) { return a.name < b.name; });
  return files;
}

int TrialCount() {
  if (const char* n = std::getenv("ANNALS_BIT_FLIP_TRIALS")) return std::atoi(n);
  if (const char* soak = std::getenv("ANNALS_SOAK"); soak != nullptr && std::string(soak) == "1") {
    return 3000;
  }
  return 300;
}

std::string CliPath() {
  if (const char* cli = std::getenv("ANNALS_CLI")) return cli;
  return ANNALS_CLI_PATH;
}

// The judging itself, on made-up reads: what each outcome looks like.
std::vector<Read> MadeUpBaseline() {
  std::vector<Read> reads = {Read{.name = "open"}, Read{.name = "verify", .text = "ok events=3"},
                             Read{.name = "export", .text = "1\n2\n3\n"}};
  return reads;
}

ChildOutcome MadeUpChild(const std::vector<Read>& reads) {
  ChildOutcome c{.exited = true, .exit_code = 0};
  for (const Read& r : reads) {
    PutField(&c.out, r.name);
    PutField(&c.out, StrCat(static_cast<int>(r.code)));
    PutField(&c.out, r.message);
    PutField(&c.out, r.text);
    PutField(&c.out, r.verify_damage ? "1" : "0");
  }
  return c;
}

TEST(BitFlipJudgeTest, IdenticalReadsAreHarmless) {
  EXPECT_EQ(JudgeLibrary(MadeUpChild(MadeUpBaseline()), MadeUpBaseline()).outcome,
            Outcome::kHarmless);
}

TEST(BitFlipJudgeTest, AShorterLogWithOkIsSilentEvenWhenVerifyFoundTheDamage) {
  std::vector<Read> reads = MadeUpBaseline();
  reads[1] = Read{.name = "verify", .message = "bad", .verify_damage = true};
  reads[2].text = "1\n2\n";
  const Verdict v = JudgeLibrary(MadeUpChild(reads), MadeUpBaseline());
  EXPECT_EQ(v.outcome, Outcome::kSilent);
  ASSERT_EQ(v.problems.size(), 1u);
  EXPECT_NE(v.problems[0].find("2 of 3 lines"), std::string::npos) << v.problems[0];
}

TEST(BitFlipJudgeTest, AVerifyThatSaysOkWithOtherFiguresIsSilent) {
  std::vector<Read> reads = MadeUpBaseline();
  reads[1].text = "ok events=2";
  reads[2].code = absl::StatusCode::kDataLoss;
  EXPECT_EQ(JudgeLibrary(MadeUpChild(reads), MadeUpBaseline()).outcome, Outcome::kSilent);
}

TEST(BitFlipJudgeTest, DataLossIsDetectedAndAnyOtherCodeIsMislabeled) {
  std::vector<Read> reads = MadeUpBaseline();
  reads[2].code = absl::StatusCode::kDataLoss;
  reads[2].text.clear();
  Verdict v = JudgeLibrary(MadeUpChild(reads), MadeUpBaseline());
  EXPECT_EQ(v.outcome, Outcome::kDetected);
  EXPECT_TRUE(v.verify_missed);  // verify said ok, the export found damage
  const std::vector<Read> open_failed = {Read{.name = "open",
                                              .code = absl::StatusCode::kInvalidArgument,
                                              .message = "not an annals store"}};
  v = JudgeLibrary(MadeUpChild(open_failed), MadeUpBaseline());
  EXPECT_EQ(v.outcome, Outcome::kMislabeled);
  const std::vector<Read> open_lost = {Read{.name = "open", .code = absl::StatusCode::kDataLoss}};
  EXPECT_EQ(JudgeLibrary(MadeUpChild(open_lost), MadeUpBaseline()).outcome, Outcome::kDetected);
}

TEST(BitFlipJudgeTest, AChildThatAbortsOrHangsIsACrash) {
  testing::TempDir dir;
  ChildOutcome aborted = RunForked(
      [](int fd) {
        SendRead(fd, Read{.name = "open"});
        std::abort();
      },
      dir.Sub("abort"));
  EXPECT_EQ(aborted.signal, SIGABRT);
  Verdict v = JudgeLibrary(aborted, MadeUpBaseline());
  EXPECT_EQ(v.outcome, Outcome::kCrash);
  ASSERT_FALSE(v.problems.empty());
  EXPECT_NE(v.problems.back().find("after read 'open'"), std::string::npos) << v.problems.back();

  ChildOutcome hung =
      RunForked([](int) { pause(); }, dir.Sub("hang"), std::chrono::milliseconds(200));
  EXPECT_TRUE(hung.timed_out);
  EXPECT_EQ(JudgeLibrary(hung, MadeUpBaseline()).outcome, Outcome::kCrash);

  // A child that stops early without a signal (e.g. exit() in a library)
  // is a crash too: its reads are incomplete.
  ChildOutcome exited = RunForked(
      [](int fd) {
        SendRead(fd, Read{.name = "open"});
        _exit(0);
      },
      dir.Sub("exit"));
  EXPECT_EQ(JudgeLibrary(exited, MadeUpBaseline()).outcome, Outcome::kCrash);
}

TEST(BitFlipJudgeTest, CliExitCodes) {
  auto run = [](std::string name, int code, std::string out) {
    return CliRun{std::move(name),
                  ChildOutcome{.exited = true, .exit_code = code, .out = std::move(out)}};
  };
  const std::vector<CliRun> baseline = {run("verify", 0, "{ok}"), run("export", 0, "1\n2\n")};
  EXPECT_EQ(JudgeCli(baseline, baseline).outcome, Outcome::kHarmless);
  EXPECT_EQ(JudgeCli({run("verify", 5, ""), run("export", 0, "1\n2\n")}, baseline).outcome,
            Outcome::kDetected);
  EXPECT_EQ(JudgeCli({run("verify", 5, ""), run("export", 0, "1\n")}, baseline).outcome,
            Outcome::kSilent);
  EXPECT_EQ(JudgeCli({run("verify", 1, ""), run("export", 5, "")}, baseline).outcome,
            Outcome::kMislabeled);
  EXPECT_EQ(JudgeCli({run("verify", 4, ""), run("export", 5, "")}, baseline).outcome,
            Outcome::kMislabeled);
  CliRun killed{"export", ChildOutcome{.signal = SIGSEGV}};
  EXPECT_EQ(JudgeCli({run("verify", 0, "{ok}"), killed}, baseline).outcome, Outcome::kCrash);
}

// A store built once per test binary run (in a child) in a directory that
// lives as long as the process.
class BitFlipTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    std::array<Process, 2> builds;
    for (int v = 0; v < 2; ++v) {
      originals_[v] = dir_->Sub(StrCat("original-", kVariantNames[v]));
      builds[v] = StartForked(
          [v](int fd) {
            WriteAll(fd, StrCat("done:", BuildStoreInChild(originals_[v], Variant(v))));
          },
          dir_->Sub(StrCat("build-", kVariantNames[v])));
    }
    for (int v = 0; v < 2; ++v) {
      const ChildOutcome built = builds[v].Wait();
      if (built.out == "done:") continue;
      build_error_ += StrCat(kVariantNames[v], ": ",
                             built.out.starts_with("done:")
                                 ? built.out.substr(5)
                                 : StrCat("crashed: ", DescribeCrash(built, "build")),
                             "; ");
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override { ASSERT_EQ(build_error_, "") << "building the store failed"; }

  static testing::TempDir* dir_;
  static std::array<std::string, 2> originals_;
  static std::string build_error_;
};

testing::TempDir* BitFlipTest::dir_ = nullptr;
std::array<std::string, 2> BitFlipTest::originals_;
std::string BitFlipTest::build_error_;

// The sweep can only claim what it aims at: every SST parses, every block
// kind exists, every family has tables, and the WAL holds a tail.
TEST_F(BitFlipTest, TheStoreHasEveryKindOfFileAndBlock) {
  for (int v = 0; v < 2; ++v) {
    SCOPED_TRACE(kVariantNames[v]);
    std::printf("store variant '%s':\n", std::string(kVariantNames[v]).c_str());
    const std::vector<StoreFile> files = LoadStoreFiles(originals_[v]);
    std::map<std::string, int> kinds;
    std::map<std::string, int> families;
    for (const StoreFile& f : files) {
      ++kinds[std::string(StoreFileKindName(f.kind))];
      if (f.kind != StoreFileKind::kSst) continue;
      ++families[f.layout.column_family];
      std::map<std::string, int> blocks;
      for (const Region& r : f.layout.regions) ++blocks[r.kind];
      EXPECT_EQ(f.layout.format_version, 5u) << f.name;
      EXPECT_GE(blocks["data"], 1) << f.name;
      for (const char* kind : {"index", "properties", "metaindex", "footer"}) {
        EXPECT_EQ(blocks[kind], 1) << f.name << " has no single " << kind << " block";
      }
      const bool filtered =
          f.layout.column_family != "log" && f.layout.column_family != "stream_index";
      EXPECT_EQ(blocks["filter"], filtered ? 1 : 0)
          << f.name << " (" << f.layout.column_family << ")";
    }
    for (std::string_view family : kFamilies) {
      EXPECT_GE(families[std::string(family)], 1) << "no SST file of family " << family;
    }
    EXPECT_GE(families["log"], v == kTail ? 2 : 3) << "flushed generations of the log";
    for (const char* kind : {"wal", "manifest", "current", "options", "identity"}) {
      EXPECT_GE(kinds[kind], 1) << "no " << kind << " file";
    }
    uint64_t wal_bytes = 0;
    for (const StoreFile& f : files) {
      if (f.kind == StoreFileKind::kWal) wal_bytes += f.bytes.size();
    }
    EXPECT_GT(wal_bytes, 0u) << "the WAL should hold the tail or a snapshot";
    for (const StoreFile& f : files) {
      std::string summary;
      for (const Region& r : f.layout.regions) {
        if (r.kind != "data") summary += StrCat(" ", r.kind, "@", r.offset, "+", r.size);
      }
      std::printf("%-20s %-9s %8zu bytes %s%s\n", f.name.c_str(),
                  std::string(StoreFileKindName(f.kind)).c_str(), f.bytes.size(),
                  f.layout.column_family.c_str(), summary.c_str());
    }
  }
}

TEST_F(BitFlipTest, EveryFlipIsDetectedOrHarmless) {
  const uint64_t seed = testing::TestSeed();
  const int trials = TrialCount();
  int only = -1;
  if (const char* o = std::getenv("ANNALS_BIT_FLIP_ONLY")) only = std::atoi(o);
  const char* keep = std::getenv("ANNALS_BIT_FLIP_KEEP");
  const bool verbose = std::getenv("ANNALS_BIT_FLIP_VERBOSE") != nullptr;
  const std::string cli = CliPath();
  const bool have_cli = !cli.empty() && access(cli.c_str(), X_OK) == 0;
  if (!have_cli) ADD_FAILURE() << "no annals binary at '" << cli << "' (set ANNALS_CLI)";
  // A tenth of the trials also go through the CLI: each costs three process
  // starts, each as expensive as a library trial.
  constexpr int kCliEvery = 10;

  std::array<std::vector<StoreFile>, 2> files;
  for (int v = 0; v < 2; ++v) files[v] = LoadStoreFiles(originals_[v]);
  const auto start = std::chrono::steady_clock::now();
  if (keep != nullptr) {
    for (int v = 0; v < 2; ++v) {
      CopyStore(originals_[v], StrCat(keep, "/original-", kVariantNames[v]));
    }
  }

  // Baselines: each undamaged store, read each way. Both variants hold the
  // same events, so every read must give the same in all four.
  const std::string work = dir_->Sub("trial");
  std::vector<Read> baseline[2][2];  // [variant][mode]
  std::vector<CliRun> cli_baseline[2];
  for (int v = 0; v < 2; ++v) {
    for (int mode = 0; mode < 2; ++mode) {
      CopyStore(originals_[v], work);
      const ChildOutcome c =
          RunForked([&](int fd) { LibraryReadsInChild(work, mode == 1, fd); }, work + ".child");
      baseline[v][mode] = ParseReads(c.out);
      ASSERT_TRUE(c.exited && c.exit_code == 0) << DescribeCrash(c, "baseline");
      ASSERT_EQ(baseline[v][mode].size(), 5u + 2 * kStreams.size()) << "baseline reads";
      for (const Read& r : baseline[v][mode]) {
        ASSERT_EQ(r.code, absl::StatusCode::kOk) << r.name << ": " << r.message;
        ASSERT_FALSE(r.verify_damage) << "the undamaged store fails verify: " << r.message;
      }
      for (size_t i = 0; i < baseline[v][mode].size(); ++i) {
        ASSERT_EQ(baseline[v][mode][i].text, baseline[0][0][i].text)
            << baseline[v][mode][i].name << " of the undamaged store differs between variant "
            << kVariantNames[v] << " mode " << mode << " and the writer open of the tail store";
      }
    }
    if (have_cli) {
      CopyStore(originals_[v], work);
      for (const auto& argv : CliCommands(cli, work)) {
        cli_baseline[v].push_back(CliRun{argv[1], StartProgram(argv, work + ".cli").Wait()});
        const ChildOutcome& c = cli_baseline[v].back().outcome;
        ASSERT_TRUE(c.exited && c.exit_code == 0)
            << "annals " << argv[1] << " on the undamaged store: " << c.exit_code << " "
            << StderrTail(c);
      }
    }
  }
  ASSERT_EQ(std::count(baseline[0][0][2].text.begin(), baseline[0][0][2].text.end(), '\n'),
            kEvents);

  // tallies[stratum][mode][outcome]; modes: writer, read-only, cli.
  constexpr std::array<std::string_view, 3> kModes = {"writer", "read-only", "cli"};
  std::map<std::string, std::array<std::array<int, kOutcomeCount>, 3>> tallies;
  std::array<int, 3> verify_missed{};
  std::array<std::array<std::array<int, kOutcomeCount>, 3>, 2> by_variant{};
  std::array<int, 3> mode_runs{};
  std::array<double, 3> mode_cpu{};  // CPU time of the children
  std::vector<std::string> report;
  int run = 0;
  for (int i = 0; i < trials; ++i) {
    if (only >= 0 && i != only) continue;
    // Each cycle through the strata uses the other variant of the store.
    const int v = static_cast<int>((static_cast<size_t>(i) / Strata().size()) % 2);
    const Trial t = DrawTrial(seed, i, files[v]);
    ASSERT_FALSE(t.file.empty()) << "no file for stratum " << t.stratum;
    ++run;
    auto& row = tallies[t.stratum];
    std::array<Verdict, 3> verdicts;
    std::array<bool, 3> ran = {true, true, have_cli && (i % kCliEvery == 0 || only >= 0)};
    // The three ways run at the same time, each on its own damaged copy.
    std::array<Process, 2> library;
    std::vector<Process> programs;
    std::vector<std::string> names;
    for (int mode = 0; mode < 3; ++mode) {
      if (!ran[mode]) continue;
      const std::string copy = StrCat(work, "-", mode);
      CopyStore(originals_[v], copy);
      FlipBit(copy + "/" + t.file, t.offset, t.bit);
      if (mode < 2) {
        library[mode] = StartForked([&](int fd) { LibraryReadsInChild(copy, mode == 1, fd); },
                                    StrCat(copy, ".child"));
      } else {
        for (const auto& argv : CliCommands(cli, copy)) {
          programs.push_back(StartProgram(argv, StrCat(copy, ".", argv[1])));
          names.push_back(argv[1]);
        }
      }
    }
    for (int mode = 0; mode < 3; ++mode) {
      if (!ran[mode]) continue;
      if (mode < 2) {
        const ChildOutcome c = library[mode].Wait();
        verdicts[mode] = JudgeLibrary(c, baseline[v][mode]);
        mode_cpu[mode] += c.cpu_seconds;
      } else {
        std::vector<CliRun> runs;
        for (size_t p = 0; p < programs.size(); ++p) {
          runs.push_back(CliRun{names[p], programs[p].Wait()});
          mode_cpu[mode] += runs.back().outcome.cpu_seconds;
        }
        verdicts[mode] = JudgeCli(runs, cli_baseline[v]);
      }
      ++mode_runs[mode];
      ++row[mode][static_cast<int>(verdicts[mode].outcome)];
      ++by_variant[v][mode][static_cast<int>(verdicts[mode].outcome)];
      if (verdicts[mode].verify_missed) ++verify_missed[mode];
    }
    bool bad = false;
    for (int mode = 0; mode < 3; ++mode) {
      if (!ran[mode]) continue;
      bad = bad || static_cast<int>(verdicts[mode].outcome) > static_cast<int>(Outcome::kDetected);
    }
    if (verbose) {
      std::string line =
          StrCat("trial ", i, " ", kVariantNames[v], " store, ", t.stratum, " ", t.file, " ",
                 t.family, " offset ", t.offset, " bit ", t.bit, " (", t.where, "):");
      for (int mode = 0; mode < 3; ++mode) {
        if (!ran[mode]) continue;
        line += StrCat(
            " ", kModes[mode], "=", kOutcomeNames[static_cast<int>(verdicts[mode].outcome)],
            verdicts[mode].detected_by.empty() ? "" : StrCat("(", verdicts[mode].detected_by, ")"));
      }
      std::printf("%s\n", line.c_str());
    }
    for (int mode = 0; mode < 3; ++mode) {
      if (!ran[mode] || (verdicts[mode].problems.empty() && !verdicts[mode].verify_missed)) {
        continue;
      }
      std::string line =
          StrCat("trial ", i, " [", kModes[mode], "] ", kVariantNames[v], " store, ", t.stratum,
                 " ", t.file, t.family.empty() ? "" : StrCat(" (", t.family, ")"), " offset ",
                 t.offset, " bit ", t.bit, " (", t.where, ")");
      for (const std::string& p : verdicts[mode].problems) line += StrCat("\n    ", p);
      if (verdicts[mode].verify_missed) {
        line += StrCat("\n    verify said ok; ", verdicts[mode].detected_by, " found the damage");
      }
      report.push_back(std::move(line));
    }
    if (bad && keep != nullptr) {
      const std::string to = StrCat(keep, "/trial-", i);
      CopyStore(originals_[v], to);
      FlipBit(to + "/" + t.file, t.offset, t.bit);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The classification table.
  std::string table =
      StrCat("bit-flip sweep: seed ", seed, ", ", run, " trials in ", static_cast<int>(seconds),
             " s (replay: ANNALS_TEST_SEED=", seed, ")\n");
  table += "CPU per trial:";
  for (int mode = 0; mode < 3; ++mode) {
    table += StrCat(" ", kModes[mode], " ",
                    static_cast<int>(1000 * mode_cpu[mode] / std::max(mode_runs[mode], 1)),
                    " ms x ", mode_runs[mode], mode < 2 ? "," : "\n");
  }
  table +=
      std::string("stratum         mode       harmless detected   SILENT MISLABELED    CRASH\n");
  std::array<std::array<int, kOutcomeCount>, 3> totals{};
  for (const std::string& stratum : Strata()) {
    auto it = tallies.find(stratum);
    if (it == tallies.end()) continue;
    for (int mode = 0; mode < 3; ++mode) {
      int n = 0;
      for (int o = 0; o < kOutcomeCount; ++o) n += it->second[mode][o];
      if (n == 0) continue;
      char line[160];
      const auto& c = it->second[mode];
      std::snprintf(line, sizeof(line), "%-15s %-10s %8d %8d %8d %10d %8d\n", stratum.c_str(),
                    std::string(kModes[mode]).c_str(), c[0], c[1], c[2], c[3], c[4]);
      table += line;
      for (int o = 0; o < kOutcomeCount; ++o) totals[mode][o] += c[o];
    }
  }
  for (int mode = 0; mode < 3; ++mode) {
    char line[200];
    const auto& c = totals[mode];
    std::snprintf(line, sizeof(line),
                  "%-15s %-10s %8d %8d %8d %10d %8d   (verify ok on damage: %d)\n", "TOTAL",
                  std::string(kModes[mode]).c_str(), c[0], c[1], c[2], c[3], c[4],
                  verify_missed[mode]);
    table += line;
  }
  for (int v = 0; v < 2; ++v) {
    for (int mode = 0; mode < 3; ++mode) {
      char line[200];
      const auto& c = by_variant[v][mode];
      std::snprintf(line, sizeof(line), "%-15s %-10s %8d %8d %8d %10d %8d\n",
                    StrCat("  ", kVariantNames[v], " store").c_str(),
                    std::string(kModes[mode]).c_str(), c[0], c[1], c[2], c[3], c[4]);
      table += line;
    }
  }
  std::printf("%s", table.c_str());
  for (const std::string& line : report) std::printf("%s\n", line.c_str());
  std::fflush(stdout);

  if (only < 0) {
    EXPECT_GE(run, std::min(trials, 300));
  }
  for (int mode = 0; mode < 3; ++mode) {
    EXPECT_EQ(totals[mode][static_cast<int>(Outcome::kSilent)], 0)
        << kModes[mode] << ": damage served as a different log with OK (see the trials above)";
    EXPECT_EQ(totals[mode][static_cast<int>(Outcome::kMislabeled)], 0)
        << kModes[mode] << ": damage reported as something else than kDataLoss / exit 5";
    EXPECT_EQ(totals[mode][static_cast<int>(Outcome::kCrash)], 0)
        << kModes[mode] << ": a crash or hang";
  }
}

}  // namespace
}  // namespace annals
