#include <sstream>

#include "absl/strings/str_join.h"
#include "fuzz/fuzz_util.h"

namespace annals::fuzz {

CliResult RunCliArgs(const std::vector<std::string>& args, std::string_view input,
                     const CliOptions& options) {
  std::vector<std::string> owned;
  owned.reserve(args.size() + 1);
  owned.push_back("annals");
  owned.insert(owned.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::istringstream in{std::string(input)};
  std::ostringstream out;
  std::ostringstream err;
  CliResult result;
  result.code = RunCli(static_cast<int>(owned.size()), argv.data(), options, in, out, err);
  result.out = std::move(out).str();
  result.err = std::move(err).str();
  return result;
}

void CheckContract(const std::vector<std::string>& args, const CliResult& result) {
  const std::string command = absl::StrJoin(args, " ");
  ANNALS_FUZZ_CHECK(result.code >= 0 && result.code <= 5, "annals ", command, " exited ",
                    result.code, ", not an exit code of the contract; stderr: ", result.err);
  // RunCli reports an escaped exception as a line of its own starting with
  // "annals: internal error: "; the words elsewhere in a line are input that
  // an error message echoes (a finding once: the subcommand "exinternal
  // errorstore").
  const bool escaped = result.err.starts_with("annals: internal error: ") ||
                       result.err.find("\nannals: internal error: ") != std::string::npos;
  ANNALS_FUZZ_CHECK(!escaped, "annals ", command, " let an exception reach RunCli: ", result.err);
  ANNALS_FUZZ_CHECK(result.code == 0 || !result.err.empty(), "annals ", command, " exited ",
                    result.code, " without saying why on stderr");
}

}  // namespace annals::fuzz
