// annals scavenge <store>
//
// Runs EventStore::Scavenge() on a writable open: every event that retention
// or deletion made unreachable, and every event log compaction by key
// superseded, becomes a stub (docs/lifecycle.md, "Scavenging").
// -> {"scavenged":N,"bytes_before":B,"bytes_after":A}

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct ScavengeArgs {
  std::string store;
};

int RunScavenge(CliContext& ctx, const ScavengeArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/false);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<ScavengeReport> report = (*store)->Scavenge();
  if (!report.ok()) return ReportError(ctx, report.status());
  Json j;
  j["scavenged"] = report->scavenged;
  j["bytes_before"] = report->bytes_before;
  j["bytes_after"] = report->bytes_after;
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineScavengeCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ScavengeArgs>();
  CLI::App* app = root.add_subcommand(
      "scavenge",
      "Turn the events retention, deletion or compaction by key made unreachable into stubs "
      "and reclaim their space now (opens the store for writing)");
  AddStoreArg(*app, args->store);
  commands.Add(app, [args](CliContext& ctx) { return RunScavenge(ctx, *args); });
}

}  // namespace annals::cli
