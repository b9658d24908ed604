// Soft and hard delete (EventStore::DeleteStream): what readers, listings and
// appends see afterwards, ExpectedVersion on a soft-deleted stream, reopen,
// followers, and that no append is ever accepted after a hard delete is
// committed, even racing with it.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "annals/stream_metadata.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class StreamDeleteTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    store_.reset();
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }
  absl::StatusOr<AppendResult> Append(std::string_view stream, ExpectedVersion expected) {
    NewEvent e{.type = "E", .payload = "{}"};
    return store_->Append(stream, expected, {e});
  }
  std::vector<std::string> Listed() {
    std::vector<std::string> out;
    EXPECT_TRUE(store_
                    ->ListStreams("",
                                  [&](const StreamInfo& info) {
                                    out.push_back(info.stream);
                                    return true;
                                  })
                    .ok());
    return out;
  }
  std::vector<uint64_t> Versions(std::string_view stream) {
    std::vector<uint64_t> out;
    auto events = store_->ReadStream(stream);
    if (events.ok()) {
      for (const RecordedEvent& e : *events) out.push_back(e.version);
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(StreamDeleteTest, SoftDeleteHidesAndAnAppendRecreatesContinuingVersions) {
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Append("a", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(Append("b", ExpectedVersion::Any()).ok());
  auto deleted = store_->DeleteStream("a", ExpectedVersion::Exact(3), DeleteMode::kSoft);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->deleted, StreamDeletion::kSoft);
  EXPECT_EQ(deleted->metadata.truncate_before, 4u);

  auto read = store_->ReadStream("a");
  EXPECT_TRUE(absl::IsNotFound(read.status()));
  EXPECT_THAT(read.status().message(), HasSubstr("soft delete"));
  EXPECT_TRUE(absl::IsNotFound(store_->GetStream("a").status()));
  EXPECT_THAT(Listed(), ElementsAre("b"));
  auto all = store_->ReadAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(all->front().stream, "b");

  // On a soft-deleted stream StreamExists fails, NoStream and Exact(last)
  // match (EventStoreDB's semantics: the stream looks absent, versions go on).
  auto exists = Append("a", ExpectedVersion::StreamExists());
  EXPECT_TRUE(absl::IsAborted(exists.status())) << exists.status();
  auto recreated = Append("a", ExpectedVersion::NoStream());
  ASSERT_TRUE(recreated.ok()) << recreated.status();
  EXPECT_EQ(recreated->first_version, 4u);
  EXPECT_THAT(Versions("a"), ElementsAre(4));
  EXPECT_THAT(Listed(), ElementsAre("a", "b"));
  EXPECT_EQ(store_->GetStreamMetadata("a")->deleted, StreamDeletion::kNone);
  // Now it exists again: NoStream is a conflict.
  EXPECT_TRUE(absl::IsAborted(Append("a", ExpectedVersion::NoStream()).status()));

  ASSERT_TRUE(store_->DeleteStream("a", ExpectedVersion::Any(), DeleteMode::kSoft).ok());
  EXPECT_TRUE(Append("a", ExpectedVersion::Exact(4)).ok());
  EXPECT_THAT(Versions("a"), ElementsAre(5));
  Open();
  EXPECT_THAT(Versions("a"), ElementsAre(5));
}

TEST_F(StreamDeleteTest, SoftDeleteChecksTheStreamVersion) {
  ASSERT_TRUE(Append("a", ExpectedVersion::Any()).ok());
  auto r = store_->DeleteStream("a", ExpectedVersion::Exact(2), DeleteMode::kSoft);
  EXPECT_TRUE(absl::IsAborted(r.status())) << r.status();
  r = store_->DeleteStream("nothing", ExpectedVersion::Any(), DeleteMode::kSoft);
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
}

TEST_F(StreamDeleteTest, HardDeleteIsForever) {
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Append("a", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(Append("b", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(store_->DeleteStream("a", ExpectedVersion::Any(), DeleteMode::kHard).ok());
  for (int round = 0; round < 2; ++round) {
    auto read = store_->ReadStream("a");
    EXPECT_TRUE(absl::IsNotFound(read.status()));
    EXPECT_THAT(read.status().message(), HasSubstr("was deleted (hard delete)"));
    EXPECT_THAT(store_->GetStream("a").status().message(), HasSubstr("hard delete"));
    auto append = Append("a", ExpectedVersion::Any());
    EXPECT_TRUE(absl::IsFailedPrecondition(append.status())) << append.status();
    EXPECT_THAT(append.status().message(), HasSubstr("deleted"));
    EXPECT_TRUE(absl::IsFailedPrecondition(Append("a", ExpectedVersion::NoStream()).status()));
    // Nor in a multi-stream append: nothing of it is written.
    NewEvent e{.type = "E"};
    std::vector<StreamAppend> parts = {{.stream = "b", .events = {&e, 1}},
                                       {.stream = "a", .events = {&e, 1}}};
    EXPECT_TRUE(absl::IsFailedPrecondition(store_->AppendMulti(parts).status()));
    EXPECT_EQ(store_->GetStream("b")->version, 1u);
    EXPECT_TRUE(absl::IsFailedPrecondition(
        store_->SetStreamMetadata("a", ExpectedVersion::Any(), {}).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(
        store_->DeleteStream("a", ExpectedVersion::Any(), DeleteMode::kSoft).status()));
    EXPECT_THAT(Listed(), ElementsAre("b"));
    Open();  // The tombstone survives a reopen.
  }
  // A follower sees the tombstone.
  Options ro;
  ro.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), ro);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_THAT((*follower)->ReadStream("a").status().message(), HasSubstr("hard delete"));
  // A name that never had events can be reserved.
  ASSERT_TRUE(store_->DeleteStream("never", ExpectedVersion::NoStream(), DeleteMode::kHard).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(Append("never", ExpectedVersion::Any()).status()));
}

// Appenders race a hard delete: every append the store accepted was
// committed before the delete (its position is at most the end of the log
// when the delete returned), and none is accepted afterwards.
TEST_F(StreamDeleteTest, NoAppendIsAcceptedAfterAHardDelete) {
  ASSERT_TRUE(Append("x", ExpectedVersion::Any()).ok());
  std::atomic<bool> go{false};
  std::atomic<bool> deleted{false};
  std::atomic<uint64_t> end_at_delete{0};
  std::atomic<int> refused{0};
  std::atomic<int> late_accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < 400; ++i) {
        const bool after = deleted.load();
        auto r = Append("x", ExpectedVersion::Any());
        if (r.ok()) {
          if (after) late_accepted.fetch_add(1);
          const uint64_t end = end_at_delete.load();
          if (end != 0 && r->last_position > end) late_accepted.fetch_add(1);
        } else {
          EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
          refused.fetch_add(1);
        }
      }
    });
  }
  go.store(true);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(store_->DeleteStream("x", ExpectedVersion::Any(), DeleteMode::kHard).ok());
  end_at_delete.store(store_->last_position());
  deleted.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(late_accepted.load(), 0);
  EXPECT_GT(refused.load(), 0);
  EXPECT_EQ(store_->last_position(), end_at_delete.load());
}

}  // namespace
}  // namespace annals
