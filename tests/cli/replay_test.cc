// `annals replay` through the library entry point: RunCli() in this process,
// with an aggregate registered by the test (as a service registers its own)
// and the output streams captured.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "annals/cli.h"
#include "annals/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/cli_runner.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using Json = testing::CliJson;
using testing::CliRun;
using ::testing::HasSubstr;

// 2026-01-01T00:00:00Z in Unix microseconds.
constexpr int64_t kJan1 = 1767225600LL * 1000000;
constexpr int64_t kMinute = 60LL * 1000000;

// A tally of an order: the number of events and the sum of "qty".
CliAggregate TallyAggregate() {
  return CliAggregate{
      .name = "tally",
      .description = "counts events and sums qty",
      .replay = [](absl::Span<const RecordedEvent> events) -> absl::StatusOr<std::string> {
        int64_t qty = 0;
        uint64_t expected_version = 1;
        for (const RecordedEvent& e : events) {
          if (e.version != expected_version++) {
            return absl::InternalError("events not in version order");
          }
          if (e.type == "Poison") return absl::DataLossError("poisoned event");
          qty += Json::parse(e.payload).value("qty", 0);
        }
        Json state;
        state["events"] = events.size();
        state["qty"] = qty;
        return state.dump();
      }};
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.aggregates.push_back(TallyAggregate());
    options_.aggregates.push_back(
        CliAggregate{.name = "broken",
                     .description = "",
                     .replay = [](absl::Span<const RecordedEvent>) -> absl::StatusOr<std::string> {
                       return std::string("not json");
                     }});
    // order-1: qty 1, 2, 4 recorded at Jan 1 00:00, 00:01, 00:02.
    auto store = EventStore::Open(path(), Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    for (int i = 0; i < 3; ++i) {
      const std::string payload = "{\"qty\":" + std::to_string(1 << i) + "}";
      NewEvent e{.type = "ItemAdded", .payload = payload, .recorded_at_us = kJan1 + i * kMinute};
      ASSERT_TRUE((*store)->Append("order-1", ExpectedVersion::Exact(i), {e}).ok());
    }
    NewEvent poison{.type = "Poison", .payload = "{}"};
    ASSERT_TRUE((*store)->Append("bad-1", ExpectedVersion::NoStream(), {poison}).ok());
  }

  std::string path() const { return dir_.Sub("store"); }

  CliRun Cli(const std::vector<std::string>& args) {
    return testing::RunCliInProcess(options_, args);
  }

  Json Replay(std::vector<std::string> extra) {
    std::vector<std::string> args = {"replay", path(), "order-1", "--aggregate", "tally"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliRun r = Cli(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return Json::parse(r.out, nullptr, false);
  }

  testing::TempDir dir_;
  CliOptions options_;
};

TEST_F(ReplayTest, ReplaysTheWholeStream) {
  Json j = Replay({});
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  ASSERT_GE(keys.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 4),
            (std::vector<std::string>{"stream", "aggregate", "version", "state"}));
  EXPECT_EQ(j["stream"], "order-1");
  EXPECT_EQ(j["aggregate"], "tally");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["state"], Json::parse(R"({"events":3,"qty":7})"));
}

TEST_F(ReplayTest, ToVersion) {
  Json j = Replay({"--to-version", "2"});
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["state"], Json::parse(R"({"events":2,"qty":3})"));
  EXPECT_EQ(Replay({"--to-version", "1"})["state"]["qty"], 1);
  EXPECT_EQ(Replay({"--to-version", "3"})["state"]["qty"], 7);

  CliRun beyond = Cli({"replay", path(), "order-1", "--aggregate", "tally", "--to-version", "4"});
  EXPECT_EQ(beyond.code, 4);
  EXPECT_THAT(beyond.err, HasSubstr("version 3"));
}

TEST_F(ReplayTest, AsOfTimestamp) {
  // Exactly at the second event's time: it is included.
  Json j = Replay({"--as-of", "2026-01-01T00:01:00Z"});
  EXPECT_EQ(j["version"], 2);
  EXPECT_EQ(j["state"]["qty"], 3);
  EXPECT_EQ(j["recorded_at"], "2026-01-01T00:01:00.000000Z");
  // Just before it: only the first.
  EXPECT_EQ(Replay({"--as-of", "2026-01-01T00:00:59.999999Z"})["version"], 1);
  // Other offsets are converted to UTC.
  EXPECT_EQ(Replay({"--as-of", "2026-01-01T01:02:00+01:00"})["version"], 3);
  // Before the stream existed: no events, version 0.
  j = Replay({"--as-of", "2025-12-31T23:59:59Z"});
  EXPECT_EQ(j["version"], 0);
  EXPECT_EQ(j["state"], Json::parse(R"({"events":0,"qty":0})"));

  CliRun bad = Cli({"replay", path(), "order-1", "--aggregate", "tally", "--as-of", "yesterday"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.err, HasSubstr("RFC 3339"));
}

TEST_F(ReplayTest, UnknownAggregateExitsTwoAndListsTheKnownOnes) {
  CliRun r = Cli({"replay", path(), "order-1", "--aggregate", "order"});
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown aggregate 'order'"));
  EXPECT_THAT(r.err, HasSubstr("tally (counts events and sums qty)"));
  EXPECT_THAT(r.err, HasSubstr("broken"));
  EXPECT_EQ(r.out, "");
}

TEST_F(ReplayTest, ErrorsMapToExitCodes) {
  CliRun missing = Cli({"replay", path(), "order-404", "--aggregate", "tally"});
  EXPECT_EQ(missing.code, 4);
  EXPECT_THAT(missing.err, HasSubstr("order-404"));

  CliRun poisoned = Cli({"replay", path(), "bad-1", "--aggregate", "tally"});
  EXPECT_EQ(poisoned.code, 5);
  EXPECT_THAT(poisoned.err, HasSubstr("poisoned event"));

  CliRun broken = Cli({"replay", path(), "order-1", "--aggregate", "broken"});
  EXPECT_EQ(broken.code, 1);
  EXPECT_THAT(broken.err, HasSubstr("not valid JSON"));
  EXPECT_EQ(broken.out, "");
}

TEST_F(ReplayTest, RenderPayloadRendersNonJsonEvents) {
  {
    auto store = EventStore::Open(path(), Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(store.ok()) << store.status();
    NewEvent known{.type = "Known", .content_type = ContentType::kFlatBuffers, .payload = "K"};
    NewEvent unknown{.type = "Unknown", .content_type = ContentType::kFlatBuffers, .payload = "U"};
    ASSERT_TRUE((*store)->Append("fb", ExpectedVersion::Any(), {known, unknown}).ok());
  }
  options_.render_payload = [](const RecordedEvent& e) -> std::optional<std::string> {
    if (e.type != "Known") return std::nullopt;
    return std::string(R"({"rendered":")") + e.payload + "\"}";
  };
  CliRun r = Cli({"read", path(), "fb"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<Json> lines = r.lines();
  ASSERT_GE(lines.size(), 2u) << r.out;
  const Json& known = lines[0];
  EXPECT_EQ(known["data"], Json::parse(R"({"rendered":"K"})"));
  EXPECT_EQ(known["content_type"], "flatbuffers");
  const Json& unknown = lines[1];
  EXPECT_FALSE(unknown.contains("data"));
  EXPECT_EQ(unknown["data_base64"], "VQ==");

  // An export keeps the bytes of the rendered event for import.
  CliRun exported = Cli({"export", path(), "--from", "5"});
  ASSERT_EQ(exported.code, 0) << exported.err;
  EXPECT_THAT(exported.out, HasSubstr(R"("payload_base64":"Sw==")"));
}

}  // namespace
}  // namespace annals
