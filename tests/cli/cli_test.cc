// The `annals` binary as users run it: each test runs the built binary
// ($ANNALS_CLI, through tests/common/cli_runner.h) and checks its JSON output and exit code
// against shared/cli-contract.md.

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "annals/version.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/cli_runner.h"
#include "tests/common/files.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using Json = testing::CliJson;
using ::testing::HasSubstr;
using ::testing::Not;

using testing::CliRun;
using testing::ReadFile;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_ = testing::AnnalsBinaryFromEnv();
    ASSERT_FALSE(cli_.empty());
  }

  std::string store(const std::string& name = "store") const { return dir_.Sub(name); }

  // Runs `annals args...` with `input` on stdin.
  CliRun Annals(const std::vector<std::string>& args, const std::string& input = "") {
    return testing::RunAnnals(cli_, args, dir_.Sub("annals"), input);
  }

  // Runs `annals args...` with stdout on `stdout_fd`.
  CliRun Spawn(const std::vector<std::string>& args, int stdout_fd) {
    return testing::RunAnnalsWith(cli_, args, dir_.Sub("annals"),
                                  testing::ProcessOptions{.stdout_fd = stdout_fd});
  }

  // Runs `annals args...` with stdout on the write end of a pipe whose read
  // end is already closed: every write fails with EPIPE.
  CliRun AnnalsIntoClosedPipe(const std::vector<std::string>& args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    close(fds[0]);
    CliRun run = Spawn(args, fds[1]);
    close(fds[1]);
    return run;
  }

  // Runs `annals args...` with stdout opened on `path` (e.g. /dev/full).
  CliRun AnnalsInto(const std::vector<std::string>& args, const std::string& path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    CliRun run = Spawn(args, fd);
    close(fd);
    return run;
  }

  // Appends one event through the CLI and checks that it worked.
  Json Append(const std::string& stream, const std::string& type, const std::string& data,
              const std::string& store_dir = "") {
    CliRun r = Annals({"append", store_dir.empty() ? store() : store_dir, stream, "--type", type,
                       "--data", data});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.json();
  }

  // Positions of JSON Lines events.
  static std::vector<uint64_t> Positions(const std::vector<Json>& events) {
    std::vector<uint64_t> p;
    for (const Json& e : events) p.push_back(e["position"].get<uint64_t>());
    return p;
  }
  static std::vector<uint64_t> Versions(const std::vector<Json>& events) {
    std::vector<uint64_t> v;
    for (const Json& e : events) v.push_back(e["version"].get<uint64_t>());
    return v;
  }

  // Every stderr message is one line.
  static void ExpectOneLine(const CliRun& r) {
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  // Streams a, b, a, c, a, b: positions 1..6.
  void FillSixEvents() {
    const char* streams[] = {"order-1", "order-2", "order-1", "cust-1", "order-1", "order-2"};
    for (int i = 0; i < 6; ++i) {
      Append(streams[i], i % 2 == 0 ? "ItemAdded" : "Placed",
             "{\"n\":" + std::to_string(i + 1) + "}");
    }
  }

  testing::TempDir dir_;
  std::string cli_;
};

TEST_F(CliTest, AppendOneEventCreatesTheStoreAndPrintsTheResult) {
  CliRun r =
      Annals({"append", store(), "order-42", "--type", "OrderPlaced", "--data", R"({"table":4})"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, R"({"stream":"order-42","first_version":1,"last_version":1,"first_position":1,)"
                   R"("last_position":1})"
                   "\n");
  EXPECT_EQ(r.err, "");

  std::vector<Json> events = Annals({"read", store(), "order-42"}).lines();
  ASSERT_EQ(events.size(), 1u);
  const Json& e = events[0];
  std::vector<std::string> keys;
  for (const auto& [k, v] : e.items()) keys.push_back(k);
  EXPECT_THAT(
      keys, ::testing::ElementsAre("position", "stream", "version", "id", "type", "schema_version",
                                   "recorded_at", "correlation_id", "causation_id", "metadata",
                                   "data", "content_type", "hash"));
  EXPECT_EQ(e["type"], "OrderPlaced");
  EXPECT_EQ(e["data"], Json::parse(R"({"table":4})"));
  EXPECT_EQ(e["schema_version"], 1);
  EXPECT_EQ(e["content_type"], "json");
  EXPECT_EQ(e["id"].get<std::string>().size(), 36u);
  EXPECT_EQ(e["hash"].get<std::string>().size(), 64u);
  // RFC 3339 UTC with microseconds: 2026-11-23T10:00:00.123456Z.
  const std::string at = e["recorded_at"];
  ASSERT_EQ(at.size(), 27u) << at;
  EXPECT_EQ(at[10], 'T');
  EXPECT_EQ(at[19], '.');
  EXPECT_EQ(at.back(), 'Z');
}

TEST_F(CliTest, AppendFromDataFile) {
  const std::string file = dir_.Sub("data.json");
  std::ofstream(file) << R"({"sku":"A1","qty":2})";
  CliRun r = Annals({"append", store(), "order-1", "--type", "ItemAdded", "--data-file", file});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Annals({"read", store(), "order-1"}).lines().at(0)["data"]["sku"], "A1");
}

TEST_F(CliTest, AppendJsonLinesFromStdinIsOneAtomicAppend) {
  const std::string input =
      R"({"type":"OrderPlaced","data":{"table":4},"id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427",)"
      R"("correlation_id":"req-7","causation_id":"cmd-1","metadata":{"user":"ann"},"schema_version":2})"
      "\n\n"
      R"({"type":"ItemAdded","data":{"sku":"A1","qty":2},"position":99,"version":42})"
      "\n";
  CliRun r = Annals({"append", store(), "order-42", "--expect", "no-stream"}, input);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["first_version"], 1);
  EXPECT_EQ(r.json()["last_version"], 2);
  EXPECT_EQ(r.json()["last_position"], 2);

  std::vector<Json> events = Annals({"read", store(), "order-42"}).lines();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["id"], "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
  EXPECT_EQ(events[0]["correlation_id"], "req-7");
  EXPECT_EQ(events[0]["causation_id"], "cmd-1");
  EXPECT_EQ(events[0]["metadata"], Json::parse(R"({"user":"ann"})"));
  EXPECT_EQ(events[0]["schema_version"], 2);
  // position and version on stdin are ignored by append.
  EXPECT_EQ(events[1]["position"], 2);
  EXPECT_EQ(events[1]["version"], 2);

  // Re-sending a stored event (same id, same content) at its place is an
  // idempotent retry: the original result, nothing stored twice.
  const std::string first_line =
      R"({"type":"OrderPlaced","data":{"table":4},"id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427",)"
      R"("correlation_id":"req-7","causation_id":"cmd-1","metadata":{"user":"ann"},"schema_version":2})"
      "\n";
  CliRun retry = Annals({"append", store(), "order-42", "--expect", "no-stream"}, first_line);
  ASSERT_EQ(retry.code, 0) << retry.err;
  EXPECT_EQ(retry.json()["last_version"], 1);
  EXPECT_EQ(retry.json()["idempotent_replay"], true);
  EXPECT_EQ(Annals({"read", store(), "order-42"}).lines().size(), 2u);
  // The same id in another stream is refused.
  CliRun reused = Annals({"append", store(), "order-43"}, first_line);
  EXPECT_EQ(reused.code, 1);
  EXPECT_THAT(reused.err, HasSubstr("1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
  ExpectOneLine(reused);

  // A bad line anywhere means nothing is written.
  CliRun bad =
      Annals({"append", store(), "order-42"}, "{\"type\":\"A\",\"data\":1}\n{\"type\":\"B\"}\n");
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.err, HasSubstr("line 2"));
  EXPECT_THAT(bad.err, HasSubstr("data"));
  ExpectOneLine(bad);
  EXPECT_EQ(Annals({"read", store(), "order-42"}).lines().size(), 2u);
}

TEST_F(CliTest, AppendBinaryPayloadFromStdin) {
  CliRun r = Annals({"append", store(), "blob-1"},
                    R"({"type":"Blob","data_base64":"AP8Q","content_type":"bytes"})"
                    "\n");
  ASSERT_EQ(r.code, 0) << r.err;
  Json e = Annals({"read", store(), "blob-1"}).lines().at(0);
  EXPECT_EQ(e["data_base64"], "AP8Q");
  EXPECT_EQ(e["content_type"], "bytes");
  EXPECT_FALSE(e.contains("data"));
}

TEST_F(CliTest, PrettyIndentsForPeople) {
  Append("s", "A", "{}");
  for (const auto& args : std::vector<std::vector<std::string>>{{"--pretty", "stats", store()},
                                                                {"stats", store(), "--pretty"}}) {
    CliRun r = Annals(args);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_THAT(r.out, HasSubstr("{\n  \"events\": 1,\n"));
    EXPECT_EQ(r.json()["events"], 1);
  }
}

TEST_F(CliTest, ExpectedVersionConflictsExitThreeAndNameBothVersions) {
  Append("order-1", "A", "{}");
  Append("order-1", "B", "{}");

  CliRun r = Annals(
      {"append", store(), "order-1", "--expect", "no-stream", "--type", "C", "--data", "{}"});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("expected no-stream"));
  EXPECT_THAT(r.err, HasSubstr("actual 2"));
  ExpectOneLine(r);
  EXPECT_EQ(r.out, "");

  r = Annals({"append", store(), "order-1", "--expect", "1", "--type", "C", "--data", "{}"});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("expected 1"));
  EXPECT_THAT(r.err, HasSubstr("actual 2"));

  r = Annals({"append", store(), "order-1", "--expect", "0", "--type", "C", "--data", "{}"});
  EXPECT_EQ(r.code, 3) << "--expect 0 means no-stream";

  r = Annals(
      {"append", store(), "new-stream", "--expect", "exists", "--type", "C", "--data", "{}"});
  EXPECT_EQ(r.code, 3);
  EXPECT_THAT(r.err, HasSubstr("actual 0"));

  // Nothing of the failed appends was stored.
  EXPECT_EQ(Annals({"all", store()}).lines().size(), 2u);

  r = Annals({"append", store(), "order-1", "--expect", "2", "--type", "C", "--data", "{}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["first_version"], 3);
  r = Annals({"append", store(), "order-1", "--expect", "exists", "--type", "D", "--data", "{}"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Annals({"append", store(), "fresh", "--expect", "0", "--type", "D", "--data", "{}"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Annals({"append", store(), "order-1", "--expect", "any", "--type", "E", "--data", "{}"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["last_version"], 5);
}

TEST_F(CliTest, ReadForwardBackwardFromAndLimit) {
  FillSixEvents();  // order-1 at positions 1, 3, 5.
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1"}).lines()),
            (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Positions(Annals({"read", store(), "order-1"}).lines()),
            (std::vector<uint64_t>{1, 3, 5}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--from", "2"}).lines()),
            (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--limit", "2"}).lines()),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--backward"}).lines()),
            (std::vector<uint64_t>{3, 2, 1}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--backward", "--from", "2"}).lines()),
            (std::vector<uint64_t>{2, 1}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--backward", "--limit", "1"}).lines()),
            (std::vector<uint64_t>{3}));
  EXPECT_EQ(Annals({"read", store(), "order-1", "--from", "9"}).out, "");
  // --to: the inclusive last version in reading order.
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--to", "2"}).lines()),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--backward", "--to", "2"}).lines()),
            (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(Versions(Annals({"read", store(), "order-1", "--from", "2", "--to", "2"}).lines()),
            (std::vector<uint64_t>{2}));
  EXPECT_EQ(Annals({"read", store(), "order-1", "--from", "3", "--to", "2"}).out, "");

  CliRun missing = Annals({"read", store(), "order-404"});
  EXPECT_EQ(missing.code, 4);
  EXPECT_THAT(missing.err, HasSubstr("order-404"));
  ExpectOneLine(missing);
}

TEST_F(CliTest, AllFiltersFromLimitTypeAndPrefix) {
  FillSixEvents();
  EXPECT_EQ(Positions(Annals({"all", store()}).lines()), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--from", "4"}).lines()),
            (std::vector<uint64_t>{4, 5, 6}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--from", "2", "--limit", "2"}).lines()),
            (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--type", "Placed"}).lines()),
            (std::vector<uint64_t>{2, 4, 6}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--prefix", "order-"}).lines()),
            (std::vector<uint64_t>{1, 2, 3, 5, 6}));
  EXPECT_EQ(
      Positions(Annals({"all", store(), "--prefix", "order-", "--type", "Placed", "--limit", "1"})
                    .lines()),
      (std::vector<uint64_t>{2}));
  EXPECT_EQ(Annals({"all", store(), "--from", "7"}).out, "");
}

TEST_F(CliTest, AllBackwardBoundedAndSeveralTypes) {
  FillSixEvents();  // ItemAdded at 1, 3, 5; Placed at 2, 4, 6; cust-1 at 4.
  EXPECT_EQ(Positions(Annals({"all", store(), "--backward"}).lines()),
            (std::vector<uint64_t>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--backward", "--from", "5", "--to", "3"}).lines()),
            (std::vector<uint64_t>{5, 4, 3}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--to", "3"}).lines()),
            (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(
      Positions(Annals({"all", store(), "--backward", "--type", "Placed", "--limit", "2"}).lines()),
      (std::vector<uint64_t>{6, 4}));
  // --type repeats (any of the types), and takes one value each time, so the
  // store may follow it.
  EXPECT_EQ(Positions(Annals({"all", "--type", "Placed", "--type", "ItemAdded", "--prefix", "cust-",
                              store()})
                          .lines()),
            (std::vector<uint64_t>{4}));
  EXPECT_EQ(Positions(Annals({"all", store(), "--type", "Placed", "--type", "ItemAdded"}).lines()),
            (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(Annals({"all", store(), "--from", "2", "--to", "1"}).out, "");
}

TEST_F(CliTest, EventPrintsTheEventWithAnId) {
  const std::string id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  Append("order-1", "Placed", "{}");
  CliRun appended = Annals({"append", store(), "order-2", "--type", "ItemAdded", "--data",
                            R"({"sku":"A1"})", "--id", id});
  ASSERT_EQ(appended.code, 0) << appended.err;

  CliRun found = Annals({"event", store(), id});
  ASSERT_EQ(found.code, 0) << found.err;
  const Json event = found.json();
  EXPECT_EQ(event["id"], id);
  EXPECT_EQ(event["stream"], "order-2");
  EXPECT_EQ(event["version"], 1);
  EXPECT_EQ(event["position"], 2);
  EXPECT_EQ(event["data"], Json::parse(R"({"sku":"A1"})"));

  CliRun unknown = Annals({"event", store(), "0190a6e0-0000-7000-8000-000000000000"});
  EXPECT_EQ(unknown.code, 4) << unknown.err;
  EXPECT_THAT(unknown.err, HasSubstr("0190a6e0-0000-7000-8000-000000000000"));
  ExpectOneLine(unknown);
  EXPECT_EQ(unknown.out, "");

  CliRun malformed = Annals({"event", store(), "not-a-uuid"});
  EXPECT_EQ(malformed.code, 2) << malformed.err;
  EXPECT_THAT(malformed.err, HasSubstr("not-a-uuid"));
  ExpectOneLine(malformed);
}

TEST_F(CliTest, StreamsListsNamesAndVersions) {
  FillSixEvents();
  CliRun r = Annals({"streams", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"stream\":\"cust-1\",\"version\":1,\"last_position\":4}\n"
            "{\"stream\":\"order-1\",\"version\":3,\"last_position\":5}\n"
            "{\"stream\":\"order-2\",\"version\":2,\"last_position\":6}\n");
  EXPECT_EQ(Annals({"streams", store(), "--prefix", "cust"}).lines().size(), 1u);
}

TEST_F(CliTest, VerifyAnIntactStore) {
  FillSixEvents();
  CliRun r = Annals({"verify", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = r.json();
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["events"], 6);
  EXPECT_EQ(j["streams"], 3);
  EXPECT_EQ(j["last_position"], 6);
  EXPECT_EQ(j["last_hash"], Annals({"all", store(), "--from", "6"}).lines().at(0)["hash"]);
}

TEST_F(CliTest, VerifyADamagedStoreExitsFiveAndNamesThePosition) {
  // Enough data for several flushed SST files: small memtables.
  {
    Options options;
    options.durability = Durability::kBuffered;
    options.write_buffer_bytes = 64 << 10;
    options.compression = Compression::kNone;
    auto opened = EventStore::Open(store(), options);
    ASSERT_TRUE(opened.ok()) << opened.status();
    const std::string payload = "{\"pad\":\"" + std::string(400, 'x') + "\"}";
    std::vector<NewEvent> batch(50, NewEvent{.type = "Padded", .payload = payload});
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(
          (*opened)->Append("s-" + std::to_string(i), ExpectedVersion::NoStream(), batch).ok());
    }
  }
  ASSERT_EQ(Annals({"verify", store()}).code, 0);

  // Flip bytes in the data blocks (start of the file) of the largest SST:
  // the log family's.
  std::filesystem::path largest;
  uintmax_t largest_size = 0;
  for (const auto& entry : std::filesystem::directory_iterator(store())) {
    if (entry.path().extension() == ".sst" && entry.file_size() > largest_size) {
      largest = entry.path();
      largest_size = entry.file_size();
    }
  }
  ASSERT_GT(largest_size, 40000u) << "expected flushed SST files";
  {
    std::fstream f(largest, std::ios::in | std::ios::out | std::ios::binary);
    for (uintmax_t offset = largest_size / 4; offset < largest_size / 4 + 8; ++offset) {
      f.seekg(offset);
      char c = 0;
      f.get(c);
      f.seekp(offset);
      f.put(static_cast<char>(c ^ 0x5a));
    }
  }

  CliRun r = Annals({"verify", store()});
  EXPECT_EQ(r.code, 5) << r.out << r.err;
  Json j = r.json();
  EXPECT_EQ(j["ok"], false);
  ASSERT_TRUE(j.contains("first_bad_position")) << r.out;
  EXPECT_GT(j["first_bad_position"].get<uint64_t>(), 0u) << r.out;
  EXPECT_FALSE(j["reason"].get<std::string>().empty());
  ExpectOneLine(r);

  // Readers do not serve a shorter log either.
  EXPECT_EQ(Annals({"all", store()}).code, 5);
  EXPECT_EQ(Annals({"export", store()}).code, 5);
}

TEST_F(CliTest, VerifyReportsAStoreTooDamagedToOpen) {
  // Many small appends, all still in the WAL (no flush).
  {
    auto opened = EventStore::Open(store(), Options{.durability = Durability::kBuffered});
    ASSERT_TRUE(opened.ok()) << opened.status();
    const std::string payload = "{\"pad\":\"" + std::string(200, 'y') + "\"}";
    NewEvent e{.type = "Padded", .payload = payload};
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE((*opened)->Append("s", ExpectedVersion::Any(), {e}).ok());
    }
  }
  std::filesystem::path wal;
  for (const auto& entry : std::filesystem::directory_iterator(store())) {
    if (entry.path().extension() == ".log" &&
        (wal.empty() || entry.file_size() > std::filesystem::file_size(wal))) {
      wal = entry.path();
    }
  }
  ASSERT_FALSE(wal.empty());
  const uintmax_t size = std::filesystem::file_size(wal);
  ASSERT_GT(size, 50000u);
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(size / 2);
    f.write("\x5a\x5a\x5a\x5a", 4);
  }
  CliRun r = Annals({"verify", store()});
  EXPECT_EQ(r.code, 5) << r.out << r.err;
  Json j = r.json();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["first_bad_position"], 0);
  EXPECT_THAT(j["reason"].get<std::string>(), HasSubstr("Corruption"));
  ExpectOneLine(r);

  CliRun read = Annals({"read", store(), "s"});
  EXPECT_EQ(read.code, 5);
  EXPECT_EQ(read.out, "");
  EXPECT_THAT(read.err, HasSubstr("annals verify"));
}

TEST_F(CliTest, MissingStoreExitsFourForEveryReadOnlySubcommand) {
  const std::string missing = dir_.Sub("no-such-store");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"read", missing, "s"},
           {"all", missing},
           {"event", missing, "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
           {"streams", missing},
           {"verify", missing},
           {"export", missing},
           {"stats", missing},
           {"replay", missing, "s", "--aggregate", "x"}}) {
    CliRun r = Annals(args);
    if (args[0] == "replay") {
      EXPECT_EQ(r.code, 2) << "this binary knows no aggregates: usage error first";
      continue;
    }
    EXPECT_EQ(r.code, 4) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("no annals store")) << args[0];
    ExpectOneLine(r);
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(std::filesystem::exists(missing)) << "a read-only command created the store";
}

// Empty stdin is an empty append, as in the library: --expect is checked,
// nothing is written, the stream's current state is printed.
TEST_F(CliTest, AnEmptyAppendChecksTheExpectedVersionAndWritesNothing) {
  Append("order-1", "A", "{}");
  Append("other", "B", "{}");
  Append("order-1", "C", "{}");  // order-1: versions 1, 2 at positions 1, 3.

  for (const std::string& input : {std::string(), std::string("\n  \n")}) {
    for (const char* expect : {"2", "exists", "any"}) {
      CliRun r = Annals({"append", store(), "order-1", "--expect", expect}, input);
      EXPECT_EQ(r.code, 0) << expect << ": " << r.err;
      EXPECT_EQ(r.out,
                R"({"stream":"order-1","first_version":3,"last_version":2,"first_position":4,)"
                R"("last_position":3})"
                "\n")
          << expect;
      EXPECT_EQ(r.err, "");
    }
  }
  CliRun absent = Annals({"append", store(), "never", "--expect", "no-stream"});
  EXPECT_EQ(absent.code, 0) << absent.err;
  EXPECT_EQ(absent.out,
            R"({"stream":"never","first_version":1,"last_version":0,"first_position":1,)"
            R"("last_position":0})"
            "\n");

  CliRun wrong = Annals({"append", store(), "order-1", "--expect", "1"});
  EXPECT_EQ(wrong.code, 3);
  EXPECT_THAT(wrong.err, HasSubstr("expected 1"));
  EXPECT_THAT(wrong.err, HasSubstr("actual 2"));
  ExpectOneLine(wrong);
  EXPECT_EQ(wrong.out, "");
  EXPECT_EQ(Annals({"append", store(), "never", "--expect", "exists"}).code, 3);
  EXPECT_EQ(Annals({"append", store(), "$reserved"}).code, 1) << "the stream name is checked";
  EXPECT_EQ(Annals({"all", store()}).lines().size(), 3u) << "an empty append wrote something";

  // On a missing store: the stream is absent, and no store appears.
  const std::string missing = store("missing");
  CliRun none = Annals({"append", missing, "s", "--expect", "no-stream"});
  EXPECT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.json()["last_version"], 0);
  EXPECT_EQ(Annals({"append", missing, "s", "--expect", "exists"}).code, 3);
  EXPECT_FALSE(std::filesystem::exists(missing)) << "an empty append created a store";
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().rfind("missing", 0), std::string::npos)
        << entry.path() << " left behind";
  }
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  Append("s", "A", "{}");
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"frobnicate", store()},
      {"read", store()},  // missing <stream>
      {"read", store(), "s", "--limit", "-1"},
      {"read", store(), "s", "--limit", "many"},
      {"all", store(), "--bogus"},
      {"append", store(), "s", "--expect", "sometimes", "--type", "A", "--data", "{}"},
      {"append", store(), "s", "--expect", "18446744073709551615", "--type", "A", "--data", "{}"},
      {"append", store(), "s", "--expect", "18446744073709551616", "--type", "A", "--data", "{}"},
      {"append", store(), "s", "--expect", "4611686018427387905", "--type", "A", "--data", "{}"},
      {"append", store(), "s", "--expect", "-1", "--type", "A", "--data", "{}"},
      {"append", store(), "s", "--type", "A", "--data", "{not json"},
      {"append", store(), "s", "--type", "A"},   // --type without data
      {"append", store(), "s", "--data", "{}"},  // data without --type
      {"append", store(), "s", "--type", "A", "--data", "{}", "--data-file", "f"},
      {"replay", store(), "s"},  // --aggregate is required
      {"replay", store(), "s", "--aggregate", "no-such-aggregate"},
      {"replay", store(), "s", "--aggregate", "x", "--to-version", "1", "--as-of",
       "2026-01-01T00:00:00Z"},
  };
  for (const auto& args : cases) {
    CliRun r = Annals(args);
    EXPECT_EQ(r.code, 2) << ::testing::PrintToString(args) << ": " << r.err;
    ExpectOneLine(r);
    EXPECT_EQ(r.out, "") << ::testing::PrintToString(args);
  }
  EXPECT_THAT(Annals({"frobnicate"}).err, HasSubstr("known: append, read"));
  EXPECT_EQ(Annals({"read", store(), "s"}).lines().size(), 1u) << "nothing was appended";
}

// The version printed is project()'s (ANNALS_PROJECT_VERSION, given by
// tests/cli/CMakeLists.txt), through the generated annals/version.h.
TEST_F(CliTest, VersionIsTheProjectVersion) {
  CliRun r = Annals({"--version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, std::string("annals ") + ANNALS_PROJECT_VERSION + "\n");
  EXPECT_STREQ(ANNALS_VERSION_STRING, ANNALS_PROJECT_VERSION);
  EXPECT_EQ(std::to_string(ANNALS_VERSION_MAJOR) + "." + std::to_string(ANNALS_VERSION_MINOR) +
                "." + std::to_string(ANNALS_VERSION_PATCH),
            ANNALS_PROJECT_VERSION);
}

// The stock binary links no example: no café projection, no aggregate.
TEST_F(CliTest, TheStockBinaryKnowsNoDomain) {
  Append("order-1", "OrderPlaced", "{}");
  CliRun projections = Annals({"projections", store()});
  EXPECT_EQ(projections.code, 0) << projections.err;
  EXPECT_THAT(projections.out, Not(HasSubstr("cafe_")));
  EXPECT_EQ(projections.out, "") << "no projection is compiled in and none has state";
  CliRun replay = Annals({"replay", store(), "order-1", "--aggregate", "order"});
  EXPECT_EQ(replay.code, 2);
  EXPECT_THAT(replay.err, HasSubstr("no aggregates registered"));
}

// The café's own binary (examples/cafe_annals) is the stock command line plus
// the café's aggregates and projections.
TEST_F(CliTest, TheCafeBinaryKnowsTheCafe) {
#ifndef ANNALS_CAFE_CLI
  GTEST_SKIP() << "built without the examples (ANNALS_BUILD_EXAMPLES=OFF)";
#else
  Append("order-1", "OrderPlaced", "{}");
  cli_ = ANNALS_CAFE_CLI;
  CliRun projections = Annals({"projections", store()});
  EXPECT_EQ(projections.code, 0) << projections.err;
  std::vector<std::string> names;
  for (const Json& p : projections.lines()) names.push_back(p["name"].get<std::string>());
  EXPECT_THAT(names, ::testing::UnorderedElementsAre("cafe_board", "cafe_sales"));
  // A known aggregate: the missing stream is the error now (4), not the name (2).
  CliRun replay = Annals({"replay", store(), "order-404", "--aggregate", "order"});
  EXPECT_EQ(replay.code, 4) << replay.err;
  EXPECT_EQ(Annals({"--version"}).out, std::string("annals ") + ANNALS_PROJECT_VERSION + "\n");
#endif
}

TEST_F(CliTest, HelpEverywhere) {
  CliRun top = Annals({"--help"});
  EXPECT_EQ(top.code, 0);
  for (const char* sub : {"append", "read", "all", "event", "streams", "verify", "export", "import",
                          "replay", "stats"}) {
    EXPECT_THAT(top.out, HasSubstr(sub));
    CliRun r = Annals({sub, "--help"});
    EXPECT_EQ(r.code, 0) << sub;
    EXPECT_THAT(r.out, HasSubstr(std::string("annals ") + sub)) << sub;
  }
}

TEST_F(CliTest, AReaderThatStopsEarlyEndsTheListingWithExitZero) {
  std::string input;
  for (int i = 0; i < 500; ++i) {
    input += "{\"type\":\"Padded\",\"data\":{\"pad\":\"" + std::string(300, 'p') + "\"}}\n";
  }
  ASSERT_EQ(Annals({"append", store(), "s"}, input).code, 0);
  // 150 KB of output into a pipe that `head` closes after the first line:
  // the write fails with EPIPE (SIGPIPE is ignored, so the store closes
  // cleanly) and the listing ends as if complete: exit 0, nothing on stderr
  // (shared/cli-contract.md).
  for (const char* listing : {"export", "all"}) {
    const std::string err_path = dir_.Sub("pipe-stderr");
    const std::string command = "bash -c '\"" + cli_ + "\" " + listing + " \"" + store() +
                                "\" 2>\"" + err_path +
                                "\" | head -1 >/dev/null; exit ${PIPESTATUS[0]}'";
    const int status = std::system(command.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0)
        << listing << ": 141 would mean killed by SIGPIPE; " << ReadFile(err_path);
    EXPECT_EQ(ReadFile(err_path), "") << listing;
  }

  // Every listing, into a pipe nobody reads any more (deterministic: the
  // first write fails, however little the listing writes).
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"read", store(), "s"},
                                             {"all", store()},
                                             {"streams", store()},
                                             {"export", store()},
                                             {"projections", store()}}) {
    CliRun r = AnnalsIntoClosedPipe(args);
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err, "") << args[0];
  }

  // Any other failure of stdout is still an error: the output is incomplete
  // and nobody chose that.
  CliRun full = AnnalsInto({"all", store()}, "/dev/full");
  EXPECT_EQ(full.code, 1);
  EXPECT_THAT(full.err, HasSubstr("writing to stdout failed (No space left on device)"));
  ExpectOneLine(full);
}

TEST_F(CliTest, ErrorsEchoNonPrintableInputEscaped) {
  // A stream name with NUL, ESC (a terminal escape sequence), DEL and a C1
  // control (U+009B, the 8-bit CSI), echoed by the stdin-mismatch error.
  const std::string line = R"({"stream":"a\u0000b\u001b[2Jc\u007fd\u009be","type":"A","data":1})"
                           "\n";
  CliRun r = Annals({"append", store(), "s"}, line);
  EXPECT_EQ(r.code, 1);
  ExpectOneLine(r);
  EXPECT_THAT(r.err, HasSubstr(R"('a\x00b\x1b[2Jc\x7fd\xc2\x9be')"));
  for (char c : r.err.substr(0, r.err.size() - 1)) {
    const unsigned char b = static_cast<unsigned char>(c);
    EXPECT_TRUE(b >= 0x20 && b < 0x7f) << "raw byte " << static_cast<int>(b) << " in " << r.err;
  }
  // An argument echoed back (an unknown subcommand) with ESC, BEL, a newline
  // and invalid UTF-8; valid UTF-8 stays readable.
  CliRun unknown = Annals({"caf\xc3\xa9\x1b]0;x\a\n\xff"});
  EXPECT_EQ(unknown.code, 2);
  ExpectOneLine(unknown);
  EXPECT_THAT(unknown.err, HasSubstr("'caf\xc3\xa9\\x1b]0;x\\x07\\n\\xff'"));
}

// Nothing is left at a new store path when the append that would create it
// fails, whatever the reason; a successful one leaves exactly the store.
TEST_F(CliTest, AFailedAppendToANewStoreLeavesNothingBehind) {
  const std::string parent = dir_.Sub("fresh");
  const std::string path = parent + "/store";
  struct Case {
    std::vector<std::string> args;
    std::string input;
    int code;
  };
  const std::string long_type(300, 't');
  for (const Case& c : std::vector<Case>{
           {{"append", path, "$reserved", "--type", "A", "--data", "{}"}, "", 1},
           {{"append", path, "s", "--expect", "3", "--type", "A", "--data", "{}"}, "", 3},
           {{"append", path, "s", "--expect", "exists", "--type", "A", "--data", "{}"}, "", 3},
           {{"append", path, "s"},
            "{\"type\":\"A\",\"data\":1}\n{\"type\":\"" + long_type + "\",\"data\":1}\n",
            1}}) {
    CliRun r = Annals(c.args, c.input);
    EXPECT_EQ(r.code, c.code) << ::testing::PrintToString(c.args) << ": " << r.err;
    ExpectOneLine(r);
    EXPECT_FALSE(std::filesystem::exists(parent))
        << ::testing::PrintToString(c.args) << " left " << parent << " behind";
  }
  // The parent exists (this test's own directory): nothing named after the
  // store appears in it.
  CliRun r = Annals({"append", store("new"), "$reserved", "--type", "A", "--data", "{}"});
  EXPECT_EQ(r.code, 1) << r.err;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().rfind("new", 0), std::string::npos)
        << entry.path() << " left behind";
  }
  // An empty directory stays as it was.
  const std::string empty_dir = dir_.Sub("empty");
  std::filesystem::create_directory(empty_dir);
  EXPECT_EQ(Annals({"append", empty_dir, "s", "--expect", "2", "--type", "A", "--data", "{}"}).code,
            3);
  EXPECT_TRUE(std::filesystem::is_directory(empty_dir));
  EXPECT_TRUE(std::filesystem::is_empty(empty_dir));

  // Success creates the store (and its parent), in an empty directory too.
  CliRun ok = Annals({"append", path, "s", "--type", "A", "--data", "{}"});
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(Annals({"all", path}).lines().size(), 1u);
  ASSERT_EQ(Annals({"append", empty_dir, "s", "--type", "A", "--data", "{}"}).code, 0);
  EXPECT_EQ(Annals({"verify", empty_dir}).json()["events"], 1);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(parent)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"store"}) << "scratch directories left behind";
}

// Processes that create one store at once: every append lands in the one
// store, none is lost to a losing creator.
TEST_F(CliTest, ConcurrentAppendsCreatingOneStoreAllLand) {
  const std::string path = store("raced");
  constexpr int kProcesses = 4;
  std::vector<testing::Process> processes;
  for (int i = 0; i < kProcesses; ++i) {
    const std::string n = std::to_string(i);
    processes.push_back(testing::Process::Start(
        {cli_, "append", path, "s" + n, "--type", "A", "--data", "{}"}, dir_.Sub("race-" + n)));
    ASSERT_GT(processes.back().pid(), 0);
  }
  for (testing::Process& process : processes) {
    const testing::ProcessResult result = process.Wait();
    ASSERT_TRUE(result.exited) << result.Describe();
    // A creator that finds the store held by another writer gets exit 1
    // (locked, nothing written); any other outcome must be success.
    if (result.exit_code != 0) {
      EXPECT_EQ(result.exit_code, 1) << result.err;
      EXPECT_THAT(result.err, HasSubstr("another process has this store open")) << result.err;
    }
  }
  CliRun verify = Annals({"verify", path});
  ASSERT_EQ(verify.code, 0) << verify.err;
  EXPECT_GE(verify.json()["events"].get<int>(), 1);
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(entry.path().filename().string().find("raced."), std::string::npos)
        << entry.path() << " left behind";
  }
}

// The issue's reproduction through the command line: `annals append` on an
// 8 MiB tmpfs with about 100 KB free aborted (exit 134). Now: exit 1, one
// line naming the condition, and the store works once space is freed. Then
// the same store on a read-only remount. Needs root (tests/eventstore/
// full_disk_test.cc covers ext4 and the library).
TEST_F(CliTest, AFullOrReadOnlyFileSystemExitsOneAndSaysWhy) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a small tmpfs; run as root (CI does)";
  const std::string mnt = dir_.Sub("mnt");
  std::filesystem::create_directory(mnt);
  ASSERT_EQ(mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=8m"), 0) << strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() {
      if (umount2(path.c_str(), 0) != 0) umount2(path.c_str(), MNT_DETACH);
    }
  } unmount{mnt};
  const std::string path = mnt + "/store";
  Append("s", "A", "{}", path);

  // Fill all but ~100 KB.
  {
    const std::string filler = mnt + "/filler";
    std::ofstream out(filler, std::ios::binary);
    struct statvfs st;
    ASSERT_EQ(statvfs(mnt.c_str(), &st), 0);
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bfree) * st.f_frsize;
    ASSERT_GT(free_bytes, 100u << 10);
    out << std::string(free_bytes - (100u << 10), 'f');
  }
  const std::string data = "{\"pad\":\"" + std::string(4000, 'p') + "\"}";
  int acknowledged = 1;
  CliRun failed;
  for (int i = 0; i < 60; ++i) {
    CliRun r = Annals({"append", path, "s", "--type", "Padded", "--data", data});
    if (r.code == 0) {
      ++acknowledged;
      continue;
    }
    failed = r;
    break;
  }
  ASSERT_NE(failed.code, -1) << "60 appends of 4 KB fit in 100 KB";
  EXPECT_EQ(failed.code, 1) << failed.err;
  ExpectOneLine(failed);
  EXPECT_THAT(failed.err, HasSubstr("disk full"));
  EXPECT_THAT(failed.err, HasSubstr("free space"));

  std::filesystem::remove(mnt + "/filler");
  CliRun verify = Annals({"verify", path});
  ASSERT_EQ(verify.code, 0) << verify.err;
  EXPECT_GE(verify.json()["events"].get<int>(), acknowledged);
  EXPECT_EQ(Annals({"append", path, "s", "--type", "After", "--data", "{}"}).code, 0);

  ASSERT_EQ(mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << strerror(errno);
  CliRun read_only = Annals({"append", path, "s", "--type", "A", "--data", "{}"});
  EXPECT_EQ(read_only.code, 1);
  ExpectOneLine(read_only);
  EXPECT_THAT(read_only.err, HasSubstr("read-only file system"));
  // Creating a store there says the same.
  CliRun create = Annals({"append", mnt + "/other", "s", "--type", "A", "--data", "{}"});
  EXPECT_EQ(create.code, 1);
  ExpectOneLine(create);
  EXPECT_THAT(create.err, HasSubstr("read-only file system"));
  // Reading still works.
  CliRun all = Annals({"all", path});
  EXPECT_EQ(all.code, 0) << all.err;
  EXPECT_EQ(static_cast<int>(all.lines().size()), verify.json()["events"].get<int>() + 1);
  ASSERT_EQ(mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, nullptr), 0) << strerror(errno);
}

TEST_F(CliTest, StatsCountsEventsAndStreams) {
  FillSixEvents();
  CliRun r = Annals({"stats", store()});
  ASSERT_EQ(r.code, 0) << r.err;
  Json j = r.json();
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  ASSERT_GE(keys.size(), 4u);
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 4),
            (std::vector<std::string>{"events", "streams", "last_position", "bytes_on_disk"}));
  EXPECT_EQ(j["events"], 6);
  EXPECT_EQ(j["streams"], 3);
  EXPECT_EQ(j["last_position"], 6);
  EXPECT_GT(j["bytes_on_disk"].get<uint64_t>(), 0u);
}

TEST_F(CliTest, ExportImportRoundTripKeepsEverythingAndRerunAddsNothing) {
  FillSixEvents();
  // Events appended through the library: non-canonical JSON text and binary
  // payloads must come back byte for byte (the hash chain covers them).
  {
    auto opened = EventStore::Open(store(), Options());
    ASSERT_TRUE(opened.ok()) << opened.status();
    std::vector<MetadataEntry> metadata = {{"user", "ann"}, {"ip", "10.0.0.1"}};
    NewEvent spaced{.type = "Spaced",
                    .payload = "{ \"a\" : 1.50 }",
                    .correlation_id = "c",
                    .causation_id = "d",
                    .metadata = metadata};
    NewEvent binary{.type = "Blob",
                    .content_type = ContentType::kBytes,
                    .payload = std::string_view("\x00\xff\x10 bytes", 8)};
    NewEvent flat{.type = "Fb", .content_type = ContentType::kFlatBuffers, .payload = "\x04\x00"};
    ASSERT_TRUE((*opened)->Append("lib", ExpectedVersion::Any(), {spaced, binary, flat}).ok());
  }
  Append("order-1", "Late", "[1,2,3]");

  CliRun exported = Annals({"export", store()});
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::vector<Json> lines = exported.lines();
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[6]["data"], Json::parse(R"({"a":1.5})"));
  EXPECT_TRUE(lines[6].contains("payload_base64")) << "non-canonical JSON keeps its bytes";
  EXPECT_TRUE(lines[7].contains("data_base64"));
  EXPECT_EQ(lines[7]["content_type"], "bytes");
  EXPECT_EQ(lines[8]["content_type"], "flatbuffers");
  EXPECT_FALSE(lines[9].contains("payload_base64"));

  const std::string copy = store("copy");
  CliRun imported = Annals({"import", copy}, exported.out);
  ASSERT_EQ(imported.code, 0) << imported.err;
  EXPECT_EQ(imported.out, "{\"imported\":10,\"skipped\":0,\"last_position\":10}\n");

  // Same ids, versions, positions, timestamps, payloads and hashes.
  CliRun again = Annals({"export", copy});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, exported.out);
  CliRun verify = Annals({"verify", copy});
  ASSERT_EQ(verify.code, 0) << verify.out << verify.err;
  EXPECT_EQ(verify.json()["last_hash"], Annals({"verify", store()}).json()["last_hash"]);
  EXPECT_EQ(Annals({"streams", copy}).out, Annals({"streams", store()}).out);

  // Re-running the import adds nothing.
  CliRun rerun = Annals({"import", copy}, exported.out);
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  EXPECT_EQ(rerun.out, "{\"imported\":0,\"skipped\":10,\"last_position\":10}\n");
  EXPECT_EQ(Annals({"export", copy}).out, exported.out);

  // --buffered (no fsync per batch) imports the same history.
  const std::string buffered = store("buffered");
  CliRun fast = Annals({"import", buffered, "--buffered"}, exported.out);
  ASSERT_EQ(fast.code, 0) << fast.err;
  EXPECT_EQ(Annals({"export", buffered}).out, exported.out);

  // A store holding a prefix of the export gets the rest.
  const std::string partial = store("partial");
  std::string first_four;
  {
    std::istringstream in(exported.out);
    std::string line;
    for (int i = 0; i < 4 && std::getline(in, line); ++i) first_four += line + "\n";
  }
  ASSERT_EQ(Annals({"import", partial}, first_four).code, 0);
  CliRun rest = Annals({"import", partial}, exported.out);
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(rest.out, "{\"imported\":6,\"skipped\":4,\"last_position\":10}\n");
  EXPECT_EQ(Annals({"export", partial}).out, exported.out);
}

TEST_F(CliTest, ImportRefusesAnotherHistoryAndWritesNothing) {
  FillSixEvents();
  const std::string exported = Annals({"export", store()}).out;

  // A store with other events.
  const std::string other = store("other");
  Append("order-1", "Other", "{}", other);
  CliRun r = Annals({"import", other}, exported);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("differs from the export at position 1"));
  ExpectOneLine(r);
  EXPECT_EQ(Annals({"all", other}).lines().size(), 1u);

  // A gap in the export, or a bad line at the end: nothing is written.
  const std::vector<std::string> lines = testing::SplitLines(exported);
  std::string gap = lines[0] + "\n" + lines[2] + "\n";
  r = Annals({"import", store("gap")}, gap);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("line 2"));
  std::string truncated = exported + "{\"position\":7,\"type\":\"X\"}\n";
  r = Annals({"import", store("bad")}, truncated);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("line 7"));
  EXPECT_EQ(Annals({"all", store("bad")}).out, "");

  // Import keeps ids and timestamps, so it needs them.
  Json no_id = Json::parse(lines[0]);
  no_id["id"] = nullptr;
  r = Annals({"import", store("no-id")}, no_id.dump() + "\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.err, HasSubstr("line 1"));

  // An edited export (a changed payload) is detected by its hash.
  Json edited = Json::parse(lines[0]);
  edited["data"]["n"] = 1000;
  r = Annals({"import", store("edited")}, edited.dump() + "\n");
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("export was altered"));
}

TEST_F(CliTest, ReadOnlyCommandsWorkWhileAnotherProcessWrites) {
  auto opened = EventStore::Open(store(), Options{.durability = Durability::kBuffered});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EventStore& writer = **opened;
  NewEvent e{.type = "Placed", .payload = "{\"n\":1}"};
  ASSERT_TRUE(writer.Append("order-1", ExpectedVersion::NoStream(), {e}).ok());
  ASSERT_TRUE(writer.Append("order-2", ExpectedVersion::NoStream(), {e}).ok());

  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"read", store(), "order-1"},
                                             {"all", store()},
                                             {"streams", store()},
                                             {"verify", store()},
                                             {"export", store()},
                                             {"stats", store()}}) {
    CliRun r = Annals(args);
    EXPECT_EQ(r.code, 0) << args[0] << ": " << r.err;
  }
  EXPECT_EQ(Annals({"all", store()}).lines().size(), 2u);
  EXPECT_EQ(Annals({"verify", store()}).json()["events"], 2);

  // A later write is visible to the next command.
  ASSERT_TRUE(writer.Append("order-1", ExpectedVersion::Exact(1), {e}).ok());
  EXPECT_EQ(Annals({"read", store(), "order-1"}).lines().size(), 2u);

  // Writing needs the lock the service holds: a clear error, not exit 0.
  CliRun append = Annals({"append", store(), "order-1", "--type", "X", "--data", "{}"});
  EXPECT_EQ(append.code, 1) << append.err;
  EXPECT_THAT(append.err, Not(HasSubstr("\n\n")));
  ExpectOneLine(append);
  EXPECT_EQ(writer.last_position(), 3u);
}

// nlohmann::json recurses once per nesting level when it writes or compares a
// document: 100,000 levels crashed append with a stack overflow (exit 139),
// found by the event_json fuzzer. Deep documents are refused, not crashed on.
TEST_F(CliTest, DeeplyNestedJsonIsRefusedNotACrash) {
  const int n = 100000;
  const std::string deep = std::string(n, '[') + std::string(n, ']');
  CliRun r = Annals({"append", store(), "s"}, "{\"type\":\"T\",\"data\":" + deep + "}\n");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, ::testing::HasSubstr("nests deeper than"));
  ExpectOneLine(r);
  const std::string deep_file = dir_.Sub("deep.json");  // Too long for one argv string.
  std::ofstream(deep_file) << deep;
  r = Annals({"append", store(), "s", "--type", "T", "--data-file", deep_file});
  EXPECT_EQ(r.code, 2) << r.err;  // A bad --data/--data-file is a usage error.
  EXPECT_THAT(r.err, ::testing::HasSubstr("nests deeper than"));
  r = Annals(
      {"import", dir_.Sub("imported")},
      "{\"position\":1,\"stream\":\"s\",\"version\":1,\"type\":\"T\",\"data\":" + deep + "}\n");
  EXPECT_EQ(r.code, 1) << r.err;
  // A document within the limit is fine.
  const std::string ok = std::string(100, '[') + std::string(100, ']');
  r = Annals({"append", store(), "s", "--type", "T", "--data", ok});
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<Json> events = Annals({"read", store(), "s"}).lines();
  ASSERT_EQ(events.size(), 1u);
}

// docs/lifecycle.md through the CLI: stream-meta shows and changes the
// retention metadata; delete (soft, --hard); read and streams of deleted
// streams.
TEST_F(CliTest, StreamMetaShowsAndChangesRetention) {
  for (int i = 0; i < 5; ++i) Append("s", "E", "{}");
  CliRun r = Annals({"stream-meta", store(), "s"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "{\"stream\":\"s\",\"metadata_version\":0,\"max_count\":0,\"max_age_us\":0,"
            "\"truncate_before\":0,\"deleted\":\"none\"}\n");
  r = Annals({"stream-meta", store(), "s", "--max-count", "2", "--max-age", "30d"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["metadata_version"], 1);
  EXPECT_EQ(r.json()["max_count"], 2);
  EXPECT_EQ(r.json()["max_age_us"], int64_t{30} * 86'400'000'000);
  EXPECT_EQ(Versions(Annals({"read", store(), "s"}).lines()), (std::vector<uint64_t>{4, 5}));
  // Only the fields given change.
  r = Annals({"stream-meta", store(), "s", "--truncate-before", "5"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["max_count"], 2);
  EXPECT_EQ(r.json()["metadata_version"], 2);
  EXPECT_EQ(Versions(Annals({"read", store(), "s"}).lines()), (std::vector<uint64_t>{5}));
  for (const char* bad : {"12", "3w", "-1d", "d"}) {
    EXPECT_EQ(Annals({"stream-meta", store(), "s", "--max-age", bad}).code, 2) << bad;
  }
}

TEST_F(CliTest, DeleteSoftAndHard) {
  Append("soft", "E", "{}");
  Append("hard", "E", "{}");
  Append("kept", "E", "{}");
  CliRun r = Annals({"delete", store(), "soft"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["deleted"], "soft");
  r = Annals({"read", store(), "soft"});
  EXPECT_EQ(r.code, 4);
  ExpectOneLine(r);
  EXPECT_THAT(r.err, HasSubstr("was deleted (soft delete)"));
  ASSERT_EQ(Annals({"delete", store(), "hard", "--hard"}).code, 0);
  r = Annals({"read", store(), "hard"});
  EXPECT_EQ(r.code, 4);
  ExpectOneLine(r);
  EXPECT_THAT(r.err, HasSubstr("was deleted (hard delete)"));
  EXPECT_EQ(Annals({"streams", store()}).out,
            "{\"stream\":\"kept\",\"version\":1,\"last_position\":3}\n");
  // An append to a hard-deleted stream: exit 1 with the reason.
  r = Annals({"append", store(), "hard", "--type", "E", "--data", "{}"});
  EXPECT_EQ(r.code, 1);
  ExpectOneLine(r);
  EXPECT_THAT(r.err, HasSubstr("was deleted (hard delete)"));
  // Soft: an append recreates it, continuing its versions.
  EXPECT_EQ(Append("soft", "E", "{}")["first_version"], 2);
  EXPECT_EQ(Versions(Annals({"read", store(), "soft"}).lines()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(Annals({"stream-meta", store(), "hard"}).json()["deleted"], "hard");
  EXPECT_EQ(Annals({"delete", store(), "hard"}).code, 1);
  EXPECT_EQ(Annals({"delete", store(), "nothing"}).code, 4);
}

}  // namespace
}  // namespace annals
