// The read API: how ReadStreamOptions (from_version, to_version, direction,
// limit) and ReadAllOptions (from_position, to_position, direction, limit,
// event_types, stream_prefix) combine, their edge cases (bounds past the end,
// `to` before `from`, an empty store, filters read backward), lookup by
// event id (ReadEvent) on writers and followers, damage found by backward
// reads and id lookups, and that every read works through a const store.

#include <cstdint>
#include <string>
#include <vector>

#include "annals/event_store.h"
#include "common/coding.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr Direction kBackward = Direction::kBackward;

class ReadApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  void Append(std::string_view stream, std::string_view type, Uuid id = Uuid()) {
    NewEvent e{.id = id, .type = type, .payload = "{}"};
    ASSERT_TRUE(store_->Append(stream, ExpectedVersion::Any(), {e}).ok());
  }

  // The log used by the $all tests:
  //   1 order-1 Placed     2 user-1 Registered   3 order-2 Placed
  //   4 order-1 Paid       5 order-2 Shipped     6 user-1 Renamed
  void AppendSixEvents() {
    Append("order-1", "Placed");
    Append("user-1", "Registered");
    Append("order-2", "Placed");
    Append("order-1", "Paid");
    Append("order-2", "Shipped");
    Append("user-1", "Renamed");
  }

  std::vector<uint64_t> Positions(const ReadAllOptions& options) {
    auto events = store_->ReadAll(options);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<uint64_t> out;
    if (events.ok()) {
      for (const RecordedEvent& e : *events) out.push_back(e.position);
    }
    return out;
  }

  std::vector<uint64_t> Versions(std::string_view stream, const ReadStreamOptions& options) {
    auto events = store_->ReadStream(stream, options);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<uint64_t> out;
    if (events.ok()) {
      for (const RecordedEvent& e : *events) out.push_back(e.version);
    }
    return out;
  }

  rocksdb::DB* db() { return internal::StoreAccess::Db(*store_); }
  rocksdb::ColumnFamilyHandle* family(internal::Family f) {
    return internal::StoreAccess::CoreFamily(*store_, f);
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

struct StreamCase {
  ReadStreamOptions options;
  std::vector<uint64_t> versions;
};

TEST_F(ReadApiTest, StreamRangesCombineFromToDirectionAndLimit) {
  // Stream "s" has versions 1..5; "other" interleaves, so the positions of
  // "s" are not adjacent.
  for (int i = 0; i < 5; ++i) {
    Append("s", "E");
    Append("other", "E");
  }
  const std::vector<StreamCase> cases = {
      // Forward: [max(from, 1), to or last], ascending.
      {{}, {1, 2, 3, 4, 5}},
      {{.from_version = 2}, {2, 3, 4, 5}},
      {{.to_version = 3}, {1, 2, 3}},
      {{.from_version = 2, .to_version = 4}, {2, 3, 4}},
      {{.from_version = 2, .to_version = 4, .limit = 2}, {2, 3}},
      {{.from_version = 3, .to_version = 3}, {3}},
      {{.to_version = 99}, {1, 2, 3, 4, 5}},       // `to` past the end: clamped
      {{.from_version = 6}, {}},                   // `from` past the end: nothing
      {{.from_version = 4, .to_version = 2}, {}},  // `to` before `from`: nothing
      {{.limit = 1}, {1}},
      // Backward: [from or last, max(to, 1)], descending.
      {{.direction = kBackward}, {5, 4, 3, 2, 1}},
      {{.from_version = 4, .direction = kBackward}, {4, 3, 2, 1}},
      {{.to_version = 2, .direction = kBackward}, {5, 4, 3, 2}},
      {{.from_version = 4, .to_version = 2, .direction = kBackward}, {4, 3, 2}},
      {{.from_version = 4, .to_version = 2, .direction = kBackward, .limit = 2}, {4, 3}},
      {{.from_version = 3, .to_version = 3, .direction = kBackward}, {3}},
      {{.from_version = 99, .direction = kBackward}, {5, 4, 3, 2, 1}},     // clamped to the last
      {{.from_version = 2, .to_version = 4, .direction = kBackward}, {}},  // `to` before `from`
      {{.to_version = 99, .direction = kBackward}, {}},  // below the last: nothing
      {{.direction = kBackward, .limit = 2}, {5, 4}},
  };
  for (const StreamCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "from " << c.options.from_version << " to " << c.options.to_version
                 << (c.options.direction == kBackward ? " backward" : " forward") << " limit "
                 << c.options.limit);
    EXPECT_THAT(Versions("s", c.options), ElementsAreArray(c.versions));
  }
}

TEST_F(ReadApiTest, MissingStreamIsNotFoundWhateverTheRange) {
  Append("s", "E");
  for (const ReadStreamOptions& options :
       {ReadStreamOptions{}, ReadStreamOptions{.from_version = 1, .to_version = 1},
        ReadStreamOptions{.direction = kBackward}}) {
    EXPECT_EQ(store_->ReadStream("absent", options).status().code(), absl::StatusCode::kNotFound);
  }
}

struct AllCase {
  ReadAllOptions options;
  std::vector<uint64_t> positions;
};

TEST_F(ReadApiTest, GlobalRangesCombineFromToDirectionFiltersAndLimit) {
  AppendSixEvents();
  const std::vector<std::string> placed_or_paid = {"Placed", "Paid"};
  const std::vector<AllCase> cases = {
      // Forward.
      {{}, {1, 2, 3, 4, 5, 6}},
      {{.from_position = 3}, {3, 4, 5, 6}},
      {{.to_position = 3}, {1, 2, 3}},
      {{.from_position = 2, .to_position = 4}, {2, 3, 4}},
      {{.from_position = 4, .to_position = 4}, {4}},
      {{.to_position = 99}, {1, 2, 3, 4, 5, 6}},
      {{.from_position = 7}, {}},
      {{.from_position = 99, .to_position = 100}, {}},
      {{.from_position = 4, .to_position = 2}, {}},
      // Backward ($all from the end or from a position).
      {{.direction = kBackward}, {6, 5, 4, 3, 2, 1}},
      {{.from_position = 4, .direction = kBackward}, {4, 3, 2, 1}},
      {{.to_position = 3, .direction = kBackward}, {6, 5, 4, 3}},
      {{.from_position = 5, .to_position = 2, .direction = kBackward}, {5, 4, 3, 2}},
      {{.from_position = 5, .to_position = 2, .direction = kBackward, .limit = 2}, {5, 4}},
      {{.from_position = 99, .direction = kBackward}, {6, 5, 4, 3, 2, 1}},
      {{.from_position = 2, .to_position = 4, .direction = kBackward}, {}},
      {{.to_position = 99, .direction = kBackward}, {}},
      {{.direction = kBackward, .limit = 1}, {6}},
      // Filters: an event passes when its type is in the list and its stream
      // has the prefix; the limit counts what passed, in reading order.
      {{.event_types = placed_or_paid}, {1, 3, 4}},
      {{.direction = kBackward, .event_types = placed_or_paid}, {4, 3, 1}},
      {{.direction = kBackward, .limit = 2, .event_types = placed_or_paid}, {4, 3}},
      {{.limit = 2, .event_types = placed_or_paid}, {1, 3}},
      {{.direction = kBackward, .event_types = {"Placed", "Shipped"}, .stream_prefix = "order-2"},
       {5, 3}},
      {{.direction = kBackward, .stream_prefix = "user-"}, {6, 2}},
      {{.from_position = 5, .to_position = 2, .direction = kBackward, .event_types = {"Placed"}},
       {3}},
      {{.from_position = 2, .to_position = 5, .event_types = {"Placed"}}, {3}},
      {{.direction = kBackward, .event_types = {"Nothing"}}, {}},
      {{.event_types = {}}, {1, 2, 3, 4, 5, 6}},  // no list: every type
  };
  for (const AllCase& c : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "from " << c.options.from_position << " to " << c.options.to_position
                 << (c.options.direction == kBackward ? " backward" : " forward") << " limit "
                 << c.options.limit << " types " << c.options.event_types.size() << " prefix '"
                 << c.options.stream_prefix << "'");
    EXPECT_THAT(Positions(c.options), ElementsAreArray(c.positions));
  }
}

TEST_F(ReadApiTest, EmptyStoreReadsNothingInEitherDirection) {
  for (const ReadAllOptions& options : {ReadAllOptions{}, ReadAllOptions{.direction = kBackward},
                                        ReadAllOptions{.from_position = 5, .direction = kBackward},
                                        ReadAllOptions{.to_position = 3, .direction = kBackward},
                                        ReadAllOptions{.from_position = 1, .to_position = 3}}) {
    EXPECT_THAT(Positions(options), IsEmpty());
  }
}

TEST_F(ReadApiTest, BackwardScanStopsWhenTheVisitorSaysSo) {
  AppendSixEvents();
  std::vector<uint64_t> seen;
  ASSERT_TRUE(store_
                  ->ScanAll({.direction = kBackward},
                            [&](const EventView& e) {
                              seen.push_back(e.position);
                              return seen.size() < 2;
                            })
                  .ok());
  EXPECT_THAT(seen, ElementsAre(6, 5));
}

TEST_F(ReadApiTest, BackwardReadReportsMissingRecordsInsteadOfAShorterLog) {
  AppendSixEvents();
  rocksdb::ColumnFamilyHandle* log = family(internal::kLogFamily);
  std::string record3;
  ASSERT_TRUE(db()->Get(rocksdb::ReadOptions(), log, coding::BigEndian64(3), &record3).ok());

  // Damage: position 3 vanishes from the log.
  ASSERT_TRUE(db()->Delete(rocksdb::WriteOptions(), log, coding::BigEndian64(3)).ok());
  auto gap = store_->ReadAll({.direction = kBackward});
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(gap.status().message(), HasSubstr("position 3"));
  // A range that ends above the damage still reads.
  EXPECT_THAT(Positions({.to_position = 4, .direction = kBackward}), ElementsAre(6, 5, 4));

  // Damage: position 1 vanishes instead. The log then runs out after
  // position 2, and a backward read must not end there as if complete.
  ASSERT_TRUE(db()->Put(rocksdb::WriteOptions(), log, coding::BigEndian64(3), record3).ok());
  ASSERT_TRUE(db()->Delete(rocksdb::WriteOptions(), log, coding::BigEndian64(1)).ok());
  EXPECT_THAT(Positions({.to_position = 2, .direction = kBackward}), ElementsAre(6, 5, 4, 3, 2));
  auto bottom = store_->ReadAll({.direction = kBackward});
  EXPECT_EQ(bottom.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bottom.status().message(), HasSubstr("lacks position 1"));
}

TEST_F(ReadApiTest, ReadsEventsByIdFromAnyStream) {
  const Uuid a = Uuid::V7();
  const Uuid b = Uuid::V7();
  Append("order-1", "Placed", a);
  Append("user-1", "Registered");
  Append("order-1", "Paid", b);
  const std::vector<MetadataEntry> metadata = {{"user", "ann"}};
  NewEvent with_metadata{.type = "Tagged", .payload = R"({"x":1})", .metadata = metadata};
  ASSERT_TRUE(store_->Append("tags", ExpectedVersion::Any(), {with_metadata}).ok());

  auto first = store_->ReadEvent(a);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->id, a);
  EXPECT_EQ(first->stream, "order-1");
  EXPECT_EQ(first->version, 1u);
  EXPECT_EQ(first->position, 1u);
  EXPECT_EQ(first->type, "Placed");

  auto second = store_->ReadEvent(b);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->version, 2u);
  EXPECT_EQ(second->position, 3u);

  // A generated id is found too, and the event comes back whole.
  auto tagged = store_->ReadStream("tags");
  ASSERT_TRUE(tagged.ok());
  auto by_id = store_->ReadEvent(tagged->front().id);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->payload, R"({"x":1})");
  EXPECT_EQ(by_id->hash, tagged->front().hash);
  EXPECT_THAT(by_id->metadata, ElementsAre(std::pair<std::string, std::string>("user", "ann")));
}

TEST_F(ReadApiTest, UnknownIdIsNotFoundAndNilIdIsInvalid) {
  Append("s", "E");
  const Uuid unknown = Uuid::V7();
  auto missing = store_->ReadEvent(unknown);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr(unknown.ToString()));
  auto nil = store_->ReadEvent(Uuid());
  EXPECT_EQ(nil.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nil.status().message(), HasSubstr("nil"));
}

TEST_F(ReadApiTest, FollowersReadEventsById) {
  const Uuid first = Uuid::V7();
  Append("s", "E", first);
  Options read_only;
  read_only.read_only = true;
  auto follower = EventStore::Open(dir_.Sub("store"), read_only);
  ASSERT_TRUE(follower.ok()) << follower.status();
  auto found = (*follower)->ReadEvent(first);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->stream, "s");

  const Uuid later = Uuid::V7();
  Append("t", "E", later);
  ASSERT_TRUE((*follower)->CatchUp().ok());
  auto caught_up = (*follower)->ReadEvent(later);
  ASSERT_TRUE(caught_up.ok()) << caught_up.status();
  EXPECT_EQ(caught_up->position, 2u);
}

TEST_F(ReadApiTest, IdLookupReportsAnIndexThatDisagreesWithTheLog) {
  const Uuid a = Uuid::V7();
  const Uuid b = Uuid::V7();
  Append("s", "E", a);
  Append("s", "E", b);
  // Damage: the index entry of `a` points at `b`'s record.
  const internal::EventIdEntry wrong{.position = 2, .stream_id = 1, .version = 1};
  ASSERT_TRUE(db()->Put(rocksdb::WriteOptions(), family(internal::kEventIdsFamily), a.AsBytes(),
                        internal::EncodeEventIdEntry(wrong))
                  .ok());
  auto misplaced = store_->ReadEvent(a);
  EXPECT_EQ(misplaced.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(misplaced.status().message(), HasSubstr(b.ToString()));

  // Damage: the index names a position the log does not have.
  const internal::EventIdEntry beyond{.position = 9, .stream_id = 1, .version = 1};
  ASSERT_TRUE(db()->Put(rocksdb::WriteOptions(), family(internal::kEventIdsFamily), a.AsBytes(),
                        internal::EncodeEventIdEntry(beyond))
                  .ok());
  auto dangling = store_->ReadEvent(a);
  EXPECT_EQ(dangling.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(dangling.status().message(), HasSubstr("not in the log"));
}

// Every read is const: code that only reads takes a `const EventStore&`.
// (A compile-time guarantee; the calls also check the answers.)
absl::Status ReadEverything(const EventStore& store, const Uuid& id) {
  if (!store.ReadStream("s").ok()) return absl::InternalError("ReadStream");
  if (!store.ScanStream("s", {}, [](const EventView&) { return true; }).ok()) {
    return absl::InternalError("ScanStream");
  }
  if (!store.ReadAll({.direction = Direction::kBackward}).ok()) {
    return absl::InternalError("ReadAll");
  }
  if (!store.ScanAll({}, [](const EventView&) { return true; }).ok()) {
    return absl::InternalError("ScanAll");
  }
  if (!store.ReadEvent(id).ok()) return absl::InternalError("ReadEvent");
  if (!store.GetStream("s").ok()) return absl::InternalError("GetStream");
  if (!store.ListStreams("", [](const StreamInfo&) { return true; }).ok()) {
    return absl::InternalError("ListStreams");
  }
  if (!store.Stats().ok()) return absl::InternalError("Stats");
  if (store.last_position() != 1) return absl::InternalError("last_position");
  return absl::OkStatus();
}

TEST_F(ReadApiTest, EveryReadWorksThroughAConstStore) {
  const Uuid id = Uuid::V7();
  Append("s", "E", id);
  EXPECT_TRUE(ReadEverything(*store_, id).ok());
}

}  // namespace
}  // namespace annals
