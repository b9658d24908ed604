// Crypto-shredding (crypto/, EventStore::ForgetSubject, docs/lifecycle.md):
// events with a subject are sealed under the subject's key in an encrypted
// store, never reach a file in the clear, read back as appended, and after
// ForgetSubject() read as erased while the chain still verifies; no file of
// the store holds the plaintext or the key (raw or wrapped) afterwards.

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "crypto/internal/subject_cipher.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/stored_records.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

const std::string kMarker = "PLAINTEXT-MARKER-7f3a9c";
const std::string kMailMarker = "MAIL-MARKER-b81e44@example.org";

std::string MasterKey(char fill = 'M') {
  std::string k(32, fill);
  k[0] = 1;
  k[31] = 2;
  return k;
}

Options EncryptedOptions(std::string master = MasterKey()) {
  Options o;
  o.durability = Durability::kBuffered;
  o.encryption =
      EncryptionOptions{.master_key = std::move(master), .personal_metadata_keys = {"email"}};
  return o;
}

std::unique_ptr<EventStore> OpenEncrypted(const std::string& path,
                                          std::string master = MasterKey()) {
  absl::StatusOr<std::unique_ptr<EventStore>> s =
      EventStore::Open(path, EncryptedOptions(std::move(master)));
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

EventData PersonEvent(const std::string& subject, int n) {
  return EventData{
      .type = "ProfileChanged",
      .payload = R"({"n":)" + std::to_string(n) + R"(,"name":")" + kMarker + R"("})",
      .metadata = {{"email", kMailMarker}, {"tenant", "acme"}},
      .subject = subject,
  };
}

std::string SubjectNo(int i) {
  std::string s = "p";
  s += std::to_string(i);
  return s;
}

std::vector<RecordedEvent> ReadAll(EventStore& store) {
  std::vector<RecordedEvent> out;
  absl::Status s = store.ScanAll({}, [&](const EventView& e) {
    out.push_back(e.ToOwned());
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// The raw and wrapped bytes of every data key of `subject` (the test hook:
// read from subject_keys, unwrapped with the master key).
struct KeyBytes {
  std::string raw;
  std::string wrapped;
};
std::vector<KeyBytes> KeysOf(EventStore& store, const std::string& subject,
                             const std::string& master = MasterKey()) {
  std::vector<KeyBytes> out;
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> cf =
      internal::StoreAccess::Family(store, crypto_internal::kSubjectKeysFamily);
  EXPECT_TRUE(cf.ok()) << cf.status();
  const std::string prefix = crypto_internal::SubjectKeyPrefix(subject);
  std::unique_ptr<rocksdb::Iterator> it(
      internal::StoreAccess::Db(store)->NewIterator(rocksdb::ReadOptions(), *cf));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    absl::StatusOr<std::string> raw =
        crypto_internal::UnwrapKey(master, it->key().ToStringView(), it->value().ToStringView());
    EXPECT_TRUE(raw.ok()) << raw.status();
    out.push_back({raw.ok() ? *raw : "", it->value().ToString()});
  }
  return out;
}

// How many files under `dir` (recursively, every file) contain `needle`.
int FilesHolding(const std::string& dir, const std::string& needle,
                 std::vector<std::string>* which = nullptr) {
  int hits = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) {
      ++hits;
      if (which != nullptr) which->push_back(entry.path().filename().string());
    }
  }
  return hits;
}

TEST(CryptoShreddingTest, SealsEventsWithASubjectAndReadsThemBack) {
  testing::TempDir dir;
  auto store = OpenEncrypted(dir.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Append("person-1", ExpectedVersion::Any(), {PersonEvent("p1", 1)}).ok());
  EventData plain = PersonEvent("", 2);
  ASSERT_TRUE(store->Append("person-1", ExpectedVersion::Any(), {plain}).ok());

  const std::vector<testing::StoredRecordInfo> stored = testing::StoredRecords(*store);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].encoding.cipher, crypto_internal::kSubjectCipherId);
  EXPECT_EQ(stored[1].encoding.cipher, 0) << "an event without a subject is not sealed";

  const std::vector<RecordedEvent> events = ReadAll(*store);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].payload, PersonEvent("p1", 1).payload);
  EXPECT_EQ(events[0].subject, "p1");
  EXPECT_FALSE(events[0].erased);
  // Plain entries first, then the personal ones restored from the seal.
  EXPECT_EQ(events[0].metadata, (std::vector<std::pair<std::string, std::string>>{
                                    {"tenant", "acme"}, {"email", kMailMarker}}));
  EXPECT_EQ(events[1].subject, "");
  absl::StatusOr<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->erased, 0u);
}

// The key is written in the same batch as the first record it seals: after
// a reopen (no flush, WAL recovery) every sealed event still opens.
TEST(CryptoShreddingTest, KeysSurviveAReopen) {
  testing::TempDir dir;
  {
    auto store = OpenEncrypted(dir.path());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(
          store->Append("s", ExpectedVersion::Any(), {PersonEvent(SubjectNo(i % 5), i)}).ok());
    }
  }
  auto store = OpenEncrypted(dir.path());
  const std::vector<RecordedEvent> events = ReadAll(*store);
  ASSERT_EQ(events.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(events[i].payload, PersonEvent("", i).payload);
    EXPECT_FALSE(events[i].erased);
  }
  // One key per subject, reused across groups and opens.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(KeysOf(*store, SubjectNo(i)).size(), 1u);
}

TEST(CryptoShreddingTest, ForgetErasesAndLeavesNoPlaintextOrKeyInAnyFile) {
  testing::TempDir dir;
  std::vector<KeyBytes> keys;
  {
    auto store = OpenEncrypted(dir.path());
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(store->Append("person-1", ExpectedVersion::Any(), {PersonEvent("p1", i)}).ok());
      ASSERT_TRUE(store->Append("person-2", ExpectedVersion::Any(), {PersonEvent("p2", i)}).ok());
    }
    keys = KeysOf(*store, "p1");
    ASSERT_EQ(keys.size(), 1u);
    ASSERT_EQ(keys[0].raw.size(), 32u);
    // The plaintext never reaches the store: not in the WAL, nor in an SST.
    EXPECT_EQ(FilesHolding(dir.path(), kMarker), 0);
    EXPECT_EQ(FilesHolding(dir.path(), kMailMarker), 0);
    EXPECT_EQ(FilesHolding(dir.path(), keys[0].raw), 0) << "a raw key reached a file";
    EXPECT_GE(FilesHolding(dir.path(), keys[0].wrapped), 1) << "the wrapped key is stored";
    for (auto* cf : internal::StoreAccess::AllFamilies(*store)) {
      ASSERT_TRUE(internal::StoreAccess::Db(*store)->Flush(rocksdb::FlushOptions(), cf).ok());
    }
    EXPECT_EQ(FilesHolding(dir.path(), kMarker), 0);
    EXPECT_GE(FilesHolding(dir.path(), keys[0].wrapped), 1);

    ASSERT_TRUE(store->ForgetSubject("p1").ok());
    std::vector<std::string> which;
    EXPECT_EQ(FilesHolding(dir.path(), keys[0].wrapped, &which), 0)
        << "the wrapped key is still in " << (which.empty() ? "" : which[0]);
    EXPECT_EQ(FilesHolding(dir.path(), keys[0].raw), 0);
    EXPECT_EQ(FilesHolding(dir.path(), kMarker), 0);
    EXPECT_EQ(FilesHolding(dir.path(), kMailMarker), 0);

    const std::vector<RecordedEvent> events = ReadAll(*store);
    ASSERT_EQ(events.size(), 100u);
    for (const RecordedEvent& e : events) {
      if (e.subject == "p1") {
        EXPECT_TRUE(e.erased);
        EXPECT_EQ(e.payload, "");
        EXPECT_EQ(e.metadata,
                  (std::vector<std::pair<std::string, std::string>>{{"tenant", "acme"}}));
      } else {
        EXPECT_FALSE(e.erased);
        EXPECT_THAT(e.payload, HasSubstr(kMarker));
      }
    }
    absl::StatusOr<VerifyReport> report = store->Verify();
    ASSERT_TRUE(report.ok());
    EXPECT_TRUE(report->ok) << report->reason;
    EXPECT_EQ(report->erased, 50u);

    // After the forget, the subject gets a new key and reads fine.
    ASSERT_TRUE(store->Append("person-1", ExpectedVersion::Any(), {PersonEvent("p1", 99)}).ok());
    absl::StatusOr<RecordedEvent> last = store->ReadEvent(ReadAll(*store).back().id);
    ASSERT_TRUE(last.ok());
    EXPECT_FALSE(last->erased);
    EXPECT_EQ(last->payload, PersonEvent("p1", 99).payload);
    ASSERT_EQ(KeysOf(*store, "p1").size(), 1u);
    EXPECT_NE(KeysOf(*store, "p1")[0].raw, keys[0].raw);
  }
  // And after close: nothing came back.
  EXPECT_EQ(FilesHolding(dir.path(), keys[0].wrapped), 0);
  EXPECT_EQ(FilesHolding(dir.path(), keys[0].raw), 0);
  auto store = OpenEncrypted(dir.path());
  const std::vector<RecordedEvent> events = ReadAll(*store);
  ASSERT_EQ(events.size(), 101u);
  EXPECT_TRUE(events[0].erased);
  EXPECT_FALSE(events[100].erased);
}

// Without any flush before: the key sits in a WAL (and a memtable) only.
// ForgetSubject() must make that WAL obsolete (flush every family) and
// delete it before it returns.
TEST(CryptoShreddingTest, ForgetDeletesTheWalThatHeldTheKey) {
  testing::TempDir dir;
  auto store = OpenEncrypted(dir.path());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(store->Append("person-1", ExpectedVersion::Any(), {PersonEvent("p1", i)}).ok());
  }
  const std::vector<KeyBytes> keys = KeysOf(*store, "p1");
  ASSERT_EQ(keys.size(), 1u);
  std::vector<std::string> which;
  ASSERT_EQ(FilesHolding(dir.path(), keys[0].wrapped, &which), 1);
  EXPECT_THAT(which[0], ::testing::EndsWith(".log")) << "the key is in the WAL";
  ASSERT_TRUE(store->ForgetSubject("p1").ok());
  which.clear();
  EXPECT_EQ(FilesHolding(dir.path(), keys[0].wrapped, &which), 0)
      << "the wrapped key is still in " << (which.empty() ? "" : which[0]);
  EXPECT_EQ(FilesHolding(dir.path(), keys[0].raw), 0);
  EXPECT_TRUE(ReadAll(*store).front().erased);
}

// A hook that fails the append holding an event of type "Fail".
class FailingHook : public internal::CommitHook {
 public:
  absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch&) override {
    return e.type == "Fail" ? absl::InternalError("refused") : absl::OkStatus();
  }
};

// A new subject's key rides in the batch of its first event; when that
// append is rolled back (a hook failed after the key was staged), the key
// is dropped with it and never used without being written.
TEST(CryptoShreddingTest, ARolledBackAppendTakesItsNewKeyWithIt) {
  testing::TempDir dir;
  FailingHook hook;
  {
    auto store = OpenEncrypted(dir.path());
    internal::StoreAccess::AddCommitHook(*store, &hook);
    EventData fail{.type = "Fail", .payload = "{}"};
    EXPECT_FALSE(store->Append("s", ExpectedVersion::Any(), {PersonEvent("new", 1), fail}).ok());
    ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {PersonEvent("new", 2)}).ok());
    EXPECT_FALSE(ReadAll(*store).front().erased);
    internal::StoreAccess::RemoveCommitHook(*store, &hook);
  }
  auto store = OpenEncrypted(dir.path());
  const std::vector<RecordedEvent> events = ReadAll(*store);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].erased);
  EXPECT_EQ(events[0].payload, PersonEvent("new", 2).payload);
}

// A retry of an erased event cannot be compared: it is refused, not taken
// for a replay.
TEST(CryptoShreddingTest, ARetryOfAnErasedEventIsRefused) {
  testing::TempDir dir;
  auto store = OpenEncrypted(dir.path());
  EventData e = PersonEvent("p", 1);
  e.id = Uuid::V7();
  ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {e}).ok());
  ASSERT_TRUE(store->ForgetSubject("p").ok());
  absl::Status again = store->Append("s", ExpectedVersion::Any(), {e}).status();
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.message(), HasSubstr("erased"));
}

// Verify needs no key: a store opened without encryption still proves the
// chain and counts erased events.
TEST(CryptoShreddingTest, VerifyWithoutTheMasterKey) {
  testing::TempDir dir;
  {
    auto store = OpenEncrypted(dir.path());
    for (int i = 0; i < 5; ++i) {
      ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {PersonEvent("p", i)}).ok());
    }
    ASSERT_TRUE(store->ForgetSubject("p").ok());
  }
  Options plain;
  plain.read_only = true;
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(dir.path(), plain);
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<VerifyReport> report = (*store)->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->erased, 5u);
}

TEST(CryptoShreddingTest, MasterKeyErrorsAtOpen) {
  testing::TempDir dir;
  {
    auto store = OpenEncrypted(dir.path());
    ASSERT_TRUE(store->Append("s", ExpectedVersion::Any(), {PersonEvent("p", 1)}).ok());
  }
  absl::StatusOr<std::unique_ptr<EventStore>> other =
      EventStore::Open(dir.path(), EncryptedOptions(MasterKey('X')));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(other.status().message(), HasSubstr("not the one"));

  Options o = EncryptedOptions(std::string(31, 'k'));
  EXPECT_THAT(EventStore::Open(dir.path(), o).status().message(), HasSubstr("exactly 32"));
  o.encryption = EncryptionOptions{.master_key_file = dir.Sub("missing.key")};
  EXPECT_EQ(EventStore::Open(dir.path(), o).status().code(), absl::StatusCode::kInvalidArgument);
  o.encryption = EncryptionOptions{};
  EXPECT_THAT(EventStore::Open(dir.path(), o).status().message(), HasSubstr("exactly one"));

  // The right key from a file and from a callback.
  { std::ofstream(dir.Sub("master.key"), std::ios::binary) << MasterKey(); }
  o.encryption = EncryptionOptions{.master_key_file = dir.Sub("master.key")};
  {
    absl::StatusOr<std::unique_ptr<EventStore>> s = EventStore::Open(dir.path(), o);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_FALSE(ReadAll(**s).front().erased);
  }
  o.encryption = EncryptionOptions{
      .master_key_callback = []() -> absl::StatusOr<std::string> { return MasterKey(); }};
  EXPECT_TRUE(EventStore::Open(dir.path(), o).ok());

  // Without encryption a sealed event cannot be read (the chain verifies).
  Options plain;
  absl::StatusOr<std::unique_ptr<EventStore>> s = EventStore::Open(dir.path(), plain);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->ScanAll({}, [](const EventView&) { return true; }).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((*s)->ForgetSubject("p").code(), absl::StatusCode::kFailedPrecondition);
}

// An append concurrent with ForgetSubject() reads either as erased (it
// committed before) or in full (after): never as an error or garbage.
TEST(CryptoShreddingTest, ForgetIsLinearizableWithAppends) {
  testing::TempDir dir;
  auto store = OpenEncrypted(dir.path());
  std::atomic<bool> stop{false};
  std::atomic<int> appended{0};
  std::vector<std::thread> appenders;
  for (int t = 0; t < 3; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; !stop.load(); ++i) {
        absl::StatusOr<AppendResult> r =
            store->Append("s-" + std::to_string(t), ExpectedVersion::Any(), {PersonEvent("p", i)});
        ASSERT_TRUE(r.ok()) << r.status();
        appended.fetch_add(1);
      }
    });
  }
  // Committed before the last forget was called: erased. Committed after
  // it returned: readable. In between: either, never an error.
  uint64_t before_last_forget = 0;
  uint64_t after_last_forget = 0;
  for (int round = 0; round < 5; ++round) {
    while (appended.load() < (round + 1) * 30) std::this_thread::yield();
    before_last_forget = store->last_position();
    ASSERT_TRUE(store->ForgetSubject("p").ok());
    after_last_forget = store->last_position();
  }
  while (store->last_position() < after_last_forget + 30) std::this_thread::yield();
  stop.store(true);
  for (std::thread& t : appenders) t.join();
  const std::vector<RecordedEvent> events = ReadAll(*store);
  size_t erased = 0;
  size_t readable_after = 0;
  for (const RecordedEvent& e : events) {
    if (e.position <= before_last_forget) {
      EXPECT_TRUE(e.erased) << "position " << e.position;
    } else if (e.position > after_last_forget) {
      EXPECT_FALSE(e.erased) << "position " << e.position;
      readable_after += !e.erased;
    }
    if (!e.erased) {
      EXPECT_THAT(e.payload, HasSubstr(kMarker));
    }
    erased += e.erased;
  }
  EXPECT_GE(readable_after, 30u);
  absl::StatusOr<VerifyReport> report = store->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->erased, erased);
}

TEST(CryptoShreddingTest, SubjectIsValidatedAndPartOfAReplay) {
  testing::TempDir dir;
  auto store = OpenEncrypted(dir.path());
  for (const std::string& bad :
       {std::string(257, 'a'), std::string("a\nb"), std::string("\x7f"), std::string("\xff\xfe")}) {
    EventData e = PersonEvent(bad, 1);
    EXPECT_EQ(store->Append("s", ExpectedVersion::Any(), {e}).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(
      store->Append("s", ExpectedVersion::Any(), {PersonEvent(std::string(256, 'a'), 1)}).ok());
  EventData e = PersonEvent("p", 1);
  e.id = Uuid::V7();
  ASSERT_TRUE(store->Append("r", ExpectedVersion::Any(), {e}).ok());
  absl::StatusOr<AppendResult> again = store->Append("r", ExpectedVersion::Any(), {e});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->idempotent_replay);
  e.subject = "q";
  absl::Status other = store->Append("r", ExpectedVersion::Any(), {e}).status();
  EXPECT_EQ(other.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(other.message(), HasSubstr("subject"));
}

}  // namespace
}  // namespace annals
