// Fuzz target: the export/import path of the command line, run in-process
// through annals::RunCli into stores on tmpfs.
//
// Input: a JSON Lines document given to `annals import` on stdin.
// Properties: import exits with a code of the contract and never lets an
// exception out; a refused import leaves no event behind (all or nothing);
// an accepted import verifies, its export has one line per imported event,
// importing that export into a new store and exporting again gives the same
// bytes, and re-running the import adds nothing.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>

#include "fuzz/fuzz_util.h"
#include "nlohmann/json.hpp"

namespace annals::fuzz {
namespace {

namespace fs = std::filesystem;

// Inputs larger than this are skipped: they cost time, not coverage.
constexpr size_t kMaxInputBytes = 64 << 10;

const std::string& Root() {
  static const std::string* root = new std::string(ScratchDir("import"));
  return *root;
}

size_t Lines(std::string_view text) { return std::count(text.begin(), text.end(), '\n'); }

CliResult Run(const std::vector<std::string>& args, std::string_view input = {}) {
  CliResult r = RunCliArgs(args, input);
  CheckContract(args, r);
  return r;
}

// The export of a store that must exist.
std::string ExportOf(const std::string& store) {
  CliResult r = Run({"export", store});
  ANNALS_FUZZ_CHECK(r.code == 0, "export of ", store, " exited ", r.code, ": ", r.err);
  return r.out;
}

void CheckDocument(std::string_view document) {
  const std::string a = Root() + "/a";
  const std::string b = Root() + "/b";
  ResetDir(Root());

  const CliResult imported = Run({"import", a}, document);
  if (imported.code != 0) {
    // Whether a directory may stay behind is checked by the CLI tests; here:
    // no event may.
    std::error_code ec;
    if (!fs::exists(a, ec)) return;
    const CliResult left = Run({"export", a});
    ANNALS_FUZZ_CHECK(left.code != 0 || left.out.empty(), "a refused import (exit ", imported.code,
                      ": ", imported.err, ") left ", Lines(left.out), " events in the store");
    return;
  }
  const nlohmann::json summary = nlohmann::json::parse(imported.out, nullptr, false);
  ANNALS_FUZZ_CHECK(summary.is_object() && summary.contains("imported") &&
                        summary["imported"].is_number_unsigned(),
                    "import's output is not its summary: ", imported.out);
  const uint64_t count = summary["imported"].get<uint64_t>();

  const CliResult verified = Run({"verify", a});
  ANNALS_FUZZ_CHECK(verified.code == 0, "verify after an accepted import exited ", verified.code,
                    ": ", verified.out, verified.err);

  const std::string first = ExportOf(a);
  ANNALS_FUZZ_CHECK(Lines(first) == count, "import says it imported ", count,
                    " events; the export has ", Lines(first), " lines");

  const CliResult copied = Run({"import", b}, first);
  ANNALS_FUZZ_CHECK(copied.code == 0, "importing an export into a new store exited ", copied.code,
                    ": ", copied.err);
  const std::string second = ExportOf(b);
  ANNALS_FUZZ_CHECK(second == first, "export -> import -> export changes the export:\n", first,
                    "---\n", second);

  const CliResult rerun = Run({"import", a}, first);
  ANNALS_FUZZ_CHECK(rerun.code == 0, "re-running an import exited ", rerun.code, ": ", rerun.err);
  ANNALS_FUZZ_CHECK(ExportOf(a) == first, "re-running an import changed the store");
}

}  // namespace
}  // namespace annals::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > annals::fuzz::kMaxInputBytes) return 0;
  annals::fuzz::CheckDocument(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
