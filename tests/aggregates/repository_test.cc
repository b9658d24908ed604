// Repository<A>: load/save, optimistic concurrency, Execute() retries,
// snapshots (policy, retention, fingerprints, damage) and time travel.

#include "annals/repository.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "account_v1_generated.h"
#include "annals/errors.h"
#include "common/coding.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregates/account.h"
#include "tests/common/temp_dir.h"

namespace test_domain {
namespace {

using ::testing::HasSubstr;

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    annals::Options options;
    options.durability = annals::Durability::kBuffered;
    auto store = annals::EventStore::Open(dir_.Sub("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // Opens `id` and makes `deposits` deposits of 1..deposits, one save each.
  void MakeAccount(annals::Repository<Account>& repo, const std::string& id, int deposits) {
    auto opened = repo.Execute(id, [](Account& a) { return a.Open("ann"); });
    ASSERT_TRUE(opened.ok()) << opened.status();
    for (int i = 1; i <= deposits; ++i) {
      auto done = repo.Execute(id, [&](Account& a) { return a.Deposit(i); });
      ASSERT_TRUE(done.ok()) << done.status();
    }
  }

  uint64_t StreamVersion(const std::string& id) {
    auto info = store_->GetStream(id);
    return info.ok() ? info->version : 0;
  }

  annals::testing::TempDir dir_;
  std::unique_ptr<annals::EventStore> store_;
};

TEST_F(RepositoryTest, SavesAndLoads) {
  annals::Repository<Account> repo(*store_);
  Account account("acc-1");
  ASSERT_TRUE(account.Open("ann").ok());
  ASSERT_TRUE(account.Deposit(30, "a").ok());
  auto saved = repo.Save(account);
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->first_version, 1u);
  EXPECT_EQ(saved->last_version, 2u);
  EXPECT_TRUE(account.pending_events().empty());
  EXPECT_EQ(account.persisted_version(), 2u);

  auto events = store_->ReadStream("acc-1");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ((*events)[0].type, "Opened");
  EXPECT_EQ((*events)[1].content_type, annals::ContentType::kFlatBuffers);

  auto loaded = repo.Load("acc-1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->version(), 2u);
  EXPECT_EQ(loaded->state().balance, 30);
  EXPECT_EQ(repo.Load("acc-missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RepositoryTest, ConflictingSaveIsAbortedAndWritesNothing) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-1", 1);
  auto first = repo.Load("acc-1");
  auto second = repo.Load("acc-1");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(first->Deposit(5).ok());
  ASSERT_TRUE(repo.Save(*first).ok());

  ASSERT_TRUE(second->Deposit(7).ok());
  ASSERT_TRUE(second->Deposit(8).ok());
  auto conflict = repo.Save(*second);
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  auto details = annals::GetWrongExpectedVersion(conflict.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->actual, 3u);
  EXPECT_EQ(StreamVersion("acc-1"), 3u);           // nothing of `second` written
  EXPECT_EQ(second->pending_events().size(), 2u);  // still there for the caller
  EXPECT_EQ(repo.stats().conflicts, 1u);
  auto reloaded = repo.Load("acc-1");
  EXPECT_EQ(reloaded->state().balance, 1 + 5);
}

TEST_F(RepositoryTest, ExecuteRetriesAfterAConflict) {
  annals::Repository<Account> repo(*store_);
  annals::Repository<Account> other(*store_);
  MakeAccount(repo, "acc-1", 0);
  int runs = 0;
  auto result = repo.Execute("acc-1", [&](Account& a) {
    if (++runs == 1) {
      // Someone else deposits between our load and our save.
      auto sneaky = other.Execute("acc-1", [](Account& b) { return b.Deposit(100); });
      EXPECT_TRUE(sneaky.ok());
    }
    return a.Deposit(1);
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(runs, 2);
  EXPECT_EQ(result->state().balance, 101);  // the retry saw the other deposit
  EXPECT_EQ(StreamVersion("acc-1"), 3u);
  EXPECT_EQ(repo.stats().retries, 1u);
  EXPECT_EQ(repo.stats().conflicts, 1u);
}

TEST_F(RepositoryTest, ExecuteGivesUpAfterMaxAttempts) {
  annals::Repository<Account> repo(*store_, {.max_attempts = 3});
  annals::Repository<Account> other(*store_);
  MakeAccount(repo, "acc-1", 0);
  int runs = 0;
  auto result = repo.Execute("acc-1", [&](Account& a) {
    ++runs;
    EXPECT_TRUE(other.Execute("acc-1", [](Account& b) { return b.Deposit(1); }).ok());
    return a.Deposit(1000);
  });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("gave up after 3"));
  EXPECT_EQ(runs, 3);
  auto loaded = repo.Load("acc-1");
  EXPECT_EQ(loaded->state().balance, 3);  // none of the 1000s
}

TEST_F(RepositoryTest, RejectedCommandWritesNothing) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-1", 1);
  auto rejected = repo.Execute("acc-1", [](Account& a) { return a.Withdraw(50); });
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kFailedPrecondition);
  // Even a command that raised before failing stores nothing.
  auto sloppy = repo.Execute("acc-1", [](Account& a) {
    a.Deposit(5).IgnoreError();
    return absl::InvalidArgumentError("no");
  });
  EXPECT_EQ(sloppy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StreamVersion("acc-1"), 2u);
  EXPECT_EQ(repo.Execute("acc-new", [](Account& a) { return a.Deposit(1); }).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StreamVersion("acc-new"), 0u);
}

TEST_F(RepositoryTest, ConcurrentExecutesApplyEveryCommandOnce) {
  annals::Repository<Account> repo(*store_, {.max_attempts = 10'000,
                                             .initial_backoff = absl::Microseconds(50),
                                             .max_backoff = absl::Milliseconds(2)});
  MakeAccount(repo, "acc-1", 0);
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        if (!repo.Execute("acc-1", [](Account& a) { return a.Deposit(1); }).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto loaded = repo.Load("acc-1");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state().deposits, kThreads * kEach);
  EXPECT_EQ(loaded->version(), 1u + kThreads * kEach);
}

TEST_F(RepositoryTest, SnapshotsEveryNEventsKeepTheLastK) {
  annals::Repository<Account> repo(*store_, {.snapshot_every = 5, .keep_snapshots = 2});
  MakeAccount(repo, "acc-1", 11);  // versions 1..12: crosses 5 and 10
  auto listed = repo.snapshots().List("acc-1");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].version, 5u);
  EXPECT_EQ((*listed)[1].version, 10u);
  EXPECT_EQ((*listed)[1].fingerprint, Account::Fingerprint());
  EXPECT_GT((*listed)[1].taken_at_us, 0);
  EXPECT_GT((*listed)[1].event_recorded_at_us, 0);

  MakeAccount(repo, "acc-2", 0);
  ASSERT_TRUE(repo.Execute("acc-1",
                           [](Account& a) {
                             for (int i = 0; i < 4; ++i) {
                               if (absl::Status s = a.Deposit(1); !s.ok()) return s;
                             }
                             return absl::OkStatus();
                           })
                  .ok());  // 12 -> 16 crosses 15
  listed = repo.snapshots().List("acc-1");
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].version, 10u);
  EXPECT_EQ((*listed)[1].version, 16u);  // the state right after the save

  annals::LoadInfo info;
  auto loaded = repo.Load("acc-1", {}, &info);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(info.snapshot_version, 16u);
  EXPECT_EQ(info.events_replayed, 0u);
  EXPECT_EQ(loaded->applied, 0);
  EXPECT_EQ(loaded->state().balance, 66 + 4);
  EXPECT_EQ(loaded->version(), 16u);
}

TEST_F(RepositoryTest, OnDemandSnapshot) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-1", 3);
  EXPECT_TRUE(repo.snapshots().List("acc-1")->empty());
  ASSERT_TRUE(repo.TakeSnapshot("acc-1").ok());
  annals::LoadInfo info;
  auto loaded = repo.Load("acc-1", {}, &info);
  EXPECT_EQ(info.snapshot_version, 4u);
  EXPECT_EQ(loaded->state().balance, 6);
  EXPECT_EQ(repo.TakeSnapshot("acc-none").code(), absl::StatusCode::kNotFound);
}

TEST_F(RepositoryTest, SnapshotFailureNeverFailsTheSave) {
  // keep_snapshots = 0 makes every snapshot write fail (kInvalidArgument).
  annals::Repository<Account> repo(*store_, {.snapshot_every = 2, .keep_snapshots = 0});
  MakeAccount(repo, "acc-1", 5);
  EXPECT_EQ(StreamVersion("acc-1"), 6u);
  EXPECT_GE(repo.stats().snapshot_failures, 2u);
  EXPECT_EQ(repo.stats().snapshots_written, 0u);
  EXPECT_THAT(repo.last_snapshot_error(), HasSubstr("keep_last"));
}

TEST_F(RepositoryTest, ChangedFingerprintIgnoresAndReplacesOldSnapshots) {
  annals::Repository<Account> old_code(*store_, {.snapshot_every = 5});
  MakeAccount(old_code, "acc-1", 11);
  ASSERT_FALSE(old_code.snapshots().List("acc-1")->empty());

  // New code: same events, Apply() logic changed (state_version bumped).
  annals::Repository<AccountV2Logic> new_code(*store_, {.snapshot_every = 5});
  annals::LoadInfo info;
  auto loaded = new_code.Load("acc-1", {}, &info);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(info.snapshot_version, 0u);  // old snapshot ignored: full replay
  EXPECT_EQ(loaded->applied, 12);
  EXPECT_EQ(loaded->state().balance, 66);
  // ...and replaced by one of the new fingerprint.
  auto listed = new_code.snapshots().List("acc-1");
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].fingerprint, AccountV2Logic::Fingerprint());
  EXPECT_EQ((*listed)[0].version, 12u);
  auto again = new_code.Load("acc-1", {}, &info);
  EXPECT_EQ(info.snapshot_version, 12u);
  EXPECT_EQ(again->applied, 0);
}

TEST_F(RepositoryTest, DamagedSnapshotFallsBackToFullReplay) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-1", 4);
  annals::Snapshot bad;
  bad.stream = "acc-1";
  bad.version = 5;
  bad.fingerprint = Account::Fingerprint();
  bad.state = "this is not a state table";
  ASSERT_TRUE(repo.snapshots().Put(bad, 2).ok());
  annals::LoadInfo info;
  auto loaded = repo.Load("acc-1", {}, &info);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(info.snapshot_version, 0u);
  EXPECT_EQ(loaded->state().balance, 10);
}

TEST_F(RepositoryTest, TimeTravelByVersionUsesSnapshotsAtOrBelow) {
  annals::Repository<Account> repo(*store_, {.snapshot_every = 3, .keep_snapshots = 10});
  MakeAccount(repo, "acc-1", 10);  // version v holds deposits 1..v-1
  for (uint64_t v = 1; v <= 11; ++v) {
    annals::LoadInfo info;
    auto at = repo.Load("acc-1", {.to_version = v}, &info);
    ASSERT_TRUE(at.ok()) << at.status();
    EXPECT_EQ(at->version(), v);
    const int64_t n = static_cast<int64_t>(v) - 1;
    EXPECT_EQ(at->state().balance, n * (n + 1) / 2) << "version " << v;
    EXPECT_LE(info.snapshot_version, v);
    EXPECT_EQ(info.snapshot_version, v / 3 * 3) << "newest snapshot at or below " << v;
  }
  // Without snapshots: same answers.
  auto plain = repo.Load("acc-1", {.to_version = 7, .use_snapshots = false});
  EXPECT_EQ(plain->state().balance, 21);
  EXPECT_EQ(plain->applied, 7);
  // Beyond the end: the latest.
  EXPECT_EQ(repo.LoadAtVersion("acc-1", 99)->version(), 11u);
}

TEST_F(RepositoryTest, TimeTravelByTimestamp) {
  // Events with known timestamps, written as an import would (the v1 schema
  // of Deposited, for good measure).
  const int64_t base = 1'800'000'000'000'000;  // 2027-01-15
  std::vector<std::string> payloads;
  std::vector<annals::NewEvent> events;
  {
    v1::OpenedT opened;
    opened.owner = "ann";
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(v1::Opened::Pack(fbb, &opened));
    payloads.emplace_back(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }
  for (int i = 1; i <= 9; ++i) {
    v1::DepositedT deposit;
    deposit.amount = i;
    flatbuffers::FlatBufferBuilder fbb;
    fbb.Finish(v1::Deposited::Pack(fbb, &deposit));
    payloads.emplace_back(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  }
  for (size_t i = 0; i < payloads.size(); ++i) {
    events.push_back(annals::NewEvent{.type = i == 0 ? "Opened" : "Deposited",
                                      .content_type = annals::ContentType::kFlatBuffers,
                                      .payload = payloads[i],
                                      .recorded_at_us = base + static_cast<int64_t>(i + 1) * 1000});
  }
  ASSERT_TRUE(store_->Append("acc-1", annals::ExpectedVersion::NoStream(), events).ok());
  annals::Repository<Account> repo(*store_, {.keep_snapshots = 10});
  ASSERT_TRUE(repo.TakeSnapshot("acc-1").ok());  // at version 10, recorded at base + 10000

  // Version v was recorded at base + v * 1000.
  auto at5 = repo.LoadAsOf("acc-1", absl::FromUnixMicros(base + 5 * 1000 + 500));
  ASSERT_TRUE(at5.ok()) << at5.status();
  EXPECT_EQ(at5->version(), 5u);
  EXPECT_EQ(at5->state().balance, 1 + 2 + 3 + 4);
  auto exactly6 = repo.LoadAsOf("acc-1", absl::FromUnixMicros(base + 6 * 1000));
  EXPECT_EQ(exactly6->version(), 6u);  // "at or before"
  EXPECT_EQ(repo.LoadAsOf("acc-1", absl::FromUnixMicros(base + 999)).status().code(),
            absl::StatusCode::kNotFound);
  annals::LoadInfo info;
  auto latest = repo.Load("acc-1", {.as_of_us = base + 20'000}, &info);
  EXPECT_EQ(latest->version(), 10u);
  EXPECT_EQ(info.snapshot_version, 10u);  // the snapshot is not newer than the time

  // A snapshot in the middle serves earlier times only when it is not newer.
  ASSERT_TRUE(repo.Load("acc-1", {.to_version = 4}).ok());
  annals::Snapshot mid;
  {
    auto at4 = repo.Load("acc-1", {.to_version = 4, .use_snapshots = false});
    mid.stream = "acc-1";
    mid.version = 4;
    mid.fingerprint = Account::Fingerprint();
    mid.state = at4->EncodeState();
    mid.event_recorded_at_us = base + 4000;
    ASSERT_TRUE(repo.snapshots().Put(mid, 10).ok());
  }
  auto at7 = repo.Load("acc-1", {.as_of_us = base + 7500}, &info);
  EXPECT_EQ(at7->version(), 7u);
  EXPECT_EQ(info.snapshot_version, 4u);
  EXPECT_EQ(info.events_replayed, 3u);
  auto at3 = repo.Load("acc-1", {.as_of_us = base + 3500}, &info);
  EXPECT_EQ(at3->version(), 3u);
  EXPECT_EQ(info.snapshot_version, 0u);
}

TEST_F(RepositoryTest, ReplayOfADamagedStreamIsDataLossNotAShorterStream) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-0", 2);  // positions 1..3 belong to another stream
  MakeAccount(repo, "acc-1", 4);  // versions 1..5 at positions 4..8
  auto events = store_->ReadStream("acc-1");
  ASSERT_TRUE(events.ok());
  const uint64_t position = (*events)[2].position;  // version 3
  rocksdb::DB* db = annals::internal::StoreAccess::Db(*store_);
  ASSERT_TRUE(
      db->Delete(rocksdb::WriteOptions(),
                 annals::internal::StoreAccess::CoreFamily(*store_, annals::internal::kLogFamily),
                 annals::coding::BigEndian64(position))
          .ok());
  auto loaded = repo.Load("acc-1");
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(loaded.status().message()),
              HasSubstr("position " + std::to_string(position)));
  // Versions before the damage still load.
  auto before = repo.Load("acc-1", {.to_version = 2});
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->state().balance, 1);
  EXPECT_TRUE(repo.Load("acc-0").ok());
}

TEST_F(RepositoryTest, ReadOnlyFollowerLoadsButNeverSnapshots) {
  annals::Repository<Account> repo(*store_);
  MakeAccount(repo, "acc-1", 12);
  annals::Options ro;
  ro.read_only = true;
  auto follower = annals::EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  annals::Repository<Account> reader(**follower, {.snapshot_every = 5});
  auto loaded = reader.Load("acc-1");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->state().balance, 78);
  EXPECT_EQ(reader.stats().snapshot_failures, 0u);
  EXPECT_EQ(reader.stats().snapshots_written, 0u);
  EXPECT_EQ(reader.TakeSnapshot("acc-1").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace test_domain
