// Basic behaviour of EventStore: appends, expected versions, reads, reopen.

#include "annals/event_store.h"

#include <string>
#include <vector>

#include "annals/errors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testutil/temp_dir.h"

namespace annals {
namespace {

using ::testing::HasSubstr;

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(Options options = Options()) {
    store_.reset();
    options.durability = Durability::kBuffered;  // Crash tests cover kSync.
    auto store = EventStore::Open(dir_.Sub("store"), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  static NewEvent Event(std::string_view type, std::string_view payload) {
    return NewEvent{.type = type, .payload = payload};
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendsAndReadsBack) {
  std::vector<NewEvent> events = {Event("OrderPlaced", R"({"table":4})"),
                                  Event("ItemAdded", R"({"sku":"A1"})")};
  auto result = store_->Append("order-1", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->first_version, 1u);
  EXPECT_EQ(result->last_version, 2u);
  EXPECT_EQ(result->first_position, 1u);
  EXPECT_EQ(result->last_position, 2u);
  EXPECT_FALSE(result->idempotent_replay);

  auto read = store_->ReadStream("order-1");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].type, "OrderPlaced");
  EXPECT_EQ((*read)[0].payload, R"({"table":4})");
  EXPECT_EQ((*read)[1].version, 2u);
  EXPECT_EQ((*read)[1].position, 2u);
  EXPECT_FALSE((*read)[0].id.is_nil());
  EXPECT_GT((*read)[0].recorded_at_us, 0);
  EXPECT_EQ(store_->last_position(), 2u);
}

TEST_F(EventStoreTest, WrongExpectedVersionIsAbortedWithActualVersion) {
  NewEvent e = Event("A", "{}");
  ASSERT_TRUE(store_->Append("s", ExpectedVersion::NoStream(), {e}).ok());
  auto conflict = store_->Append("s", ExpectedVersion::NoStream(), {e});
  ASSERT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  auto details = GetWrongExpectedVersion(conflict.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->actual, 1u);
  EXPECT_EQ(details->stream, "s");
  EXPECT_THAT(std::string(conflict.status().message()), HasSubstr("expected no-stream, actual 1"));
}

}  // namespace
}  // namespace annals
