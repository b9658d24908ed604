// annals export <store> [--from P]
//
// Writes every event of the global log, in position order, as JSON Lines that
// `annals import` turns back into an identical store (same ids, versions,
// positions, timestamps, payload bytes and therefore the same hash chain).
// A scavenged event is one line of what its stub keeps (docs/cli.md,
// "scavenge"): {"position":P,"stream":S,"version":V,"recorded_at":T,
// "scavenged":true,"reason":R,"hash":H,"previous_hash":H'}. So is an event
// that retention or deletion hides but no scavenge has reached yet: an export
// never carries what readers no longer see, and its chain stays whole.
// Sealed payloads travel as ciphertext (docs/lifecycle.md, keys never do).

#include "cli/cli_internal.h"
#include "codec/internal/stub_codec.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "eventstore/internal/scavenge_policy.h"
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
  // The retention rule readers apply (a hidden event is exported as its
  // stub would be), and the previous record's hash that a stub line carries:
  // the scan starts one position early to know it.
  const std::shared_ptr<const internal::ScavengePolicy> policy =
      internal::StoreAccess::RetentionPolicy(**store);
  std::string previous_hash(32, '\0');
  auto stub_line = [&](uint64_t position, std::string_view stream, uint64_t version,
                       int64_t recorded_at_us, std::string_view reason, std::string_view hash,
                       std::string_view previous) {
    Json j;
    j["position"] = position;
    j["stream"] = stream;
    j["version"] = version;
    j["recorded_at"] = FormatTimestampMicros(recorded_at_us);
    j["scavenged"] = true;
    j["reason"] = reason;
    j["hash"] = HexEncode(hash);
    j["previous_hash"] = HexEncode(previous);
    return WriteJson(ctx, j);
  };
  absl::Status status = internal::StoreAccess::ScanCanonical(
      **store, a.from > 1 ? a.from - 1 : 1,
      [&](const EventView& e, const codec_internal::PayloadEncoding& how) {
        bool more = true;
        const internal::ScavengeCandidate candidate{.stream = e.stream,
                                                    .version = e.version,
                                                    .position = e.position,
                                                    .recorded_at_us = e.recorded_at_us};
        if (e.position < a.from) {
          // Only the previous hash is wanted of this one.
        } else if (policy != nullptr && policy->Unreachable(candidate)) {
          more = stub_line(e.position, e.stream, e.version, e.recorded_at_us,
                           policy->HardDeleted(candidate) ? "deleted" : "retention", e.hash,
                           previous_hash);
        } else if (how.sealed()) {
          more = WriteJson(
              ctx,
              RenderSealedEvent(e, how.cipher, static_cast<uint8_t>(how.compression), ctx.options));
        } else {
          more = WriteJson(ctx, RenderEvent(e, ctx.options, RenderMode::kExport));
        }
        previous_hash.assign(e.hash);
        return more;
      },
      [&](const codec_internal::StubView& stub) {
        bool more = true;
        if (stub.position >= a.from) {
          more = stub_line(stub.position, stub.stream, stub.version, stub.recorded_at_us,
                           codec_internal::ScavengeReasonName(stub.reason), stub.hash,
                           stub.previous_hash);
        }
        previous_hash.assign(stub.hash);
        return more;
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
