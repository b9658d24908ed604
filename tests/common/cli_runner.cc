#include "tests/common/cli_runner.h"

#include <cstdlib>
#include <sstream>

#include "gtest/gtest.h"
#include "tests/common/files.h"

namespace annals::testing {

CliJson CliRun::json() const {
  CliJson j = CliJson::parse(out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not one JSON value: " << out;
  return j;
}

std::vector<CliJson> CliRun::lines() const {
  std::vector<CliJson> result;
  for (const std::string& line : SplitLines(out)) {
    CliJson j = CliJson::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not a JSON line: " << line;
    result.push_back(std::move(j));
  }
  return result;
}

std::string AnnalsBinaryFromEnv() {
  const char* cli = std::getenv("ANNALS_CLI");
  if (cli == nullptr) {
    ADD_FAILURE() << "ANNALS_CLI must name the built annals binary (ctest sets it)";
    return "";
  }
  return cli;
}

CliRun RunAnnals(const std::string& binary, const std::vector<std::string>& args,
                 const std::string& scratch, const std::string& input) {
  const std::string in_path = scratch + ".in";
  WriteFile(in_path, input);
  return RunAnnalsWith(binary, args, scratch, ProcessOptions{.stdin_path = in_path});
}

CliRun RunAnnalsWith(const std::string& binary, const std::vector<std::string>& args,
                     const std::string& scratch, const ProcessOptions& options) {
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult p = RunProgram(argv, scratch, options);
  CliRun run{.code = p.exited ? p.exit_code : -1,
             .out = p.out,
             .err = p.err,
             .peak_rss_kb = p.peak_rss_kb};
  if (p.started) {
    EXPECT_TRUE(p.exited) << "annals did not exit normally: " << p.Describe();
  }
  return run;
}

CliRun RunCliInProcess(const CliOptions& options, const std::vector<std::string>& args,
                       const std::string& input) {
  std::vector<std::string> storage = {"annals"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : storage) argv.push_back(a.data());
  std::istringstream in(input);
  std::ostringstream out, err;
  CliRun run;
  run.code = RunCli(static_cast<int>(argv.size()), argv.data(), options, in, out, err);
  run.out = out.str();
  run.err = err.str();
  return run;
}

}  // namespace annals::testing
