// annals all <store> [--from P] [--to P] [--backward] [--limit N] [--type T]...
//                    [--prefix P]
//
// Writes the global log (every stream, in position order, or newest first
// with --backward) as JSON Lines.

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct AllArgs {
  std::string store;
  bool backward = false;
  ReadAllOptions read;
};

int RunAll(CliContext& ctx, const AllArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  ReadAllOptions options = a.read;
  options.direction = a.backward ? Direction::kBackward : Direction::kForward;
  absl::Status status = (*store)->ScanAll(options, [&](const EventView& e) {
    return WriteJson(ctx, RenderEvent(e, ctx.options, RenderMode::kDisplay));
  });
  if (!status.ok()) return ReportError(ctx, status);
  return FinishOutput(ctx);
}

}  // namespace

void DefineAllCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<AllArgs>();
  CLI::App* app = root.add_subcommand(
      "all", "Write the global log (all streams, in position order) as JSON Lines");
  AddStoreArg(*app, args->store);
  AddCount(*app, "--from", args->read.from_position,
           "First position (default: 1; with --backward: the last)");
  AddCount(*app, "--to", args->read.to_position,
           "Last position, inclusive (default: the end; with --backward: 1)");
  app->add_flag("--backward", args->backward, "Newest first");
  AddCount(*app, "--limit", args->read.limit,
           "Most events to write, after filtering (default: all)");
  app->add_option("--type", args->read.event_types,
                  "Only events of this type (repeatable: any of the types)")
      ->allow_extra_args(false);
  app->add_option("--prefix", args->read.stream_prefix,
                  "Only events of streams whose name starts with this");
  commands.Add(app, [args](CliContext& ctx) { return RunAll(ctx, *args); });
}

}  // namespace annals::cli
