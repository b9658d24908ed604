// annals stats <store>
//
// Writes the store's counters (EventStore::Stats()) as one JSON object.

#include "cli/cli_internal.h"

namespace annals::cli {
namespace {

struct StatsArgs {
  std::string store;
};

int RunStats(CliContext& ctx, const StatsArgs& a) {
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/true);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<StoreStats> stats = (*store)->Stats();
  if (!stats.ok()) return ReportError(ctx, stats.status());
  Json j;
  j["events"] = stats->events;
  j["streams"] = stats->streams;
  j["last_position"] = stats->last_position;
  j["bytes_on_disk"] = stats->bytes_on_disk;
  j["sst_bytes"] = stats->sst_bytes;
  j["memtable_bytes"] = stats->memtable_bytes;
  j["block_cache_bytes"] = stats->block_cache_bytes;
  WriteJson(ctx, j);
  return kExitOk;
}

}  // namespace

void DefineStatsCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<StatsArgs>();
  CLI::App* app = root.add_subcommand(
      "stats", "Write event, stream and size counters of a store as one JSON object");
  AddStoreArg(*app, args->store);
  commands.Add(app, [args](CliContext& ctx) { return RunStats(ctx, *args); });
}

}  // namespace annals::cli
