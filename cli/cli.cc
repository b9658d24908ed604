// RunCli(): parses the command line with CLI11 and runs the chosen
// subcommand. This file holds the one list of subcommands.

#include <csignal>
#include <exception>
#include <iostream>
#include <string>

#include "annals/version.h"
#include "cli/cli_internal.h"

namespace annals {
namespace cli {

// The subcommands, in the order `annals --help` lists them. To add one, write
// cli/<name>_command.cc defining
//   void Define<Name>Command(CLI::App& root, CommandSet& commands);
// (see cli/cli_internal.h), add it to cli/CMakeLists.txt, and add X(<Name>)
// here.
#define ANNALS_CLI_SUBCOMMANDS(X) \
  X(Append)                       \
  X(Read)                         \
  X(All)                          \
  X(Event)                        \
  X(Streams)                      \
  X(StreamMeta)                   \
  X(Delete)                       \
  X(Verify)                       \
  X(Export)                       \
  X(Import)                       \
  X(Replay)                       \
  X(Stats)                        \
  X(Scavenge)                     \
  X(Forget)                       \
  X(Projections)

#define ANNALS_CLI_DECLARE(name) void Define##name##Command(CLI::App& root, CommandSet& commands);
ANNALS_CLI_SUBCOMMANDS(ANNALS_CLI_DECLARE)
#undef ANNALS_CLI_DECLARE

namespace {

// The deepest subcommand that was parsed.
const CLI::App* Selected(CLI::App& app) {
  CLI::App* current = &app;
  for (;;) {
    std::vector<CLI::App*> subs = current->get_subcommands();
    if (subs.empty()) return current;
    current = subs.front();
  }
}

int Run(int argc, char** argv, CliContext& ctx) {
  CLI::App app(
      "annals: read, verify, replay, export and import annals event stores.\n"
      "Output is JSON (JSON Lines for listings). Exit codes: 0 ok, 1 error, 2 usage, "
      "3 wrong expected version, 4 not found, 5 corruption.",
      "annals");
  app.require_subcommand(1);
  // The version of the library this binary was built with (project() in
  // CMakeLists.txt), for every binary built on RunCli().
  app.set_version_flag("--version", std::string("annals ") + kVersion);
  // Root flags are accepted after the subcommand too (inherited setting).
  app.fallthrough();
  app.add_flag("--pretty", ctx.pretty, "Indented JSON for people (default: compact JSON Lines)");
  CommandSet commands;
#define ANNALS_CLI_DEFINE(name) Define##name##Command(app, commands);
  ANNALS_CLI_SUBCOMMANDS(ANNALS_CLI_DEFINE)
#undef ANNALS_CLI_DEFINE

  if (argc >= 2 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || sub->check_name(argv[1]);
      known += (known.empty() ? "" : ", ") + sub->get_name();
    }
    if (!found) {
      return ReportError(ctx, kExitUsage,
                         std::string("unknown subcommand '") + argv[1] + "'; known: " + known);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::ParseError& e) {
    const CLI::App* where = Selected(app);
    std::string help = where == &app ? "annals --help" : "annals " + where->get_name() + " --help";
    return ReportError(ctx, kExitUsage, std::string(e.what()) + "; see '" + help + "' for usage");
  }
  const CLI::App* selected = Selected(app);
  const CommandRunner* run = commands.Find(selected);
  if (run == nullptr) {
    return ReportError(ctx, kExitUsage,
                       "'" + selected->get_name() + "' needs a subcommand; see its --help");
  }
  return (*run)(ctx);
}

}  // namespace
}  // namespace cli

int RunCli(int argc, char** argv, const CliOptions& options, std::istream& in, std::ostream& out,
           std::ostream& err) {
  cli::CliContext ctx{options, in, out, err};
  int code;
  try {
    code = cli::Run(argc, argv, ctx);
  } catch (const std::exception& e) {
    code = cli::ReportError(ctx, cli::kExitError, std::string("internal error: ") + e.what());
  }
  out.flush();
  err.flush();
  return code;
}

int RunCli(int argc, char** argv, const CliOptions& options) {
  // stdout carries JSON Lines that may be large (export): no C stdio sync.
  std::ios::sync_with_stdio(false);
  // A reader that stops early (`annals export | head`) makes writes fail
  // instead of killing the process, so that the store closes cleanly (a
  // read-only open leaves a scratch directory behind otherwise).
  std::signal(SIGPIPE, SIG_IGN);
  return RunCli(argc, argv, options, std::cin, std::cout, std::cerr);
}

}  // namespace annals
