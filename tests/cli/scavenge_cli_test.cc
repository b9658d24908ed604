// annals scavenge and verify's "scavenged" (docs/cli.md), and SIGKILL in the
// middle of a scavenge: the store verifies and keeps every event that was
// still reachable.

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "annals/event_store.h"
#include "common/strings.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/cli_runner.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

// `keys` streams "acct-<k>" of `per_key` events each, category "acct"
// compacted by stream: only each stream's newest event is reachable after a
// scavenge.
void MakeStore(const std::string& path, int keys, int per_key) {
  Options options;
  options.durability = Durability::kBuffered;
  auto store = EventStore::Open(path, options);
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string pad(300, 'p');
  for (int v = 0; v < per_key; ++v) {
    for (int k = 0; k < keys; ++k) {
      const std::string payload = StrCat("{\"v\":", v, ",\"pad\":\"", pad, "\"}");
      NewEvent e{.type = "Balance", .payload = payload};
      ASSERT_TRUE((*store)->Append(StrCat("acct-", k), ExpectedVersion::Any(), {&e, 1}).ok());
    }
  }
  ASSERT_TRUE((*store)->SetCategoryCompaction("acct", {}).ok());
  ASSERT_TRUE((*store)->Sync().ok());
}

// Every stream still has its newest event, and verify holds. Returns the
// number of stubs.
uint64_t ExpectIntact(const std::string& path, int keys, int per_key) {
  Options options;
  options.durability = Durability::kBuffered;
  auto store = EventStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return 0;
  for (int k = 0; k < keys; ++k) {
    auto newest =
        (*store)->ReadStream(StrCat("acct-", k), {.direction = Direction::kBackward, .limit = 1});
    EXPECT_TRUE(newest.ok()) << newest.status();
    if (!newest.ok()) return 0;
    EXPECT_EQ(newest->size(), 1u) << k;
    if (newest->size() == 1) EXPECT_EQ((*newest)[0].version, static_cast<uint64_t>(per_key)) << k;
  }
  auto verify = (*store)->Verify();
  EXPECT_TRUE(verify.ok());
  if (!verify.ok()) return 0;
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->last_position, static_cast<uint64_t>(keys * per_key));
  return verify->scavenged;
}

TEST(ScavengeCliTest, ScavengeReportsAndVerifyCountsStubs) {
  testing::TempDir dir;
  const std::string store = dir.Sub("store");
  MakeStore(store, 10, 5);
  const std::string cli = testing::AnnalsBinaryFromEnv();
  testing::CliRun r = testing::RunAnnals(cli, {"scavenge", store}, dir.Sub("scavenge"));
  ASSERT_EQ(r.code, 0) << r.err;
  testing::CliJson j = r.json();
  EXPECT_EQ(j["scavenged"], 40);
  EXPECT_GT(j["bytes_before"].get<uint64_t>(), j["bytes_after"].get<uint64_t>());
  EXPECT_EQ(std::string(j.begin().key()), "scavenged");
  testing::CliRun v = testing::RunAnnals(cli, {"verify", store}, dir.Sub("verify"));
  ASSERT_EQ(v.code, 0) << v.err;
  EXPECT_EQ(v.json()["scavenged"], 40);
  EXPECT_EQ(v.json()["events"], 10);
  // Export: one line per stub, in position order.
  testing::CliRun exported = testing::RunAnnals(cli, {"export", store}, dir.Sub("export"));
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::vector<testing::CliJson> lines = exported.lines();
  ASSERT_EQ(lines.size(), 50u);
  EXPECT_EQ(lines[0]["scavenged"], true);
  EXPECT_EQ(lines[0]["stream"], "acct-0");
  EXPECT_EQ(lines[0]["version"], 1);
  EXPECT_EQ(lines[0]["reason"], "compacted");
  EXPECT_EQ(lines[0]["previous_hash"], std::string(64, '0'));
  EXPECT_EQ(lines[1]["previous_hash"], lines[0]["hash"]);
  EXPECT_FALSE(lines[49].contains("scavenged"));
  EXPECT_EQ(lines[49]["position"], 50);
  // Import does not write stubs yet: it says so and writes nothing.
  std::string input;
  for (const testing::CliJson& l : lines) input += l.dump() + "\n";
  testing::CliRun imported =
      testing::RunAnnals(cli, {"import", dir.Sub("copy")}, dir.Sub("import"), input);
  EXPECT_NE(imported.code, 0);
  EXPECT_THAT(imported.err, ::testing::HasSubstr("stub"));
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("copy")));
  testing::CliRun again = testing::RunAnnals(cli, {"scavenge", store}, dir.Sub("again"));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.json()["scavenged"], 0);
  testing::CliRun missing =
      testing::RunAnnals(cli, {"scavenge", dir.Sub("nothing")}, dir.Sub("missing"));
  EXPECT_EQ(missing.code, 4);
  ExpectIntact(store, 10, 5);
}

TEST(ScavengeCliTest, SigkillDuringAScavengeLosesNothingReachable) {
  const std::string cli = testing::AnnalsBinaryFromEnv();
  constexpr int kKeys = 200;
  constexpr int kPerKey = 20;
  for (int trial = 0; trial < 6; ++trial) {
    testing::TempDir dir;
    const std::string store = dir.Sub("store");
    MakeStore(store, kKeys, kPerKey);
    testing::Process p = testing::Process::Start({cli, "scavenge", store}, dir.Sub("run"));
    // Killed at different points: during the open, the flush, the log's
    // compaction or the indexes'.
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + 150 * trial));
    ::kill(p.pid(), SIGKILL);
    p.Wait();
    // Between 0 (killed before the log's compaction wrote its output) and
    // all (killed after); the test's log shows where each trial stopped.
    std::cerr << "trial " << trial << ": " << ExpectIntact(store, kKeys, kPerKey)
              << " stubs after SIGKILL\n";
    // A second scavenge completes the first.
    testing::CliRun r = testing::RunAnnals(cli, {"scavenge", store}, dir.Sub("again"));
    ASSERT_EQ(r.code, 0) << r.err;
    ExpectIntact(store, kKeys, kPerKey);
    testing::CliRun v = testing::RunAnnals(cli, {"verify", store}, dir.Sub("verify"));
    ASSERT_EQ(v.code, 0) << v.err;
    EXPECT_EQ(v.json()["scavenged"], kKeys * (kPerKey - 1)) << trial;
  }
}

}  // namespace
}  // namespace annals
