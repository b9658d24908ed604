// Stores of older formats keep working under the current format: read-only
// opens read them as they are, a writer open upgrades them in place, and
// compressed events appended afterwards sit next to the old records in one
// chain that verifies.
//
// tests/eventstore/data/format_v3_store was made by annals at commit 8ae2063
// (format 3) the same way as format_v2_store below, from the same file, so
// its records, and therefore its hash chain, are those of the v2 store.
// tests/eventstore/data/format_v2_store was made by annals at commit 590fce5
// (format 2, before the codec) with two imports of
// tests/eventstore/data/format_v2_store.jsonl (its first 5 lines, then the
// last 2), checked in as files; format_v1_store (commit 5b15a6b) is also
// opened by FormatV1Test in integrity_test.cc.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "annals/event_store.h"
#include "common/coding.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string FormatVersion(EventStore& store) {
  std::string version;
  const rocksdb::Status s = internal::StoreAccess::Db(store)->Get(
      rocksdb::ReadOptions(), internal::StoreAccess::CoreFamily(store, internal::kDefaultFamily),
      internal::kFormatVersionKey, &version);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return version;
}

// A compressible document well above payload_compression_min_bytes.
std::string Document() {
  std::string d = R"({"lines":[)";
  for (int i = 0; i < 50; ++i) d += R"({"sku":"A)" + std::to_string(i % 5) + R"(","qty":2},)";
  return d + "{}]}";
}

class FormatUpgradeTest : public ::testing::Test {
 protected:
  std::string CopyFixture(const std::string& name) {
    const std::string path = dir_.Sub(name);
    fs::copy(std::string(ANNALS_TEST_DATA_DIR "/") + name, path, fs::copy_options::recursive);
    return path;
  }

  static std::unique_ptr<EventStore> Open(const std::string& path, bool read_only) {
    Options options;
    options.create_if_missing = false;
    options.read_only = read_only;
    options.payload_compression = PayloadCompression::kZstd;
    absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path, options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  static VerifyReport Verified(EventStore& store) {
    absl::StatusOr<VerifyReport> report = store.Verify();
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return {};
    EXPECT_TRUE(report->ok) << report->reason;
    return *report;
  }

  // Appends a compressed event and a small one to order-1, which is at
  // version `order_version`, and checks that the first is stored compressed.
  void AppendCompressed(EventStore& store, uint64_t order_version) {
    const std::string doc = Document();
    const NewEvent events[] = {{.type = "LinesAdded", .payload = doc},
                               {.type = "Noted", .payload = R"({"ok":true})"}};
    absl::StatusOr<AppendResult> r =
        store.Append("order-1", ExpectedVersion::Exact(order_version), events);
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<std::vector<RecordedEvent>> back =
        store.ReadAll({.from_position = r->first_position});
    ASSERT_TRUE(back.ok()) << back.status();
    ASSERT_EQ(back->size(), 2u);
    EXPECT_EQ((*back)[0].payload, doc);
    std::string raw;
    ASSERT_TRUE(internal::StoreAccess::Db(store)
                    ->Get(rocksdb::ReadOptions(),
                          internal::StoreAccess::CoreFamily(store, internal::kLogFamily),
                          coding::BigEndian64(r->first_position), &raw)
                    .ok());
    EXPECT_LT(raw.size(), doc.size() / 2) << "the new event should be stored compressed";
  }

  // The fixtures of formats 2 and 3 hold the same 7 events (the same input
  // file), so they share one chain. Each is read and verified as it is by a
  // read-only open (which must not upgrade it; `check_events` looks at what
  // was read), upgraded by a writer open that appends compressed events, and
  // read back with its old records' hashes unchanged.
  void ReadVerifyUpgradeAndAppend(
      const std::string& fixture, const std::string& version,
      const std::function<void(const std::vector<RecordedEvent>&)>& check_events) {
    const std::string path = CopyFixture(fixture);
    {
      auto store = Open(path, /*read_only=*/true);
      ASSERT_NE(store, nullptr);
      EXPECT_EQ(FormatVersion(*store), version);
      absl::StatusOr<std::vector<RecordedEvent>> events = store->ReadAll();
      ASSERT_TRUE(events.ok()) << events.status();
      ASSERT_EQ(events->size(), 7u);
      check_events(*events);
      const VerifyReport report = Verified(*store);
      EXPECT_EQ(report.events, 7u);
      EXPECT_EQ(report.last_hash, kFixtureLastHash);
      EXPECT_EQ(FormatVersion(*store), version) << "a read-only open must not upgrade";
    }
    {
      auto store = Open(path, /*read_only=*/false);
      ASSERT_NE(store, nullptr);
      EXPECT_EQ(FormatVersion(*store), StrCat(internal::kFormatVersion));
      AppendCompressed(*store, 4);
      EXPECT_EQ(Verified(*store).events, 9u);
    }
    auto store = Open(path, /*read_only=*/true);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(Verified(*store).events, 9u);
    absl::StatusOr<std::vector<RecordedEvent>> old = store->ReadAll({.limit = 7});
    ASSERT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(old->back().hash.size(), 32u);
    EXPECT_EQ(HexEncode(old->back().hash), kFixtureLastHash);
  }

  static constexpr char kFixtureLastHash[] =
      "857ecfd3f589c3ae8282b591f819a2c731d6ebe4add120c38405621f52cbe9e5";
  testing::TempDir dir_;
};

TEST_F(FormatUpgradeTest, AFormat2StoreReadsVerifiesUpgradesAndTakesCompressedEvents) {
  ReadVerifyUpgradeAndAppend("format_v2_store", "2", [](const std::vector<RecordedEvent>& events) {
    const RecordedEvent& first = events[0];
    EXPECT_EQ(first.stream, "order-1");
    EXPECT_EQ(first.id.ToString(), "0190a1b2-0000-7000-8000-000000000001");
    EXPECT_EQ(first.correlation_id, "corr-1");
    EXPECT_EQ(first.metadata.size(), 2u);
    std::string blob;
    ASSERT_TRUE(absl::Base64Unescape("AAECAwQFBgcICf/+/fz7", &blob));
    EXPECT_EQ(events[3].payload, blob);
    EXPECT_EQ(events[3].content_type, ContentType::kBytes);
    EXPECT_THAT(events[4].payload, HasSubstr("lorem ipsum dolor sit amet"));
    EXPECT_EQ(events[6].payload, R"({"carrier":"van"})");
  });
}

TEST_F(FormatUpgradeTest, AFormat3StoreReadsVerifiesUpgradesAndTakesCompressedEvents) {
  ReadVerifyUpgradeAndAppend("format_v3_store", "3", [](const std::vector<RecordedEvent>& events) {
    EXPECT_EQ(events[0].correlation_id, "corr-1");
    EXPECT_THAT(events[4].payload, HasSubstr("lorem ipsum dolor sit amet"));
  });
}

TEST_F(FormatUpgradeTest, AFormat1StoreIsUpgradedToTheCurrentFormatAndTakesCompressedEvents) {
  const std::string path = CopyFixture("format_v1_store");
  {
    auto store = Open(path, /*read_only=*/false);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(FormatVersion(*store), StrCat(internal::kFormatVersion));
    AppendCompressed(*store, 2);
  }
  auto store = Open(path, /*read_only=*/true);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Verified(*store).events, 8u);
}

// A store of a format newer than this annals is refused with a clear
// message, as an annals of format 2 refuses a format-3 store.
TEST_F(FormatUpgradeTest, ANewerFormatIsRefused) {
  const std::string path = CopyFixture("format_v2_store");
  {
    auto store = Open(path, /*read_only=*/false);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(internal::StoreAccess::Db(*store)
                    ->Put(rocksdb::WriteOptions(),
                          internal::StoreAccess::CoreFamily(*store, internal::kDefaultFamily),
                          internal::kFormatVersionKey, StrCat(internal::kFormatVersion + 1))
                    .ok());
  }
  Options options;
  options.create_if_missing = false;
  absl::StatusOr<std::unique_ptr<EventStore>> store = EventStore::Open(path, options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("use a newer annals"));
}

}  // namespace
}  // namespace annals
