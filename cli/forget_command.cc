// annals forget <store> <subject>
//
// Crypto-shredding (EventStore::ForgetSubject, docs/lifecycle.md): destroys
// the data keys of one subject, so its events read as erased from now on.
// The store's master key comes from the file ANNALS_MASTER_KEY_FILE names
// (never from the command line, which every user sees in ps). Prints
// {"forgotten":"<subject>"}.

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct ForgetArgs {
  std::string store;
  std::string subject;
};

int RunForget(CliContext& ctx, const ForgetArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/false);
  if (!store.ok()) return ReportError(ctx, store.status());
  if (absl::Status s = (*store)->ForgetSubject(a.subject); !s.ok()) return ReportError(ctx, s);
  Json j;
  j["forgotten"] = a.subject;
  WriteJson(ctx, j);
  return FinishOutput(ctx);
}

}  // namespace

void DefineForgetCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<ForgetArgs>();
  CLI::App* app = root.add_subcommand(
      "forget",
      "Crypto-shred a data subject: destroy its keys so its events read as erased "
      "(needs ANNALS_MASTER_KEY_FILE)");
  AddStoreArg(*app, args->store);
  app->add_option("subject", args->subject, "The data subject (NewEvent::subject)")->required();
  commands.Add(app, [args](CliContext& ctx) { return RunForget(ctx, *args); });
}

}  // namespace annals::cli
