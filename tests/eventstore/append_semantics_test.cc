// What an append means at its edges: an idempotent replay must re-send the
// same events (content compared, not only ids), an append of zero events
// checks the expected version and writes nothing, stream names with control
// characters or only whitespace are refused, and a commit hook that throws
// never wedges the committer.
//
// Tests that need several appends in one group commit hold the committer in
// a hook (GateHook) while the other appends queue up behind it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "annals/errors.h"
#include "annals/event_store.h"
#include "eventstore/internal/store_access.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/temp_dir.h"

namespace annals {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using AppendOutcome = absl::StatusOr<AppendResult>;

class AppendSemanticsTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    store_.reset();
    store_ = testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  // The whole global log as "stream:version@position type" strings.
  std::vector<std::string> Log() {
    std::vector<std::string> out;
    absl::Status s = store_->ScanAll({}, [&](const EventView& e) {
      out.push_back(std::string(e.stream) + ":" + std::to_string(e.version) + "@" +
                    std::to_string(e.position) + " " + std::string(e.type));
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  // Runs `append` on another thread and waits for it at most 10 s. A store
  // whose committer is wedged never answers; the process then exits at once
  // (a blocked thread cannot be joined) with the reason on stderr.
  template <typename F>
  auto OnOtherThread(F append) {
    auto future = std::async(std::launch::async, append);
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      std::fprintf(stderr,
                   "FAILED: an append on another thread did not return within 10 s: the "
                   "committer is wedged\n");
      std::fflush(stderr);
      std::_Exit(1);
    }
    return future.get();
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

// ---------------------------------------------------------------------------
// A replay must be the same event.

const MetadataEntry kMeta[] = {{"tenant", "t1"}, {"user", "u7"}};
const MetadataEntry kMetaReordered[] = {{"user", "u7"}, {"tenant", "t1"}};
const MetadataEntry kMetaOtherValue[] = {{"tenant", "t1"}, {"user", "u8"}};
const MetadataEntry kMetaFewer[] = {{"tenant", "t1"}};

NewEvent Original(const Uuid& id) {
  return NewEvent{.id = id,
                  .type = "Placed",
                  .schema_version = 2,
                  .content_type = ContentType::kJson,
                  .payload = R"({"qty":1})",
                  .correlation_id = "corr-1",
                  .causation_id = "cause-1",
                  .metadata = kMeta};
}

TEST_F(AppendSemanticsTest, AReplayThatDiffersInAnyFieldIsRefusedAndWritesNothing) {
  const Uuid id = Uuid::V7();
  const NewEvent original = Original(id);
  auto first = store_->Append("order-1", ExpectedVersion::NoStream(), {original});
  ASSERT_TRUE(first.ok()) << first.status();

  struct Variant {
    std::string field;  // As the error message names it.
    NewEvent event;
  };
  std::vector<Variant> variants;
  auto add = [&](std::string field, auto change) {
    NewEvent e = original;
    change(e);
    variants.push_back({std::move(field), e});
  };
  add("type", [](NewEvent& e) { e.type = "Cancelled"; });
  add("schema version", [](NewEvent& e) { e.schema_version = 3; });
  add("content type", [](NewEvent& e) { e.content_type = ContentType::kBytes; });
  add("data", [](NewEvent& e) { e.payload = R"({"qty":2})"; });
  add("data", [](NewEvent& e) { e.payload = ""; });
  add("correlation id", [](NewEvent& e) { e.correlation_id = "corr-2"; });
  add("causation id", [](NewEvent& e) { e.causation_id = ""; });
  add("metadata", [](NewEvent& e) { e.metadata = kMetaOtherValue; });
  add("metadata", [](NewEvent& e) { e.metadata = kMetaFewer; });
  add("metadata", [](NewEvent& e) { e.metadata = {}; });

  for (int round = 0; round < 2; ++round) {  // Then again from a reopened store.
    for (const Variant& v : variants) {
      auto retry = store_->Append("order-1", ExpectedVersion::NoStream(), {v.event});
      EXPECT_EQ(retry.status().code(), absl::StatusCode::kAlreadyExists) << v.field;
      EXPECT_THAT(std::string(retry.status().message()), HasSubstr(id.ToString())) << v.field;
      EXPECT_THAT(std::string(retry.status().message()), HasSubstr("its " + v.field + " differs"))
          << retry.status();
    }
    EXPECT_EQ(Log(), std::vector<std::string>{"order-1:1@1 Placed"});
    EXPECT_EQ(store_->last_position(), 1u);
    Reopen();
  }

  // The same event, with its metadata in another order and another
  // timestamp, is a replay.
  NewEvent same = original;
  same.metadata = kMetaReordered;
  same.recorded_at_us = 1'000'000;
  auto replay = store_->Append("order-1", ExpectedVersion::NoStream(), {same});
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE(replay->idempotent_replay);
  EXPECT_EQ(replay->first_position, 1u);
  EXPECT_EQ(Log().size(), 1u);
}

TEST_F(AppendSemanticsTest, AReplayOfSeveralEventsNamesTheOneThatDiffers) {
  const Uuid a = Uuid::V7(), b = Uuid::V7(), c = Uuid::V7();
  std::vector<NewEvent> events = {NewEvent{.id = a, .type = "A", .payload = "1"},
                                  NewEvent{.id = b, .type = "B", .payload = "2"}};
  NewEvent other{.id = c, .type = "C", .payload = "3"};
  std::vector<StreamAppend> parts = {{"s", ExpectedVersion::NoStream(), events},
                                     {"t", ExpectedVersion::NoStream(), {&other, 1}}};
  ASSERT_TRUE(store_->AppendMulti(parts).ok());

  std::vector<NewEvent> changed = events;
  changed[1].payload = "2b";
  auto retry = store_->Append("s", ExpectedVersion::NoStream(), changed);
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(retry.status().message()), HasSubstr(b.ToString()));
  EXPECT_THAT(std::string(retry.status().message()), Not(HasSubstr(a.ToString())));

  // The multi-stream retry is refused when one part differs.
  NewEvent other_changed = other;
  other_changed.type = "C2";
  std::vector<StreamAppend> changed_parts = {
      {"s", ExpectedVersion::NoStream(), events},
      {"t", ExpectedVersion::NoStream(), {&other_changed, 1}}};
  auto multi = store_->AppendMulti(changed_parts);
  EXPECT_EQ(multi.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(multi.status().message()), HasSubstr("its type differs"));

  auto exact = store_->AppendMulti(parts);
  ASSERT_TRUE(exact.ok()) << exact.status();
  EXPECT_TRUE((*exact)[0].idempotent_replay);
  EXPECT_TRUE((*exact)[1].idempotent_replay);
  EXPECT_EQ(Log().size(), 3u);
}

// ---------------------------------------------------------------------------
// A hook that can hold the committer, throw, and count groups. Thread-safe
// for the test thread's reads.

class GateHook : public internal::CommitHook {
 public:
  absl::Status OnEvent(const EventView& e, rocksdb::WriteBatch& batch) override {
    (void)batch;
    if (e.type == "Gate") {
      std::unique_lock lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [&] { return released_; });
    }
    if (e.type == "Throw") throw std::runtime_error("projection bug: stoll");
    if (e.type == "ThrowInt") throw 42;
    if (e.type == "Fail") return absl::InvalidArgumentError("cannot project Fail");
    return absl::OkStatus();
  }

  void OnRollback() override {
    ++rollbacks;
    if (throw_on_rollback.exchange(false)) throw std::runtime_error("rollback bug");
  }

  void OnGroupDone(bool written) override {
    (void)written;
    ++groups;
    if (fail_next_write_on_group_done.exchange(false))
      internal::StoreAccess::TEST_FailNextWrite(*store);
    if (throw_on_group_done.exchange(false)) throw std::logic_error("group-done bug");
  }

  void WaitUntilEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }

  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

  EventStore* store = nullptr;
  std::atomic<int> groups{0};
  std::atomic<int> rollbacks{0};
  std::atomic<bool> throw_on_rollback{false};
  std::atomic<bool> throw_on_group_done{false};
  std::atomic<bool> fail_next_write_on_group_done{false};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
};

// Runs `appends` in one group commit: a "Gate" append holds the committer
// until every other append had time to queue (in the order given), then all
// of them are committed together. Returns their outcomes in order. Checks
// that they did form one group.
std::vector<AppendOutcome> InOneGroup(EventStore& store, GateHook& hook,
                                      std::vector<std::function<AppendOutcome()>> appends) {
  const int groups_before = hook.groups.load();
  std::thread gate([&] {
    NewEvent e{.type = "Gate"};
    EXPECT_TRUE(store.Append("gate", ExpectedVersion::Any(), {e}).ok());
  });
  hook.WaitUntilEntered();
  std::vector<std::future<AppendOutcome>> futures;
  for (auto& append : appends) {
    futures.push_back(std::async(std::launch::async, append));
    // No API shows the queue: give each append time to reach it, in order.
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  hook.Release();
  gate.join();
  std::vector<AppendOutcome> out;
  for (auto& f : futures) out.push_back(f.get());
  EXPECT_EQ(hook.groups.load() - groups_before, 2)
      << "the appends did not form one group after the gate's (the machine may be too slow "
         "for the 150 ms queueing pause)";
  return out;
}

TEST_F(AppendSemanticsTest, AReplayWithinTheSameGroupComparesWithTheStagedEvent) {
  GateHook hook;
  hook.store = store_.get();
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  const Uuid id = Uuid::V7();
  const NewEvent original = Original(id);
  NewEvent changed = original;
  changed.payload = R"({"qty":9})";
  auto outcomes =
      InOneGroup(*store_, hook,
                 {[&] { return store_->Append("s", ExpectedVersion::NoStream(), {original}); },
                  [&] { return store_->Append("s", ExpectedVersion::NoStream(), {changed}); },
                  [&] { return store_->Append("s", ExpectedVersion::NoStream(), {original}); }});
  ASSERT_TRUE(outcomes[0].ok()) << outcomes[0].status();
  EXPECT_FALSE(outcomes[0]->idempotent_replay);
  EXPECT_EQ(outcomes[1].status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(outcomes[1].status().message()), HasSubstr("its data differs"));
  ASSERT_TRUE(outcomes[2].ok()) << outcomes[2].status();
  EXPECT_TRUE(outcomes[2]->idempotent_replay);
  EXPECT_EQ(outcomes[2]->first_position, outcomes[0]->first_position);
  EXPECT_EQ(Log(), (std::vector<std::string>{"gate:1@1 Gate", "s:1@2 Placed"}));
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
}

TEST_F(AppendSemanticsTest, ResultsThatRestOnAFailedGroupWriteAreNotAcknowledged) {
  // A replay of an event staged in the same group, and an empty append that
  // reads a head staged in the group, hold only if the group is written.
  GateHook hook;
  hook.store = store_.get();
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  const NewEvent original = Original(Uuid::V7());
  hook.fail_next_write_on_group_done = true;  // The group after the gate's fails.
  auto outcomes =
      InOneGroup(*store_, hook,
                 {[&] { return store_->Append("s", ExpectedVersion::NoStream(), {original}); },
                  [&] { return store_->Append("s", ExpectedVersion::NoStream(), {original}); },
                  [&] { return store_->Append("s", ExpectedVersion::Exact(1), {}); }});
  for (size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_EQ(outcomes[i].status().code(), absl::StatusCode::kUnknown)
        << "append " << i << ": "
        << (outcomes[i].ok() ? "acknowledged although its group was not written"
                             : outcomes[i].status().ToString());
  }
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
  Reopen();
  EXPECT_EQ(Log(), std::vector<std::string>{"gate:1@1 Gate"});
}

// ---------------------------------------------------------------------------
// An empty append checks the expected version and writes nothing.

TEST_F(AppendSemanticsTest, AnEmptyAppendChecksTheExpectedVersionAndWritesNothing) {
  // A missing stream: version 0, not created.
  auto none = store_->Append("new", ExpectedVersion::NoStream(), {});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(none->last_version, 0u);
  EXPECT_EQ(none->first_version, 1u);
  EXPECT_EQ(none->last_position, 0u);
  EXPECT_EQ(none->first_position, 1u);
  EXPECT_FALSE(none->idempotent_replay);
  EXPECT_EQ(store_->GetStream("new").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Append("new", ExpectedVersion::StreamExists(), {}).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store_->Append("new", ExpectedVersion::Exact(3), {}).status().code(),
            absl::StatusCode::kAborted);

  // An existing stream: its version and last position.
  NewEvent e{.type = "E"};
  ASSERT_TRUE(store_->Append("s", ExpectedVersion::Any(), {e, e}).ok());
  ASSERT_TRUE(store_->Append("t", ExpectedVersion::Any(), {e}).ok());
  auto at = store_->Append("s", ExpectedVersion::Exact(2), {});
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->last_version, 2u);
  EXPECT_EQ(at->first_version, 3u);
  EXPECT_EQ(at->last_position, 2u);
  EXPECT_EQ(at->first_position, 3u);
  auto wrong = store_->Append("s", ExpectedVersion::Exact(1), {});
  ASSERT_EQ(wrong.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetWrongExpectedVersion(wrong.status())->actual, 2u);
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::StreamExists(), {}).ok());
  EXPECT_EQ(store_->Append("s", ExpectedVersion::NoStream(), {}).status().code(),
            absl::StatusCode::kAborted);

  // No position was consumed: the next event follows directly.
  EXPECT_EQ(store_->last_position(), 3u);
  auto next = store_->Append("s", ExpectedVersion::Exact(2), {e});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->first_position, 4u);
  EXPECT_EQ(Log().size(), 4u);
  std::vector<std::string> streams;
  ASSERT_TRUE(store_
                  ->ListStreams("",
                                [&](const StreamInfo& s) {
                                  streams.push_back(s.stream);
                                  return true;
                                })
                  .ok());
  EXPECT_EQ(streams, (std::vector<std::string>{"s", "t"}));
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST_F(AppendSemanticsTest, AnEmptyPartOfAMultiStreamAppendFollowsTheSameRule) {
  NewEvent e{.id = Uuid::V7(), .type = "E"};
  ASSERT_TRUE(store_->Append("a", ExpectedVersion::Any(), {NewEvent{.type = "E"}}).ok());

  // The empty part's expected version is checked: a mismatch fails the call.
  std::vector<StreamAppend> parts = {{"a", ExpectedVersion::Exact(7), {}},
                                     {"b", ExpectedVersion::NoStream(), {&e, 1}}};
  auto refused = store_->AppendMulti(parts);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(GetWrongExpectedVersion(refused.status())->stream, "a");
  EXPECT_EQ(Log().size(), 1u);

  parts[0].expected = ExpectedVersion::Exact(1);
  auto ok = store_->AppendMulti(parts);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)[0].last_version, 1u);
  EXPECT_EQ((*ok)[0].last_position, 1u);
  EXPECT_EQ((*ok)[0].first_version, 2u);
  EXPECT_EQ((*ok)[1].first_position, 2u);
  EXPECT_EQ(Log(), (std::vector<std::string>{"a:1@1 E", "b:1@2 E"}));

  // A retry is a replay although "a" moved on: the empty part reports "a"
  // as it is now.
  ASSERT_TRUE(store_->Append("a", ExpectedVersion::Any(), {NewEvent{.type = "E"}}).ok());
  auto replay = store_->AppendMulti(parts);
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_TRUE((*replay)[0].idempotent_replay);
  EXPECT_EQ((*replay)[0].last_version, 2u);
  EXPECT_TRUE((*replay)[1].idempotent_replay);
  EXPECT_EQ((*replay)[1].first_position, 2u);

  // Only empty parts: nothing written, every expected version checked.
  std::vector<StreamAppend> empty = {{"a", ExpectedVersion::Exact(2), {}},
                                     {"zz", ExpectedVersion::NoStream(), {}}};
  auto nothing = store_->AppendMulti(empty);
  ASSERT_TRUE(nothing.ok()) << nothing.status();
  EXPECT_EQ((*nothing)[0].last_version, 2u);
  EXPECT_EQ((*nothing)[1].last_version, 0u);
  EXPECT_EQ(store_->last_position(), 3u);
  EXPECT_EQ(store_->GetStream("zz").status().code(), absl::StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------
// Stream names.

TEST_F(AppendSemanticsTest, StreamNamesWithControlCharactersOrOnlyWhitespaceAreRefused) {
  NewEvent e{.type = "E"};
  struct Case {
    std::string name;
    std::string shown;  // How the message must show it.
  };
  const std::vector<Case> refused = {
      {std::string("order\0-1", 8), "'order\\x00-1'"},
      {"order\x01", "'order\\x01'"},
      {"line\nbreak", "'line\\nbreak'"},
      {"tab\there", "'tab\\there'"},
      {"\x1b[31mred", "'\\x1b[31mred'"},
      {"del\x7f", "'del\\x7f'"},
      {" ", "' '"},
      {"   ", "'   '"},
      {"\xc2\xa0", "'\xc2\xa0'"},              // U+00A0 no-break space
      {" \xe3\x80\x80 ", "' \xe3\x80\x80 '"},  // U+3000 ideographic space
      {"\xe2\x80\xa8", "'\xe2\x80\xa8'"},      // U+2028 line separator
  };
  for (const Case& c : refused) {
    auto result = store_->Append(c.name, ExpectedVersion::Any(), {e});
    ASSERT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << c.shown;
    const std::string message(result.status().message());
    EXPECT_THAT(message, HasSubstr(c.shown));
    for (char ch : message) {
      EXPECT_FALSE(static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f)
          << "raw control byte in: " << c.shown;
    }
    // Also as a part of a multi-stream append.
    NewEvent f{.type = "F"};
    std::vector<StreamAppend> parts = {{"fine", ExpectedVersion::Any(), {&f, 1}},
                                       {c.name, ExpectedVersion::Any(), {&e, 1}}};
    EXPECT_EQ(store_->AppendMulti(parts).status().code(), absl::StatusCode::kInvalidArgument);
  }
  // The messages say what is wrong.
  EXPECT_THAT(std::string(store_->Append("a\x01", ExpectedVersion::Any(), {e}).status().message()),
              HasSubstr("control character"));
  EXPECT_THAT(std::string(store_->Append("  ", ExpectedVersion::Any(), {e}).status().message()),
              HasSubstr("only whitespace"));
  // Invalid UTF-8 is shown escaped too.
  EXPECT_THAT(
      std::string(store_->Append("bad\xff", ExpectedVersion::Any(), {e}).status().message()),
      HasSubstr("'bad\\xff'"));
  EXPECT_TRUE(Log().empty());

  // Spaces inside a name, non-ASCII letters and punctuation are fine.
  for (std::string name : {"order 42", " padded ", "caf\xc3\xa9-1", "a'b\\c", "x\xc2\xa0y"}) {
    auto ok = store_->Append(name, ExpectedVersion::Any(), {e});
    EXPECT_TRUE(ok.ok()) << name << ": " << ok.status();
  }
  EXPECT_EQ(Log().size(), 5u);
}

// ---------------------------------------------------------------------------
// Commit hooks that throw.

TEST_F(AppendSemanticsTest, AHookThrowingFromOnEventFailsOnlyItsAppendAndNeverWedges) {
  GateHook hook;
  hook.store = store_.get();
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  NewEvent ok{.type = "Ok"};
  NewEvent bad{.type = "Throw"};
  AppendOutcome failed = absl::UnknownError("not run");
  try {
    failed = store_->Append("s", ExpectedVersion::Any(), {ok, bad});
  } catch (const std::exception& e) {
    ADD_FAILURE() << "an exception crossed Append(): " << e.what();
  }
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("projection bug: stoll"));
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("nothing was appended"));
  EXPECT_EQ(hook.rollbacks.load(), 1);

  // Later appends from other threads complete.
  for (int i = 0; i < 4; ++i) {
    AppendOutcome later =
        OnOtherThread([&] { return store_->Append("s", ExpectedVersion::Any(), {ok}); });
    ASSERT_TRUE(later.ok()) << later.status();
    EXPECT_EQ(later->first_position, static_cast<uint64_t>(i + 1));
  }

  // A throwing append in a group leaves the rest of the group unaffected,
  // and so does an exception that is not a std::exception.
  NewEvent thrown_int{.type = "ThrowInt"};
  auto outcomes =
      InOneGroup(*store_, hook,
                 {[&] { return store_->Append("a", ExpectedVersion::NoStream(), {ok}); },
                  [&] {
                    return store_->Append("b", ExpectedVersion::NoStream(), {ok, bad});
                  },
                  [&] { return store_->Append("c", ExpectedVersion::NoStream(), {thrown_int}); },
                  [&] { return store_->Append("d", ExpectedVersion::NoStream(), {ok}); }});
  EXPECT_TRUE(outcomes[0].ok()) << outcomes[0].status();
  EXPECT_EQ(outcomes[1].status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(outcomes[2].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(outcomes[2].status().message()), HasSubstr("not a std::exception"));
  EXPECT_TRUE(outcomes[3].ok()) << outcomes[3].status();
  EXPECT_EQ(Log(), (std::vector<std::string>{"s:1@1 Ok", "s:2@2 Ok", "s:3@3 Ok", "s:4@4 Ok",
                                             "gate:1@5 Gate", "a:1@6 Ok", "d:1@7 Ok"}));
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
  auto report = store_->Verify();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST_F(AppendSemanticsTest, AHookThrowingFromOnGroupDoneStopsAppendsVisiblyUntilReopen) {
  GateHook thrower, second;
  thrower.store = second.store = store_.get();
  internal::StoreAccess::AddCommitHook(*store_, &thrower);
  internal::StoreAccess::AddCommitHook(*store_, &second);
  thrower.throw_on_group_done = true;
  NewEvent e{.type = "E"};
  AppendOutcome written = absl::UnknownError("not run");
  try {
    written = store_->Append("s", ExpectedVersion::Any(), {e});
  } catch (const std::exception& ex) {
    ADD_FAILURE() << "an exception crossed Append(): " << ex.what();
  }
  // The batch was written before the hook threw: the append is durable.
  EXPECT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(second.groups.load(), 1) << "the next hook was not told the group is done";

  AppendOutcome refused =
      OnOtherThread([&] { return store_->Append("s", ExpectedVersion::Any(), {e}); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("OnGroupDone()"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("group-done bug"));
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("reopen"));
  internal::StoreAccess::RemoveCommitHook(*store_, &thrower);
  internal::StoreAccess::RemoveCommitHook(*store_, &second);

  Reopen();
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::Exact(1), {e}).ok());
  EXPECT_EQ(Log(), (std::vector<std::string>{"s:1@1 E", "s:2@2 E"}));
}

TEST_F(AppendSemanticsTest, AHookThrowingFromOnRollbackStopsAppendsVisiblyUntilReopen) {
  GateHook hook;
  hook.store = store_.get();
  internal::StoreAccess::AddCommitHook(*store_, &hook);
  hook.throw_on_rollback = true;
  NewEvent e{.type = "E"};
  NewEvent fail{.type = "Fail"};
  AppendOutcome failed = absl::UnknownError("not run");
  try {
    failed = store_->Append("s", ExpectedVersion::Any(), {e, fail});
  } catch (const std::exception& ex) {
    ADD_FAILURE() << "an exception crossed Append(): " << ex.what();
  }
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("cannot project Fail"));
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("rollback bug"));

  AppendOutcome refused =
      OnOtherThread([&] { return store_->Append("s", ExpectedVersion::Any(), {e}); });
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("OnRollback()"));
  internal::StoreAccess::RemoveCommitHook(*store_, &hook);
  Reopen();
  EXPECT_TRUE(store_->Append("s", ExpectedVersion::NoStream(), {e}).ok());
  EXPECT_EQ(Log(), std::vector<std::string>{"s:1@1 E"});
}

}  // namespace
}  // namespace annals
