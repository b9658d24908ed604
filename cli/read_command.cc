// annals read <store> <stream> [--from V] [--to V] [--backward] [--limit N]
//
// Writes a stream's events as JSON Lines, forward (default) or backward.

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct ReadArgs {
  std::string store;
  std::string stream;
  uint64_t from = 0;
  uint64_t to = 0;
  bool backward = false;
  uint64_t limit = 0;
};

int RunRead(CliContext& ctx, const ReadArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  ReadStreamOptions options;
  options.from_version = a.from;
  options.to_version = a.to;
  options.direction = a.backward ? Direction::kBackward : Direction::kForward;
  options.limit = a.limit;
  absl::Status status = (*store)->ScanStream(a.stream, options, [&](const EventView& e) {
    return WriteJson(ctx, RenderEvent(e, ctx.options, RenderMode::kDisplay));
  });
  if (!status.ok()) return ReportError(ctx, status);
  return FinishOutput(ctx);
}

}  // namespace

void DefineReadCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ReadArgs>();
  CLI::App* app = root.add_subcommand("read", "Write a stream's events as JSON Lines");
  AddStoreArg(*app, args->store);
  app->add_option("stream", args->stream, "Stream name")->required();
  AddCount(*app, "--from", args->from,
           "First version to write (default: the first; with --backward: the last)");
  AddCount(*app, "--to", args->to,
           "Last version to write, inclusive (default: the last; with --backward: 1)");
  app->add_flag("--backward", args->backward, "Newest first");
  AddCount(*app, "--limit", args->limit, "Most events to write (default: all)");
  commands.Add(app, [args](CliContext& ctx) { return RunRead(ctx, *args); });
}

}  // namespace annals::cli
