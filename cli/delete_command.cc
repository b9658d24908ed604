// annals delete <store> <stream> [--hard]
//
// Soft-deletes a stream (its events disappear from reads and listings; an
// append recreates it, continuing its versions) or, with --hard, leaves a
// tombstone (every later append fails, forever). Prints the stream's
// metadata after the delete as one JSON object (docs/lifecycle.md).

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct DeleteArgs {
  std::string store;
  std::string stream;
  bool hard = false;
};

int RunDelete(CliContext& ctx, const DeleteArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/false);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<StreamMetadataInfo> info = (*store)->DeleteStream(
      a.stream, ExpectedVersion::Any(), a.hard ? DeleteMode::kHard : DeleteMode::kSoft);
  if (!info.ok()) return ReportError(ctx, info.status());
  Json j;
  j["stream"] = a.stream;
  j["deleted"] = a.hard ? "hard" : "soft";
  j["metadata_version"] = info->metadata_version;
  j["truncate_before"] = info->metadata.truncate_before;
  WriteJson(ctx, j);
  return FinishOutput(ctx);
}

}  // namespace

void DefineDeleteCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<DeleteArgs>();
  CLI::App* app = root.add_subcommand(
      "delete", "Delete a stream: soft (an append recreates it) or --hard (a tombstone, forever)");
  AddStoreArg(*app, args->store);
  app->add_option("stream", args->stream, "Stream name")->required();
  app->add_flag("--hard", args->hard,
                "Leave a tombstone: every later append to the stream fails, forever");
  commands.Add(app, [args](CliContext& ctx) { return RunDelete(ctx, *args); });
}

}  // namespace annals::cli
