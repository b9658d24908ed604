// EventStore behaviour on one thread: appends, each kind of expected version,
// reads, idempotent retries, multi-stream atomicity, bad input, reopen, open
// errors, read-only followers, write failures, inline commit hooks and the
// priority of compaction threads.

#include "annals/event_store.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "annals/errors.h"
#include "common/strings.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class EventStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(Options options = Options()) {
    store_.reset();
    options.durability = Durability::kBuffered;  // crash_test covers kSync.
    auto store = EventStore::Open(path(), options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  std::string path() const { return dir_.Sub("store"); }

  static NewEvent Event(std::string_view type, std::string_view payload = "{}") {
    return NewEvent{.type = type, .payload = payload};
  }

  absl::StatusOr<AppendResult> AppendOne(std::string_view stream, ExpectedVersion expected,
                                         std::string_view type = "E") {
    NewEvent e = Event(type);
    return store_->Append(stream, expected, {e});
  }

  std::vector<std::string> Types(std::string_view stream, ReadStreamOptions options = {}) {
    auto events = store_->ReadStream(stream, options);
    EXPECT_TRUE(events.ok()) << events.status();
    std::vector<std::string> out;
    if (events.ok()) {
      for (const auto& e : *events) out.push_back(e.type);
    }
    return out;
  }

  // The whole global log as "stream:version@position" strings.
  std::vector<std::string> Log() {
    std::vector<std::string> out;
    absl::Status s = store_->ScanAll({}, [&](const EventView& e) {
      out.push_back(std::string(e.stream) + ":" + std::to_string(e.version) + "@" +
                    std::to_string(e.position));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(EventStoreTest, AppendsAndReadsBackEveryField) {
  const Uuid id = Uuid::V7();
  const std::vector<MetadataEntry> metadata = {{"user", "ann"}, {"ip", "10.0.0.1"}};
  std::vector<NewEvent> events = {NewEvent{.id = id,
                                           .type = "OrderPlaced",
                                           .schema_version = 3,
                                           .content_type = ContentType::kJson,
                                           .payload = R"({"table":4})",
                                           .correlation_id = "corr-1",
                                           .causation_id = "cause-1",
                                           .metadata = metadata},
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
  const RecordedEvent& first = (*read)[0];
  EXPECT_EQ(first.id, id);
  EXPECT_EQ(first.stream, "order-1");
  EXPECT_EQ(first.type, "OrderPlaced");
  EXPECT_EQ(first.schema_version, 3u);
  EXPECT_EQ(first.content_type, ContentType::kJson);
  EXPECT_EQ(first.payload, R"({"table":4})");
  EXPECT_EQ(first.correlation_id, "corr-1");
  EXPECT_EQ(first.causation_id, "cause-1");
  EXPECT_EQ(first.metadata.size(), 2u);
  EXPECT_EQ(first.metadata[0].first, "user");
  EXPECT_EQ(first.metadata[0].second, "ann");
  EXPECT_EQ(first.hash.size(), 32u);
  EXPECT_GT(first.recorded_at_us, 0);
  EXPECT_EQ((*read)[1].version, 2u);
  EXPECT_EQ((*read)[1].position, 2u);
  EXPECT_FALSE((*read)[1].id.is_nil());  // Generated.
  EXPECT_EQ(store_->last_position(), 2u);

  auto info = store_->GetStream("order-1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->version, 2u);
  EXPECT_EQ(info->last_position, 2u);
}

TEST_F(EventStoreTest, NoStreamRequiresAnEmptyStream) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::NoStream()).ok());
  auto conflict = AppendOne("s", ExpectedVersion::NoStream());
  ASSERT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  auto details = GetWrongExpectedVersion(conflict.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->actual, 1u);
  EXPECT_EQ(details->stream, "s");
  EXPECT_EQ(details->expected, ExpectedVersion::NoStream());
  EXPECT_THAT(std::string(conflict.status().message()), HasSubstr("expected no-stream, actual 1"));
  EXPECT_EQ(Log().size(), 1u);
}

TEST_F(EventStoreTest, StreamExistsRequiresEvents) {
  auto conflict = AppendOne("s", ExpectedVersion::StreamExists());
  ASSERT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetWrongExpectedVersion(conflict.status())->actual, 0u);
  EXPECT_TRUE(Log().empty());
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  EXPECT_TRUE(AppendOne("s", ExpectedVersion::StreamExists()).ok());
}

TEST_F(EventStoreTest, ExactRequiresTheCurrentVersion) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Exact(0)).ok());  // Exact(0) == NoStream.
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Exact(1)).ok());
  for (uint64_t wrong : {0, 1, 3, 100}) {
    auto conflict = AppendOne("s", ExpectedVersion::Exact(wrong));
    ASSERT_EQ(conflict.status().code(), absl::StatusCode::kAborted) << wrong;
    auto details = GetWrongExpectedVersion(conflict.status());
    ASSERT_TRUE(details.has_value());
    EXPECT_EQ(details->actual, 2u);
  }
  auto ok = AppendOne("s", ExpectedVersion::Exact(2));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first_version, 3u);
  EXPECT_EQ(Log(), (std::vector<std::string>{"s:1@1", "s:2@2", "s:3@3"}));
}

TEST_F(EventStoreTest, AnyAppendsWhateverTheVersion) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  EXPECT_EQ(store_->GetStream("s")->version, 2u);
}

TEST_F(EventStoreTest, ReadsStreamsForwardBackwardWithLimits) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(AppendOne("a", ExpectedVersion::Any(), "a" + std::to_string(i)).ok());
    ASSERT_TRUE(AppendOne("b", ExpectedVersion::Any(), "b" + std::to_string(i)).ok());
  }
  EXPECT_THAT(Types("a"), ElementsAre("a1", "a2", "a3", "a4", "a5"));
  EXPECT_THAT(Types("a", {.from_version = 4}), ElementsAre("a4", "a5"));
  EXPECT_THAT(Types("a", {.from_version = 2, .limit = 2}), ElementsAre("a2", "a3"));
  EXPECT_THAT(Types("a", {.direction = Direction::kBackward}),
              ElementsAre("a5", "a4", "a3", "a2", "a1"));
  EXPECT_THAT(Types("b", {.from_version = 3, .direction = Direction::kBackward, .limit = 2}),
              ElementsAre("b3", "b2"));
  EXPECT_TRUE(Types("a", {.from_version = 9}).empty());
  // Adjacent positions (one append of four events) are walked, not sought.
  std::vector<NewEvent> batch = {Event("c1"), Event("c2"), Event("c3"), Event("c4")};
  ASSERT_TRUE(store_->Append("c", ExpectedVersion::NoStream(), batch).ok());
  ASSERT_TRUE(AppendOne("c", ExpectedVersion::Any(), "c5").ok());
  EXPECT_THAT(Types("c", {.from_version = 2}), ElementsAre("c2", "c3", "c4", "c5"));
  EXPECT_THAT(Types("c", {.direction = Direction::kBackward}),
              ElementsAre("c5", "c4", "c3", "c2", "c1"));
  EXPECT_EQ(store_->ReadStream("missing").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(EventStoreTest, ReadsTheGlobalLogWithFilters) {
  ASSERT_TRUE(AppendOne("order-1", ExpectedVersion::Any(), "Placed").ok());
  ASSERT_TRUE(AppendOne("user-1", ExpectedVersion::Any(), "Registered").ok());
  ASSERT_TRUE(AppendOne("order-2", ExpectedVersion::Any(), "Placed").ok());
  ASSERT_TRUE(AppendOne("order-1", ExpectedVersion::Any(), "Paid").ok());

  auto positions = [&](ReadAllOptions options) {
    std::vector<uint64_t> out;
    auto all = store_->ReadAll(options);
    EXPECT_TRUE(all.ok()) << all.status();
    for (const auto& e : *all) out.push_back(e.position);
    return out;
  };
  EXPECT_THAT(positions({}), ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(positions({.from_position = 3}), ElementsAre(3, 4));
  EXPECT_THAT(positions({.limit = 2}), ElementsAre(1, 2));
  EXPECT_THAT(positions({.event_types = {"Placed"}}), ElementsAre(1, 3));
  EXPECT_THAT(positions({.stream_prefix = "order-"}), ElementsAre(1, 3, 4));
  EXPECT_THAT(positions({.limit = 1, .event_types = {"Placed"}, .stream_prefix = "order-2"}),
              ElementsAre(3));
  EXPECT_TRUE(positions({.from_position = 5}).empty());
}

TEST_F(EventStoreTest, ListsStreamsInNameOrder) {
  ASSERT_TRUE(AppendOne("b", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(AppendOne("a", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(AppendOne("a", ExpectedVersion::Any()).ok());
  ASSERT_TRUE(AppendOne("ab", ExpectedVersion::Any()).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(store_
                  ->ListStreams("",
                                [&](const StreamInfo& s) {
                                  seen.push_back(s.stream + "=" + std::to_string(s.version));
                                  return true;
                                })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("a=2", "ab=1", "b=1"));
  seen.clear();
  ASSERT_TRUE(store_
                  ->ListStreams("a",
                                [&](const StreamInfo& s) {
                                  seen.push_back(s.stream);
                                  return true;
                                })
                  .ok());
  EXPECT_THAT(seen, ElementsAre("a", "ab"));
}

TEST_F(EventStoreTest, RetryWithSameIdsReturnsOriginalResultAndWritesNothing) {
  const Uuid a = Uuid::V7(), b = Uuid::V7();
  ASSERT_TRUE(AppendOne("other", ExpectedVersion::Any()).ok());
  std::vector<NewEvent> events = {NewEvent{.id = a, .type = "A"}, NewEvent{.id = b, .type = "B"}};
  auto first = store_->Append("s", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());  // The stream moves on.

  // The retry's expected version no longer matches, but it is a replay.
  auto retry = store_->Append("s", ExpectedVersion::NoStream(), events);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->idempotent_replay);
  EXPECT_EQ(retry->first_version, 1u);
  EXPECT_EQ(retry->last_version, 2u);
  EXPECT_EQ(retry->first_position, first->first_position);
  EXPECT_EQ(retry->last_position, first->last_position);
  EXPECT_EQ(Log().size(), 4u);
  EXPECT_EQ(store_->GetStream("s")->version, 3u);
}

TEST_F(EventStoreTest, ReusingAStoredIdElsewhereIsRejected) {
  const Uuid a = Uuid::V7();
  NewEvent e{.id = a, .type = "A"};
  ASSERT_TRUE(store_->Append("s", ExpectedVersion::Any(), {e}).ok());
  auto other_stream = store_->Append("t", ExpectedVersion::Any(), {e});
  EXPECT_EQ(other_stream.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(other_stream.status().message()), HasSubstr(a.ToString()));
  // Part of a retry plus a new event: not the original append.
  std::vector<NewEvent> mixed = {e, NewEvent{.id = Uuid::V7(), .type = "B"}};
  EXPECT_EQ(store_->Append("s", ExpectedVersion::Any(), mixed).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Log().size(), 1u);
}

TEST_F(EventStoreTest, MultiStreamAppendIsAllOrNothing) {
  ASSERT_TRUE(AppendOne("b", ExpectedVersion::Any()).ok());
  NewEvent e = Event("X");
  std::vector<StreamAppend> parts = {{"a", ExpectedVersion::NoStream(), {&e, 1}},
                                     {"b", ExpectedVersion::NoStream(), {&e, 1}}};
  auto failed = store_->AppendMulti(parts);
  ASSERT_EQ(failed.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetWrongExpectedVersion(failed.status())->stream, "b");
  EXPECT_EQ(store_->GetStream("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Log().size(), 1u);

  parts[1].expected = ExpectedVersion::Exact(1);
  auto ok = store_->AppendMulti(parts);
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].first_position, 2u);
  EXPECT_EQ((*ok)[1].first_position, 3u);
  EXPECT_EQ((*ok)[1].first_version, 2u);
  EXPECT_EQ(Log(), (std::vector<std::string>{"b:1@1", "a:1@2", "b:2@3"}));
}

TEST_F(EventStoreTest, RejectsBadInputAndWritesNothing) {
  NewEvent ok = Event("E");
  const std::string long_name(513, 'x');
  const std::string not_utf8 = "order-\xff";
  struct Case {
    std::string name;
    std::string stream;
    std::vector<NewEvent> events;
  };
  const std::string big(1024, 'p');
  std::vector<Case> cases = {
      {"empty stream", "", {ok}},
      {"long stream", long_name, {ok}},
      {"non-UTF-8 stream", not_utf8, {ok}},
      {"reserved stream", "$all", {ok}},
      {"empty type", "s", {Event("")}},
      {"schema version 0", "s", {NewEvent{.type = "E", .schema_version = 0}}},
      {"event too large", "s", {Event("E", big)}},
  };
  const Uuid dup = Uuid::V7();
  cases.push_back(
      {"duplicate ids", "s", {NewEvent{.id = dup, .type = "A"}, NewEvent{.id = dup, .type = "B"}}});
  Options options;
  options.max_event_bytes = 512;
  options.max_append_bytes = 4096;
  Reopen(options);
  for (const Case& c : cases) {
    auto result = store_->Append(c.stream, ExpectedVersion::Any(), c.events);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_FALSE(result.status().message().empty()) << c.name;
  }
  std::vector<StreamAppend> twice = {{"s", ExpectedVersion::Any(), {&ok, 1}},
                                     {"s", ExpectedVersion::Any(), {&ok, 1}}};
  EXPECT_EQ(store_->AppendMulti(twice).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->AppendMulti({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Log().empty());
  EXPECT_EQ(store_->last_position(), 0u);
}

TEST_F(EventStoreTest, ReopenKeepsEverythingAndContinuesTheChain) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(AppendOne(StrCat("s", i % 3), ExpectedVersion::Any()).ok());
  }
  const auto before = Log();
  Reopen();
  EXPECT_EQ(Log(), before);
  EXPECT_EQ(store_->last_position(), 10u);
  auto next = AppendOne("s0", ExpectedVersion::Exact(4));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->first_position, 11u);
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->events, 11u);
  EXPECT_EQ(report->streams, 3u);
}

TEST_F(EventStoreTest, OpenRejectsForeignDirectoriesAndNewerFormats) {
  store_.reset();
  const std::string foreign = dir_.Sub("foreign");
  std::filesystem::create_directories(foreign);
  std::ofstream(foreign + "/notes.txt") << "hello";
  auto opened = EventStore::Open(foreign);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(opened.status().message()), HasSubstr("not an annals store"));

  Options no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(EventStore::Open(dir_.Sub("absent"), no_create).status().code(),
            absl::StatusCode::kNotFound);
  Options read_only;
  read_only.read_only = true;
  EXPECT_EQ(EventStore::Open(dir_.Sub("absent"), read_only).status().code(),
            absl::StatusCode::kNotFound);

  Reopen();
  ASSERT_TRUE(internal::StoreAccess::Db(*store_)
                  ->Put(rocksdb::WriteOptions(),
                        internal::StoreAccess::CoreFamily(*store_, internal::kDefaultFamily),
                        internal::kFormatVersionKey, "99")
                  .ok());
  store_.reset();
  auto newer = EventStore::Open(path());
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(newer.status().message()), HasSubstr("format version 99"));
}

TEST_F(EventStoreTest, SecondWriterIsRefusedButFollowersRead) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  auto second = EventStore::Open(path());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("open for writing"));

  Options read_only;
  read_only.read_only = true;
  auto follower = EventStore::Open(path(), read_only);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_EQ((*follower)->last_position(), 1u);
  EXPECT_EQ((*follower)->Append("s", ExpectedVersion::Any(), {Event("E")}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  EXPECT_TRUE((*follower)->WaitForPosition(2, absl::Seconds(10)));
  auto events = (*follower)->ReadStream("s");
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), 2u);
}

TEST_F(EventStoreTest, SyncMakesBufferedAppendsDurableAndRefusesReadOnly) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  EXPECT_TRUE(store_->Sync().ok());
  Options read_only;
  read_only.read_only = true;
  auto follower = EventStore::Open(path(), read_only);
  ASSERT_TRUE(follower.ok()) << follower.status();
  EXPECT_TRUE((*follower)->Sync().ok());  // A no-op.
  EXPECT_EQ((*follower)->last_position(), 1u);
}

// Nice values of this process's threads whose name starts with `prefix`
// (RocksDB names its pools' threads "rocksdb:low", "rocksdb:high").
std::vector<int> NiceOfThreads(std::string_view prefix) {
  std::vector<int> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    if (name.rfind(prefix, 0) != 0) continue;
    std::ifstream stat_file(task.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), {});
    // Fields after the parenthesised name: state is field 3, nice field 19.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 19 && fields >> field; ++i) {
    }
    int nice = 0;
    if (fields >> nice) out.push_back(nice);
  }
  return out;
}

TEST_F(EventStoreTest, CompactionsRunAtLowPriorityAndFlushesDoNot) {
  Options options;
  ASSERT_TRUE(options.low_priority_compaction);  // The documented default.
  // RocksDB's pool threads inherit the nice value of the thread that starts
  // them (this one, at the first flush), so "normal priority" is this
  // process's own value, not 0: the suite may run under `nice`.
  errno = 0;
  const int own_nice = getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0) << "getpriority failed";
  if (own_nice >= 19) {
    GTEST_SKIP() << "this process already runs at nice " << own_nice
                 << ": compactions cannot run at a lower priority than flushes";
  }
  options.write_buffer_bytes = 64u << 10;  // Many flushes, hence compactions.
  Reopen(options);
  const std::string payload(1024, 'x');
  for (int i = 0; i < 40; ++i) {
    std::vector<NewEvent> batch(100, NewEvent{.type = "E", .payload = payload});
    ASSERT_TRUE(store_->Append(StrCat("s", i), ExpectedVersion::NoStream(), batch).ok());
  }
  // RocksDB applies the priority when a pool thread picks up its next job.
  std::vector<int> low;
  for (int wait_ms = 0; wait_ms < 20'000; wait_ms += 50) {
    low = NiceOfThreads("rocksdb:low");
    if (std::find(low.begin(), low.end(), 19) != low.end()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(low, ::testing::Contains(19)) << "no compaction thread at nice 19";
  const std::vector<int> high = NiceOfThreads("rocksdb:high");
  EXPECT_FALSE(high.empty()) << "no flush thread found";
  EXPECT_THAT(high, ::testing::Each(own_nice)) << "flushes must keep the process's priority";
  // The store is still whole after the compactions.
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->events, 4000u);
}

TEST_F(EventStoreTest, AfterAWriteErrorAppendsAreRefusedUntilReopen) {
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any()).ok());
  internal::StoreAccess::TEST_FailNextWrite(*store_);
  auto failed = AppendOne("s", ExpectedVersion::Any());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("outcome unknown"));
  auto refused = AppendOne("t", ExpectedVersion::Any());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("reopen"));
  // Reads still work.
  EXPECT_EQ(Log().size(), 1u);
  Reopen();
  EXPECT_TRUE(AppendOne("t", ExpectedVersion::Any()).ok());
  EXPECT_EQ(Log().size(), 2u);
}

// An inline hook that writes one key per event and fails on a chosen type.
class RecordingHook : public internal::CommitHook {
 public:
  explicit RecordingHook(rocksdb::ColumnFamilyHandle* cf) : cf_(cf) {}
  absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch& batch) override {
    if (e.type == "Poison") return absl::InvalidArgumentError("cannot project Poison");
    rocksdb::Status s =
        batch.Put(cf_, std::string(e.stream) + "/" + std::to_string(e.version), "seen");
    return s.ok() ? absl::OkStatus() : absl::InternalError(s.ToString());
  }
  void OnRollback() override { ++rollbacks; }
  int rollbacks = 0;

 private:
  rocksdb::ColumnFamilyHandle* cf_;
};

TEST_F(EventStoreTest, InlineHookWritesCommitWithTheEventsAndFailuresWriteNothing) {
  rocksdb::DB* db = internal::StoreAccess::Db(*store_);
  // A family of the test's own, as a module would declare it.
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> family =
      internal::StoreAccess::Family(*store_, {.name = "test_hook_writes"});
  ASSERT_TRUE(family.ok()) << family.status();
  rocksdb::ColumnFamilyHandle* cf = *family;
  RecordingHook hook(cf);
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  ASSERT_TRUE(AppendOne("s", ExpectedVersion::Any(), "Good").ok());
  std::string value;
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), cf, "s/1", &value).ok());

  std::vector<NewEvent> events = {Event("Good"), Event("Poison")};
  auto failed = store_->Append("s", ExpectedVersion::Any(), events);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("nothing was appended"));
  EXPECT_EQ(hook.rollbacks, 1);
  EXPECT_TRUE(db->Get(rocksdb::ReadOptions(), cf, "s/2", &value).IsNotFound());
  EXPECT_EQ(Log().size(), 1u);
  auto next = AppendOne("s", ExpectedVersion::Exact(1), "Good");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(next->first_position, 2u);
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
}

}  // namespace
}  // namespace annals
