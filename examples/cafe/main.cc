// cafe: runs the café simulation into an embedded annals store and prints a
// JSON summary.
//
//   cafe <store-dir> [orders=1000] [seed=42] [--sync]
//
// Appends are acknowledged after the OS has them (Durability::kBuffered)
// unless --sync is given (every append fsync'ed: slower, power-loss safe).
// Running it again on the same store adds more orders.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "annals/event_store.h"
#include "examples/cafe/traffic.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: cafe <store-dir> [orders=1000] [seed=42] [--sync]\n");
  return 2;
}

bool ParseUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args;
  bool sync = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--sync") {
      sync = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage();
      return 0;
    } else {
      args.push_back(arg);
    }
  }
  if (args.empty() || args.size() > 3) return Usage();
  cafe::TrafficOptions traffic;
  if (args.size() > 1 && !ParseUint(args[1], &traffic.orders)) return Usage();
  if (args.size() > 2 && !ParseUint(args[2], &traffic.seed)) return Usage();

  annals::Options options;
  options.durability = sync ? annals::Durability::kSync : annals::Durability::kBuffered;
  auto store = annals::EventStore::Open(args[0], options);
  if (!store.ok()) {
    std::fprintf(stderr, "cafe: cannot open store %s: %s\n", std::string(args[0]).c_str(),
                 std::string(store.status().message()).c_str());
    return 1;
  }
  auto summary = cafe::RunTraffic(**store, traffic);
  if (!summary.ok()) {
    std::fprintf(stderr, "cafe: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", cafe::SummaryJson(*summary, std::string(args[0])).c_str());
  return 0;
}
