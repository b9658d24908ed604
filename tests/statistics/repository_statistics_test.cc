// What snapshot stores and repositories record into the store's
// Options::statistics: lookups, hits, misses, damaged snapshots skipped,
// saves and their bytes, failures; aggregate loads, events replayed per
// load, saves, conflicts and retries. Exact counts for a scripted workload,
// and agreement with RepositoryStats where both count the same thing.

#include <memory>
#include <string>

#include "annals/repository.h"
#include "annals/snapshot_store.h"
#include "annals/statistics.h"
#include "eventstore/internal/store_access.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/aggregates/account.h"
#include "tests/common/temp_dir.h"
#include "tests/statistics/statistics_test_util.h"

namespace annals {
namespace {

using test_domain::Account;

class RepositoryStatisticsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenWithStatistics(dir_.Sub("store"), stats_);
    ASSERT_NE(store_, nullptr);
  }

  uint64_t Tick(Ticker t) const { return stats_->GetTickerCount(t); }

  testing::TempDir dir_;
  std::shared_ptr<Statistics> stats_ = CreateStatistics();
  std::unique_ptr<EventStore> store_;
};

TEST_F(RepositoryStatisticsTest, SnapshotStoreCountsLookupsHitsMissesAndSaves) {
  SnapshotStore snapshots(*store_);
  Snapshot s{.stream = "s", .version = 10, .fingerprint = "fp", .state = std::string(40, 'x')};
  ASSERT_TRUE(snapshots.Put(s, 5).ok());
  s.version = 20;
  s.state = std::string(60, 'y');
  ASSERT_TRUE(snapshots.Put(s, 5).ok());
  s.version = 0;  // Bad input: a failed save.
  EXPECT_EQ(snapshots.Put(s, 5).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Tick(Ticker::kSnapshotsSaved), 2u);
  EXPECT_EQ(Tick(Ticker::kSnapshotBytesSaved), 100u);
  EXPECT_EQ(Tick(Ticker::kSnapshotSaveFailures), 1u);

  EXPECT_TRUE(snapshots.FindLatest("s", {.fingerprint = "fp"}).ok());                     // hit
  EXPECT_TRUE(snapshots.FindLatest("s", {.fingerprint = "fp", .max_version = 15}).ok());  // hit
  EXPECT_FALSE(snapshots.FindLatest("s", {.fingerprint = "fp", .max_version = 9}).ok());  // miss
  EXPECT_FALSE(snapshots.FindLatest("s", {.fingerprint = "other"}).ok());                 // miss
  EXPECT_EQ(Tick(Ticker::kSnapshotLookups), 4u);
  EXPECT_EQ(Tick(Ticker::kSnapshotHits), 2u);
  EXPECT_EQ(Tick(Ticker::kSnapshotMisses), 2u);

  // Damage version 20: the lookup skips it and hits version 10.
  rocksdb::DB* db = internal::StoreAccess::Db(*store_);
  // The snapshots module's own family, as snapshots/snapshot_store.cc declares it.
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> family =
      internal::StoreAccess::Family(*store_, {.name = "snapshots"});
  ASSERT_TRUE(family.ok()) << family.status();
  rocksdb::ColumnFamilyHandle* cf = *family;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), cf));
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  const std::string key = it->key().ToString();
  std::string value = it->value().ToString();
  it.reset();
  value.back() ^= 0x01;
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), cf, key, value).ok());
  auto found = snapshots.FindLatest("s", {.fingerprint = "fp"});
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->version, 10u);
  EXPECT_EQ(Tick(Ticker::kSnapshotDamagedSkipped), 1u);
  EXPECT_EQ(snapshots.damaged_skipped(), 1u);
  EXPECT_EQ(Tick(Ticker::kSnapshotHits), 3u);
}

TEST_F(RepositoryStatisticsTest, LoadsAndSavesCountExactly) {
  Repository<Account> repo(*store_, {.snapshot_every = 10});
  // One save of 25 events (Opened + 24 deposits) crosses 10 and 20: one
  // snapshot, at version 25.
  Account account("a");
  ASSERT_TRUE(account.Open("ann").ok());
  for (int i = 1; i <= 24; ++i) ASSERT_TRUE(account.Deposit(i).ok());
  ASSERT_TRUE(repo.Save(account).ok());
  EXPECT_EQ(Tick(Ticker::kAggregateSaves), 1u);
  EXPECT_EQ(Tick(Ticker::kSnapshotsSaved), 1u);
  EXPECT_EQ(Tick(Ticker::kEventsAppended), 25u);

  LoadInfo info;
  ASSERT_TRUE(repo.Load("a", {}, &info).ok());  // snapshot hit, nothing replayed
  EXPECT_EQ(info.snapshot_version, 25u);
  ASSERT_TRUE(repo.Load("a", {.use_snapshots = false}).ok());  // no lookup, 25 replayed
  ASSERT_TRUE(repo.Load("a", {.to_version = 5}).ok());         // miss, 5 replayed
  EXPECT_EQ(repo.Load("missing").status().code(), absl::StatusCode::kNotFound);  // not a load
  auto loaded = repo.Load("a");
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->Deposit(100).ok());
  ASSERT_TRUE(loaded->Deposit(100).ok());
  ASSERT_TRUE(loaded->Deposit(100).ok());
  ASSERT_TRUE(repo.Save(*loaded).ok());         // 25 -> 28: no snapshot
  ASSERT_TRUE(repo.Load("a", {}, &info).ok());  // hit at 25, 3 replayed
  EXPECT_EQ(info.events_replayed, 3u);

  EXPECT_EQ(Tick(Ticker::kSnapshotLookups), 4u);
  EXPECT_EQ(Tick(Ticker::kSnapshotHits), 3u);
  EXPECT_EQ(Tick(Ticker::kSnapshotMisses), 1u);
  EXPECT_EQ(Tick(Ticker::kAggregateSnapshotRestores), 3u);
  EXPECT_EQ(Tick(Ticker::kAggregateLoads), 5u);
  EXPECT_EQ(Tick(Ticker::kAggregateEventsReplayed), 0u + 25 + 5 + 0 + 3);
  EXPECT_EQ(Tick(Ticker::kAggregateSaves), 2u);
  EXPECT_EQ(Tick(Ticker::kSnapshotsSaved), 1u);
  const HistogramData replayed = stats_->GetHistogramData(Histogram::kAggregateReplayedEvents);
  EXPECT_EQ(replayed.count, 5u);
  EXPECT_EQ(replayed.sum, 33u);
  EXPECT_EQ(replayed.min, 0u);
  EXPECT_EQ(replayed.max, 25u);
  EXPECT_DOUBLE_EQ(replayed.p50, 3.0);

  // RepositoryStats counts attempts (the missing stream too); the tickers
  // count what succeeded. Where both count the same thing they agree.
  const RepositoryStats rs = repo.stats();
  EXPECT_EQ(rs.loads, 6u);
  EXPECT_EQ(rs.snapshot_hits, Tick(Ticker::kAggregateSnapshotRestores));
  EXPECT_EQ(rs.events_replayed, Tick(Ticker::kAggregateEventsReplayed));
  EXPECT_EQ(rs.saves, Tick(Ticker::kAggregateSaves));
}

TEST_F(RepositoryStatisticsTest, ConflictsAndRetriesAreCounted) {
  Repository<Account> repo(*store_);
  ASSERT_TRUE(repo.Execute("a", [](Account& a) { return a.Open("ann"); }).ok());
  // A stale save: kAborted.
  auto first = repo.Load("a");
  auto second = repo.Load("a");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(first->Deposit(1).ok());
  ASSERT_TRUE(second->Deposit(2).ok());
  ASSERT_TRUE(repo.Save(*first).ok());
  EXPECT_EQ(repo.Save(*second).status().code(), absl::StatusCode::kAborted);
  // A command that races once: its first attempt's save conflicts with an
  // append made behind its back, the retry succeeds.
  int runs = 0;
  auto done = repo.Execute("a", [&](Account& a) {
    if (++runs == 1) {
      EXPECT_TRUE(repo.Execute("a", [](Account& b) { return b.Deposit(5); }).ok());
    }
    return a.Deposit(3);
  });
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(Tick(Ticker::kAggregateConflicts), 2u);
  EXPECT_EQ(Tick(Ticker::kAggregateRetries), 1u);
  EXPECT_EQ(Tick(Ticker::kAppendFailedConflict), 2u);
  const RepositoryStats rs = repo.stats();
  EXPECT_EQ(rs.conflicts, Tick(Ticker::kAggregateConflicts));
  EXPECT_EQ(rs.retries, Tick(Ticker::kAggregateRetries));
  EXPECT_EQ(rs.saves, Tick(Ticker::kAggregateSaves));
}

TEST_F(RepositoryStatisticsTest, WithoutStatisticsRepositoriesWorkAndRecordNothing) {
  Options options;
  options.durability = Durability::kBuffered;
  auto plain = EventStore::Open(dir_.Sub("plain"), options);
  ASSERT_TRUE(plain.ok()) << plain.status();
  Repository<Account> repo(**plain, {.snapshot_every = 2});
  ASSERT_TRUE(repo.Execute("a", [](Account& a) { return a.Open("ann"); }).ok());
  ASSERT_TRUE(repo.Execute("a", [](Account& a) { return a.Deposit(1); }).ok());
  ASSERT_TRUE(repo.Load("a").ok());
  EXPECT_EQ(repo.stats().snapshots_written, 1u);
  EXPECT_EQ(repo.stats().snapshot_hits, 1u);
  EXPECT_EQ(stats_->ToString(), CreateStatistics()->ToString());
}

}  // namespace
}  // namespace annals
