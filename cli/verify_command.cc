// annals verify <store>
//
// Runs EventStore::Verify(): {"ok":true,...} and exit 0 when the store is
// intact; {"ok":false,"first_bad_position":P,"reason":...} and exit 5 on
// damage, including a store too damaged to open.

#include "absl/strings/match.h"
#include "cli/cli_internal.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

struct VerifyArgs {
  std::string store;
};

int ReportDamage(CliContext& ctx, const std::string& path, uint64_t first_bad_position,
                 std::string_view reason) {
  Json j;
  j["ok"] = false;
  j["first_bad_position"] = first_bad_position;
  j["reason"] = reason;
  WriteJson(ctx, j);
  // Damage found while opening already reads "store '<path>' is damaged: ...".
  if (absl::StartsWith(Sv(reason), StrCat("store '", path, "' is damaged"))) {
    return ReportError(ctx, kExitCorruption, reason);
  }
  return ReportError(
      ctx, kExitCorruption,
      StrCat("store '", path, "' is damaged",
             first_bad_position > 0 ? StrCat(" at position ", first_bad_position) : std::string(),
             ": ", reason, "; restore it from a backup or an export"));
}

int RunVerify(CliContext& ctx, const VerifyArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) {
    if (store.status().code() == absl::StatusCode::kDataLoss) {
      return ReportDamage(ctx, a.store, 0, StdSv(store.status().message()));
    }
    return ReportError(ctx, store.status());
  }
  absl::StatusOr<VerifyReport> report = (*store)->Verify();
  if (!report.ok()) {
    if (report.status().code() == absl::StatusCode::kDataLoss) {
      return ReportDamage(ctx, a.store, 0, StdSv(report.status().message()));
    }
    return ReportError(ctx, report.status());
  }
  if (!report->ok) return ReportDamage(ctx, a.store, report->first_bad_position, report->reason);
  Json j;
  j["ok"] = true;
  j["events"] = report->events;
  j["streams"] = report->streams;
  j["last_position"] = report->last_position;
  j["last_hash"] = report->last_hash;
  j["scavenged"] = report->scavenged;
  j["erased"] = report->erased;
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineVerifyCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* app = root.add_subcommand(
      "verify",
      "Check every checksum, the SHA-256 hash chain, gap-free positions and the stream index; "
      "exit 5 and name the first bad position on damage");
  AddStoreArg(*app, args->store);
  commands.Add(app, [args](CliContext& ctx) { return RunVerify(ctx, *args); });
}

}  // namespace annals::cli
