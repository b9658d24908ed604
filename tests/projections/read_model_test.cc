// Read-model storage: the writer's overlay (reads see the batch's own writes,
// scans merge them in order, undo withdraws them), table isolation, the
// secondary index, and snapshots that do not move while projections write.

#include "annals/read_model.h"

#include "annals/event_store.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "projections/internal/batch_writer.h"
#include "projections/internal/families.h"
#include "projections/internal/keys.h"
#include "tests/common/temp_dir.h"
#include "tests/projections/test_projections.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;
using KV = std::pair<std::string, std::string>;

class ReadModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
    absl::StatusOr<projections_internal::ProjectionFamilies> families =
        projections_internal::GetFamilies(*store_);
    ASSERT_TRUE(families.ok()) << families.status();
    writer_ =
        std::make_unique<projections_internal::BatchWriter>(families->db, families->read_models);
    writer_->SetNamespace("p", 1);
  }

  void Commit(rocksdb::WriteBatch& batch) {
    ASSERT_TRUE(internal::StoreAccess::Db(*store_)->Write(rocksdb::WriteOptions(), &batch).ok());
    writer_->Clear();
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<projections_internal::BatchWriter> writer_;
};

TEST_F(ReadModelTest, WriterReadsItsOwnWritesAndScansMergeInOrder) {
  rocksdb::WriteBatch first;
  writer_->Bind(&first, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("t", "a", "1").ok());
  ASSERT_TRUE(writer_->Put("t", "c", "3").ok());
  ASSERT_TRUE(writer_->Put("t", "e", "5").ok());
  ASSERT_TRUE(writer_->Put("other", "b", "x").ok());
  Commit(first);

  rocksdb::WriteBatch second;
  writer_->Bind(&second, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("t", "b", "2").ok());   // New between committed keys.
  ASSERT_TRUE(writer_->Put("t", "c", "33").ok());  // Overwrites a committed key.
  ASSERT_TRUE(writer_->Delete("t", "e").ok());     // Hides a committed key.
  ASSERT_TRUE(writer_->Put("t", "f", "6").ok());   // After every committed key.
  auto c = writer_->Get("t", "c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(**c, "33");
  auto e = writer_->Get("t", "e");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->has_value());
  EXPECT_THAT(testing::Dump(*writer_, "t"),
              ElementsAre(Pair("a", "1"), Pair("b", "2"), Pair("c", "33"), Pair("f", "6")));
  EXPECT_THAT(testing::Dump(*writer_, "other"), ElementsAre(Pair("b", "x")));

  // Stopping early works in both sources.
  std::vector<std::string> keys;
  ASSERT_TRUE(writer_
                  ->Scan("t", "",
                         [&](std::string_view k, std::string_view) {
                           keys.emplace_back(k);
                           return keys.size() < 2;
                         })
                  .ok());
  EXPECT_THAT(keys, ElementsAre("a", "b"));
}

TEST_F(ReadModelTest, UndoWithdrawsTheWritesOfFailedEvents) {
  rocksdb::WriteBatch batch;
  writer_->Bind(&batch, /*immediate=*/true);
  writer_->set_tag(1);
  ASSERT_TRUE(writer_->Put("t", "k", "from-1").ok());
  writer_->set_tag(2);
  ASSERT_TRUE(writer_->Put("t", "k", "from-2").ok());
  ASSERT_TRUE(writer_->Put("t", "j", "from-2").ok());
  writer_->UndoFrom(2);
  auto k = writer_->Get("t", "k");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(**k, "from-1");
  auto j = writer_->Get("t", "j");
  ASSERT_TRUE(j.ok());
  EXPECT_FALSE(j->has_value());
}

TEST_F(ReadModelTest, DeferredModeWritesEachKeysFinalValueOnFlush) {
  rocksdb::WriteBatch seed;
  writer_->Bind(&seed, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("t", "gone", "x").ok());
  Commit(seed);

  rocksdb::WriteBatch batch;
  writer_->Bind(&batch, /*immediate=*/false);
  for (int i = 1; i <= 100; ++i) ASSERT_TRUE(writer_->Put("t", "n", std::to_string(i)).ok());
  ASSERT_TRUE(writer_->Delete("t", "gone").ok());
  EXPECT_EQ(batch.Count(), 0u);  // Nothing until Flush().
  writer_->Flush();
  EXPECT_EQ(batch.Count(), 2u);  // One write per key.
  Commit(batch);
  EXPECT_THAT(testing::Dump(*writer_, "t"), ElementsAre(Pair("n", "100")));
}

TEST_F(ReadModelTest, RejectsBadTableNames) {
  rocksdb::WriteBatch batch;
  writer_->Bind(&batch, /*immediate=*/true);
  EXPECT_EQ(writer_->Put("", "k", "v").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_->Put(std::string("a\0b", 3), "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer_->Put(std::string(129, 't'), "k", "v").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ReadModelTest, TablesWithPrefixNamesDoNotOverlap) {
  rocksdb::WriteBatch batch;
  writer_->Bind(&batch, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("ab", "x", "1").ok());
  ASSERT_TRUE(writer_->Put("a", "bx", "2").ok());
  Commit(batch);
  EXPECT_THAT(testing::Dump(*writer_, "a"), ElementsAre(Pair("bx", "2")));
  EXPECT_THAT(testing::Dump(*writer_, "ab"), ElementsAre(Pair("x", "1")));
}

TEST_F(ReadModelTest, SecondaryIndexFollowsUpdates) {
  SecondaryIndex by_status("by_status");
  rocksdb::WriteBatch batch;
  writer_->Bind(&batch, /*immediate=*/true);
  ASSERT_TRUE(by_status.Update(*writer_, "o1", std::nullopt, "open").ok());
  ASSERT_TRUE(by_status.Update(*writer_, "o2", std::nullopt, "open").ok());
  ASSERT_TRUE(by_status.Update(*writer_, "o3", std::nullopt, "openly").ok());  // Prefix of no one.
  ASSERT_TRUE(by_status.Update(*writer_, "o1", "open", "paid").ok());
  auto lookup = [&](const ReadModelReader& r, std::string_view v) {
    std::vector<std::string> out;
    EXPECT_TRUE(by_status
                    .Lookup(r, v,
                            [&](std::string_view pk) {
                              out.emplace_back(pk);
                              return true;
                            })
                    .ok());
    return out;
  };
  EXPECT_THAT(lookup(*writer_, "open"), ElementsAre("o2"));
  EXPECT_THAT(lookup(*writer_, "paid"), ElementsAre("o1"));
  Commit(batch);
  // The committed state, through a snapshot of projection "p".
  auto snapshot = ReadModelSnapshot::Open(*store_, "p");
  ASSERT_TRUE(snapshot.ok());
  EXPECT_THAT(lookup(**snapshot, "open"), ElementsAre("o2"));
  EXPECT_THAT(lookup(**snapshot, "openly"), ElementsAre("o3"));
}

TEST_F(ReadModelTest, SnapshotsDoNotSeeLaterWrites) {
  rocksdb::WriteBatch first;
  writer_->Bind(&first, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("t", "a", "old").ok());
  Commit(first);
  auto snapshot = ReadModelSnapshot::Open(*store_, "p");
  ASSERT_TRUE(snapshot.ok());
  rocksdb::WriteBatch second;
  writer_->Bind(&second, /*immediate=*/true);
  ASSERT_TRUE(writer_->Put("t", "a", "new").ok());
  ASSERT_TRUE(writer_->Put("t", "b", "new").ok());
  Commit(second);
  EXPECT_THAT(testing::Dump(**snapshot, "t"), ElementsAre(Pair("a", "old")));
  auto fresh = ReadModelSnapshot::Open(*store_, "p");
  ASSERT_TRUE(fresh.ok());
  EXPECT_THAT(testing::Dump(**fresh, "t"), ElementsAre(Pair("a", "new"), Pair("b", "new")));
}

}  // namespace
}  // namespace annals
