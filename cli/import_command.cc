// annals import <store> < export.jsonl
//
// Replays an export into a store, keeping ids, versions, positions and
// recorded_at. The store assigns positions itself, so an import works into an
// empty store, or one that holds a prefix of the same export: events already
// stored (same id at the same position) are skipped, so re-running an import
// adds nothing and an interrupted one can be resumed.
//
// Nothing is written unless the whole input checks out: every line parses,
// positions are consecutive, ids are unique, the overlap with the store
// matches, and each stream's versions continue the store's. The events are
// then appended in batches (AppendMulti with exact expected versions, one
// part per run of one stream). Only an I/O failure part-way leaves a prefix
// of the export stored; re-running import finishes it.

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cli/cli_internal.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

// Batch limits: large enough that the fsync per batch is amortized, far below
// Options::max_append_bytes and max_group_commit_bytes.
constexpr size_t kBatchEvents = 2000;
constexpr size_t kBatchBytes = 4u << 20;
// Checked before writing so that no batch fails validation after earlier
// batches were stored (limits of EventStore::Append and Options defaults).
constexpr size_t kMaxStreamBytes = 512;
constexpr size_t kMaxTypeBytes = 256;

struct ImportArgs {
  std::string store;
  bool buffered = false;
};

absl::Status LineError(size_t line, std::string_view what) {
  return absl::InvalidArgumentError(StrCat("import line ", line, ": ", what));
}

// Reads and checks every line; positions must be consecutive.
absl::StatusOr<std::vector<ParsedEvent>> ReadExport(std::istream& in) {
  std::vector<ParsedEvent> events;
  absl::flat_hash_set<Uuid> ids;
  std::string text;
  for (size_t n = 1; std::getline(in, text); ++n) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json object = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded()) return LineError(n, "not valid JSON (expected annals export lines)");
    absl::StatusOr<ParsedEvent> e = ParseEvent(object);
    if (!e.ok()) return LineError(n, StdSv(e.status().message()));
    for (const char* field : {"position", "version", "stream", "id", "recorded_at"}) {
      if (!object.contains(field)) {
        return LineError(n, StrCat("field \"", field,
                                   "\" is required by import (use the output of annals export)"));
      }
    }
    if (*e->position == 0 || *e->version == 0) {
      return LineError(n, "position and version start at 1");
    }
    if (e->id.is_nil() || e->recorded_at_us == 0) {
      return LineError(n, "id and recorded_at must not be null: import keeps them");
    }
    if (!events.empty() && *e->position != *events.back().position + 1) {
      return LineError(n, StrCat("position ", *e->position, " does not follow position ",
                                 *events.back().position,
                                 "; an export lists consecutive positions"));
    }
    if (e->stream.empty() || e->stream.size() > kMaxStreamBytes || e->stream.front() == '$') {
      return LineError(n, StrCat("stream name '", e->stream, "' is not accepted by annals"));
    }
    if (e->type.empty() || e->type.size() > kMaxTypeBytes) {
      return LineError(n, "type must be 1 to 256 bytes");
    }
    if (!ids.insert(e->id).second) {
      return LineError(n, StrCat("event id ", e->id.ToString(), " appears twice"));
    }
    events.push_back(std::move(*e));
  }
  if (in.bad()) return absl::DataLossError("reading stdin failed");
  return events;
}

// Checks that the store's events at the positions the export shares with it
// are the export's own events.
absl::Status CheckOverlap(EventStore& store, absl::Span<const ParsedEvent> overlap) {
  if (overlap.empty()) return absl::OkStatus();
  ReadAllOptions options;
  options.from_position = *overlap.front().position;
  options.limit = overlap.size();
  size_t i = 0;
  absl::Status mismatch;
  absl::Status scan = store.ScanAll(options, [&](const EventView& e) {
    const ParsedEvent& x = overlap[i++];
    if (e.position != *x.position || e.id != x.id || e.stream != x.stream ||
        e.version != *x.version || (!x.hash_hex.empty() && HexEncode(e.hash) != x.hash_hex)) {
      mismatch = absl::FailedPreconditionError(StrCat(
          "the store differs from the export at position ", *x.position, " (store: ",
          e.id.ToString(), " = '", e.stream, "' version ", e.version, "; export: ",
          x.id.ToString(), " = '", x.stream, "' version ", *x.version,
          "); import only into a new store or one holding a prefix of this export"));
      return false;
    }
    return true;
  });
  if (!scan.ok()) return scan;
  if (!mismatch.ok()) return mismatch;
  if (i != overlap.size()) {
    return absl::DataLossError(StrCat("the store ends before position ",
                                      *overlap[i].position, " that it claims to hold"));
  }
  return absl::OkStatus();
}

// Checks that each stream's versions continue where the store's stream is.
absl::Status CheckVersions(EventStore& store, absl::Span<const ParsedEvent> events) {
  absl::flat_hash_map<std::string, uint64_t> heads;
  for (const ParsedEvent& e : events) {
    auto it = heads.find(Sv(e.stream));
    if (it == heads.end()) {
      uint64_t version = 0;
      absl::StatusOr<StreamInfo> info = store.GetStream(e.stream);
      if (info.ok()) {
        version = info->version;
      } else if (info.status().code() != absl::StatusCode::kNotFound) {
        return info.status();
      }
      it = heads.emplace(e.stream, version).first;
    }
    if (*e.version != it->second + 1) {
      return absl::FailedPreconditionError(StrCat(
          "event at position ", *e.position, " is version ", *e.version, " of '", e.stream,
          "' but that stream is at version ", it->second,
          " in the store; the export is incomplete or the store is not a prefix of it"));
    }
    it->second = *e.version;
  }
  return absl::OkStatus();
}

// Appends `events` (consecutive, checked) in batches.
absl::Status Write(EventStore& store, absl::Span<const ParsedEvent> events) {
  size_t begin = 0;
  std::vector<NewEvent> views;
  std::vector<StreamAppend> parts;
  std::vector<std::pair<size_t, size_t>> ranges;  // [first, end) of each part in `views`
  absl::flat_hash_set<std::string_view> streams;
  while (begin < events.size()) {
    // Choose the batch [begin, end): stop before a stream that would reappear
    // in a second part (AppendMulti names each stream once).
    views.clear();
    ranges.clear();
    streams.clear();
    size_t bytes = 0;
    size_t end = begin;
    while (end < events.size() && end - begin < kBatchEvents && bytes < kBatchBytes) {
      const ParsedEvent& e = events[end];
      const bool continues = !ranges.empty() && events[end - 1].stream == e.stream;
      if (!continues) {
        if (streams.contains(e.stream)) break;
        streams.insert(e.stream);
        ranges.emplace_back(end - begin, end - begin);
      }
      views.push_back(e.View(/*keep_recorded_at=*/true));
      ranges.back().second = end - begin + 1;
      bytes += e.payload.size() + e.type.size() + e.stream.size();
      ++end;
    }
    parts.clear();
    for (const auto& [first, last] : ranges) {
      const ParsedEvent& head = events[begin + first];
      parts.push_back(StreamAppend{head.stream, ExpectedVersion::Exact(*head.version - 1),
                                   absl::Span<const NewEvent>(views).subspan(first, last - first)});
    }
    absl::StatusOr<std::vector<AppendResult>> results = store.AppendMulti(parts);
    if (!results.ok()) {
      return absl::Status(
          results.status().code(),
          StrCat(results.status().message(), " (while importing positions ",
                 *events[begin].position, "..", *events[end - 1].position,
                 "; the store holds the export up to position ", store.last_position(),
                 "; fix the cause and re-run import to continue)"));
    }
    if (results->front().first_position != *events[begin].position) {
      return absl::InternalError(StrCat("the store gave position ",
                                        results->front().first_position, " to the event of position ",
                                        *events[begin].position,
                                        "; was the store written to during the import?"));
    }
    begin = end;
  }
  return absl::OkStatus();
}

// Compares the hash chain the store computed with the export's hashes.
absl::Status CheckHashes(EventStore& store, absl::Span<const ParsedEvent> written) {
  if (written.empty()) return absl::OkStatus();
  ReadAllOptions options;
  options.from_position = *written.front().position;
  options.limit = written.size();
  size_t i = 0;
  absl::Status mismatch;
  absl::Status scan = store.ScanAll(options, [&](const EventView& e) {
    const ParsedEvent& x = written[i++];
    if (!x.hash_hex.empty() && HexEncode(e.hash) != x.hash_hex) {
      mismatch = absl::DataLossError(StrCat(
          "imported event at position ", e.position, " hashes to ", HexEncode(e.hash),
          " but the export says ", x.hash_hex,
          ": the export was altered after it was written, so the store now holds a history "
          "that differs from the exported one (the store itself is consistent)"));
      return false;
    }
    return true;
  });
  if (!scan.ok()) return scan;
  return mismatch;
}

int RunImport(CliContext& ctx, const ImportArgs& a) {
  absl::StatusOr<std::vector<ParsedEvent>> events = ReadExport(ctx.in);
  if (!events.ok()) return ReportError(ctx, kExitError, StdSv(events.status().message()));

  // Batches are written buffered and made durable by one Sync() at the end
  // (unless --buffered): an fsync per batch made interleaved logs, which
  // split into many small batches, about 15x slower to import.
  absl::StatusOr<std::unique_ptr<EventStore>> opened =
      OpenStoreForWriting(a.store, Durability::kBuffered);
  if (!opened.ok()) return ReportError(ctx, opened.status());
  EventStore& store = **opened;
  const uint64_t stored = store.last_position();
  const absl::Span<const ParsedEvent> all(*events);

  size_t skip = 0;
  if (!all.empty()) {
    const uint64_t first = *all.front().position;
    if (first > stored + 1) {
      return ReportError(ctx, kExitError,
                         StrCat("the export starts at position ", first, " but the store ends at ",
                                stored, "; import positions ", stored + 1, "..", first - 1,
                                " first (annals export --from)"));
    }
    skip = std::min<uint64_t>(all.size(), stored + 1 - first);
  }
  absl::Status status = CheckOverlap(store, all.subspan(0, skip));
  if (status.ok()) status = CheckVersions(store, all.subspan(skip));
  if (status.ok()) status = Write(store, all.subspan(skip));
  if (status.ok()) status = CheckHashes(store, all.subspan(skip));
  if (status.ok() && !a.buffered) status = store.Sync();
  if (!status.ok()) return ReportError(ctx, status);

  Json j;
  j["imported"] = all.size() - skip;
  j["skipped"] = skip;
  j["last_position"] = store.last_position();
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineImportCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* app = root.add_subcommand(
      "import",
      "Replay an export (JSON Lines on stdin) into a store, keeping ids, versions, positions "
      "and timestamps; re-running it adds nothing");
  AddStoreArg(*app, args->store);
  app->add_flag("--buffered", args->buffered,
                "Skip the final fsync: the import survives a process crash, not a power loss "
                "(re-run import to finish). By default batches are written buffered and synced "
                "once at the end, before import reports success");
  commands.Add(app, [args](CliContext& ctx) { return RunImport(ctx, *args); });
}

}  // namespace annals::cli
