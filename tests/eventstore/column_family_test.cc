// Column families owned by modules (eventstore/internal/column_family.h): a
// module declares its family from its own code, gets it with the store (or
// created on first use when it did not declare it), writes it atomically
// with appends (commit hook) or alone, and finds it again after reopening,
// as writer and as follower. The families here live only in this test:
// nothing in eventstore/ knows their names.

#include "eventstore/internal/column_family.h"

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "eventstore/internal/store_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/table.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

namespace fs = std::filesystem;
using internal::StoreAccess;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A module of this test, declared as modules do, with a tuning unlike the
// default one, so that the test can tell which tuning the family got.
constexpr internal::ColumnFamilySpec kOutbox{
    .name = "test_outbox", .tuning = {.block_size = 16 * 1024, .bloom_bits_per_key = 0}};
const internal::ColumnFamilyDeclaration kDeclareOutbox(kOutbox);
// Specs nobody declares: their families appear only when first asked for.
constexpr internal::ColumnFamilySpec kLazy{.name = "test_lazy"};
constexpr internal::ColumnFamilySpec kRaced{.name = "test_raced"};

// The core's families, then the declared ones: the event store's own
// module families (stream_meta, consumers: retention, eventstore/retention.cc)
// and this test's outbox.
const std::vector<std::string> kCoreAndOutbox = {"default",     "log",        "stream_index",
                                                 "heads",       "event_ids",  "consumers",
                                                 "stream_meta", "test_outbox"};

Options ReadOnly() {
  Options options;
  options.read_only = true;
  options.create_if_missing = false;
  return options;
}

std::vector<std::string> FamiliesOnDisk(const std::string& path) {
  std::vector<std::string> names;
  EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  return names;
}

// Writes "<stream>/<version>" -> type into the outbox for every event.
class OutboxHook : public internal::CommitHook {
 public:
  explicit OutboxHook(rocksdb::ColumnFamilyHandle* outbox) : outbox_(outbox) {}
  absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch& batch) override {
    if (e.type == "Poison") return absl::InvalidArgumentError("the outbox refuses Poison");
    const rocksdb::Status s =
        batch.Put(outbox_, StrCat(e.stream, "/", e.version), std::string(e.type));
    return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
  }

 private:
  rocksdb::ColumnFamilyHandle* outbox_;
};

// Every key -> value of `family`, in key order.
std::vector<std::string> Contents(EventStore& store, rocksdb::ColumnFamilyHandle* family) {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(
      StoreAccess::Db(store)->NewIterator(rocksdb::ReadOptions(), family));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.push_back(StrCat(it->key().ToString(), "=", it->value().ToString()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

class ColumnFamilyTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.Sub("store"); }

  absl::Status Append(EventStore& store, std::string_view stream, std::string_view type) {
    NewEvent e{.type = type, .payload = "{}"};
    return store.Append(stream, ExpectedVersion::Any(), {&e, 1}).status();
  }

  testing::TempDir dir_;
};

TEST_F(ColumnFamilyTest, ADeclaredFamilyComesWithTheStoreIsWrittenWithAppendsAndReadAfterReopen) {
  {
    auto store = testing::OpenBufferedStore(path());
    ASSERT_NE(store, nullptr);
    // A new store has the event store's own families and the declared one.
    EXPECT_EQ(FamiliesOnDisk(path()), kCoreAndOutbox);
    EXPECT_EQ(StoreAccess::AllFamilies(*store).size(), kCoreAndOutbox.size());

    absl::StatusOr<rocksdb::ColumnFamilyHandle*> outbox = StoreAccess::Family(*store, kOutbox);
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> again = StoreAccess::Family(*store, kOutbox);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *outbox) << "one family, one handle";

    // Atomically with appends, through a commit hook; a failed append
    // writes nothing to the family either.
    OutboxHook hook(*outbox);
    StoreAccess::AddCommitHook(*store, &hook);
    ASSERT_TRUE(Append(*store, "order-1", "Placed").ok());
    ASSERT_TRUE(Append(*store, "order-1", "Paid").ok());
    EXPECT_EQ(Append(*store, "order-1", "Poison").code(), absl::StatusCode::kInvalidArgument);
    StoreAccess::RemoveCommitHook(*store, &hook);
    // And alone.
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(StoreAccess::Db(*store)->Put(sync, *outbox, "cursor", "2").ok());
  }
  const std::vector<std::string> expected = {"cursor=2", "order-1/1=Placed", "order-1/2=Paid"};
  for (bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "follower" : "writer");
    auto store = EventStore::Open(path(), read_only ? ReadOnly() : Options());
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> outbox = StoreAccess::Family(**store, kOutbox);
    ASSERT_TRUE(outbox.ok()) << outbox.status();
    EXPECT_EQ(Contents(**store, *outbox), expected);
    // Opened with the module's tuning, not the default one.
    rocksdb::ColumnFamilyDescriptor descriptor;
    ASSERT_TRUE((*outbox)->GetDescriptor(&descriptor).ok());
    const auto* table =
        descriptor.options.table_factory->GetOptions<rocksdb::BlockBasedTableOptions>();
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->block_size, 16u * 1024);
    EXPECT_EQ(table->filter_policy, nullptr);
    auto report = (*store)->Verify();
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->events, 2u);
  }
}

TEST_F(ColumnFamilyTest, AnUndeclaredFamilyIsCreatedOnFirstUseAndReadAfterReopen) {
  {
    auto store = testing::OpenBufferedStore(path());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(FamiliesOnDisk(path()), kCoreAndOutbox);
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> lazy = StoreAccess::Family(*store, kLazy);
    ASSERT_TRUE(lazy.ok()) << lazy.status();
    EXPECT_THAT(FamiliesOnDisk(path()), ::testing::Contains("test_lazy"));
    rocksdb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(StoreAccess::Db(*store)->Put(sync, *lazy, "k", "v").ok());
  }
  for (bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "follower" : "writer");
    auto store = EventStore::Open(path(), read_only ? ReadOnly() : Options());
    ASSERT_TRUE(store.ok()) << store.status();
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> lazy = StoreAccess::Family(**store, kLazy);
    ASSERT_TRUE(lazy.ok()) << lazy.status();
    EXPECT_EQ(Contents(**store, *lazy), std::vector<std::string>{"k=v"});
  }
}

// A store written before a module existed (here: the format-1 fixture, made
// when this test's module did not exist) gets the module's declared family
// at the next writer open; a follower before that reads it as absent.
TEST_F(ColumnFamilyTest, AWriterOpenAddsDeclaredFamiliesToAnOlderStore) {
  fs::copy(ANNALS_TEST_DATA_DIR "/format_v1_store", path(), fs::copy_options::recursive);
  EXPECT_THAT(FamiliesOnDisk(path()), ::testing::Not(::testing::Contains("test_outbox")));
  {
    auto follower = EventStore::Open(path(), ReadOnly());
    ASSERT_TRUE(follower.ok()) << follower.status();
    EXPECT_EQ(StoreAccess::Family(**follower, kOutbox).status().code(),
              absl::StatusCode::kNotFound);
  }
  {
    auto writer = EventStore::Open(path());
    ASSERT_TRUE(writer.ok()) << writer.status();
    EXPECT_THAT(FamiliesOnDisk(path()), ::testing::Contains("test_outbox"));
  }
  auto follower = EventStore::Open(path(), ReadOnly());
  ASSERT_TRUE(follower.ok()) << follower.status();
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> outbox = StoreAccess::Family(**follower, kOutbox);
  ASSERT_TRUE(outbox.ok()) << outbox.status();
  EXPECT_THAT(Contents(**follower, *outbox), IsEmpty());
}

TEST_F(ColumnFamilyTest, ConcurrentFirstUsesCreateTheFamilyOnce) {
  auto store = testing::OpenBufferedStore(path());
  ASSERT_NE(store, nullptr);
  std::vector<absl::StatusOr<rocksdb::ColumnFamilyHandle*>> handles(4, nullptr);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < handles.size(); ++i) {
    threads.emplace_back([&, i] { handles[i] = StoreAccess::Family(*store, kRaced); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& h : handles) {
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(*h, *handles[0]);
  }
  EXPECT_EQ(StoreAccess::AllFamilies(*store).size(), kCoreAndOutbox.size() + 1);
}

// RocksDB 7.8's secondary cannot follow a family created after it opened:
// it reads as absent, and once the writer flushes it the follower cannot
// catch up any more; it says so (kFailedPrecondition, "reopen"), never
// kDataLoss, and a reopened follower reads everything.
TEST_F(ColumnFamilyTest, AFollowerOlderThanAFamilyReadsItAsAbsentAndIsToldToReopen) {
  auto writer = testing::OpenBufferedStore(path());
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(Append(*writer, "s", "First").ok());
  auto follower = EventStore::Open(path(), ReadOnly());
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_TRUE(StoreAccess::Family(**follower, kOutbox).ok()) << "declared: there from the start";
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> absent = StoreAccess::Family(**follower, kLazy);
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(absent.status().message()), HasSubstr("nothing is stored in it"));

  // Created, written and appended to: the follower still follows.
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> lazy = StoreAccess::Family(*writer, kLazy);
  ASSERT_TRUE(lazy.ok()) << lazy.status();
  ASSERT_TRUE(StoreAccess::Db(*writer)->Put(rocksdb::WriteOptions(), *lazy, "k", "v").ok());
  ASSERT_TRUE(Append(*writer, "s", "Second").ok());
  absl::Status caught_up = (*follower)->CatchUp();
  ASSERT_TRUE(caught_up.ok()) << caught_up;
  EXPECT_EQ((*follower)->last_position(), 2u);
  EXPECT_EQ(StoreAccess::Family(**follower, kLazy).status().code(), absl::StatusCode::kNotFound);

  // Flushed: the follower is told to reopen.
  ASSERT_TRUE(StoreAccess::Db(*writer)->Flush(rocksdb::FlushOptions(), *lazy).ok());
  ASSERT_TRUE(Append(*writer, "s", "Third").ok());
  caught_up = (*follower)->CatchUp();
  EXPECT_EQ(caught_up.code(), absl::StatusCode::kFailedPrecondition) << caught_up;
  EXPECT_THAT(std::string(caught_up.message()), HasSubstr("test_lazy"));
  EXPECT_THAT(std::string(caught_up.message()), HasSubstr("reopen"));
  EXPECT_EQ((*follower)->last_position(), 2u) << "what it served before stays readable";
  EXPECT_EQ((*follower)->ReadStream("s").value_or(std::vector<RecordedEvent>()).size(), 2u);

  follower->reset();
  follower = EventStore::Open(path(), ReadOnly());
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_EQ((*follower)->last_position(), 3u);
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> seen = StoreAccess::Family(**follower, kLazy);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(Contents(**follower, *seen), std::vector<std::string>{"k=v"});
  auto report = (*follower)->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST_F(ColumnFamilyTest, DeclarationsAreCheckedAndAFamilyHasOneOwner) {
  EXPECT_TRUE(internal::DeclareColumnFamily(kOutbox).ok()) << "the same spec again";
  for (std::string_view bad : {"", "Upper", "with space", "quote\"", "dash-ed"}) {
    absl::Status s = internal::DeclareColumnFamily({.name = bad});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(s.message()), HasSubstr("a-z, 0-9 and '_'")) << bad;
  }
  EXPECT_EQ(internal::DeclareColumnFamily({.name = std::string(65, 'a')}).code(),
            absl::StatusCode::kInvalidArgument);
  for (const internal::ColumnFamilySpec& core : internal::kCoreFamilies) {
    absl::Status s = internal::DeclareColumnFamily({.name = core.name});
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << core.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("belongs to the event store"));
  }
  absl::Status clash = internal::DeclareColumnFamily({.name = "test_outbox"});
  EXPECT_EQ(clash.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(clash.message()), HasSubstr("declared twice with different tuning"));
  EXPECT_EQ(internal::TuningOf("test_outbox"), kOutbox.tuning);
  EXPECT_EQ(internal::TuningOf("nobody_declared_this"), internal::ColumnFamilyTuning());

  // The same checks where a module asks for its family; nothing is created.
  auto store = testing::OpenBufferedStore(path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(StoreAccess::Family(*store, {.name = "log"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreAccess::Family(*store, {.name = "Bad Name"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreAccess::Family(*store, {.name = "test_outbox"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FamiliesOnDisk(path()), kCoreAndOutbox);
  // Asking for a family does not declare it.
  ASSERT_TRUE(StoreAccess::Family(*store, {.name = "test_asked"}).ok());
  for (const auto& [name, tuning] : internal::DeclaredFamilies()) EXPECT_NE(name, "test_asked");
}

TEST(FamiliesLostFromManifestTest, NamesWhatTheManifestLostAndForgivesOneFlippedBit) {
  using internal::FamiliesLostFromManifest;
  const std::vector<std::string> manifest = {"default", "log", "outbox"};
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "outbox"}, manifest), IsEmpty());
  // Created after the OPTIONS file was written: not lost.
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log"}, manifest), IsEmpty());
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "outbox", "parked"}, manifest),
              ElementsAre("parked"));
  // 'o' ^ 0x01 = 'n': one bit off a family the OPTIONS file does not name.
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "nutbox"}, manifest), IsEmpty());
  // Two bits off ('o' ^ 0x03 = 'l'), or one bit off a family the OPTIONS
  // file names too: lost.
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "lutbox"}, manifest),
              ElementsAre("lutbox"));
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "outbox", "nutbox"}, manifest),
              ElementsAre("nutbox"));
  // A core family lost: named, whatever else.
  EXPECT_THAT(FamiliesLostFromManifest({"default", "log", "heads", "outbox"}, manifest),
              ElementsAre("heads"));
}

TEST(NamesCoreFamiliesTest, ToleratesOneDamagedName) {
  using internal::NamesCoreFamilies;
  EXPECT_TRUE(NamesCoreFamilies({"default", "log", "stream_index", "heads", "event_ids"}));
  EXPECT_TRUE(NamesCoreFamilies({"default", "log", "stream_indey", "heads", "event_ids"}));
  EXPECT_FALSE(NamesCoreFamilies({"default", "log", "heads"}));
  EXPECT_FALSE(NamesCoreFamilies({"default"}));
}

}  // namespace
}  // namespace annals
