// SnapshotStore: lookups by version, time and fingerprint; retention; damage.

#include "annals/snapshot_store.h"

#include <string>

#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

class SnapshotStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
    snapshots_ = std::make_unique<SnapshotStore>(*store_);
  }

  // The module's family, as snapshots/snapshot_store.cc declares it.
  rocksdb::ColumnFamilyHandle* SnapshotsFamily() {
    absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf =
        internal::StoreAccess::Family(*store_, {.name = "snapshots"});
    EXPECT_TRUE(cf.ok()) << cf.status();
    return cf.value_or(nullptr);
  }

  static Snapshot Make(std::string stream, uint64_t version, std::string fingerprint = "fp-a") {
    Snapshot s;
    s.stream = std::move(stream);
    s.version = version;
    s.fingerprint = std::move(fingerprint);
    s.state = "state@" + std::to_string(version);
    s.event_recorded_at_us = static_cast<int64_t>(version) * 100;
    s.taken_at_us = 42;
    s.encode_micros = 3;
    return s;
  }

  std::vector<uint64_t> Versions(std::string_view stream) {
    std::vector<uint64_t> out;
    auto listed = snapshots_->List(stream);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (listed.ok()) {
      for (const Snapshot& s : *listed) out.push_back(s.version);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<SnapshotStore> snapshots_;
};

TEST_F(SnapshotStoreTest, FindsTheNewestAtOrBelowAVersion) {
  for (uint64_t v : {10, 20, 30}) ASSERT_TRUE(snapshots_->Put(Make("s", v), 5).ok());
  auto latest = snapshots_->FindLatest("s", {.fingerprint = "fp-a"});
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->version, 30u);
  EXPECT_EQ(latest->state, "state@30");
  EXPECT_EQ(latest->event_recorded_at_us, 3000);
  EXPECT_EQ(latest->taken_at_us, 42);
  EXPECT_EQ(latest->encode_micros, 3);
  EXPECT_EQ(latest->stream, "s");
  EXPECT_EQ(snapshots_->FindLatest("s", {.fingerprint = "fp-a", .max_version = 29})->version, 20u);
  EXPECT_EQ(snapshots_->FindLatest("s", {.fingerprint = "fp-a", .max_version = 20})->version, 20u);
  EXPECT_EQ(snapshots_->FindLatest("s", {.fingerprint = "fp-a", .max_version = 9}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      snapshots_->FindLatest("s", {.fingerprint = "fp-a", .max_recorded_at_us = 2999})->version,
      20u);
  EXPECT_EQ(snapshots_->FindLatest("other", {.fingerprint = "fp-a"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SnapshotStoreTest, KeepsTheLastK) {
  for (uint64_t v = 1; v <= 7; ++v) ASSERT_TRUE(snapshots_->Put(Make("s", v * 10), 3).ok());
  EXPECT_EQ(Versions("s"), (std::vector<uint64_t>{50, 60, 70}));
  ASSERT_TRUE(snapshots_->Put(Make("s", 80), 1).ok());
  EXPECT_EQ(Versions("s"), (std::vector<uint64_t>{80}));
}

TEST_F(SnapshotStoreTest, OtherFingerprintsAreIgnoredAndReplaced) {
  ASSERT_TRUE(snapshots_->Put(Make("s", 10, "old"), 5).ok());
  ASSERT_TRUE(snapshots_->Put(Make("s", 20, "old"), 5).ok());
  EXPECT_EQ(snapshots_->FindLatest("s", {.fingerprint = "new"}).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(snapshots_->Put(Make("s", 15, "new"), 5).ok());
  auto listed = snapshots_->List("s");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].fingerprint, "new");
  EXPECT_EQ((*listed)[0].version, 15u);
  EXPECT_EQ(snapshots_->FindLatest("s", {.fingerprint = "old"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SnapshotStoreTest, StreamsWithCommonPrefixesDoNotMix) {
  ASSERT_TRUE(snapshots_->Put(Make("order-1", 5), 2).ok());
  ASSERT_TRUE(snapshots_->Put(Make("order-10", 7), 2).ok());
  ASSERT_TRUE(snapshots_->Put(Make("order-1", 6), 1).ok());
  EXPECT_EQ(Versions("order-1"), (std::vector<uint64_t>{6}));
  EXPECT_EQ(Versions("order-10"), (std::vector<uint64_t>{7}));
  EXPECT_EQ(snapshots_->FindLatest("order-", {.fingerprint = "fp-a"}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SnapshotStoreTest, DamagedSnapshotsAreSkipped) {
  ASSERT_TRUE(snapshots_->Put(Make("s", 10), 5).ok());
  ASSERT_TRUE(snapshots_->Put(Make("s", 20), 5).ok());
  // Flip a byte of the state of version 20 behind the store's back.
  rocksdb::DB* db = internal::StoreAccess::Db(*store_);
  auto* cf = SnapshotsFamily();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  std::string key = it->key().ToString();
  std::string value = it->value().ToString();
  value.back() ^= 0x01;
  ASSERT_TRUE(it->status().ok());
  it.reset();
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, key, value).ok());

  auto found = snapshots_->FindLatest("s", {.fingerprint = "fp-a"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->version, 10u);
  EXPECT_EQ(snapshots_->damaged_skipped(), 1u);
}

TEST_F(SnapshotStoreTest, DeleteStreamAndBadInput) {
  ASSERT_TRUE(snapshots_->Put(Make("s", 10), 5).ok());
  ASSERT_TRUE(snapshots_->Put(Make("t", 10), 5).ok());
  ASSERT_TRUE(snapshots_->DeleteStream("s").ok());
  EXPECT_TRUE(Versions("s").empty());
  EXPECT_EQ(Versions("t"), (std::vector<uint64_t>{10}));
  EXPECT_EQ(snapshots_->Put(Make("s", 0), 5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(snapshots_->Put(Make("", 1), 5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(snapshots_->Put(Make("s", 1), 0).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SnapshotStoreTest, ReadOnlyStoreReadsButCannotWrite) {
  ASSERT_TRUE(snapshots_->Put(Make("s", 10), 5).ok());
  ASSERT_TRUE(
      internal::StoreAccess::Db(*store_)->Flush(rocksdb::FlushOptions(), SnapshotsFamily()).ok());
  Options ro;
  ro.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  SnapshotStore snapshots(**follower);
  EXPECT_EQ(snapshots.FindLatest("s", {.fingerprint = "fp-a"})->version, 10u);
  EXPECT_EQ(snapshots.Put(Make("s", 20), 5).code(), absl::StatusCode::kFailedPrecondition);
}

// A store made by a process without the snapshot module has no snapshots
// family: a follower reads it as having no snapshots, a writer open adds it.
TEST_F(SnapshotStoreTest, AStoreWithoutTheSnapshotsFamilyHasNoSnapshots) {
  snapshots_.reset();
  store_.reset();
  testing::DropColumnFamilies(dir_.Sub("store"), {"snapshots"});
  Options ro;
  ro.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  ASSERT_EQ(internal::StoreAccess::Family(**follower, {.name = "snapshots"}).status().code(),
            absl::StatusCode::kNotFound);
  SnapshotStore snapshots(**follower);
  EXPECT_EQ(snapshots.FindLatest("s", {.fingerprint = "fp-a"}).status().code(),
            absl::StatusCode::kNotFound);
  auto listed = snapshots.List("s");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
  follower->reset();

  store_ = testing::OpenBufferedStore(dir_.Sub("store"));
  ASSERT_NE(store_, nullptr);
  snapshots_ = std::make_unique<SnapshotStore>(*store_);
  ASSERT_TRUE(snapshots_->Put(Make("s", 10), 5).ok());
  EXPECT_EQ(Versions("s"), std::vector<uint64_t>{10});
}

}  // namespace
}  // namespace annals
