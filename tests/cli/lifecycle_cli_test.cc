// The data lifecycle end to end through the CLI (docs/lifecycle.md): a
// deleted stream disappears from reads and from exports at once (an export
// writes its events as the stub lines a scavenge would leave), the store's
// own retention rule is the scavenge policy (a scavenge after a real delete
// stubs exactly the deleted events and verify holds), and the export of the
// scavenged store is byte for byte the export made before the scavenge.

#include <string>
#include <vector>

#include "annals/event_store.h"
#include "common/strings.h"
#include "gtest/gtest.h"
#include "tests/common/cli_runner.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

class LifecycleCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Sub("store");
    cli_ = testing::AnnalsBinaryFromEnv();
    auto store = EventStore::Open(store_);
    ASSERT_TRUE(store.ok()) << store.status();
    // Interleaved, so that hidden events sit between visible ones.
    for (int i = 0; i < 4; ++i) {
      for (const char* stream : {"keep-1", "gone-1", "trim-1"}) {
        const std::string payload = StrCat("{\"secret\":\"", stream, "-", i, "\"}");
        NewEvent e{.type = "Noted", .payload = payload};
        ASSERT_TRUE((*store)->Append(stream, ExpectedVersion::Any(), {&e, 1}).ok());
      }
    }
  }

  testing::CliRun Run(const std::vector<std::string>& args) {
    return testing::RunAnnals(cli_, args, dir_.Sub(StrCat("run", ++runs_)));
  }

  testing::TempDir dir_;
  std::string store_;
  std::string cli_;
  int runs_ = 0;
};

TEST_F(LifecycleCliTest, DeletedAndTrimmedEventsLeaveExportsAsStubsAndScavengeKeepsTheExport) {
  ASSERT_EQ(Run({"delete", store_, "gone-1", "--hard"}).code, 0);
  ASSERT_EQ(Run({"stream-meta", store_, "trim-1", "--max-count", "1"}).code, 0);

  testing::CliRun before = Run({"export", store_});
  ASSERT_EQ(before.code, 0) << before.err;
  const std::vector<testing::CliJson> lines = before.lines();
  ASSERT_EQ(lines.size(), 12u);
  std::string previous_hash(64, '0');
  int stubs = 0;
  for (const testing::CliJson& line : lines) {
    const std::string stream = line["stream"];
    const bool hidden =
        stream == "gone-1" || (stream == "trim-1" && line["version"].get<uint64_t>() < 4);
    EXPECT_EQ(line.contains("scavenged"), hidden) << line.dump();
    EXPECT_EQ(before.out.find(StrCat("gone-1-")), std::string::npos)
        << "a deleted event's payload left the store in an export";
    if (hidden) {
      ++stubs;
      EXPECT_FALSE(line.contains("data")) << line.dump();
      EXPECT_EQ(line["reason"], stream == "gone-1" ? "deleted" : "retention") << line.dump();
      EXPECT_EQ(line["previous_hash"], previous_hash) << line.dump();
    }
    previous_hash = line["hash"];
  }
  EXPECT_EQ(stubs, 7);

  testing::CliRun read = Run({"read", store_, "gone-1"});
  EXPECT_EQ(read.code, 4);
  EXPECT_NE(read.err.find("deleted"), std::string::npos) << read.err;

  testing::CliRun scavenge = Run({"scavenge", store_});
  ASSERT_EQ(scavenge.code, 0) << scavenge.err;
  EXPECT_EQ(scavenge.json()["scavenged"], 7) << scavenge.out;

  testing::CliRun verify = Run({"verify", store_});
  ASSERT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.json()["ok"], true);
  EXPECT_EQ(verify.json()["scavenged"], 7);
  EXPECT_EQ(verify.json()["events"], 5);

  testing::CliRun after = Run({"export", store_});
  ASSERT_EQ(after.code, 0) << after.err;
  EXPECT_EQ(after.out, before.out) << "scavenging changed what an export says";
}

}  // namespace
}  // namespace annals
