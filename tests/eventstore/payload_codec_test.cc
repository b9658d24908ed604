// The codec inside a store: with Options::payload_compression the records
// hold compressed payloads, and nothing else shows it (every read returns
// the payload as appended; the hashes are those of a store without
// compression; idempotent retries still compare content); the setting can
// change between opens; a sealed payload (the encryption hook) verifies
// without its cipher.

#include <memory>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/codec/toy_cipher.h"
#include "tests/common/stored_records.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

// A JSON document of about 2 KiB that compresses well.
std::string Document(int n) {
  std::string d = R"({"order":)" + std::to_string(n) + R"(,"lines":[)";
  for (int i = 0; i < 60; ++i) {
    d += R"({"sku":"SKU-)" + std::to_string((n + i) % 7) + R"(","qty":)" +
         std::to_string(i % 3 + 1) + R"(,"note":"gift wrap"},)";
  }
  return d + "{}]}";
}

Uuid IdOf(int n) {
  std::array<uint8_t, 16> b{};
  b[0] = 0x01;
  b[14] = static_cast<uint8_t>(n >> 8);
  b[15] = static_cast<uint8_t>(n);
  return Uuid(b);
}

// The same workload for every store: 40 events in 4 streams, fixed ids and
// timestamps, large compressible payloads, small ones and random bytes.
struct Workload {
  std::vector<std::string> payloads;
  Workload() {
    uint32_t x = 7;
    for (int i = 0; i < 40; ++i) {
      if (i % 4 == 0) {
        payloads.push_back(Document(i));
      } else if (i % 4 == 1) {
        payloads.push_back(R"({"n":)" + std::to_string(i) + "}");
      } else if (i % 4 == 2) {
        std::string random(1500, '\0');
        for (char& c : random) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
        payloads.push_back(random);
      } else {
        payloads.push_back(Document(i) + Document(i + 1));
      }
    }
  }

  NewEvent Event(int i) const {
    return NewEvent{.id = IdOf(i),
                    .type = "Changed",
                    .content_type = i % 4 == 2 ? ContentType::kBytes : ContentType::kJson,
                    .payload = payloads[i],
                    .correlation_id = "c",
                    .recorded_at_us = 1764576000000000 + i};
  }

  void AppendAll(EventStore& store, int from = 0, int to = 40) const {
    for (int i = from; i < to; ++i) {
      const NewEvent e = Event(i);
      absl::StatusOr<AppendResult> r =
          store.Append("s-" + std::to_string(i % 4), ExpectedVersion::Any(), {&e, 1});
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }
};

class PayloadCodecStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventStore> Open(const std::string& name, PayloadCompression compression,
                                   bool read_only = false) {
    Options options;
    options.durability = Durability::kBuffered;
    options.payload_compression = compression;
    options.read_only = read_only;
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(dir_.Sub(name), options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // How many records of the log are stored compressed, and their bytes.
  static std::pair<int, size_t> CompressedRecords(EventStore& store) {
    size_t bytes = 0;
    for (const testing::StoredRecordInfo& r : testing::StoredRecords(store)) {
      bytes += r.record_bytes;
    }
    return {testing::CompressedRecords(store), bytes};
  }

  static std::vector<RecordedEvent> All(EventStore& store) {
    absl::StatusOr<std::vector<RecordedEvent>> events = store.ReadAll();
    EXPECT_TRUE(events.ok()) << events.status();
    return events.ok() ? *events : std::vector<RecordedEvent>();
  }

  static std::string LastHash(EventStore& store) {
    absl::StatusOr<VerifyReport> report = store.Verify();
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return "";
    EXPECT_TRUE(report->ok) << report->reason;
    return report->last_hash;
  }

  testing::TempDir dir_;
  Workload workload_;
};

TEST_F(PayloadCodecStoreTest, CompressionChangesTheRecordsButNoHash) {
  auto plain = Open("plain", PayloadCompression::kNone);
  auto zstd = Open("zstd", PayloadCompression::kZstd);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(zstd, nullptr);
  workload_.AppendAll(*plain);
  workload_.AppendAll(*zstd);

  const auto [plain_compressed, plain_bytes] = CompressedRecords(*plain);
  const auto [zstd_compressed, zstd_bytes] = CompressedRecords(*zstd);
  EXPECT_EQ(plain_compressed, 0);
  // The 20 large documents; not the small payloads nor the random bytes.
  EXPECT_EQ(zstd_compressed, 20);
  EXPECT_LT(zstd_bytes * 2, plain_bytes);

  const std::vector<RecordedEvent> a = All(*plain);
  const std::vector<RecordedEvent> b = All(*zstd);
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(b[i].payload, workload_.payloads[i]) << i;
    EXPECT_EQ(b[i].hash, a[i].hash) << i;
    EXPECT_EQ(b[i].id, a[i].id) << i;
  }
  EXPECT_EQ(LastHash(*zstd), LastHash(*plain));
}

TEST_F(PayloadCodecStoreTest, EveryReadPathReturnsThePayloadAsAppended) {
  auto store = Open("zstd", PayloadCompression::kZstd);
  ASSERT_NE(store, nullptr);
  workload_.AppendAll(*store);
  absl::StatusOr<std::vector<RecordedEvent>> forward = store->ReadStream("s-0");
  ASSERT_TRUE(forward.ok()) << forward.status();
  ASSERT_EQ(forward->size(), 10u);
  for (size_t v = 0; v < forward->size(); ++v) {
    EXPECT_EQ((*forward)[v].payload, workload_.payloads[v * 4]);
  }
  absl::StatusOr<std::vector<RecordedEvent>> backward =
      store->ReadStream("s-3", {.direction = Direction::kBackward, .limit = 3});
  ASSERT_TRUE(backward.ok()) << backward.status();
  ASSERT_EQ(backward->size(), 3u);
  EXPECT_EQ((*backward)[0].payload, workload_.payloads[39]);
  EXPECT_EQ((*backward)[2].payload, workload_.payloads[31]);
  int seen = 0;
  ASSERT_TRUE(store
                  ->ScanAll({.from_position = 5, .stream_prefix = "s-0"},
                            [&](const EventView& e) {
                              EXPECT_EQ(e.payload, workload_.payloads[e.position - 1]);
                              ++seen;
                              return true;
                            })
                  .ok());
  EXPECT_EQ(seen, 9);
}

// A commit hook (inline projections) sees the payload as appended.
TEST_F(PayloadCodecStoreTest, CommitHooksSeeThePayloadAsAppended) {
  struct Recorder : internal::CommitHook {
    absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch&) override {
      payloads.emplace_back(e.payload);
      hashes.emplace_back(e.hash);
      return absl::OkStatus();
    }
    std::vector<std::string> payloads, hashes;
  } hook;
  auto store = Open("zstd", PayloadCompression::kZstd);
  ASSERT_NE(store, nullptr);
  internal::StoreAccess::AddCommitHook(*store, &hook);
  workload_.AppendAll(*store, 0, 4);
  internal::StoreAccess::RemoveCommitHook(*store, &hook);
  ASSERT_EQ(hook.payloads.size(), 4u);
  const std::vector<RecordedEvent> events = All(*store);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(hook.payloads[i], workload_.payloads[i]);
    EXPECT_EQ(hook.hashes[i], events[i].hash);
  }
}

TEST_F(PayloadCodecStoreTest, TheSettingCanChangeBetweenOpens) {
  {
    auto store = Open("mixed", PayloadCompression::kZstd);
    ASSERT_NE(store, nullptr);
    workload_.AppendAll(*store, 0, 15);
  }
  {
    auto store = Open("mixed", PayloadCompression::kNone);
    ASSERT_NE(store, nullptr);
    workload_.AppendAll(*store, 15, 30);
  }
  auto store = Open("mixed", PayloadCompression::kZstd);
  ASSERT_NE(store, nullptr);
  workload_.AppendAll(*store, 30, 40);
  EXPECT_EQ(CompressedRecords(*store).first, 4 + 3 + 5);  // Large ones at 0-14 and 30-39.
  const std::vector<RecordedEvent> events = All(*store);
  ASSERT_EQ(events.size(), 40u);
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].payload, workload_.payloads[i]);

  auto plain = Open("plain", PayloadCompression::kNone);
  ASSERT_NE(plain, nullptr);
  workload_.AppendAll(*plain);
  EXPECT_EQ(LastHash(*store), LastHash(*plain));
  // A follower reads the mixed store too.
  store.reset();
  auto follower = Open("mixed", PayloadCompression::kNone, /*read_only=*/true);
  ASSERT_NE(follower, nullptr);
  EXPECT_EQ(All(*follower).size(), 40u);
}

// The retry check compares a re-sent event with the stored one, payload
// decompressed.
TEST_F(PayloadCodecStoreTest, ARetryOfACompressedEventIsRecognised) {
  auto store = Open("zstd", PayloadCompression::kZstd);
  ASSERT_NE(store, nullptr);
  workload_.AppendAll(*store, 0, 4);
  ASSERT_EQ(CompressedRecords(*store).first, 2);
  const NewEvent original = workload_.Event(0);
  absl::StatusOr<AppendResult> retry =
      store->Append("s-0", ExpectedVersion::NoStream(), {&original, 1});
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->idempotent_replay);
  NewEvent changed = original;
  const std::string other = Document(99);
  changed.payload = other;
  retry = store->Append("s-0", ExpectedVersion::NoStream(), {&changed, 1});
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kAlreadyExists) << retry.status();
  EXPECT_THAT(retry.status().message(), HasSubstr("its data differs"));
}

TEST_F(PayloadCodecStoreTest, AnUnknownCompressionIsRefusedAtOpen) {
  Options options;
  options.payload_compression = static_cast<PayloadCompression>(7);
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(dir_.Sub("bad"), options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("payload_compression"));
}

// --- the encryption hook in a store ---

class SealedStoreTest : public PayloadCodecStoreTest {
 protected:
  // Events 0..9 in one stream; the odd ones name a data subject.
  void AppendSealed(EventStore& store) {
    for (int i = 0; i < 10; ++i) {
      NewEvent e = workload_.Event(i);
      e.metadata = i % 2 == 1 ? absl::Span<const MetadataEntry>(subject_)
                              : absl::Span<const MetadataEntry>();
      absl::StatusOr<AppendResult> r = store.Append("person-1", ExpectedVersion::Any(), {&e, 1});
      ASSERT_TRUE(r.ok()) << r.status();
    }
  }

  std::shared_ptr<codec_internal::ToyCipher> cipher_ =
      std::make_shared<codec_internal::ToyCipher>();
  const std::vector<MetadataEntry> subject_ = {{"subject", "person-1"}};
};

TEST_F(SealedStoreTest, ReadsOpenAndVerifyNeedsNoCipher) {
  std::string last_hash;
  {
    auto store = Open("sealed", PayloadCompression::kZstd);
    ASSERT_NE(store, nullptr);
    internal::StoreAccess::SetPayloadCipher(*store, cipher_);
    AppendSealed(*store);
    const std::vector<RecordedEvent> events = All(*store);
    ASSERT_EQ(events.size(), 10u);
    for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].payload, workload_.payloads[i]);
    last_hash = LastHash(*store);
  }
  // The key is gone (no cipher at all): the chain still verifies, the
  // sealed payloads cannot be read, the others can.
  auto store = Open("sealed", PayloadCompression::kNone);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(LastHash(*store), last_hash);
  absl::StatusOr<std::vector<RecordedEvent>> all = store->ReadAll();
  EXPECT_EQ(all.status().code(), absl::StatusCode::kFailedPrecondition) << all.status();
  EXPECT_THAT(all.status().message(), HasSubstr("position 2"));
  absl::StatusOr<std::vector<RecordedEvent>> first = store->ReadAll({.limit = 1});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)[0].payload, workload_.payloads[0]);
  store.reset();
  auto follower = Open("sealed", PayloadCompression::kNone, /*read_only=*/true);
  ASSERT_NE(follower, nullptr);
  EXPECT_EQ(LastHash(*follower), last_hash);
}

// A cipher that fails fails that append only, with nothing written.
TEST_F(SealedStoreTest, ASealFailureWritesNothing) {
  auto store = Open("sealed", PayloadCompression::kZstd);
  ASSERT_NE(store, nullptr);
  internal::StoreAccess::SetPayloadCipher(*store, cipher_);
  AppendSealed(*store);
  cipher_->fail_seal = true;
  NewEvent plain = workload_.Event(10);
  NewEvent personal = workload_.Event(11);
  personal.metadata = subject_;
  const NewEvent both[] = {plain, personal};
  absl::StatusOr<AppendResult> r = store->Append("person-1", ExpectedVersion::Exact(10), both);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("nothing was appended"));
  EXPECT_EQ(store->last_position(), 10u);
  cipher_->fail_seal = false;
  r = store->Append("person-1", ExpectedVersion::Exact(10), both);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->first_position, 11u);
  EXPECT_EQ(All(*store).size(), 12u);
  LastHash(*store);
}

}  // namespace
}  // namespace annals
