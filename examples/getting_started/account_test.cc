// The account's rules, as given-when-then tests: no store, no disk.

#include "bank/account.h"

#include "annals/given_when_then.h"
#include "gtest/gtest.h"

namespace bank {
namespace {

AccountOpenedT Opened(std::string owner) {
  AccountOpenedT e;
  e.owner = std::move(owner);
  return e;
}

MoneyDepositedT Deposited(int64_t cents) {
  MoneyDepositedT e;
  e.amount_cents = cents;
  return e;
}

MoneyWithdrawnT Withdrawn(int64_t cents) {
  MoneyWithdrawnT e;
  e.amount_cents = cents;
  return e;
}

TEST(AccountTest, WithdrawsWhatIsThere) {
  annals::GivenWhenThen<Account> account("account-1");
  EXPECT_TRUE(account.Given(Opened("Ada"), Deposited(100))
                  .When([](Account& a) { return a.Withdraw(60); })
                  .ThenEvents(Withdrawn(60)));
}

TEST(AccountTest, RefusesAnOverdraft) {
  annals::GivenWhenThen<Account> account("account-1");
  EXPECT_TRUE(account.Given(Opened("Ada"), Deposited(100))
                  .When([](Account& a) { return a.Withdraw(101); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "insufficient funds"));
}

TEST(AccountTest, OpensOnce) {
  annals::GivenWhenThen<Account> account("account-1");
  EXPECT_TRUE(account.Given(Opened("Ada"))
                  .When([](Account& a) { return a.Open("Bob"); })
                  .ThenError(absl::StatusCode::kFailedPrecondition, "already open"));
}

}  // namespace
}  // namespace bank
