// File: tests/common/cli_runner.h
//
// The annals command line in tests, two ways, with one result type:
//   - the built binary in a child process (RunAnnals), as users run it; ctest
//     passes its path to CLI tests in $ANNALS_CLI;
//   - RunCli() in this process (RunCliInProcess), with the CliOptions a test
//     registers, as a service's own binary has them.
//
// Example:
//   testing::CliRun r = testing::RunAnnals(testing::AnnalsBinaryFromEnv(),
//                                          {"verify", store}, dir.Sub("verify"));
//   ASSERT_EQ(r.code, 0) << r.err;
//   EXPECT_EQ(r.json()["ok"], true);
//
// Thread-safety: as RunCli() (include/annals/cli.h) and tests/common/subprocess.h.

#ifndef ANNALS_TESTS_COMMON_CLI_RUNNER_H_
#define ANNALS_TESTS_COMMON_CLI_RUNNER_H_

#include <string>
#include <vector>

#include "annals/cli.h"
#include "nlohmann/json.hpp"
#include "tests/common/subprocess.h"

namespace annals::testing {

// Ordered: tests check the order of the CLI's JSON keys.
using CliJson = nlohmann::ordered_json;

// What one run of the CLI returned and printed.
struct CliRun {
  int code = -1;  // the exit code; -1 when the process did not exit normally
  std::string out{};
  std::string err{};
  long peak_rss_kb = 0;  // with ProcessOptions::sample_peak_rss

  // stdout as one JSON value; records a test failure when it is not one.
  CliJson json() const;
  // stdout as JSON Lines; records a test failure for each line that is not
  // JSON.
  std::vector<CliJson> lines() const;
};

// $ANNALS_CLI, the annals binary; records a test failure and returns "" when
// it is not set.
std::string AnnalsBinaryFromEnv();

// Runs `binary args...` with `input` on stdin. Its stdin, stdout and stderr
// are the files `scratch`.in, .out and .err. Records a test failure when it
// cannot start or does not exit normally.
CliRun RunAnnals(const std::string& binary, const std::vector<std::string>& args,
                 const std::string& scratch, const std::string& input = "");

// The same with the child's streams as `options` says (stdin from a file,
// stdout into a descriptor, peak memory sampled).
CliRun RunAnnalsWith(const std::string& binary, const std::vector<std::string>& args,
                     const std::string& scratch, const ProcessOptions& options);

// RunCli() in this process with argv "annals" args..., `input` on stdin and
// the output streams captured.
CliRun RunCliInProcess(const CliOptions& options, const std::vector<std::string>& args,
                       const std::string& input = "");

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_CLI_RUNNER_H_
