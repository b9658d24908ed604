// Aggregate base behaviour and the given-when-then fixture, on the test
// account domain.

#include "annals/aggregate.h"

#include <string>

#include "account_v1_generated.h"
#include "annals/given_when_then.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/aggregates/account.h"
#include "tests/common/recorded_events.h"

namespace test_domain {
namespace {

using ::testing::HasSubstr;

OpenedT OpenedBy(std::string owner) {
  OpenedT e;
  e.owner = std::move(owner);
  return e;
}

DepositedT DepositOf(int64_t amount, std::string memo = {}) {
  DepositedT e;
  e.amount = amount;
  e.memo = std::move(memo);
  return e;
}

WithdrawnT WithdrawalOf(int64_t amount) {
  WithdrawnT e;
  e.amount = amount;
  return e;
}

TEST(AggregateTest, RaiseAppliesAtNextVersionAndQueues) {
  Account account("acc-1");
  ASSERT_TRUE(account.Open("ann").ok());
  ASSERT_TRUE(account.Deposit(50, "salary").ok());
  EXPECT_EQ(account.version(), 2u);
  EXPECT_EQ(account.persisted_version(), 0u);
  EXPECT_EQ(account.state().balance, 50);
  EXPECT_EQ(account.state().last_memo, "salary");
  ASSERT_EQ(account.pending_events().size(), 2u);
  EXPECT_EQ(account.pending_events()[0].type, "Opened");
  EXPECT_EQ(account.pending_events()[1].type, "Deposited");
  EXPECT_FALSE(account.pending_events()[0].id.is_nil());
  EXPECT_NE(account.pending_events()[0].id, account.pending_events()[1].id);

  auto drained = account.TakePendingEvents();
  EXPECT_EQ(drained.size(), 2u);
  EXPECT_TRUE(account.pending_events().empty());
  EXPECT_EQ(account.persisted_version(), 2u);
}

TEST(AggregateTest, ApplyStoredRejectsAGapBeforeMutating) {
  Account source("acc-1");
  ASSERT_TRUE(source.Open("ann").ok());
  ASSERT_TRUE(source.Deposit(10).ok());
  const auto events = source.TakePendingEvents();

  Account replayed("acc-1");
  ASSERT_TRUE(replayed.ApplyStored(1, events[0].type, 1, events[0].payload).ok());
  absl::Status gap = replayed.ApplyStored(3, events[1].type, 1, events[1].payload);
  EXPECT_EQ(gap.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(gap.message()), HasSubstr("does not follow version 1"));
  EXPECT_EQ(replayed.version(), 1u);
  EXPECT_EQ(replayed.state().balance, 0);  // untouched
  EXPECT_TRUE(replayed.ApplyStored(2, events[1].type, 1, events[1].payload).ok());
  EXPECT_EQ(replayed.state().balance, 10);
}

TEST(AggregateTest, UnknownEventTypeIsAClearError) {
  Account account("acc-1");
  absl::Status status = account.ApplyStored(1, "Closed", 1, "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(status.message()), HasSubstr("'Closed'"));
  EXPECT_EQ(account.version(), 0u);
}

TEST(AggregateTest, MalformedPayloadIsDataLoss) {
  Account account("acc-1");
  absl::Status status = account.ApplyStored(1, "Opened", 1, "not a flatbuffer");
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(account.version(), 0u);
}

// Events written by older code reach Apply() as the current version: a
// compatible addition with the new field at its default, a renamed-and-
// reshaped event through the registry's upcaster chain (v1 -> v2 -> v3).
TEST(AggregateTest, AppliesOldSchemaVersionsOfItsEvents) {
  v1::OpenedT opened;
  opened.owner = "old-timer";
  v1::DepositedT deposit;
  deposit.amount = 99;
  v1::RenamedT renamed;
  renamed.full_name = "Ada Lovelace";
  Account account("acc-old");
  ASSERT_TRUE(account.ApplyStored(1, "Opened", 1, Bytes(opened)).ok());
  ASSERT_TRUE(account.ApplyStored(2, "Deposited", 1, Bytes(deposit)).ok());
  ASSERT_TRUE(account.ApplyStored(3, "Renamed", 1, Bytes(renamed)).ok());
  EXPECT_EQ(account.state().owner, "old-timer");
  EXPECT_EQ(account.state().balance, 99);
  EXPECT_EQ(account.state().last_memo, "");
  EXPECT_EQ(account.state().display_name, "Lovelace, Ada");
}

TEST(AggregateTest, StateRoundTripsThroughSnapshotBytes) {
  Account account("acc-1");
  ASSERT_TRUE(account.Open("ann").ok());
  ASSERT_TRUE(account.Deposit(70, "x").ok());
  const std::string bytes = account.EncodeState();
  Account restored("acc-1");
  ASSERT_TRUE(restored.RestoreState(2, bytes).ok());
  EXPECT_EQ(restored.version(), 2u);
  EXPECT_EQ(restored.state().owner, "ann");
  EXPECT_EQ(restored.state().balance, 70);
  EXPECT_EQ(restored.RestoreState(2, "garbage").code(), absl::StatusCode::kDataLoss);
}

TEST(AggregateTest, StateJsonAndFingerprint) {
  Account account("acc-1");
  ASSERT_TRUE(account.Open("ann").ok());
  ASSERT_TRUE(account.Deposit(70).ok());
  auto json = account.StateJson();
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"owner\":\"ann\""));
  EXPECT_THAT(*json, HasSubstr("\"balance\":70"));
  EXPECT_EQ(Account::Fingerprint().size(), 64u);
  EXPECT_NE(Account::Fingerprint(), AccountV2Logic::Fingerprint());
}

TEST(AggregateTest, ReplayToJsonRebuildsFromRecordedEvents) {
  Account source("acc-9");
  ASSERT_TRUE(source.Open("bo").ok());
  ASSERT_TRUE(source.Deposit(5).ok());
  std::vector<annals::RecordedEvent> recorded =
      annals::testing::AsRecorded("acc-9", source.TakePendingEvents());
  auto json = annals::ReplayToJson<Account>(recorded);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_THAT(*json, HasSubstr("\"balance\":5"));
  auto empty = annals::ReplayToJson<Account>({});
  ASSERT_TRUE(empty.ok());
  EXPECT_THAT(*empty, HasSubstr("\"balance\":0"));
  recorded[1].content_type = annals::ContentType::kJson;
  EXPECT_EQ(annals::ReplayToJson<Account>(recorded).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// --- given-when-then ---

TEST(AccountGivenWhenThen, DepositRaisesDeposited) {
  annals::GivenWhenThen<Account> account;
  EXPECT_TRUE(account.Given(OpenedBy("ann"))
                  .When([](Account& a) { return a.Deposit(25, "gift"); })
                  .ThenEvents(DepositOf(25, "gift")));
  EXPECT_EQ(account.aggregate().state().balance, 25);
}

TEST(AccountGivenWhenThen, OverdraftIsRejectedAndRaisesNothing) {
  annals::GivenWhenThen<Account> account;
  EXPECT_TRUE(account.Given(OpenedBy("ann"), DepositOf(10))
                  .When([](Account& a) { return a.Withdraw(11); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "insufficient funds"));
  EXPECT_TRUE(account.When([](Account& a) { return a.Withdraw(10); }).ThenEvents(WithdrawalOf(10)));
}

TEST(AccountGivenWhenThen, DepositBeforeOpenIsRejected) {
  annals::GivenWhenThen<Account> account;
  EXPECT_TRUE(account.When([](Account& a) { return a.Deposit(1); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "not open"));
}

TEST(AccountGivenWhenThen, FixtureReportsMismatches) {
  // The fixture itself must be able to fail.
  annals::GivenWhenThen<Account> account;
  account.Given(OpenedBy("ann")).When([](Account& a) { return a.Deposit(25); });
  ::testing::AssertionResult wrong_amount = account.ThenEvents(DepositOf(26));
  EXPECT_FALSE(wrong_amount);
  EXPECT_THAT(wrong_amount.message(), HasSubstr("\"amount\":26"));
  EXPECT_THAT(wrong_amount.message(), HasSubstr("\"amount\":25"));
  EXPECT_FALSE(account.ThenNothing());
  EXPECT_FALSE(account.ThenError(absl::StatusCode::kFailedPrecondition));

  // A "rejection" that raised events first is caught.
  annals::GivenWhenThen<Account> sloppy;
  sloppy.Given(OpenedBy("ann")).When([](Account& a) {
    a.Deposit(1).IgnoreError();
    return absl::FailedPreconditionError("changed my mind");
  });
  ::testing::AssertionResult raised = sloppy.ThenError(absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(raised);
  EXPECT_THAT(raised.message(), HasSubstr("must raise nothing"));
}

}  // namespace
}  // namespace test_domain
