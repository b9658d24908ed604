// annals streams <store> [--prefix P]
//
// Lists streams in name order as JSON Lines {"stream","version","last_position"}.

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct StreamsArgs {
  std::string store;
  std::string prefix;
};

int RunStreams(CliContext& ctx, const StreamsArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::Status status = (*store)->ListStreams(a.prefix, [&](const StreamInfo& info) {
    Json j;
    j["stream"] = info.stream;
    j["version"] = info.version;
    j["last_position"] = info.last_position;
    return WriteJson(ctx, j);
  });
  if (!status.ok()) return ReportError(ctx, status);
  return FinishOutput(ctx);
}

}  // namespace

void DefineStreamsCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<StreamsArgs>();
  CLI::App* app = root.add_subcommand(
      "streams", "List streams (name order) with their last version, as JSON Lines");
  AddStoreArg(*app, args->store);
  app->add_option("--prefix", args->prefix, "Only streams whose name starts with this");
  commands.Add(app, [args](CliContext& ctx) { return RunStreams(ctx, *args); });
}

}  // namespace annals::cli
