// File: fuzz/fuzz_util.h (fuzz_util.cc; the CLI helpers in fuzz_cli.cc)
//
// What the fuzz targets share: a finding check that aborts (so that libFuzzer
// and the corpus replay both stop on it and report the input), a scratch
// directory on tmpfs, and running the `annals` command line in-process.
//
// Thread-safety: none; a fuzz target runs its inputs one at a time.

#ifndef ANNALS_FUZZ_FUZZ_UTIL_H_
#define ANNALS_FUZZ_FUZZ_UTIL_H_

#include <string>
#include <string_view>
#include <vector>

#include "annals/cli.h"
#include "common/strings.h"

namespace annals::fuzz {

// Prints "annals fuzz finding: ..." with the failed condition and aborts.
[[noreturn]] void Fail(const char* file, int line, const char* condition, std::string_view detail);

// A property every input must keep; a failure is a bug in annals.
#define ANNALS_FUZZ_CHECK(condition, ...)                                                  \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      ::annals::fuzz::Fail(__FILE__, __LINE__, #condition, ::annals::StrCat(__VA_ARGS__)); \
    }                                                                                      \
  } while (0)

// A fresh directory for this process, on /dev/shm when it exists (tmpfs: the
// stores' fsyncs cost nothing there), else under $TMPDIR or /tmp. Removed at
// exit. `tag` names the fuzz target.
std::string ScratchDir(std::string_view tag);

// Empties `dir` (creating it when missing).
void ResetDir(const std::string& dir);

// What one RunCli() call returned and wrote.
struct CliResult {
  int code = 0;
  std::string out;
  std::string err;
};

// Runs `annals <args...>` in-process with `input` as stdin.
CliResult RunCliArgs(const std::vector<std::string>& args, std::string_view input,
                     const CliOptions& options = {});

// Checks what every command line must do whatever its arguments: an exit code
// of the contract (0-5), no exception reaching RunCli's last-resort handler
// ("internal error"), and a failure says why on stderr.
void CheckContract(const std::vector<std::string>& args, const CliResult& result);

}  // namespace annals::fuzz

#endif  // ANNALS_FUZZ_FUZZ_UTIL_H_
