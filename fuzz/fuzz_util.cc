#include "fuzz/fuzz_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

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

}  // namespace annals::fuzz
