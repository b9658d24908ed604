// annals export <store> [--from P]
//
// Writes every event of the global log, in position order, as JSON Lines that
// `annals import` turns back into an identical store (same ids, versions,
// positions, timestamps, payload bytes and therefore the same hash chain).

#include "cli/cli_internal.h"
#include "eventstore/internal/store_access.h"

namespace annals::cli {
namespace {

struct ExportArgs {
  std::string store;
  uint64_t from = 1;
};

int RunExport(CliContext& ctx, const ExportArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  // The canonical view: what the hash covers. A sealed payload travels as
  // its ciphertext with both markers, so the export needs no key, carries
  // none, and an import reproduces every hash (docs/lifecycle.md).
  absl::Status status = internal::StoreAccess::ScanCanonical(
      **store, a.from, [&](const EventView& e, const codec_internal::PayloadEncoding& how) {
        if (how.sealed()) {
          return WriteJson(
              ctx,
              RenderSealedEvent(e, how.cipher, static_cast<uint8_t>(how.compression), ctx.options));
        }
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
