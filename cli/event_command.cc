// annals event <store> <id>
//
// Writes the event with that id (wherever it is stored) as one JSON object,
// found through the store's event-id index. Exit 4 when no event has the id.

#include "cli/cli_internal.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

struct EventArgs {
  std::string store;
  std::string id;
};

int RunEvent(CliContext& ctx, const EventArgs& a) {
  absl::StatusOr<Uuid> id = Uuid::Parse(a.id);
  if (!id.ok()) {
    return ReportError(ctx, kExitUsage,
                       StrCat("event id '", a.id, "' is not a UUID: ", id.status().message(),
                              " (give it as printed by read or all, e.g. "
                              "1b4e28ba-2fa1-11d2-883f-0016d3cca427)"));
  }
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<RecordedEvent> event = (*store)->ReadEvent(*id);
  if (!event.ok()) return ReportError(ctx, event.status());
  WriteJson(ctx, RenderEvent(event->View(), ctx.options, RenderMode::kDisplay));
  return FinishOutput(ctx);
}

}  // namespace

void DefineEventCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<EventArgs>();
  CLI::App* app = root.add_subcommand(
      "event", "Write the event with this id (from any stream) as one JSON object");
  AddStoreArg(*app, args->store);
  app->add_option("id", args->id, "Event id (UUID)")->required();
  commands.Add(app, [args](CliContext& ctx) { return RunEvent(ctx, *args); });
}

}  // namespace annals::cli
