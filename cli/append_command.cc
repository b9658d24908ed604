// annals append <store> <stream> [--expect E] [--type T --data JSON | --data-file F]
//
// Appends one event given by flags, or every JSON Lines event on stdin, in one
// atomic append (all or nothing) with Durability::kSync.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "absl/strings/numbers.h"
#include "annals/errors.h"
#include "cli/cli_internal.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

namespace fs = std::filesystem;

struct AppendArgs {
  std::string store;
  std::string stream;
  std::string expect = "any";
  std::string type;
  std::string data;
  std::string data_file;
  std::string id;
  uint32_t schema_version = 1;
  std::string correlation_id;
  std::string causation_id;
  std::vector<std::string> metadata;  // key=value
};

// The largest version a stream can have: the store refuses larger expected
// versions (eventstore/event_store_append.cc), so the command line refuses
// them as the usage errors they are, like every other bad --expect.
constexpr uint64_t kMaxVersion = uint64_t{1} << 62;

absl::StatusOr<ExpectedVersion> ParseExpect(const std::string& text) {
  if (text == "any") return ExpectedVersion::Any();
  if (text == "no-stream") return ExpectedVersion::NoStream();
  if (text == "exists") return ExpectedVersion::StreamExists();
  uint64_t n = 0;
  if (!text.empty() && text[0] != '-' && text[0] != '+' && absl::SimpleAtoi(text, &n)) {
    if (n > kMaxVersion) {
      return absl::InvalidArgumentError(StrCat(
          "--expect ", text, " is larger than any stream version can be (", kMaxVersion, ")"));
    }
    return ExpectedVersion::Exact(n);
  }
  return absl::InvalidArgumentError(
      StrCat("--expect '", text, "' is not any, no-stream, exists or a version number"));
}

std::string ExpectHint(const WrongExpectedVersion& w) {
  return w.actual == 0 ? "no-stream" : StrCat(w.actual);
}

// Builds the single event of the flag form; returns a usage error message.
absl::StatusOr<ParsedEvent> FlagEvent(const AppendArgs& a) {
  std::string text = a.data;
  if (!a.data_file.empty()) {
    std::ifstream file(a.data_file, std::ios::binary);
    if (!file) {
      return absl::NotFoundError(
          StrCat("cannot read --data-file '", a.data_file, "'; check the path"));
    }
    text.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  }
  Json data = ParseJson(text);
  if (data.is_discarded()) {
    return absl::InvalidArgumentError(StrCat(
        a.data_file.empty() ? "--data" : "--data-file", " is not valid JSON (or nests deeper than ",
        kMaxJsonDepth, " levels); give a JSON value, e.g. '{\"qty\":2}'"));
  }
  Json event = Json::object();
  event["type"] = a.type;
  event["data"] = std::move(data);
  if (!a.id.empty()) event["id"] = a.id;
  event["schema_version"] = a.schema_version;
  if (!a.correlation_id.empty()) event["correlation_id"] = a.correlation_id;
  if (!a.causation_id.empty()) event["causation_id"] = a.causation_id;
  if (!a.metadata.empty()) {
    Json m = Json::object();
    for (const std::string& kv : a.metadata) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return absl::InvalidArgumentError(StrCat("--meta '", kv, "' is not key=value"));
      }
      m[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    event["metadata"] = std::move(m);
  }
  return ParseEvent(event);
}

// Parses JSON Lines from `in`; blank lines are skipped.
absl::StatusOr<std::vector<ParsedEvent>> StdinEvents(std::istream& in) {
  std::vector<ParsedEvent> events;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Json object = ParseJson(line);
    if (object.is_discarded()) {
      return absl::InvalidArgumentError(
          StrCat("stdin line ", n, " is not valid JSON (or nests deeper than ", kMaxJsonDepth,
                 " levels); give one event object per line"));
    }
    absl::StatusOr<ParsedEvent> e = ParseEvent(object);
    if (!e.ok()) {
      return absl::InvalidArgumentError(StrCat("stdin line ", n, ": ", e.status().message()));
    }
    events.push_back(std::move(*e));
  }
  if (in.bad()) return absl::DataLossError("reading stdin failed");
  return events;
}

absl::StatusOr<AppendResult> AppendToStore(const std::string& path, std::string_view stream,
                                           ExpectedVersion expected,
                                           const std::vector<NewEvent>& events) {
  ASSIGN_OR_RETURN(std::unique_ptr<EventStore> store, OpenStoreForWriting(path, Durability::kSync));
  return store->Append(stream, expected, events);
}

// True when nothing is at `path` yet (missing, or an empty directory): then
// the append creates the store. Anything else, including a path that cannot
// be inspected, goes to EventStore::Open, which names the problem.
bool IsNewStorePath(const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(path, ec);
  if (st.type() == fs::file_type::not_found) return true;
  if (ec || st.type() != fs::file_type::directory) return false;
  const bool empty = fs::is_empty(path, ec);
  return !ec && empty;
}

// An error of the file system, named like the store's own (disk full,
// read-only file system, permission denied).
absl::Status FileSystemError(std::string_view what, const std::string& path, int error) {
  const std::string message = StrCat(what, " '", path, "': ", strerror(error));
  switch (error) {
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(
          StrCat("disk full: ", message, "; free space on the file system, then retry"));
    case EROFS:
      return absl::PermissionDeniedError(
          StrCat("read-only file system: ", message, "; remount it read-write"));
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(StrCat(
          "permission denied: ", message, "; run as a user who may write the store's directory"));
    default:
      return absl::InternalError(message);
  }
}

absl::Status SyncDirectory(const fs::path& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FileSystemError("cannot open directory", dir.string(), errno);
  const int rc = fsync(fd);
  const int e = errno;
  close(fd);
  if (rc != 0) return FileSystemError("cannot sync directory", dir.string(), e);
  return absl::OkStatus();
}

// Creates the store at `path` (missing or an empty directory) holding exactly
// this append, or leaves nothing behind: the store is built and appended to
// under a scratch sibling "<path>.appending-<pid>-<random>" that only this
// process knows, and renamed into place once the append is durable in it (a
// store may be renamed: RocksDB keeps no absolute paths). A failed append,
// a wrong expected version or a full disk removes the scratch store (and
// the parent directory when this command created it), and so does an empty
// append, which writes nothing. A crash can leave a scratch directory, never
// a half-made or empty store at `path`.
// Sets *store_appeared (and returns kAlreadyExists) when another process
// created a store at `path` first; nothing of this append is visible then.
absl::StatusOr<AppendResult> AppendToNewStore(const std::string& path, std::string_view stream,
                                              ExpectedVersion expected,
                                              const std::vector<NewEvent>& events,
                                              bool* store_appeared) {
  std::error_code ec;
  fs::path target = fs::absolute(path, ec).lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  const fs::path parent = target.parent_path();
  bool made_parent = false;
  if (mkdir(parent.c_str(), 0755) == 0) {
    made_parent = true;
  } else if (errno != EEXIST) {
    return FileSystemError("cannot create directory", parent.string(), errno);
  }
  const std::string random = Uuid::V7().ToString();
  const fs::path scratch =
      StrCat(target.string(), ".appending-", getpid(), "-", random.substr(random.size() - 12));
  const auto remove_ours = [&] {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    if (made_parent) fs::remove(parent, ignored);  // Only while empty.
  };
  // Made here rather than by EventStore::Open (which creates stores in empty
  // directories) so that a full or read-only file system is named as such.
  if (mkdir(scratch.c_str(), 0755) != 0) {
    const int e = errno;
    remove_ours();
    return FileSystemError("cannot create the store", target.string(), e);
  }

  absl::StatusOr<AppendResult> result = AppendToStore(scratch.string(), stream, expected, events);
  // An empty append writes nothing, so no store appears: the scratch store
  // only let the library check the stream name and the expected version.
  if (!result.ok() || events.empty()) {
    remove_ours();
    return result;
  }
  // The store is closed, its WAL synced. rename(2) replaces an empty
  // directory and fails when another process put a store at `path`.
  if (rename(scratch.c_str(), target.c_str()) != 0) {
    const int e = errno;
    remove_ours();
    if (e == EEXIST || e == ENOTEMPTY) {
      *store_appeared = true;
      return absl::AlreadyExistsError(
          StrCat("another process created the store '", path, "' first"));
    }
    return FileSystemError("cannot move the new store into place at", target.string(), e);
  }
  // The events are durable in the store's files; the rename (and a parent
  // created here) must be too before the append is acknowledged.
  absl::Status synced = SyncDirectory(parent);
  if (synced.ok() && made_parent) synced = SyncDirectory(parent.parent_path());
  if (!synced.ok()) {
    return absl::UnknownError(StrCat("append outcome unknown: the new store '", path,
                                     "' holds the events, but ", synced.message(),
                                     "; a power loss could undo its creation"));
  }
  return result;
}

int RunAppend(CliContext& ctx, const AppendArgs& a, bool flag_form) {
  absl::StatusOr<ExpectedVersion> expected = ParseExpect(a.expect);
  if (!expected.ok()) return ReportError(ctx, kExitUsage, StdSv(expected.status().message()));

  std::vector<ParsedEvent> events;
  if (flag_form) {
    if (a.type.empty()) {
      return ReportError(ctx, kExitUsage, "--data and --data-file need --type T");
    }
    absl::StatusOr<ParsedEvent> e = FlagEvent(a);
    if (!e.ok()) {
      return ReportError(
          ctx, e.status().code() == absl::StatusCode::kInvalidArgument ? kExitUsage : kExitError,
          StdSv(e.status().message()));
    }
    events.push_back(std::move(*e));
  } else {
    if (!a.type.empty()) {
      return ReportError(ctx, kExitUsage,
                         "--type needs --data JSON or --data-file F (or give JSON Lines on stdin "
                         "without --type)");
    }
    absl::StatusOr<std::vector<ParsedEvent>> parsed = StdinEvents(ctx.in);
    if (!parsed.ok()) return ReportError(ctx, kExitError, StdSv(parsed.status().message()));
    // No events on stdin is an empty append: it checks --expect and prints
    // the stream's current state, writing nothing (EventStore::Append).
    events = std::move(*parsed);
  }
  for (const ParsedEvent& e : events) {
    if (!e.stream.empty() && e.stream != a.stream) {
      return ReportError(ctx, kExitError,
                         StrCat("an event on stdin names stream '", e.stream,
                                "' but the command "
                                "appends to '",
                                a.stream, "'; append one stream per command"));
    }
  }

  std::vector<NewEvent> views;
  views.reserve(events.size());
  for (const ParsedEvent& e : events) views.push_back(e.View(/*keep_recorded_at=*/false));
  // A store this command creates exists only once the append is in it.
  bool store_appeared = false;
  absl::StatusOr<AppendResult> result =
      IsNewStorePath(a.store)
          ? AppendToNewStore(a.store, a.stream, *expected, views, &store_appeared)
          : AppendToStore(a.store, a.stream, *expected, views);
  // Another process created the store meanwhile: append to that one.
  if (store_appeared) result = AppendToStore(a.store, a.stream, *expected, views);
  if (!result.ok()) {
    if (std::optional<WrongExpectedVersion> w = GetWrongExpectedVersion(result.status())) {
      return ReportError(ctx, kExitConflict,
                         StrCat("wrong expected version for stream '", w->stream, "': expected ",
                                w->expected.ToString(), ", actual ", w->actual,
                                "; nothing was appended. Read the stream and retry with --expect ",
                                ExpectHint(*w)));
    }
    return ReportError(ctx, result.status());
  }
  Json out;
  out["stream"] = a.stream;
  out["first_version"] = result->first_version;
  out["last_version"] = result->last_version;
  out["first_position"] = result->first_position;
  out["last_position"] = result->last_position;
  if (result->idempotent_replay) out["idempotent_replay"] = true;
  WriteJson(ctx, out);
  return kExitOk;
}

}  // namespace

void DefineAppendCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<AppendArgs>();
  CLI::App* app = root.add_subcommand(
      "append",
      "Append one event (--type/--data) or JSON Lines from stdin to a stream, atomically; "
      "creates the store when missing");
  AddStoreArg(*app, args->store);
  app->add_option("stream", args->stream, "Stream name")->required();
  app->add_option("--expect", args->expect,
                  "Expected version: any (default), no-stream, exists, or N (the stream's "
                  "current last version; 0 = no-stream)");
  app->add_option("--type", args->type, "Event type (with --data or --data-file)");
  CLI::Option* data = app->add_option("--data", args->data, "Event data as JSON text");
  CLI::Option* file =
      app->add_option("--data-file", args->data_file, "File holding the event data as JSON");
  data->excludes(file);
  app->add_option("--id", args->id, "Event id (UUID) for an idempotent retry; default: new UUIDv7");
  app->add_option("--schema-version", args->schema_version, "Schema version of the data")
      ->check(CLI::Range(1u, 0xffffffffu));
  app->add_option("--correlation-id", args->correlation_id, "Correlation id");
  app->add_option("--causation-id", args->causation_id, "Causation id");
  app->add_option("--meta", args->metadata, "Metadata entry key=value (repeatable)");
  commands.Add(app, [args, data, file](CliContext& ctx) {
    return RunAppend(ctx, *args, data->count() > 0 || file->count() > 0);
  });
}

}  // namespace annals::cli
