// annals stream-meta <store> <stream> [--max-count N] [--max-age DURATION]
//                    [--truncate-before V]
//
// Shows a stream's metadata as one JSON object; with any flag, first changes
// the fields given (the others stay) and shows the result. The change checks
// the metadata version it read (a concurrent change exits 3) and is synced
// before the command returns (docs/lifecycle.md).

#include <charconv>

#include "cli/cli_internal.h"
#include "common/strings.h"

namespace annals::cli {
namespace {

struct StreamMetaArgs {
  std::string store;
  std::string stream;
  std::optional<uint64_t> max_count;
  std::string max_age;
  std::optional<uint64_t> truncate_before;
};

// "30d", "12h", "15m", "90s" (or "0" for no limit) as microseconds.
absl::StatusOr<int64_t> ParseDuration(std::string_view text) {
  if (text == "0") return 0;
  auto bad = [&] {
    return absl::InvalidArgumentError(StrCat(
        "--max-age '", text, "' is not a duration such as 30d, 12h, 15m or 90s (or 0 for none)"));
  };
  if (text.size() < 2) return bad();
  int64_t unit_us = 0;
  switch (text.back()) {
    case 's':
      unit_us = 1'000'000;
      break;
    case 'm':
      unit_us = 60'000'000;
      break;
    case 'h':
      unit_us = 3'600'000'000;
      break;
    case 'd':
      unit_us = 86'400'000'000;
      break;
    default:
      return bad();
  }
  int64_t n = 0;
  const std::string_view digits = text.substr(0, text.size() - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 0 ||
      n > INT64_MAX / unit_us) {
    return bad();
  }
  return n * unit_us;
}

std::string_view DeletionName(StreamDeletion d) {
  switch (d) {
    case StreamDeletion::kNone:
      return "none";
    case StreamDeletion::kSoft:
      return "soft";
    case StreamDeletion::kHard:
      return "hard";
  }
  return "none";
}

int RunStreamMeta(CliContext& ctx, const StreamMetaArgs& a) {
  std::optional<int64_t> max_age_us;
  if (!a.max_age.empty()) {
    absl::StatusOr<int64_t> parsed = ParseDuration(a.max_age);
    if (!parsed.ok()) return ReportError(ctx, kExitUsage, StdSv(parsed.status().message()));
    max_age_us = *parsed;
  }
  const bool change = a.max_count || max_age_us || a.truncate_before;
  absl::StatusOr<std::unique_ptr<EventStore>> store = OpenStore(a.store, /*read_only=*/!change);
  if (!store.ok()) return ReportError(ctx, store.status());
  absl::StatusOr<StreamMetadataInfo> info = (*store)->GetStreamMetadata(a.stream);
  if (!info.ok()) return ReportError(ctx, info.status());
  if (change) {
    StreamMetadata m = info->metadata;
    if (a.max_count) m.max_count = *a.max_count;
    if (max_age_us) m.max_age_us = *max_age_us;
    if (a.truncate_before) m.truncate_before = *a.truncate_before;
    info = (*store)->SetStreamMetadata(a.stream, ExpectedVersion::Exact(info->metadata_version), m);
    if (!info.ok()) return ReportError(ctx, info.status());
  }
  Json j;
  j["stream"] = a.stream;
  j["metadata_version"] = info->metadata_version;
  j["max_count"] = info->metadata.max_count;
  j["max_age_us"] = info->metadata.max_age_us;
  j["truncate_before"] = info->metadata.truncate_before;
  j["deleted"] = std::string(DeletionName(info->deleted));
  WriteJson(ctx, j);
  return FinishOutput(ctx);
}

}  // namespace

void DefineStreamMetaCommand(CLI::App& root, CommandSet& commands) {
  auto args = std::make_shared<StreamMetaArgs>();
  CLI::App* app = root.add_subcommand(
      "stream-meta", "Show a stream's retention metadata as JSON; with flags, change it first");
  AddStoreArg(*app, args->store);
  app->add_option("stream", args->stream, "Stream name")->required();
  app->add_option("--max-count", args->max_count, "Keep only the newest N events (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--max-age", args->max_age,
                  "Keep only events younger than this: 30d, 12h, 15m, 90s (0 = no limit)");
  app->add_option("--truncate-before", args->truncate_before, "Hide every version below V")
      ->check(CLI::NonNegativeNumber);
  commands.Add(app, [args](CliContext& ctx) { return RunStreamMeta(ctx, *args); });
}

}  // namespace annals::cli
