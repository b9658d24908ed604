// annals replay <store> <stream> --aggregate NAME [--to-version N | --as-of TIMESTAMP]
//
// Rebuilds an aggregate's state from its stream, up to a version or a point
// in time, with a replay function registered in CliOptions::aggregates.

#include "absl/strings/str_join.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

struct ReplayArgs {
  std::string store;
  std::string stream;
  std::string aggregate;
  uint64_t to_version = 0;
  std::string as_of;
};

std::string KnownAggregates(const CliOptions& options) {
  if (options.aggregates.empty()) {
    return "this annals binary has no aggregates registered (a service registers its own "
           "through annals::RunCli, see docs/cli.md)";
  }
  std::vector<std::string> names;
  for (const CliAggregate& a : options.aggregates) {
    names.push_back(a.description.empty() ? a.name : StrCat(a.name, " (", a.description, ")"));
  }
  return StrCat("known aggregates: ", absl::StrJoin(names, ", "));
}

int RunReplay(CliContext& ctx, const ReplayArgs& a, bool has_to_version, bool has_as_of) {
  const CliAggregate* aggregate = nullptr;
  for (const CliAggregate& candidate : ctx.options.aggregates) {
    if (candidate.name == a.aggregate) aggregate = &candidate;
  }
  if (aggregate == nullptr || !aggregate->replay) {
    return ReportError(
        ctx, kExitUsage,
        StrCat("unknown aggregate '", a.aggregate, "'; ", KnownAggregates(ctx.options)));
  }
  int64_t as_of_us = 0;
  if (has_as_of) {
    absl::StatusOr<int64_t> parsed = ParseTimestampMicros(a.as_of);
    if (!parsed.ok()) {
      return ReportError(ctx, kExitUsage, StrCat("--as-of: ", parsed.status().message()));
    }
    as_of_us = *parsed;
  }
  if (has_to_version && a.to_version == 0) {
    return ReportError(ctx, kExitUsage, "--to-version starts at 1");
  }

  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<StreamInfo> info = (*store)->GetStream(a.stream);
  if (!info.ok()) return ReportError(ctx, info.status());
  if (has_to_version && a.to_version > info->version) {
    return ReportError(ctx, kExitNotFound,
                       StrCat("stream '", a.stream, "' is at version ", info->version,
                              "; --to-version ", a.to_version, " does not exist yet"));
  }

  // Events in version order, up to the version or the first event recorded
  // after --as-of (a stream's timestamps do not decrease: the committer
  // stamps appends in commit order).
  std::vector<RecordedEvent> events;
  ReadStreamOptions read;
  if (has_to_version) read.limit = a.to_version;
  absl::Status status = (*store)->ScanStream(a.stream, read, [&](const EventView& e) {
    if (has_as_of && e.recorded_at_us > as_of_us) return false;
    events.push_back(e.ToOwned());
    return true;
  });
  if (!status.ok()) return ReportError(ctx, status);

  absl::StatusOr<std::string> state = aggregate->replay(events);
  if (!state.ok()) {
    return ReportError(ctx, ExitCodeFor(state.status()),
                       StrCat("replaying '", a.stream, "' as ", a.aggregate,
                              " failed: ", state.status().message()));
  }
  Json state_json = ParseJson(*state);
  if (state_json.is_discarded()) {
    return ReportError(
        ctx, kExitError,
        StrCat("aggregate '", a.aggregate,
               "' returned a state that is not valid JSON; fix its replay function"));
  }
  Json j;
  j["stream"] = a.stream;
  j["aggregate"] = a.aggregate;
  j["version"] = events.empty() ? 0 : events.back().version;
  j["state"] = std::move(state_json);
  if (!events.empty()) {
    j["position"] = events.back().position;
    j["recorded_at"] = FormatTimestampMicros(events.back().recorded_at_us);
  }
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineReplayCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* app = root.add_subcommand(
      "replay", "Rebuild an aggregate's state from its stream, as of a version or a time, as JSON");
  AddStoreArg(*app, args->store);
  app->add_option("stream", args->stream, "Stream name")->required();
  app->add_option("--aggregate", args->aggregate,
                  "Aggregate that replays the stream (an unknown name lists the known ones)")
      ->required();
  CLI::Option* to_version =
      AddCount(*app, "--to-version", args->to_version, "Replay versions 1..N only");
  CLI::Option* as_of = app->add_option(
      "--as-of", args->as_of,
      "Replay the events recorded at or before this RFC 3339 time, e.g. 2026-11-23T10:00:00Z");
  to_version->excludes(as_of);
  commands.Add(app, [args, to_version, as_of](CliContext& ctx) {
    return RunReplay(ctx, *args, to_version->count() > 0, as_of->count() > 0);
  });
}

}  // namespace annals::cli
