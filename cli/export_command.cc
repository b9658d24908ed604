// annals export <store> [--from P]
//
// Writes every event of the global log, in position order, as JSON Lines that
// `annals import` turns back into an identical store (same ids, versions,
// positions, timestamps, payload bytes and therefore the same hash chain).

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct ExportArgs {
  std::string store;
  uint64_t from = 1;
};

int RunExport(CliContext& ctx, const ExportArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  ReadAllOptions options;
  options.from_position = a.from;
  absl::Status status = (*store)->ScanAll(options, [&](const EventView& e) {
    return WriteJson(ctx, RenderEvent(e, ctx.options, RenderMode::kExport));
  });
  if (!status.ok()) return ReportError(ctx, status);
  return FinishOutput(ctx);
}

}  // namespace

void DefineExportCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* app = root.add_subcommand(
      "export", "Write every event in position order as JSON Lines, for annals import");
  AddStoreArg(*app, args->store);
  AddCount(*app, "--from", args->from,
           "First position (default 1); import needs the store to hold 1..P-1 already");
  commands.Add(app, [args](CliContext& ctx) { return RunExport(ctx, *args); });
}

}  // namespace annals::cli
