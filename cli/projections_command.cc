// annals projections <store>
// annals projection rebuild <store> <name>
// annals projection parked <store> <name>
// annals projection replay-parked <store> <name> [--position P]
//
// Status of every projection that has state in the store (read-only: works
// while a service runs them), and operations on the projections compiled into
// this binary (CliOptions::projections): rebuild from position 1, list and
// replay dead letters. The operations open the store for writing, so the
// service that runs the projection must be stopped first.

#include <set>

#include "absl/time/clock.h"
#include "annals/projection.h"
#include "cli/cli_internal.h"
#include "common/clock.h"

namespace annals::cli {
namespace {

struct ProjectionArgs {
  std::string store;
  std::string name;
  uint64_t position = 0;
};

Json StatusJson(const ProjectionStatus& st, bool compiled) {
  Json j;
  j["name"] = st.name;
  j["position"] = st.position;
  j["lag"] = st.lag;
  j["state"] = std::string(ProjectionStateName(st.state));
  j["mode"] = std::string(ProjectionModeName(st.mode));
  j["last_position"] = st.last_position;
  j["generation"] = st.generation;
  j["parked"] = st.parked;
  if (!st.error.empty()) j["error"] = st.error;
  if (st.heartbeat_us != 0) j["heartbeat_at"] = FormatTimestampMicros(st.heartbeat_us);
  if (st.advanced_at_us != 0) j["advanced_at"] = FormatTimestampMicros(st.advanced_at_us);
  j["compiled_in"] = compiled;
  return j;
}

int RunList(CliContext& ctx, const ProjectionArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<std::vector<std::string>> stored = ListProjections(**store);
  if (!stored.ok()) return ReportError(ctx, stored.status());
  std::set<std::string> compiled;
  for (const auto& p : ctx.options.projections) compiled.emplace(p->name());
  std::set<std::string> names(stored->begin(), stored->end());
  names.insert(compiled.begin(), compiled.end());
  for (const std::string& name : names) {
    absl::StatusOr<ProjectionStatus> st = ReadProjectionStatus(**store, name);
    if (absl::IsNotFound(st.status())) {
      // Compiled in, never run on this store: everything is still to do.
      ProjectionStatus never;
      never.name = name;
      never.last_position = (*store)->last_position();
      never.lag = never.last_position;
      st = never;
    }
    if (!st.ok()) return ReportError(ctx, st.status());
    if (!WriteJson(ctx, StatusJson(*st, compiled.count(name) > 0))) break;
  }
  return FinishOutput(ctx);
}

// The compiled-in projection called `name`, or a usage error naming them.
std::shared_ptr<Projection> Find(CliContext& ctx, const std::string& name, int* code) {
  std::string known;
  for (const auto& p : ctx.options.projections) {
    if (p->name() == name) return p;
    known += (known.empty() ? "" : ", ") + std::string(p->name());
  }
  *code = ReportError(ctx, kExitUsage,
                      "unknown projection '" + name + "'; this binary knows: " +
                          (known.empty() ? "none (set CliOptions::projections)" : known));
  return nullptr;
}

int RunRebuild(CliContext& ctx, const ProjectionArgs& a) {
  int code = kExitOk;
  std::shared_ptr<Projection> projection = Find(ctx, a.name, &code);
  if (projection == nullptr) return code;
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/false);
  if (!store.ok()) return ReportError(ctx, store.status());
  const absl::Time start = absl::Now();
  if (absl::Status s = RebuildProjection(**store, *projection); !s.ok()) {
    return ReportError(ctx, s);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  absl::StatusOr<ProjectionStatus> st = ReadProjectionStatus(**store, a.name);
  if (!st.ok()) return ReportError(ctx, st.status());
  Json j;
  j["name"] = a.name;
  j["rebuilt"] = true;
  j["position"] = st->position;
  j["generation"] = st->generation;
  j["parked"] = st->parked;
  j["seconds"] = seconds;
  j["events_per_second"] = seconds > 0 ? static_cast<double>(st->position) / seconds : 0.0;
  WriteJson(ctx, j);
  return kExitOk;
}

int RunParked(CliContext& ctx, const ProjectionArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<std::vector<ParkedEvent>> parked = ListParkedEvents(**store, a.name);
  if (!parked.ok()) return ReportError(ctx, parked.status());
  for (const ParkedEvent& p : *parked) {
    Json j;
    j["position"] = p.position;
    j["stream"] = p.stream;
    j["version"] = p.version;
    j["type"] = p.type;
    j["attempts"] = p.attempts;
    j["error"] = p.error;
    j["parked_at"] = FormatTimestampMicros(p.parked_at_us);
    if (!WriteJson(ctx, j)) break;
  }
  return FinishOutput(ctx);
}

int RunReplayParked(CliContext& ctx, const ProjectionArgs& a) {
  int code = kExitOk;
  std::shared_ptr<Projection> projection = Find(ctx, a.name, &code);
  if (projection == nullptr) return code;
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/false);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<std::vector<ParkedEvent>> before = ListParkedEvents(**store, a.name);
  if (!before.ok()) return ReportError(ctx, before.status());
  absl::Status s = ReplayParkedEvents(**store, *projection, a.position);
  absl::StatusOr<std::vector<ParkedEvent>> after = ListParkedEvents(**store, a.name);
  if (!after.ok()) return ReportError(ctx, after.status());
  if (!s.ok()) return ReportError(ctx, s);
  Json j;
  j["name"] = a.name;
  j["replayed"] = before->size() - after->size();
  j["remaining"] = after->size();
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineProjectionsCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ProjectionArgs>();
  CLI::App* list = root.add_subcommand(
      "projections",
      "Write the status of every projection (position, lag, state, errors) as JSON Lines");
  AddStoreArg(*list, args->store);
  commands.Add(list, [args](CliContext& ctx) { return RunList(ctx, *args); });

  CLI::App* projection = root.add_subcommand(
      "projection", "Operate on a projection compiled into this binary: rebuild, dead letters");
  projection->require_subcommand(1);

  CLI::App* rebuild = projection->add_subcommand(
      "rebuild", "Wipe a projection's read model and replay the log from position 1");
  AddStoreArg(*rebuild, args->store);
  rebuild->add_option("name", args->name, "Projection name")->required();
  commands.Add(rebuild, [args](CliContext& ctx) { return RunRebuild(ctx, *args); });

  CLI::App* parked = projection->add_subcommand(
      "parked", "List a projection's parked (dead-letter) events as JSON Lines");
  AddStoreArg(*parked, args->store);
  parked->add_option("name", args->name, "Projection name")->required();
  commands.Add(parked, [args](CliContext& ctx) { return RunParked(ctx, *args); });

  CLI::App* replay = projection->add_subcommand(
      "replay-parked", "Apply parked events again; each one that succeeds leaves the list");
  AddStoreArg(*replay, args->store);
  replay->add_option("name", args->name, "Projection name")->required();
  AddCount(*replay, "--position", args->position, "Only the event at this position (default: all)");
  commands.Add(replay, [args](CliContext& ctx) { return RunReplayParked(ctx, *args); });
}

}  // namespace annals::cli
