// No partial views (issue 11): a damaged table never makes a read-only open
// serve a shorter log, the commit record exposes a rolled-back column family,
// damage is named as damage, and stores of format version 1 keep opening.

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "common/coding.h"
#include "common/strings.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/store_access.h"
#include "eventstore/internal/store_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/metadata.h"
#include "tests/common/files.h"
#include "tests/common/subprocess.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::WriteFile;

// Flips one bit inside the properties block of an SST file, found by one of
// its property names ("rocksdb.column.family.id", stored after a shared
// prefix), a text no data block of these tests holds.
void DamageTableProperties(const std::string& sst) {
  std::string data = ReadFile(sst);
  const size_t at = data.find("column.family.id");
  ASSERT_NE(at, std::string::npos) << sst;
  data[at + 3] ^= 0x01;
  WriteFile(sst, data);
}

Options ReadOnly() {
  Options options;
  options.read_only = true;
  options.create_if_missing = false;
  return options;
}

// 300 events in 3 streams; every column family flushed after each 100, so
// each holds three tables (oldest to newest).
class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(); }

  // (Re)builds the store from nothing.
  void Build() {
    fs::remove_all(path_);
    tables_.clear();
    auto store = testing::OpenBufferedStore(path_);
    ASSERT_NE(store, nullptr);
    // No background compaction: one that finished after the listing below
    // would delete a listed table (seen under load on the default family).
    for (rocksdb::ColumnFamilyHandle* family : internal::StoreAccess::AllFamilies(*store)) {
      ASSERT_TRUE(internal::StoreAccess::Db(*store)
                      ->SetOptions(family, {{"disable_auto_compactions", "true"}})
                      .ok());
    }
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 100; ++i) {
        const std::string payload = StrCat("{\"n\":", round * 100 + i, "}");
        NewEvent e{.type = "Counted", .payload = payload};
        ASSERT_TRUE(store->Append(StrCat("s", i % 3), ExpectedVersion::Any(), {&e, 1}).ok());
      }
      rocksdb::DB* db = internal::StoreAccess::Db(*store);
      for (rocksdb::ColumnFamilyHandle* family : internal::StoreAccess::AllFamilies(*store)) {
        ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), family).ok());
      }
    }
    // Tables per family, oldest first (file numbers grow with time).
    std::vector<rocksdb::LiveFileMetaData> files;
    internal::StoreAccess::Db(*store)->GetLiveFilesMetaData(&files);
    for (const auto& f : files) tables_[f.column_family_name].push_back(f.file_number);
    for (auto& [family, numbers] : tables_) std::sort(numbers.begin(), numbers.end());
  }

  // Overwrites the store's commit record with one that says the log ends at
  // `position` (any hash: the position is compared first).
  static void ForgeCommitRecord(EventStore& store, uint64_t position) {
    ASSERT_TRUE(internal::StoreAccess::Db(store)
                    ->Put(rocksdb::WriteOptions(),
                          internal::StoreAccess::CoreFamily(store, internal::kDefaultFamily),
                          internal::kCommitKey,
                          internal::EncodeCommitRecord(position, std::string(32, 'x')))
                    .ok());
  }

  std::string Table(const std::string& family, bool newest) {
    const std::vector<uint64_t>& numbers = tables_[family];
    EXPECT_FALSE(numbers.empty()) << family;
    char name[32];
    snprintf(name, sizeof(name), "/%06llu.sst",
             static_cast<unsigned long long>(newest ? numbers.back() : numbers.front()));
    return path_ + name;
  }

  // Opens read-only and reads everything; returns the first error, or OK with
  // the number of events and streams seen.
  absl::Status ReadEverything(const Options& options, uint64_t* events, uint64_t* streams) {
    auto store = EventStore::Open(path_, options);
    if (!store.ok()) return store.status();
    *events = 0;
    *streams = 0;
    absl::Status s = (*store)->ScanAll({.from_position = 1}, [&](const EventView&) {
      ++*events;
      return true;
    });
    if (!s.ok()) return s;
    return (*store)->ListStreams("", [&](const StreamInfo&) {
      ++*streams;
      return true;
    });
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.Sub("store");
  std::map<std::string, std::vector<uint64_t>> tables_;
};

TEST_F(IntegrityTest, IntactStoreReadsCompletelyThroughEveryOpen) {
  uint64_t events = 0, streams = 0;
  ASSERT_TRUE(ReadEverything(ReadOnly(), &events, &streams).ok());
  EXPECT_EQ(events, 300u);
  EXPECT_EQ(streams, 3u);
  Options writer;
  writer.create_if_missing = false;
  ASSERT_TRUE(ReadEverything(writer, &events, &streams).ok());
  EXPECT_EQ(events, 300u);
}

// The defect of the issue: a follower silently dropped a table whose
// properties it could not verify and served 200 (newest) or 0 (oldest) events.
TEST_F(IntegrityTest, DamagedLogTablePropertiesAreDataLossNotAShorterLog) {
  for (bool newest : {true, false}) {
    SCOPED_TRACE(newest ? "newest log table" : "oldest log table");
    Build();
    const std::string table = Table("log", newest);
    DamageTableProperties(table);
    uint64_t events = 0, streams = 0;
    absl::Status s = ReadEverything(ReadOnly(), &events, &streams);
    EXPECT_TRUE(absl::IsDataLoss(s)) << s << " (read " << events << " events)";
    EXPECT_THAT(std::string(s.message()), HasSubstr(fs::path(table).filename().string()));
    Options writer;
    writer.create_if_missing = false;
    s = ReadEverything(writer, &events, &streams);
    EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  }
}

TEST_F(IntegrityTest, DamagedHeadsOrDefaultTableIsDataLossForFollowers) {
  for (const char* family : {"heads", "default", "stream_index", "event_ids"}) {
    SCOPED_TRACE(family);
    Build();
    DamageTableProperties(Table(family, /*newest=*/false));
    uint64_t events = 0, streams = 0;
    absl::Status s = ReadEverything(ReadOnly(), &events, &streams);
    EXPECT_TRUE(absl::IsDataLoss(s))
        << s << " (read " << events << " events, " << streams << " streams)";
  }
}

// A follower that is already open when the writer adds a table that turns
// out damaged must not serve the rolled-back family after its next catch-up:
// the MANIFEST check runs whenever the MANIFEST changed.
TEST_F(IntegrityTest, FollowerCatchUpRefusesANewDamagedTable) {
  auto follower = EventStore::Open(path_, ReadOnly());
  ASSERT_TRUE(follower.ok()) << follower.status();
  std::string newest_log;
  {
    auto writer = testing::OpenBufferedStore(path_);
    ASSERT_NE(writer, nullptr);
    for (int i = 0; i < 100; ++i) {
      NewEvent e{.type = "Counted", .payload = "{}"};
      ASSERT_TRUE(writer->Append("s0", ExpectedVersion::Any(), {&e, 1}).ok());
    }
    ASSERT_TRUE(internal::StoreAccess::Db(*writer)
                    ->Flush(rocksdb::FlushOptions(),
                            internal::StoreAccess::CoreFamily(*writer, internal::kLogFamily))
                    .ok());
    std::vector<rocksdb::LiveFileMetaData> files;
    internal::StoreAccess::Db(*writer)->GetLiveFilesMetaData(&files);
    uint64_t newest = 0;
    for (const auto& f : files) {
      if (f.column_family_name == "log") newest = std::max(newest, f.file_number);
    }
    char name[32];
    snprintf(name, sizeof(name), "/%06llu.sst", static_cast<unsigned long long>(newest));
    newest_log = path_ + name;
  }
  DamageTableProperties(newest_log);
  absl::Status caught_up = (*follower)->CatchUp();
  EXPECT_TRUE(absl::IsDataLoss(caught_up)) << caught_up;
  auto report = (*follower)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->reason, HasSubstr(fs::path(newest_log).filename().string()));
}

TEST_F(IntegrityTest, CommitRecordExposesALogThatLostItsNewestRecords) {
  {
    auto store = testing::OpenBufferedStore(path_);
    ASSERT_NE(store, nullptr);
    rocksdb::WriteOptions wo;
    // Simulates a rolled-back `log`: the last record disappears while the
    // other families (and the commit record) still know it.
    ASSERT_TRUE(internal::StoreAccess::Db(*store)
                    ->Delete(wo, internal::StoreAccess::CoreFamily(*store, internal::kLogFamily),
                             coding::BigEndian64(300))
                    .ok());
  }
  for (bool read_only : {false, true}) {
    Options options = read_only ? ReadOnly() : Options();
    options.create_if_missing = false;
    auto store = EventStore::Open(path_, options);
    ASSERT_FALSE(store.ok()) << "read_only=" << read_only;
    EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
    EXPECT_THAT(std::string(store.status().message()),
                HasSubstr("the log ends at position 299 but the commit record says 300"));
  }
}

TEST_F(IntegrityTest, CommitRecordExposesARolledBackDefaultFamily) {
  {
    auto store = testing::OpenBufferedStore(path_);
    ASSERT_NE(store, nullptr);
    // An older commit record, as a rolled-back `default` would hold.
    ForgeCommitRecord(*store, 200);
  }
  auto store = EventStore::Open(path_, ReadOnly());
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
}

TEST_F(IntegrityTest, VerifyComparesTheCommitRecordWithTheLog) {
  auto store = testing::OpenBufferedStore(path_);
  ASSERT_NE(store, nullptr);
  ForgeCommitRecord(*store, 300);
  auto report = store->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->ok);
  EXPECT_THAT(report->reason, HasSubstr("commit record"));
}

TEST_F(IntegrityTest, DamagedCurrentIsDataLoss) {
  std::string current = ReadFile(path_ + "/CURRENT");
  ASSERT_GT(current.size(), 12u);
  current[current.size() - 3] ^= 0x01;  // A digit of the MANIFEST number.
  WriteFile(path_ + "/CURRENT", current);
  for (bool read_only : {false, true}) {
    Options options = read_only ? ReadOnly() : Options();
    options.create_if_missing = false;
    auto store = EventStore::Open(path_, options);
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
    EXPECT_THAT(std::string(store.status().message()), HasSubstr("CURRENT"));
  }
  fs::remove(path_ + "/CURRENT");
  auto store = EventStore::Open(path_, ReadOnly());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
}

TEST_F(IntegrityTest, AManifestThatLostColumnFamiliesIsDataLoss) {
  // Cut the MANIFEST right after its first record: RocksDB then lists only
  // the `default` family, as it did for a flipped record header.
  std::string current = ReadFile(path_ + "/CURRENT");
  current.pop_back();
  const std::string manifest = path_ + "/" + current;
  std::string data = ReadFile(manifest);
  // Record format: crc32:4 length:2 type:1 payload. Keep the first record.
  const size_t first = 7 + (static_cast<uint8_t>(data[4]) | static_cast<uint8_t>(data[5]) << 8);
  WriteFile(manifest, data.substr(0, first));
  auto store = EventStore::Open(path_, ReadOnly());
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
}

// The same for a family the core does not know (a module's, declared in
// the module's own code): the OPTIONS file names it, the MANIFEST lost it.
TEST_F(IntegrityTest, AManifestThatLostAModuleFamilyIsDataLoss) {
  {
    auto store = EventStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    std::string current = ReadFile(path_ + "/CURRENT");
    current.pop_back();
    const std::string manifest = path_ + "/" + current;
    const uint64_t before = fs::file_size(manifest);
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> lost =
        internal::StoreAccess::Family(**store, {.name = "test_lost"});
    ASSERT_TRUE(lost.ok()) << lost.status();
    ASSERT_TRUE(
        internal::StoreAccess::Db(**store)->Put(rocksdb::WriteOptions(), *lost, "k", "v").ok());
    store->reset();
    // Cut the MANIFEST back to before the family was added (a record
    // boundary: RocksDB then reads a shorter, valid MANIFEST).
    ASSERT_EQ(ReadFile(path_ + "/CURRENT"), current + "\n") << "the MANIFEST was rewritten";
    fs::resize_file(manifest, before);
  }
  std::vector<std::string> families;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path_, &families).ok());
  EXPECT_THAT(families, ::testing::Not(::testing::Contains("test_lost")));
  ASSERT_THAT(internal::OptionsFamilyNames(path_), ::testing::Contains("test_lost"));
  for (bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "follower" : "writer");
    auto store = EventStore::Open(path_, read_only ? ReadOnly() : Options());
    ASSERT_FALSE(store.ok());
    EXPECT_TRUE(absl::IsDataLoss(store.status())) << store.status();
    EXPECT_THAT(std::string(store.status().message()), HasSubstr("test_lost"));
  }
}

// The OPTIONS file has no checksum: one flipped bit in a family's name there
// is damage to that text file, not a family lost from the MANIFEST, and the
// store still opens (a writer open rewrites OPTIONS).
TEST_F(IntegrityTest, AFlippedBitInAFamilyNameOfTheOptionsFileIsHarmless) {
  {
    auto store = EventStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(internal::StoreAccess::Family(**store, {.name = "test_outbox"}).ok());
  }
  std::string newest;
  for (const auto& entry : fs::directory_iterator(path_)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("OPTIONS-") && name > newest) newest = name;
  }
  ASSERT_FALSE(newest.empty());
  std::string text = ReadFile(path_ + "/" + newest);
  const size_t at = text.find("[CFOptions \"test_outbox\"]");
  ASSERT_NE(at, std::string::npos);
  text[at + 12 + 5] ^= 0x04;  // test_outbox -> test_kutbox
  WriteFile(path_ + "/" + newest, text);
  ASSERT_THAT(internal::OptionsFamilyNames(path_), ::testing::Contains("test_kutbox"));
  for (bool read_only : {true, false}) {
    SCOPED_TRACE(read_only ? "follower" : "writer");
    auto store = EventStore::Open(path_, read_only ? ReadOnly() : Options());
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE(internal::StoreAccess::Family(**store, {.name = "test_outbox"}).ok());
  }
}

TEST_F(IntegrityTest, UnreadableStoreSaysPermissionDenied) {
  // Root reads any directory, so as root (CI) the open runs in a child that
  // drops to user nobody; the test directory is 0700 and root's.
  if (geteuid() == 0) {
    const testing::ProcessResult child = testing::RunForked(
        [&](int) {
          if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
          auto store = EventStore::Open(path_, ReadOnly());
          if (store.ok()) _exit(1);
          const std::string message(store.status().message());
          _exit(absl::IsPermissionDenied(store.status()) &&
                        message.find("permission denied") != std::string::npos
                    ? 0
                    : 2);
        },
        dir_.Sub("nobody"));
    ASSERT_TRUE(child.exited) << child.Describe();
    EXPECT_EQ(child.exit_code, 0)
        << "1: opened anyway, 2: not kPermissionDenied, 3: could not drop privileges";
    return;
  }
  ASSERT_EQ(chmod(path_.c_str(), 0), 0);
  auto store = EventStore::Open(path_, ReadOnly());
  chmod(path_.c_str(), 0755);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(store.status())) << store.status();
}

// A store written by format version 1 (before the commit record; made by
// annals at commit 5b15a6b with `annals append`, checked in as files) opens
// read-only as it is and is upgraded in place by a writer open.
TEST(FormatV1Test, OldStoreOpensReadOnlyAndIsUpgradedByAWriter) {
  testing::TempDir dir;
  const std::string path = dir.Sub("v1");
  fs::copy(ANNALS_TEST_DATA_DIR "/format_v1_store", path, fs::copy_options::recursive);
  const std::string v1_last_hash =
      "ead39830448309889bc5929d9bdee54143dbb4a1f365177202f4b4f5382dfafd";
  {
    auto store = EventStore::Open(path, ReadOnly());
    ASSERT_TRUE(store.ok()) << store.status();
    auto events = (*store)->ReadAll({.from_position = 1});
    ASSERT_TRUE(events.ok()) << events.status();
    EXPECT_EQ(events->size(), 6u);
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->last_hash, v1_last_hash);
  }
  {
    Options options;
    options.create_if_missing = false;
    auto store = EventStore::Open(path, options);
    ASSERT_TRUE(store.ok()) << store.status();
    std::string version;
    ASSERT_TRUE(internal::StoreAccess::Db(**store)
                    ->Get(rocksdb::ReadOptions(),
                          internal::StoreAccess::CoreFamily(**store, internal::kDefaultFamily),
                          internal::kFormatVersionKey, &version)
                    .ok());
    EXPECT_EQ(version, StrCat(internal::kFormatVersion));
    NewEvent e{.type = "ItemAdded", .payload = "{}"};
    auto appended = (*store)->Append("order-1", ExpectedVersion::Exact(2), {&e, 1});
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_EQ(appended->first_position, 7u);
  }
  auto store = EventStore::Open(path, ReadOnly());
  ASSERT_TRUE(store.ok()) << store.status();
  auto report = (*store)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->events, 7u);
}

}  // namespace
}  // namespace annals
