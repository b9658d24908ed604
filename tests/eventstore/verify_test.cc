// Tamper evidence and corruption: Verify() names the first bad position, and
// reads return kDataLoss instead of a shorter log.

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "annals/event_store.h"
#include "codec/internal/record_codec.h"
#include "common/coding.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "record_generated.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    for (int i = 0; i < 100; ++i) {
      const std::string payload = StrCat("{\"n\":", i, "}");
      NewEvent e{.type = "Counted", .payload = payload};
      ASSERT_TRUE(store_->Append(StrCat("s", i % 7), ExpectedVersion::Any(), {&e, 1}).ok());
    }
  }

  void Open() {
    store_.reset();
    Options options;
    options.durability = Durability::kBuffered;
    auto store = EventStore::Open(dir_.Sub("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string RawRecord(uint64_t position) {
    std::string value;
    EXPECT_TRUE(internal::StoreAccess::Db(*store_)
                    ->Get(rocksdb::ReadOptions(),
                          internal::StoreAccess::CoreFamily(*store_, internal::kLogFamily),
                          coding::BigEndian64(position), &value)
                    .ok());
    return value;
  }

  void PutRawRecord(uint64_t position, std::string_view value) {
    ASSERT_TRUE(internal::StoreAccess::Db(*store_)
                    ->Put(rocksdb::WriteOptions(),
                          internal::StoreAccess::CoreFamily(*store_, internal::kLogFamily),
                          coding::BigEndian64(position), rocksdb::Slice(value.data(), value.size()))
                    .ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(VerifyTest, IntactStorePasses) {
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->events, 100u);
  EXPECT_EQ(report->streams, 7u);
  EXPECT_EQ(report->last_position, 100u);
  EXPECT_EQ(report->last_hash.size(), 64u);
}

TEST_F(VerifyTest, AFlippedPayloadByteFailsTheChecksumAtThatPosition) {
  std::string record = RawRecord(42);
  const size_t at = record.find("\"n\":41");
  ASSERT_NE(at, std::string::npos);
  record[at + 4] = '9';  // {"n":41} -> {"n":91}
  PutRawRecord(42, record);

  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_position, 42u);
  EXPECT_THAT(report->reason, HasSubstr("checksum"));
  EXPECT_EQ(store_->ReadAll().status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(store_->ReadStream("s6").status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(VerifyTest, ARewrittenRecordWithAValidChecksumBreaksTheHashChain) {
  // A forger who knows the format recomputes the CRC but cannot fix the chain
  // without rewriting every later record.
  EventView view;
  std::string original = RawRecord(10);
  codec_internal::RecordDecoder decoder;
  ASSERT_TRUE(decoder.Decode(original, true, &view).ok());
  view.payload = R"({"n":"forged"})";
  flatbuffers::FlatBufferBuilder fbb;
  std::string hash(view.hash);
  view.hash = hash;
  codec_internal::EncodeRecord(view, {}, codec_internal::RecordChecksum(view, {}, view.hash), fbb);
  PutRawRecord(
      10, std::string_view(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize()));
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_position, 10u);
  EXPECT_THAT(report->reason, HasSubstr("hash chain"));
}

TEST_F(VerifyTest, ADeletedRecordIsAGap) {
  ASSERT_TRUE(internal::StoreAccess::Db(*store_)
                  ->Delete(rocksdb::WriteOptions(),
                           internal::StoreAccess::CoreFamily(*store_, internal::kLogFamily),
                           coding::BigEndian64(57))
                  .ok());
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_position, 57u);
  EXPECT_THAT(report->reason, HasSubstr("gap"));
  EXPECT_EQ(store_->ReadAll().status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(VerifyTest, AFlippedByteInAnSstFileIsFoundAndNeverServedAsAShorterLog) {
  // Flush so the log lives in an SST, then damage the file on disk.
  ASSERT_TRUE(internal::StoreAccess::Db(*store_)
                  ->Flush(rocksdb::FlushOptions(),
                          internal::StoreAccess::CoreFamily(*store_, internal::kLogFamily))
                  .ok());
  std::vector<rocksdb::LiveFileMetaData> files;
  internal::StoreAccess::Db(*store_)->GetLiveFilesMetaData(&files);
  std::string log_sst;
  for (const auto& f : files) {
    if (f.column_family_name == "log") log_sst = f.db_path + f.name;
  }
  ASSERT_FALSE(log_sst.empty());
  store_.reset();

  std::fstream file(log_sst, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(file.good());
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // Data blocks come first in an SST: flip one byte inside them.
  ASSERT_GT(bytes.size(), 1000u);
  const size_t at = bytes.size() / 4;
  file.seekp(static_cast<std::streamoff>(at));
  file.put(static_cast<char>(bytes[at] ^ 0x01));
  file.close();

  Open();
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->ok);
  EXPECT_GE(report->first_bad_position, 1u);
  EXPECT_LE(report->first_bad_position, 100u);
  EXPECT_THAT(report->reason, HasSubstr("RocksDB"));
  auto all = store_->ReadAll();
  EXPECT_EQ(all.status().code(), absl::StatusCode::kDataLoss) << all.status();
}

}  // namespace
}  // namespace annals
