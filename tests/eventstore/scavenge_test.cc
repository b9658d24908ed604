// Scavenging (docs/lifecycle.md, "Scavenging"): the stub, the compaction
// filter, Scavenge(), readers across stubs, verify across stubs and forged
// stubs, log compaction by key.

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "codec/internal/canonical.h"
#include "codec/internal/stub_codec.h"
#include "common/coding.h"
#include "common/mutex.h"
#include "common/strings.h"
#include "eventstore/internal/keys.h"
#include "eventstore/internal/scavenge_policy.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using codec_internal::ScavengeReason;
using codec_internal::StubView;
using ::testing::HasSubstr;

// Streams named dead are unreachable, for ever (names are only added).
class TestPolicy : public internal::ScavengePolicy {
 public:
  void Kill(std::string stream) {
    MutexLock lock(&mu_);
    dead_.insert(std::move(stream));
  }
  bool Unreachable(const internal::ScavengeCandidate& c) const override {
    MutexLock lock(&mu_);
    return dead_.contains(std::string(c.stream));
  }

 private:
  mutable Mutex mu_;
  std::set<std::string> dead_ ABSL_GUARDED_BY(mu_);
};

class ScavengeTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    store_.reset();
    Options options;
    options.durability = Durability::kBuffered;
    auto store = EventStore::Open(dir_.Sub("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    internal::StoreAccess::SetScavengePolicy(*store_, policy_);
  }

  // `streams` streams "s-<i>" of `per_stream` events each, interleaved.
  void Fill(int streams, int per_stream) {
    for (int v = 0; v < per_stream; ++v) {
      for (int i = 0; i < streams; ++i) {
        const std::string payload =
            StrCat("{\"n\":", v, ",\"pad\":\"", std::string(200, 'x'), "\"}");
        NewEvent e{.type = "Counted", .payload = payload};
        ASSERT_TRUE(store_->Append(StrCat("s-", i), ExpectedVersion::Any(), {&e, 1}).ok());
      }
    }
  }

  rocksdb::DB* db() { return internal::StoreAccess::Db(*store_); }
  rocksdb::ColumnFamilyHandle* cf(internal::Family f) {
    return internal::StoreAccess::CoreFamily(*store_, f);
  }
  std::string Raw(uint64_t position) {
    std::string value;
    EXPECT_TRUE(db()->Get(rocksdb::ReadOptions(), cf(internal::kLogFamily),
                          coding::BigEndian64(position), &value)
                    .ok());
    return value;
  }
  void PutRaw(uint64_t position, std::string_view value) {
    ASSERT_TRUE(db()->Put(rocksdb::WriteOptions(), cf(internal::kLogFamily),
                          coding::BigEndian64(position), rocksdb::Slice(value.data(), value.size()))
                    .ok());
  }
  uint64_t CountKeys(internal::Family f) {
    std::unique_ptr<rocksdb::Iterator> it(db()->NewIterator(rocksdb::ReadOptions(), cf(f)));
    uint64_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }

  testing::TempDir dir_;
  std::shared_ptr<TestPolicy> policy_ = std::make_shared<TestPolicy>();
  std::unique_ptr<EventStore> store_;
};

TEST(StubCodecTest, RoundTripsAndIsToldFromARecord) {
  const std::string hash(32, 'h');
  const std::string previous(32, 'p');
  const std::string bytes = codec_internal::EncodeStub({.position = 7,
                                                        .stream = "orders-1",
                                                        .version = 3,
                                                        .recorded_at_us = 42,
                                                        .hash = hash,
                                                        .previous_hash = previous,
                                                        .reason = ScavengeReason::kCompacted});
  ASSERT_TRUE(codec_internal::IsStub(bytes));
  std::string scratch;
  StubView stub;
  ASSERT_TRUE(codec_internal::DecodeStub(bytes, &scratch, &stub).ok());
  EXPECT_EQ(stub.position, 7u);
  EXPECT_EQ(stub.stream, "orders-1");
  EXPECT_EQ(stub.version, 3u);
  EXPECT_EQ(stub.recorded_at_us, 42);
  EXPECT_EQ(stub.hash, hash);
  EXPECT_EQ(stub.previous_hash, previous);
  EXPECT_EQ(stub.reason, ScavengeReason::kCompacted);
  // Any flipped byte of a field is damage (the CRC32C or the verifier).
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string damaged = bytes;
    damaged[i] ^= 0x10;
    if (!codec_internal::IsStub(damaged)) continue;
    StubView out;
    absl::Status st = codec_internal::DecodeStub(damaged, &scratch, &out);
    if (st.ok()) {
      // Only bytes no field reads (padding, unused vtable slack) may flip.
      EXPECT_EQ(out.hash, hash) << i;
      EXPECT_EQ(out.stream, "orders-1") << i;
      EXPECT_EQ(out.position, 7u) << i;
    } else {
      EXPECT_TRUE(absl::IsDataLoss(st)) << i << st;
    }
  }
  EXPECT_EQ(codec_internal::ScavengeReasonName(ScavengeReason::kDeleted), "deleted");
}

TEST_F(ScavengeTest, UnreachableEventsBecomeStubsAndReadersSkipThem) {
  Fill(10, 20);  // 200 events
  auto before = store_->ReadStream("s-3");
  ASSERT_TRUE(before.ok());
  const Uuid dead_id = (*before)[5].id;
  for (int i = 1; i <= 8; ++i) policy_->Kill(StrCat("s-", i));

  absl::StatusOr<ScavengeReport> report = store_->Scavenge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->scavenged, 160u);
  EXPECT_GT(report->bytes_before, report->bytes_after);

  // Positions stay: the log still has 200 entries, 160 of them stubs.
  EXPECT_EQ(CountKeys(internal::kLogFamily), 200u);
  EXPECT_EQ(store_->last_position(), 200u);
  std::string scratch;
  StubView stub;
  const std::string raw = Raw(2);  // s-1 version 1
  ASSERT_TRUE(codec_internal::IsStub(raw));
  ASSERT_TRUE(codec_internal::DecodeStub(raw, &scratch, &stub).ok());
  EXPECT_EQ(stub.stream, "s-1");
  EXPECT_EQ(stub.version, 1u);
  EXPECT_EQ(stub.reason, ScavengeReason::kRetention);
  // The index entries of stubs are gone.
  EXPECT_EQ(CountKeys(internal::kStreamIndexFamily), 40u);
  EXPECT_EQ(CountKeys(internal::kEventIdsFamily), 40u);

  // Every reader skips stubs.
  auto all = store_->ReadAll();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 40u);
  for (const RecordedEvent& e : *all) EXPECT_TRUE(e.stream == "s-0" || e.stream == "s-9");
  auto backward = store_->ReadAll({.direction = Direction::kBackward, .limit = 3});
  ASSERT_TRUE(backward.ok()) << backward.status();
  ASSERT_EQ(backward->size(), 3u);
  EXPECT_EQ((*backward)[0].position, 200u);
  EXPECT_EQ((*backward)[1].position, 191u);
  auto dead = store_->ReadStream("s-3");
  ASSERT_TRUE(dead.ok()) << dead.status();
  EXPECT_TRUE(dead->empty());
  auto live = store_->ReadStream("s-9", {.from_version = 5, .limit = 4});
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 4u);
  EXPECT_EQ((*live)[0].version, 5u);
  EXPECT_TRUE(absl::IsNotFound(store_->ReadEvent(dead_id).status()));

  absl::StatusOr<VerifyReport> verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->scavenged, 160u);
  EXPECT_EQ(verify->events, 40u);
  EXPECT_EQ(verify->last_position, 200u);
}

TEST_F(ScavengeTest, ADamagedRecordIsNotLaunderedIntoAStub) {
  Fill(2, 5);
  // Damage the payload of s-1's version 2 (position 4), then let it go.
  std::string raw = Raw(4);
  const size_t at = raw.find("xxxx");
  ASSERT_NE(at, std::string::npos);
  raw[at] = 'y';
  PutRaw(4, raw);
  policy_->Kill("s-1");
  ASSERT_TRUE(store_->Scavenge().ok());
  EXPECT_FALSE(codec_internal::IsStub(Raw(4)));
  EXPECT_TRUE(codec_internal::IsStub(Raw(2)));
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok);
  EXPECT_EQ(verify->first_bad_position, 4u);
}

TEST_F(ScavengeTest, StreamReadsSkipStubsWhoseIndexEntriesRemain) {
  Fill(2, 10);
  // Stubs written by hand, index entries left in place: what a reader sees
  // between the log's compaction and the index's.
  policy_->Kill("s-1");
  rocksdb::CompactRangeOptions o;
  o.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  ASSERT_TRUE(db()->Flush(rocksdb::FlushOptions(), cf(internal::kLogFamily)).ok());
  ASSERT_TRUE(db()->CompactRange(o, cf(internal::kLogFamily), nullptr, nullptr).ok());
  EXPECT_EQ(CountKeys(internal::kStreamIndexFamily), 20u);
  auto dead = store_->ReadStream("s-1");
  ASSERT_TRUE(dead.ok()) << dead.status();
  EXPECT_TRUE(dead->empty());
  auto back = store_->ReadStream("s-1", {.direction = Direction::kBackward});
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->empty());
  auto live = store_->ReadStream("s-0");
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(live->size(), 10u);
  absl::StatusOr<VerifyReport> verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->scavenged, 10u);
}

TEST_F(ScavengeTest, BackgroundCompactionsScavengeToo) {
  Fill(4, 10);
  policy_->Kill("s-2");
  // An ordinary compaction, as RocksDB runs them on its own.
  ASSERT_TRUE(db()->Flush(rocksdb::FlushOptions(), cf(internal::kLogFamily)).ok());
  ASSERT_TRUE(
      db()->CompactRange(rocksdb::CompactRangeOptions(), cf(internal::kLogFamily), nullptr, nullptr)
          .ok());
  auto all = store_->ReadAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 30u);
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->scavenged, 10u);
}

TEST_F(ScavengeTest, StubsAreNeverUndoneAndTheChainGoesOnAcrossReopen) {
  Fill(3, 5);
  // The last event of the log is scavenged: the commit record names its
  // stub's hash.
  policy_->Kill("s-2");
  ASSERT_TRUE(store_->Scavenge().ok());
  Open();  // a new policy object is installed: a fresh, empty one
  policy_ = std::make_shared<TestPolicy>();
  internal::StoreAccess::SetScavengePolicy(*store_, nullptr);
  absl::StatusOr<ScavengeReport> again = store_->Scavenge();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->scavenged, 0u);
  EXPECT_TRUE(codec_internal::IsStub(Raw(15)));
  NewEvent e{.type = "After", .payload = "{}"};
  ASSERT_TRUE(store_->Append("s-0", ExpectedVersion::Any(), {&e, 1}).ok());
  ASSERT_TRUE(store_->Append("s-2", ExpectedVersion::Exact(5), {&e, 1}).ok());
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->scavenged, 5u);
  EXPECT_EQ(verify->events, 12u);
  auto s2 = store_->ReadStream("s-2");
  ASSERT_TRUE(s2.ok());
  ASSERT_EQ(s2->size(), 1u);
  EXPECT_EQ((*s2)[0].version, 6u);
}

class ForgedStubTest : public ScavengeTest {
 protected:
  void SetUp() override {
    ScavengeTest::SetUp();
    Fill(4, 5);  // positions 1..20; s-1 at 2, 6, 10, 14, 18
    policy_->Kill("s-1");
    ASSERT_TRUE(store_->Scavenge().ok());
    auto verify = store_->Verify();
    ASSERT_TRUE(verify.ok() && verify->ok);
  }
  StubView Stub(uint64_t position) {
    raw_ = Raw(position);
    StubView stub;
    EXPECT_TRUE(codec_internal::DecodeStub(raw_, &scratch_, &stub).ok());
    return stub;
  }
  VerifyReport MustFail() {
    absl::StatusOr<VerifyReport> verify = store_->Verify();
    EXPECT_TRUE(verify.ok());
    EXPECT_FALSE(verify->ok);
    return *verify;
  }
  std::string raw_, scratch_;
};

TEST_F(ForgedStubTest, ARewrittenHashIsNamed) {
  StubView stub = Stub(6);
  std::string forged(32, 'f');
  stub.hash = forged;
  PutRaw(6, codec_internal::EncodeStub(stub));  // with a fresh, matching CRC
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, 6u);
  EXPECT_THAT(r.reason, HasSubstr("forged stub"));
}

TEST_F(ForgedStubTest, ARewrittenHashAtTheEndIsNamed) {
  Fill(1, 0);
  NewEvent e{.type = "T", .payload = "{}"};
  ASSERT_TRUE(store_->Append("s-1", ExpectedVersion::Any(), {&e, 1}).ok());  // position 21
  ASSERT_TRUE(store_->Scavenge().ok());
  StubView stub = Stub(21);
  std::string forged(32, 'f');
  stub.hash = forged;
  PutRaw(21, codec_internal::EncodeStub(stub));
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, 21u);
  EXPECT_THAT(r.reason, HasSubstr("forged stub"));
}

TEST_F(ForgedStubTest, ARewrittenPreviousHashIsNamed) {
  StubView stub = Stub(10);
  std::string forged(32, 'f');
  stub.previous_hash = forged;
  PutRaw(10, codec_internal::EncodeStub(stub));
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, 10u);
  EXPECT_THAT(r.reason, HasSubstr("previous hash"));
}

TEST_F(ForgedStubTest, ADamagedStubIsNamed) {
  std::string raw = Raw(14);
  raw[raw.size() - 20] ^= 0x01;  // inside the hashes
  PutRaw(14, raw);
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, 14u);
  auto all = store_->ReadAll();
  EXPECT_TRUE(absl::IsDataLoss(all.status())) << all.status();
}

TEST_F(ForgedStubTest, ADroppedStubIsAGap) {
  ASSERT_TRUE(
      db()->Delete(rocksdb::WriteOptions(), cf(internal::kLogFamily), coding::BigEndian64(10))
          .ok());
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, 10u);
  EXPECT_THAT(r.reason, HasSubstr("gap"));
}

TEST_F(ForgedStubTest, AStubOfAReachableEventIsNamed) {
  // A perfect stub (right hashes, right CRC) of s-2's version 2, which the
  // policy still keeps: someone removed content the store must keep.
  auto s2 = store_->ReadStream("s-2");
  ASSERT_TRUE(s2.ok());
  const RecordedEvent& victim = (*s2)[1];
  const StubView before = Stub(victim.position - 1);  // s-1's stub before it
  const std::string previous(before.hash);
  const std::string raw_hash = victim.hash;  // 32 bytes
  ASSERT_EQ(raw_hash.size(), 32u);
  PutRaw(victim.position, codec_internal::EncodeStub({.position = victim.position,
                                                      .stream = "s-2",
                                                      .version = 2,
                                                      .recorded_at_us = victim.recorded_at_us,
                                                      .hash = raw_hash,
                                                      .previous_hash = previous}));
  const VerifyReport r = MustFail();
  EXPECT_EQ(r.first_bad_position, victim.position);
  EXPECT_THAT(r.reason, HasSubstr("still reachable"));
}

TEST_F(ScavengeTest, CompactionByStreamKeepsTheNewestEventOfEachStream) {
  for (int v = 0; v < 5; ++v) {
    for (const char* s : {"acct-1", "acct-2", "other-1"}) {
      const std::string payload = StrCat("{\"v\":", v, "}");
      NewEvent e{.type = "Balance", .payload = payload};
      ASSERT_TRUE(store_->Append(s, ExpectedVersion::Any(), {&e, 1}).ok());
    }
  }
  EXPECT_TRUE(absl::IsInvalidArgument(store_->SetCategoryCompaction("acct-1", {})));
  ASSERT_TRUE(store_->SetCategoryCompaction("acct", {}).ok());
  absl::StatusOr<ScavengeReport> report = store_->Scavenge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->scavenged, 8u);
  auto a1 = store_->ReadStream("acct-1");
  ASSERT_TRUE(a1.ok());
  ASSERT_EQ(a1->size(), 1u);
  EXPECT_EQ((*a1)[0].version, 5u);
  auto other = store_->ReadStream("other-1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->size(), 5u);
  std::string scratch;
  StubView stub;
  ASSERT_TRUE(codec_internal::DecodeStub(Raw(1), &scratch, &stub).ok());
  EXPECT_EQ(stub.reason, ScavengeReason::kCompacted);
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->scavenged, 8u);
}

TEST_F(ScavengeTest, CompactionByJsonFieldKeepsTheNewestEventPerValue) {
  const char* payloads[] = {R"({"sku":"a","p":1})", R"({"sku":"b","p":2})", R"({"sku":"a","p":3})",
                            R"({"p":4})",           R"({"sku":"b","p":5})", R"({"sku":"c","p":6})"};
  for (const char* p : payloads) {
    NewEvent e{.type = "Price", .payload = p};
    ASSERT_TRUE(store_->Append("prices-eu", ExpectedVersion::Any(), {&e, 1}).ok());
  }
  ASSERT_TRUE(store_->SetCategoryCompaction("prices", {.json_field = "sku"}).ok());
  absl::StatusOr<ScavengeReport> report = store_->Scavenge();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->scavenged, 2u);  // a@1 and b@2
  auto events = store_->ReadStream("prices-eu");
  ASSERT_TRUE(events.ok());
  std::vector<uint64_t> versions;
  for (const RecordedEvent& e : *events) versions.push_back(e.version);
  EXPECT_EQ(versions, (std::vector<uint64_t>{3, 4, 5, 6}));
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
}

TEST_F(ScavengeTest, ACompactedStubOfAnUncompactedCategoryIsForged) {
  for (int v = 0; v < 3; ++v) {
    NewEvent e{.type = "Balance", .payload = "{}"};
    ASSERT_TRUE(store_->Append("acct-1", ExpectedVersion::Any(), {&e, 1}).ok());
  }
  ASSERT_TRUE(store_->SetCategoryCompaction("acct", {}).ok());
  ASSERT_TRUE(store_->Scavenge().ok());
  // Remove the setting behind the store's back.
  ASSERT_TRUE(
      db()->Delete(rocksdb::WriteOptions(), cf(internal::kDefaultFamily), "compaction/acct").ok());
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_FALSE(verify->ok);
  EXPECT_EQ(verify->first_bad_position, 1u);
  EXPECT_THAT(verify->reason, HasSubstr("not compacted"));
}

TEST_F(ScavengeTest, ReadersAndAppendersRunThroughScavenges) {
  Fill(10, 5);
  for (int i = 1; i <= 8; ++i) policy_->Kill(StrCat("s-", i));
  std::atomic<bool> stop{false};
  std::atomic<int> appenders_left{2};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  // Appenders: live streams grow, dead ones too (their new events are
  // scavenged by the next scavenge).
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 1000; ++n) {
        NewEvent e{.type = "More", .payload = "{\"x\":1}"};
        if (!store_->Append(StrCat("s-", (n * 2 + t) % 10), ExpectedVersion::Any(), {&e, 1}).ok()) {
          ++errors;
        }
      }
      --appenders_left;
    });
  }
  // Readers: every read succeeds; live streams come back whole (versions
  // 1..N without a gap); no stub or dead event half-seen as damage.
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto live = store_->ReadStream("s-9");
        if (!live.ok()) {
          ++errors;
          continue;
        }
        for (size_t i = 0; i < live->size(); ++i) {
          if ((*live)[i].version != i + 1) ++errors;
        }
        if (!store_->ReadStream("s-4").ok()) ++errors;
        uint64_t last = 0;
        absl::Status st = store_->ScanAll({}, [&](const EventView& e) {
          if (e.position <= last) ++errors;
          last = e.position;
          return true;
        });
        if (!st.ok()) ++errors;
      }
    });
  }
  uint64_t scavenged = 0;
  for (int round = 0; round < 3 || appenders_left.load() > 0; ++round) {
    absl::StatusOr<ScavengeReport> r = store_->Scavenge();
    ASSERT_TRUE(r.ok()) << r.status();
    scavenged += r->scavenged;
  }
  stop = true;
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GE(scavenged, 40u);
  auto verify = store_->Verify();
  ASSERT_TRUE(verify.ok());
  EXPECT_TRUE(verify->ok) << verify->reason;
  EXPECT_EQ(verify->events + verify->scavenged, verify->last_position);
}

TEST_F(ScavengeTest, AReadOnlyStoreCannotScavenge) {
  Fill(1, 2);
  Options options;
  options.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), options);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_TRUE(absl::IsFailedPrecondition((*follower)->Scavenge().status()));
}

}  // namespace
}  // namespace annals
