// annals export <store> [--from P]
//
// Writes every event of the global log, in position order, as JSON Lines that
// `annals import` turns back into an identical store (same ids, versions,
// positions, timestamps, payload bytes and therefore the same hash chain).
// A scavenged event is one line of what its stub keeps (docs/cli.md,
// "scavenge"): {"position":P,"stream":S,"version":V,"recorded_at":T,
// "scavenged":true,"reason":R,"hash":H,"previous_hash":H'}.

#include "cli/cli_internal.h"
#include "codec/internal/stub_codec.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "common/strings.h"
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
  absl::Status status = internal::StoreAccess::ScanLog(
      **store, a.from,
      [&](const EventView& e) {
        return WriteJson(ctx, RenderEvent(e, ctx.options, RenderMode::kExport));
      },
      [&](const codec_internal::StubView& stub) {
        Json j;
        j["position"] = stub.position;
        j["stream"] = stub.stream;
        j["version"] = stub.version;
        j["recorded_at"] = FormatTimestampMicros(stub.recorded_at_us);
        j["scavenged"] = true;
        j["reason"] = codec_internal::ScavengeReasonName(stub.reason);
        j["hash"] = HexEncode(stub.hash);
        j["previous_hash"] = HexEncode(stub.previous_hash);
        return WriteJson(ctx, j);
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
