// `annals forget` and the CLI's side of crypto-shredding (docs/cli.md,
// docs/lifecycle.md): the master key through ANNALS_MASTER_KEY_FILE, a
// subject in append and read, "erased" in reads and verify, and export /
// import of sealed events (ciphertext and both markers travel, keys do not,
// every hash is reproduced).

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/cli_runner.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using Json = testing::CliJson;
using ::testing::HasSubstr;

class ForgetCliTest : public ::testing::Test {
 protected:
  ForgetCliTest() : cli_(testing::AnnalsBinaryFromEnv()) {
    std::ofstream(key_file(), std::ios::binary) << std::string(32, '\x42');
  }
  ~ForgetCliTest() override { unsetenv("ANNALS_MASTER_KEY_FILE"); }

  std::string key_file() const { return dir_.Sub("master.key"); }
  std::string store() const { return dir_.Sub("store"); }
  void WithKey(bool on) {
    if (on) {
      setenv("ANNALS_MASTER_KEY_FILE", key_file().c_str(), 1);
    } else {
      unsetenv("ANNALS_MASTER_KEY_FILE");
    }
  }
  testing::CliRun Annals(const std::vector<std::string>& args, const std::string& input = "") {
    return testing::RunAnnals(cli_, args, dir_.Sub("scratch"), input);
  }

  testing::TempDir dir_;
  std::string cli_;
};

TEST_F(ForgetCliTest, ForgetEraseVerifyExportImport) {
  WithKey(true);
  const std::string input = R"({"type":"Signed","data":{"name":"SECRET-ALICE"},"subject":"alice"})"
                            "\n"
                            R"({"type":"Plain","data":{"a":1}})"
                            "\n"
                            R"({"type":"Signed","data":{"name":"SECRET-BOB"},"subject":"bob"})"
                            "\n";
  testing::CliRun r = Annals({"append", store(), "people"}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  r = Annals({"all", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<Json> events = r.lines();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["subject"], "alice");
  EXPECT_EQ(events[0]["data"]["name"], "SECRET-ALICE");
  EXPECT_FALSE(events[1].contains("subject"));

  r = Annals({"forget", store(), "alice"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["forgotten"], "alice");
  r = Annals({"all", store()});
  events = r.lines();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["erased"], true);
  EXPECT_FALSE(events[0].contains("data"));
  EXPECT_EQ(events[2]["data"]["name"], "SECRET-BOB");

  // verify needs no key.
  WithKey(false);
  r = Annals({"verify", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["erased"], 1);
  // Reading sealed events needs it; forgetting too.
  EXPECT_NE(Annals({"all", store()}).code, 0);
  r = Annals({"forget", store(), "bob"});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("ANNALS_MASTER_KEY_FILE"));

  // The export carries ciphertext and markers, no plaintext and no key.
  r = Annals({"export", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("SECRET")));
  const std::string exported = r.out;
  events = r.lines();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2]["sealed"]["cipher"], 1);
  EXPECT_TRUE(events[2].contains("payload_base64"));
  EXPECT_EQ(events[2]["subject"], "bob");

  // The import reproduces every hash (it checks them), and without the keys
  // every sealed event of the copy is erased.
  const std::string copy = dir_.Sub("copy");
  r = Annals({"import", copy}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  r = Annals({"verify", copy});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["erased"], 2);
  EXPECT_EQ(r.json()["last_hash"], events[2]["hash"]);
}

}  // namespace
}  // namespace annals
