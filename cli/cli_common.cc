// Shared pieces of the command line: exit codes, one-line errors, opening a
// store, JSON lines.

#include <algorithm>
#include <ostream>

#include "cli/cli_internal.h"
#include "common/strings.h"

namespace annals::cli {

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kAborted:
      return kExitConflict;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kDataLoss:
      return kExitCorruption;
    default:
      return kExitError;
  }
}

int ReportError(CliContext& ctx, int code, std::string_view message) {
  std::string line(message);
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  ctx.err << "annals: " << line << '\n';
  ctx.err.flush();
  return code;
}

int ReportError(CliContext& ctx, const absl::Status& status) {
  std::string message(StdSv(status.message()));
  if (status.code() == absl::StatusCode::kDataLoss &&
      message.find("verify") == std::string::npos) {
    message += "; the store is damaged: run 'annals verify' for the first bad position";
  }
  return ReportError(ctx, ExitCodeFor(status), message);
}

absl::StatusOr<std::unique_ptr<EventStore>> OpenStore(const std::string& path, bool read_only) {
  Options options;
  // Only append and import create stores (shared/cli-contract.md); they use
  // OpenStoreForWriting().
  options.read_only = read_only;
  options.create_if_missing = false;
  // A command line runs briefly: a small cache is enough and starts faster.
  options.block_cache_bytes = 16u << 20;
  return EventStore::Open(path, options);
}

absl::StatusOr<std::unique_ptr<EventStore>> OpenStoreForWriting(const std::string& path,
                                                                Durability durability) {
  Options options;
  options.create_if_missing = true;
  options.durability = durability;
  // A command line runs briefly: a small cache is enough and starts faster.
  options.block_cache_bytes = 16u << 20;
  return EventStore::Open(path, options);
}

bool WriteJson(CliContext& ctx, const Json& value) {
  ctx.out << value.dump(ctx.pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace) << '\n';
  return static_cast<bool>(ctx.out);
}

int FinishOutput(CliContext& ctx) {
  ctx.out.flush();
  if (!ctx.out) {
    return ReportError(ctx, kExitError, "writing to stdout failed (closed pipe or full disk); "
                                        "the output is incomplete");
  }
  return kExitOk;
}

CLI::Option* AddStoreArg(CLI::App& app, std::string& store) {
  return app.add_option("store", store, "Store directory")->required();
}

CLI::Option* AddCount(CLI::App& app, const std::string& name, uint64_t& value,
                      const std::string& description) {
  static const CLI::Validator kNonNegative(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + text + "' is not a non-negative integer";
        }
        return "";
      },
      "", "non-negative");
  return app.add_option(name, value, description)->check(kNonNegative);
}

}  // namespace annals::cli
