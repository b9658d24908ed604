// User code that throws cannot break an aggregate's load or save
// (annals/user_code.h): an exception from an aggregate's Apply(), from a
// Repository::Execute() command or from an upcaster comes back as kInternal
// naming the exception, nothing is saved, nothing stays locked, and other
// threads' commands go on. Without the catches these exceptions leave
// Load()/Execute()/Raise() and GoogleTest reports "C++ exception thrown in
// the test body".

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "annals/given_when_then.h"
#include "annals/repository.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregates/account.h"
#include "tests/common/temp_dir.h"

namespace test_domain {
namespace {

using ::testing::HasSubstr;

// Deposited at schema version 2, with a 1 -> 2 upcaster that throws.
const annals::EventRegistry& FragileEvents() {
  static const annals::EventRegistry* registry = [] {
    auto* r = new annals::EventRegistry();
    bool ok = r->AddSchema(kAccountSchema).ok();
    ok = ok && r->Register<Opened>("Opened").ok();
    ok = ok && r->Register<Deposited>("Deposited", 2).ok();
    ok = ok && r->Register<Withdrawn>("Withdrawn").ok();
    ok = ok && r->Register<Renamed>("Renamed").ok();
    ok = ok && r->AddUpcaster("Deposited", 1, [](std::string_view) -> absl::StatusOr<std::string> {
                  throw std::runtime_error("upcaster exploded");
                }).ok();
    if (!ok) std::abort();
    return r;
  }();
  return *registry;
}

// An aggregate whose Apply(Deposited) changes the state and then throws for
// amount 13 (a std::exception) and 666 (an int), and whose commands throw
// when asked to.
class Fragile : public annals::Aggregate<Fragile, AccountStateT> {
 public:
  using Events = annals::EventList<Opened, Deposited, Withdrawn, Renamed>;
  static const annals::AggregateSpec& Spec() {
    static const annals::AggregateSpec spec{.name = "fragile",
                                            .registry = &FragileEvents(),
                                            .state_schema = kAccountSchema,
                                            .state_table = "test_domain.AccountState"};
    return spec;
  }
  using Aggregate::Aggregate;

  absl::Status Open() {
    OpenedT e;
    e.owner = "ann";
    return Raise(e);
  }
  absl::Status Deposit(int64_t amount) {
    DepositedT e;
    e.amount = amount;
    return Raise(e);
  }

 private:
  friend class annals::Aggregate<Fragile, AccountStateT>;
  void Apply(const Opened& e) { mutable_state().owner = e.owner() ? e.owner()->str() : ""; }
  void Apply(const Deposited& e) {
    mutable_state().balance += e.amount();  // Half-updated when it throws below.
    if (e.amount() == 13) throw std::domain_error("unlucky amount");
    if (e.amount() == 666) throw 666;
    ++mutable_state().deposits;
  }
  void Apply(const Withdrawn& e) { mutable_state().balance -= e.amount(); }
  void Apply(const Renamed&) {}
};

class AggregateExceptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = annals::testing::OpenBufferedStore(dir_.Sub("store"));
    ASSERT_NE(store_, nullptr);
  }

  // Stores a Deposited of `amount` at `schema_version` in `id`, bypassing the
  // aggregate (as an older program or another service would have).
  void StoreDeposit(const std::string& id, int64_t amount, uint32_t schema_version = 2) {
    DepositedT e;
    e.amount = amount;
    absl::StatusOr<std::string> bytes = FragileEvents().Encode<Deposited>(e);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    annals::NewEvent event{.type = "Deposited",
                           .schema_version = schema_version,
                           .content_type = annals::ContentType::kFlatBuffers,
                           .payload = *bytes};
    ASSERT_TRUE(store_->Append(id, annals::ExpectedVersion::Any(), {event}).ok());
  }

  uint64_t StreamVersion(const std::string& id) {
    auto info = store_->GetStream(id);
    return info.ok() ? info->version : 0;
  }

  annals::testing::TempDir dir_;
  std::unique_ptr<annals::EventStore> store_;
};

TEST_F(AggregateExceptionsTest, LoadReturnsInternalWhenApplyThrows) {
  annals::Repository<Fragile> repo(*store_);
  ASSERT_TRUE(repo.Execute("f-1", [](Fragile& f) { return f.Open(); }).ok());
  StoreDeposit("f-1", 13);
  absl::StatusOr<Fragile> loaded = repo.Load("f-1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("aggregate 'fragile' Apply() of 'Deposited' threw std::domain_error: "
                        "unlucky amount"));
  // Loading up to the event before still works: nothing was left behind.
  EXPECT_TRUE(repo.LoadAtVersion("f-1", 1).ok());
}

TEST_F(AggregateExceptionsTest, ANonStdExceptionIsAnUnknownException) {
  annals::Repository<Fragile> repo(*store_);
  ASSERT_TRUE(repo.Execute("f-1", [](Fragile& f) { return f.Open(); }).ok());
  StoreDeposit("f-1", 666);
  absl::StatusOr<Fragile> loaded = repo.Load("f-1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(loaded.status().message(), HasSubstr("threw an unknown exception"));
}

TEST_F(AggregateExceptionsTest, RaiseWhenApplyThrowsBreaksTheAggregateAndSaveRefusesIt) {
  annals::Repository<Fragile> repo(*store_);
  ASSERT_TRUE(repo.Execute("f-1", [](Fragile& f) { return f.Open(); }).ok());
  absl::StatusOr<Fragile> f = repo.Load("f-1");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->Deposit(5).ok());
  absl::Status s = f->Deposit(13);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(s.message(), HasSubstr("std::domain_error: unlucky amount"));
  // The state is half-updated (balance 18, deposits 1): the aggregate says
  // so and refuses everything after.
  EXPECT_EQ(f->apply_error(), s);
  EXPECT_EQ(f->pending_events().size(), 1u);
  EXPECT_EQ(f->Deposit(1), s);
  absl::StatusOr<annals::AppendResult> saved = repo.Save(*f);
  EXPECT_EQ(saved.status(), s);
  EXPECT_EQ(StreamVersion("f-1"), 1u) << "a broken aggregate's events were saved";

  // Through Execute(): the command's Raise() fails, nothing is saved.
  absl::StatusOr<Fragile> executed = repo.Execute("f-1", [](Fragile& a) { return a.Deposit(13); });
  EXPECT_EQ(executed.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StreamVersion("f-1"), 1u);
}

TEST_F(AggregateExceptionsTest, ExecuteReturnsInternalWhenTheCommandThrowsAndOthersGoOn) {
  annals::Repository<Fragile> repo(*store_);
  constexpr int kThreads = 4;
  constexpr int kCommands = 40;
  std::atomic<int> saved{0}, internal{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = "f-" + std::to_string(t);
      for (int i = 0; i < kCommands; ++i) {
        absl::StatusOr<Fragile> r = repo.Execute(id, [&](Fragile& f) -> absl::Status {
          if (i % 2 == 1) throw std::invalid_argument("command rejected by throwing");
          return f.version() == 0 ? f.Open() : f.Deposit(1);
        });
        if (r.ok()) {
          ++saved;
        } else if (r.status().code() == absl::StatusCode::kInternal &&
                   absl::StrContains(r.status().message(),
                                     "Repository::Execute() command threw "
                                     "std::invalid_argument: command rejected by throwing")) {
          ++internal;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(saved.load(), kThreads * kCommands / 2);
  EXPECT_EQ(internal.load(), kThreads * kCommands / 2);
  EXPECT_EQ(other.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(StreamVersion("f-" + std::to_string(t)), kCommands / 2u);
  }
}

TEST_F(AggregateExceptionsTest, AThrowingUpcasterIsInternalEverywhere) {
  annals::Repository<Fragile> repo(*store_);
  ASSERT_TRUE(repo.Execute("f-1", [](Fragile& f) { return f.Open(); }).ok());
  StoreDeposit("f-1", 7, /*schema_version=*/1);
  absl::StatusOr<Fragile> loaded = repo.Load("f-1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(loaded.status().message(),
              HasSubstr("upcaster of 'Deposited' from version 1 threw std::runtime_error: "
                        "upcaster exploded"));

  absl::StatusOr<std::vector<annals::RecordedEvent>> events = store_->ReadStream("f-1");
  ASSERT_TRUE(events.ok());
  const annals::RecordedEvent& old = events->back();
  std::string scratch;
  EXPECT_EQ(FragileEvents().Upcast(old.type, 1, old.payload, &scratch).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(FragileEvents().ToJson(old.type, 1, old.payload).status().code(),
            absl::StatusCode::kInternal);
  EXPECT_EQ(FragileEvents().RenderPayload(old), std::nullopt);
}

TEST_F(AggregateExceptionsTest, GivenWhenThenReportsAThrowingCommand) {
  annals::GivenWhenThen<Fragile> fixture("f-1");
  OpenedT opened;
  opened.owner = "ann";
  EXPECT_TRUE(fixture.Given(opened)
                  .When([](Fragile&) -> absl::Status { throw std::logic_error("oops"); })
                  .ThenError(absl::StatusCode::kInternal, "std::logic_error: oops"));
}

}  // namespace
}  // namespace test_domain
