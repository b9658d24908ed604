// `annals import` writes all or nothing (issue 11): a tampered, truncated or
// garbled export leaves no store behind (new target) or the store exactly as
// it was (existing target), whatever batch the damage is in; a good export
// reproduces the source's chain; re-running adds nothing; no scratch or spool
// file is left next to the store. Runs the built binary ($ANNALS_CLI) like
// cli_test.cc, through tests/common/cli_runner.h.

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/common/cli_runner.h"
#include "tests/common/files.h"
#include "tests/common/stored_records.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

namespace fs = std::filesystem;
using Json = testing::CliJson;
using testing::CliRun;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::SplitLines;

// Events in the source store: several import batches (a batch holds at most
// 2,000 events), so that damage near the end comes after batches that an
// import not all-or-nothing would already have written.
constexpr int kEvents = 5000;
// Runs of kRun consecutive events per stream, 20 streams.
constexpr int kRun = 50;

std::string Join(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_ = testing::AnnalsBinaryFromEnv();
    ASSERT_FALSE(cli_.empty());
    fs::create_directory(stores_);
  }

  // Stores live in their own directory, so that leftovers are easy to see.
  std::string store(const std::string& name) const { return stores_ + "/" + name; }

  // Runs `annals args...` with the file `input_path` on stdin, sampling its
  // peak memory.
  CliRun AnnalsFromFile(const std::vector<std::string>& args, const std::string& input_path) {
    return testing::RunAnnalsWith(
        cli_, args, dir_.Sub("annals"),
        testing::ProcessOptions{.stdin_path = input_path, .sample_peak_rss = true});
  }

  CliRun Annals(const std::vector<std::string>& args, const std::string& input = "") {
    return testing::RunAnnals(cli_, args, dir_.Sub("annals"), input);
  }

  // A source store of kEvents events (runs of kRun per stream) and its export.
  // With `compression`, the store compresses every payload (min_bytes 64).
  std::string MakeExport(PayloadCompression compression = PayloadCompression::kNone) {
    const std::string source = dir_.Sub("source");
    {
      Options options;
      options.durability = Durability::kBuffered;
      options.payload_compression = compression;
      options.payload_compression_min_bytes = 64;
      absl::StatusOr<std::unique_ptr<EventStore>> opened = EventStore::Open(source, options);
      EXPECT_TRUE(opened.ok()) << opened.status();
      if (!opened.ok()) return "";
      std::unique_ptr<EventStore> s = std::move(*opened);
      std::vector<std::string> payloads;
      for (int i = 0; i < kEvents; i += kRun) {
        payloads.clear();
        for (int k = 0; k < kRun; ++k) {
          payloads.push_back("{\"n\":" + std::to_string(i + k) + ",\"pad\":\"" +
                             std::string(100, 'x') + "\"}");
        }
        std::vector<NewEvent> events;
        for (const std::string& p : payloads) events.push_back({.type = "Added", .payload = p});
        const std::string stream = "s-" + std::to_string((i / kRun) % 20);
        absl::StatusOr<AppendResult> r = s->Append(stream, ExpectedVersion::Any(), events);
        EXPECT_TRUE(r.ok()) << r.status();
      }
      if (compression != PayloadCompression::kNone) {
        source_compressed_ = testing::CompressedRecords(*s);
      }
    }
    CliRun exported = Annals({"export", source});
    EXPECT_EQ(exported.code, 0) << exported.err;
    source_verify_ = Annals({"verify", source}).json();
    EXPECT_EQ(source_verify_["ok"], true);
    return exported.out;
  }

  // Names in the stores' directory other than `expected`.
  std::vector<std::string> Leftovers(const std::set<std::string>& expected) const {
    std::vector<std::string> extra;
    for (const auto& entry : fs::directory_iterator(stores_)) {
      const std::string name = entry.path().filename().string();
      if (!expected.contains(name)) extra.push_back(name);
    }
    return extra;
  }

  // verify's report (which includes last_hash) and the whole export.
  std::pair<std::string, std::string> Snapshot(const std::string& store_dir) {
    CliRun verify = Annals({"verify", store_dir});
    EXPECT_EQ(verify.code, 0) << verify.out << verify.err;
    return {verify.out, Annals({"export", store_dir}).out};
  }

  // Imports MakeExport()'s `exported` into the new store `copy` and checks
  // that the copy has the source's chain and exports the same lines. Returns
  // the copy's verify report.
  std::string ExpectImportReproducesTheSource(const std::string& exported,
                                              const std::string& copy) {
    CliRun r = Annals({"import", copy}, exported);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.json()["imported"], kEvents);
    const auto [verify, again] = Snapshot(copy);
    EXPECT_EQ(Json::parse(verify)["last_hash"], source_verify_["last_hash"]);
    EXPECT_TRUE(again == exported) << "the copy's export differs from the source's";
    return verify;
  }

  // Compares two Snapshot()s without printing whole exports.
  static void ExpectSame(const std::pair<std::string, std::string>& after,
                         const std::pair<std::string, std::string>& before) {
    EXPECT_EQ(after.first, before.first) << "verify report (last_hash) changed";
    EXPECT_TRUE(after.second == before.second) << "the store's events changed";
  }

  // A store holding the export's first `n` events, imported.
  void ImportPrefix(const std::string& store_dir, const std::vector<std::string>& lines, size_t n) {
    CliRun r = Annals({"import", store_dir},
                      Join(std::vector<std::string>(lines.begin(), lines.begin() + n)));
    ASSERT_EQ(r.code, 0) << r.err;
  }

  // Checks that importing `bad` (a damaged export) exits `code`, creates no
  // store at a new target, leaves a store holding a prefix unchanged, and
  // leaves nothing behind.
  void ExpectRefused(const std::string& bad, const std::vector<std::string>& good_lines, int code,
                     const std::string& message) {
    SCOPED_TRACE(message);
    const std::string fresh = store("fresh");
    CliRun r = Annals({"import", fresh}, bad);
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    EXPECT_THAT(r.err, HasSubstr("nothing was imported"));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(fresh)) << "a refused import created the store";
    EXPECT_THAT(Leftovers({}), ::testing::IsEmpty());

    // An existing store holding the first 1,000 events: unchanged.
    const std::string prefix = store("prefix");
    ImportPrefix(prefix, good_lines, 1000);
    const auto before = Snapshot(prefix);
    r = Annals({"import", prefix}, bad);
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_THAT(r.err, HasSubstr(message));
    ExpectSame(Snapshot(prefix), before);
    EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());
    fs::remove_all(prefix);
  }

  testing::TempDir dir_;
  const std::string stores_ = dir_.Sub("stores");
  std::string cli_;
  Json source_verify_;
  int source_compressed_ = 0;
};

TEST_F(ImportTest, TamperedDataFieldWritesNothing) {
  const std::string exported = MakeExport();
  std::vector<std::string> lines = SplitLines(exported);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kEvents));
  std::vector<std::string> bad = lines;
  Json edited = Json::parse(bad[4500]);
  edited["data"]["n"] = 1;
  bad[4500] = edited.dump();
  ExpectRefused(Join(bad), lines, 5, "export was altered");
}

TEST_F(ImportTest, TamperedHashWritesNothing) {
  const std::string exported = MakeExport();
  std::vector<std::string> lines = SplitLines(exported);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kEvents));
  std::vector<std::string> bad = lines;
  Json edited = Json::parse(bad[4500]);
  std::string hash = edited["hash"];
  hash[0] = hash[0] == '0' ? '1' : '0';
  edited["hash"] = hash;
  bad[4500] = edited.dump();
  ExpectRefused(Join(bad), lines, 5, "position 4501");
}

TEST_F(ImportTest, TruncatedOrGarbageLineMidFileWritesNothing) {
  const std::string exported = MakeExport();
  std::vector<std::string> lines = SplitLines(exported);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kEvents));
  std::vector<std::string> truncated = lines;
  truncated[4500] = truncated[4500].substr(0, truncated[4500].size() / 2);
  ExpectRefused(Join(truncated), lines, 1, "import line 4501");
  std::vector<std::string> garbage = lines;
  garbage[4500] = "\x01\xff garbage";
  ExpectRefused(Join(garbage), lines, 1, "import line 4501");
  // A last line cut short (a copy that did not finish): nothing either.
  ExpectRefused(exported.substr(0, exported.size() - 20), lines, 1, "import line 5000");
}

TEST_F(ImportTest, GoodExportReproducesTheChainAndRerunAddsNothing) {
  const std::string exported = MakeExport();
  const std::string copy = store("copy");
  const std::string verify = ExpectImportReproducesTheSource(exported, copy);
  EXPECT_THAT(Leftovers({"copy"}), ::testing::IsEmpty());

  // Re-running adds nothing.
  CliRun r = Annals({"import", copy}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"imported\":0,\"skipped\":5000,\"last_position\":5000}\n");
  EXPECT_EQ(Snapshot(copy).first, verify);
  EXPECT_THAT(Leftovers({"copy"}), ::testing::IsEmpty());

  // An empty directory is a new target too.
  const std::string empty = store("empty");
  fs::create_directory(empty);
  r = Annals({"import", empty}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Json::parse(Snapshot(empty).first)["last_hash"], source_verify_["last_hash"]);
  EXPECT_THAT(Leftovers({"copy", "empty"}), ::testing::IsEmpty());
}

// Payload compression is storage: a store that compresses exports payloads as
// appended, and the import (which computes the chain from the export's
// fields, as an auditor would, and writes without compression) reproduces
// every hash.
TEST_F(ImportTest, ACompressedStoresExportReimportsWithTheSameChain) {
  const std::string exported = MakeExport(PayloadCompression::kZstd);
  EXPECT_EQ(source_compressed_, kEvents) << "the source should hold compressed payloads";
  ExpectImportReproducesTheSource(exported, store("copy"));
  EXPECT_THAT(exported, HasSubstr(std::string(100, 'x'))) << "payloads exported as appended";
}

// The chain is checked before writing into an existing store, continuing from
// the store's last hash: the result is the source's chain, with nothing left
// next to the store.
TEST_F(ImportTest, ExistingStoreHoldingAPrefixGetsTheRest) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string prefix = store("prefix");
  ImportPrefix(prefix, lines, 1234);
  CliRun r = Annals({"import", prefix}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"imported\":3766,\"skipped\":1234,\"last_position\":5000}\n");
  const auto [verify, again] = Snapshot(prefix);
  EXPECT_EQ(Json::parse(verify)["last_hash"], source_verify_["last_hash"]);
  EXPECT_TRUE(again == exported) << "the store's export differs from the source's";
  EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());

  // Only the rest (annals export --from): the same.
  const std::string rest_store = store("rest");
  ImportPrefix(rest_store, lines, 1234);
  r = Annals({"import", rest_store},
             Join(std::vector<std::string>(lines.begin() + 1234, lines.end())));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Annals({"export", rest_store}).out == exported);
}

// An export whose new events reuse an id the store already holds (a forged
// continuation: without "hash" fields nothing chains it): refused in pass 1,
// before any batch is written. The reused id sits past the first batches, so
// a check in pass 2 would leave those written.
TEST_F(ImportTest, AnIdTheStoreHoldsInTheNewEventsWritesNothing) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string prefix = store("prefix");
  ImportPrefix(prefix, lines, 1000);
  const auto before = Snapshot(prefix);
  std::vector<std::string> rest;
  for (size_t i = 1000; i < lines.size(); ++i) {
    Json event = Json::parse(lines[i]);
    event.erase("hash");
    if (i == 4500) event["id"] = Json::parse(lines[0])["id"];
    rest.push_back(event.dump());
  }
  CliRun r = Annals({"import", prefix}, Join(rest));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("is already stored at position 1"));
  EXPECT_THAT(r.err, HasSubstr("nothing was imported"));
  ExpectSame(Snapshot(prefix), before);
  EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());
}

// A store with another history, given the continuation of the export
// (export --from): the chain does not continue from its last hash. Refused
// before writing.
TEST_F(ImportTest, ContinuationOfAnotherHistoryWritesNothing) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string other = store("other");
  CliRun r = Annals({"append", other, "s-0", "--type", "Other", "--data", "{}"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto before = Snapshot(other);
  r = Annals({"import", other}, Join(std::vector<std::string>(lines.begin() + 1, lines.end())));
  EXPECT_EQ(r.code, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("position 2"));
  EXPECT_THAT(r.err, Not(HasSubstr("run 'annals verify'"))) << "the store is not damaged";
  ExpectSame(Snapshot(other), before);
  EXPECT_THAT(Leftovers({"other"}), ::testing::IsEmpty());
}

// Sets an environment variable for the annals processes this test starts
// (they inherit it), and unsets it again.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

// An I/O error in pass 2 of an import into an existing store (injected by the
// CLI's test hook after the first batch, 1,000 events, was written): the
// store is byte for byte the store it was (verify and export unchanged), the
// import reports that nothing was imported, and no scratch directory is left.
// Before pass 2 wrote into a checkpoint, this left positions 1001..2000
// stored (the in-place path, below, still does).
TEST_F(ImportTest, AFailureInPassTwoLeavesTheExistingStoreUnchanged) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string prefix = store("prefix");
  ImportPrefix(prefix, lines, 1000);
  const auto before = Snapshot(prefix);
  {
    ScopedEnv fail("ANNALS_TEST_IMPORT_FAIL_AFTER_BATCHES", "1");
    CliRun r = Annals({"import", prefix}, exported);
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_THAT(r.err, HasSubstr("injected failure after 1 batches"));
    EXPECT_THAT(r.err, HasSubstr("nothing was imported (the store is unchanged)"));
  }
  ExpectSame(Snapshot(prefix), before);
  EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());

  // Then the same import, without the failure, completes it.
  CliRun r = Annals({"import", prefix}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"imported\":4000,\"skipped\":1000,\"last_position\":5000}\n");
  EXPECT_TRUE(Annals({"export", prefix}).out == exported);
  EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());
}

// On a file system without RENAME_EXCHANGE (forced by a test hook) import
// says so and appends in place: a failure in pass 2 leaves a prefix of the
// export, which re-running import completes.
TEST_F(ImportTest, WithoutExchangeAFailureInPassTwoLeavesAResumablePrefix) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string prefix = store("prefix");
  ImportPrefix(prefix, lines, 1000);
  ScopedEnv no_exchange("ANNALS_TEST_IMPORT_NO_EXCHANGE", "1");
  {
    ScopedEnv fail("ANNALS_TEST_IMPORT_FAIL_AFTER_BATCHES", "1");
    CliRun r = Annals({"import", prefix}, exported);
    EXPECT_NE(r.code, 0) << r.out;
    EXPECT_THAT(r.err, HasSubstr("cannot exchange directories atomically"));
    EXPECT_THAT(r.err, HasSubstr("the store now holds the export up to position 2000"));
  }
  EXPECT_THAT(Leftovers({"prefix"}), ::testing::IsEmpty());
  CliRun r = Annals({"import", prefix}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"imported\":3000,\"skipped\":2000,\"last_position\":5000}\n");
  EXPECT_TRUE(Annals({"export", prefix}).out == exported);
}

// A read-only follower (a RocksDB secondary) open during an import into an
// existing store follows the exchange by CatchUp(), as it follows a writer
// that reopened the store: the copy's CURRENT names a new MANIFEST that
// continues the same files.
TEST_F(ImportTest, AFollowerOpenDuringTheImportCatchesUp) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string prefix = store("prefix");
  ImportPrefix(prefix, lines, 1000);
  Options options;
  options.read_only = true;
  absl::StatusOr<std::unique_ptr<EventStore>> follower = EventStore::Open(prefix, options);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_EQ((*follower)->last_position(), 1000u);
  CliRun r = Annals({"import", prefix}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE((*follower)->CatchUp().ok());
  EXPECT_EQ((*follower)->last_position(), 5000u);
  size_t n = 0;
  absl::Status scan = (*follower)->ScanAll(ReadAllOptions{}, [&](const EventView&) {
    ++n;
    return true;
  });
  EXPECT_TRUE(scan.ok()) << scan;
  EXPECT_EQ(n, 5000u);
}

// The exchange replaces the real directory behind a symlink (the copy is made
// next to it) with one that has the store's permission bits.
TEST_F(ImportTest, AStoreBehindASymlinkStaysOneAndKeepsItsMode) {
  const std::string exported = MakeExport();
  const std::vector<std::string> lines = SplitLines(exported);
  const std::string real = store("real");
  ImportPrefix(real, lines, 1000);
  fs::permissions(real, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  fs::create_directory_symlink(real, store("link"));
  CliRun r = Annals({"import", store("link")}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(store("link")));
  EXPECT_EQ(fs::status(real).permissions(),
            fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  EXPECT_TRUE(Annals({"export", real}).out == exported);
  EXPECT_THAT(Leftovers({"real", "link"}), ::testing::IsEmpty());
}

// A killed import leaves its scratch directory; the next import of the same
// target removes it (a running import holds a lock on its own).
TEST_F(ImportTest, NextImportRemovesAKilledImportsScratchDirectory) {
  const std::string exported = MakeExport();
  const std::string stale = store("copy.importing-AbC123");
  fs::create_directories(stale + "/store");
  std::ofstream(stale + "/store/CURRENT") << "MANIFEST-000001\n";
  CliRun r = Annals({"import", store("copy")}, exported);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(Leftovers({"copy"}), ::testing::IsEmpty());
}

// Memory is bounded by a batch, not by the input: importing twice as much
// (about 64 MB more) adds far less than that to the peak RSS. The fixed part
// (RocksDB's memtables, up to 2 x 32 MiB per column family, and its block
// cache) does not depend on the input once it is full.
// Under AddressSanitizer freed memory sits in a quarantine, so peak RSS grows
// with the bytes an import allocates over its life, not with what it holds.
#if defined(__SANITIZE_ADDRESS__)
#define ANNALS_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ANNALS_UNDER_ASAN 1
#endif
#endif

TEST_F(ImportTest, MemoryDoesNotGrowWithTheInput) {
#ifdef ANNALS_UNDER_ASAN
  GTEST_SKIP() << "peak RSS is not a memory bound under ASan (quarantine); the plain build "
                  "checks it";
#endif
  const std::string source = dir_.Sub("big");
  {
    std::unique_ptr<EventStore> s = testing::OpenBufferedStore(source);
    ASSERT_NE(s, nullptr);
    const std::string pad(4000, 'y');
    for (int i = 0; i < 30; ++i) {
      std::vector<std::string> payloads;
      for (int k = 0; k < 1000; ++k) {
        payloads.push_back("{\"n\":" + std::to_string(k) + ",\"pad\":\"" + pad + "\"}");
      }
      std::vector<NewEvent> events;
      for (const std::string& p : payloads) events.push_back({.type = "Big", .payload = p});
      ASSERT_TRUE(s->Append("big-" + std::to_string(i % 7), ExpectedVersion::Any(), events).ok());
    }
  }
  const std::string full_path = dir_.Sub("full.jsonl"), half_path = dir_.Sub("half.jsonl");
  {
    const std::vector<std::string> lines = SplitLines(Annals({"export", source}).out);
    ASSERT_EQ(lines.size(), 30000u);
    std::ofstream(full_path, std::ios::binary) << Join(lines);
    std::ofstream(half_path, std::ios::binary)
        << Join(std::vector<std::string>(lines.begin(), lines.begin() + 15000));
  }
  const long extra_kb =
      static_cast<long>((fs::file_size(full_path) - fs::file_size(half_path)) / 1024);
  ASSERT_GT(extra_kb, 60 * 1024);

  CliRun half = AnnalsFromFile({"import", store("half")}, half_path);
  ASSERT_EQ(half.code, 0) << half.err;
  ASSERT_GT(half.peak_rss_kb, 0) << "the child's peak memory was not sampled";
  CliRun full = AnnalsFromFile({"import", store("full")}, full_path);
  ASSERT_EQ(full.code, 0) << full.err;
  std::cout << "import into a new store: peak RSS " << half.peak_rss_kb << " KiB for "
            << fs::file_size(half_path) / 1024 << " KiB of input, " << full.peak_rss_kb
            << " KiB for " << fs::file_size(full_path) / 1024 << " KiB\n";
  EXPECT_LT(full.peak_rss_kb - half.peak_rss_kb, extra_kb / 4);

  // Into a store holding a prefix: pass 1 and pass 2 are bounded too. Its
  // fixed part is larger (pass 2 opens a second store, the checkpoint copy:
  // about 8 MB), so the baseline is the same import of the half input.
  std::string head;
  {
    std::ifstream in(full_path);
    std::string line;
    for (int i = 0; i < 10 && std::getline(in, line); ++i) head += line + "\n";
  }
  ASSERT_EQ(Annals({"import", store("prefix-half")}, head).code, 0);
  ASSERT_EQ(Annals({"import", store("prefix")}, head).code, 0);
  CliRun rest_half = AnnalsFromFile({"import", store("prefix-half")}, half_path);
  ASSERT_EQ(rest_half.code, 0) << rest_half.err;
  CliRun rest = AnnalsFromFile({"import", store("prefix")}, full_path);
  ASSERT_EQ(rest.code, 0) << rest.err;
  std::cout << "import into a store holding a prefix: peak RSS " << rest_half.peak_rss_kb
            << " KiB for the half input, " << rest.peak_rss_kb << " KiB for the full one\n";
  EXPECT_LT(rest.peak_rss_kb - rest_half.peak_rss_kb, extra_kb / 4);
  EXPECT_THAT(Leftovers({"half", "full", "prefix-half", "prefix"}), ::testing::IsEmpty());
}

}  // namespace
}  // namespace annals
