#include "fuzz/fuzz_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "absl/strings/str_join.h"

namespace annals::fuzz {
namespace fs = std::filesystem;

void Fail(const char* file, int line, const char* condition, std::string_view detail) {
  std::fprintf(stderr, "annals fuzz finding at %s:%d: %s\n  %.*s\n", file, line, condition,
               static_cast<int>(detail.size()), detail.data());
  std::fflush(stderr);
  std::abort();
}

namespace {

std::vector<std::string>& DirsToRemove() {
  static auto* dirs = new std::vector<std::string>();
  return *dirs;
}

void RemoveScratchDirs() {
  for (const std::string& dir : DirsToRemove()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
}

}  // namespace

std::string ScratchDir(std::string_view tag) {
  std::string base = "/tmp";
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') base = tmp;
  std::error_code ec;
  if (fs::is_directory("/dev/shm", ec) && access("/dev/shm", W_OK) == 0) base = "/dev/shm";
  std::string tmpl = StrCat(base, "/annals-fuzz-", tag, "-", getpid(), "-XXXXXX");
  ANNALS_FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr, "cannot create a scratch directory under ",
                    base);
  if (DirsToRemove().empty()) std::atexit(RemoveScratchDirs);
  DirsToRemove().push_back(tmpl);
  return tmpl;
}

void ResetDir(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  ANNALS_FUZZ_CHECK(!ec, "cannot create ", dir, ": ", ec.message());
}

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
  ANNALS_FUZZ_CHECK(result.err.find("internal error") == std::string::npos, "annals ", command,
                    " let an exception reach RunCli: ", result.err);
  ANNALS_FUZZ_CHECK(result.code == 0 || !result.err.empty(), "annals ", command, " exited ",
                    result.code, " without saying why on stderr");
}

}  // namespace annals::fuzz
