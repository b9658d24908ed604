// Fuzz target: the command line's argument handling (annals::RunCli with the
// options of the stock `annals` binary) against a small prepared store.
//
// Input: the arguments after "annals", one per line; a line "<<<" ends them
// and the rest of the input is stdin. The prepared store is "store" in the
// working directory (a tmpfs scratch directory): a few café orders (FlatBuffers
// events, snapshots) and two JSON events in "account-7". It is restored
// before every input, and everything else in the directory is removed.
// Properties: every command line exits with a code of the contract, lets no
// exception out, and says why on stderr when it fails.
//
// Sandbox: an argument holding '/' is refused (relative names stay inside the
// scratch directory, whose parent is this target's own directory too), and so
// are the subcommands and flags that run until a signal or reach the network
// (follow, relay, NATS).

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "examples/cafe/cafe_cli.h"
#include "examples/cafe/traffic.h"
#include "examples/cafe_read_models/cafe_read_models.h"
#include "fuzz/fuzz_util.h"

namespace annals::fuzz {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxArgs = 24;
constexpr size_t kMaxInputBytes = 16 << 10;

struct Sandbox {
  CliOptions options;
  std::string root;       // this target's scratch directory
  std::string work;       // the working directory of every command line
  std::string template_;  // the prepared store, copied to work/store
};

Sandbox& Box() {
  static Sandbox* box = [] {
    auto* b = new Sandbox();
    b->options.aggregates = cafe::CafeCliAggregates();
    b->options.render_payload = cafe::CafeRenderPayload;
    b->options.projections = cafe::CafeProjections();
    b->root = ScratchDir("cli");
    b->work = b->root + "/work";
    b->template_ = b->root + "/template";
    {
      Options options;
      absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(b->template_, options);
      ANNALS_FUZZ_CHECK(store.ok(),
                        "cannot create the prepared store: ", store.status().ToString());
      cafe::TrafficOptions traffic;
      traffic.orders = 3;
      traffic.seed = 7;
      traffic.max_in_flight = 2;
      traffic.snapshot_every = 2;
      absl::StatusOr<cafe::TrafficSummary> ran = cafe::RunTraffic(**store, traffic);
      ANNALS_FUZZ_CHECK(ran.ok(), "café traffic failed: ", ran.status().ToString());
    }
    const CliResult appended = RunCliArgs(
        {"append", b->template_, "account-7"},
        "{\"type\":\"Opened\",\"data\":{\"owner\":\"ann\"},\"metadata\":{\"user\":\"ann\"},"
        "\"correlation_id\":\"c-1\"}\n"
        "{\"type\":\"Deposited\",\"data\":{\"amount\":12.5},\"schema_version\":2}\n",
        b->options);
    ANNALS_FUZZ_CHECK(appended.code == 0, "cannot prepare account-7: ", appended.err);
    fs::create_directories(b->work);
    // Relative names in the arguments resolve inside the scratch directory.
    ANNALS_FUZZ_CHECK(chdir(b->work.c_str()) == 0, "cannot enter ", b->work);
    return b;
  }();
  return *box;
}

bool Refused(const std::string& arg) {
  if (arg.find('/') != std::string::npos) return true;
  std::string lower(arg);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"follow", "relay", "nats"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

void Restore(const Sandbox& box) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(box.work, ec)) fs::remove_all(entry.path(), ec);
  fs::copy(box.template_, box.work + "/store", fs::copy_options::recursive, ec);
  ANNALS_FUZZ_CHECK(!ec, "cannot restore the prepared store: ", ec.message());
}

}  // namespace
}  // namespace annals::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  annals::fuzz::Box();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace annals::fuzz;
  if (size > kMaxInputBytes) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  std::string_view input;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t newline = rest.find('\n');
    const std::string_view arg = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (arg == "<<<") {
      input = rest;
      break;
    }
    if (Refused(std::string(arg)) || args.size() == kMaxArgs) return 0;
    args.emplace_back(arg);
  }
  Sandbox& box = Box();
  Restore(box);
  CheckContract(args, RunCliArgs(args, input, box.options));
  return 0;
}
