// An account: commands check the rules and raise events; Apply() is the only
// code that changes the state, for new and stored events alike.

#ifndef BANK_ACCOUNT_H_
#define BANK_ACCOUNT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "bank/events.h"

namespace bank {

class Account : public annals::Aggregate<Account, AccountStateT> {
 public:
  using Events = annals::EventList<AccountOpened, MoneyDeposited, MoneyWithdrawn>;
  static const annals::AggregateSpec& Spec() {
    static const annals::AggregateSpec spec{.name = "account",
                                            .registry = &BankEvents(),
                                            .state_schema = kBankSchema,
                                            .state_table = "bank.AccountState"};
    return spec;
  }
  using Aggregate::Aggregate;  // Account(std::string id)

  absl::Status Open(std::string owner) {
    if (version() != 0) return absl::FailedPreconditionError("the account is already open");
    if (owner.empty()) return absl::InvalidArgumentError("an account needs an owner");
    AccountOpenedT e;
    e.owner = std::move(owner);
    return Raise(e);
  }

  absl::Status Deposit(int64_t amount_cents) {
    if (version() == 0) return absl::FailedPreconditionError("the account is not open");
    if (amount_cents <= 0) return absl::InvalidArgumentError("a deposit must be positive");
    MoneyDepositedT e;
    e.amount_cents = amount_cents;
    return Raise(e);
  }

  absl::Status Withdraw(int64_t amount_cents) {
    if (version() == 0) return absl::FailedPreconditionError("the account is not open");
    if (amount_cents <= 0) return absl::InvalidArgumentError("a withdrawal must be positive");
    if (amount_cents > state().balance_cents) {
      return absl::FailedPreconditionError("insufficient funds");
    }
    MoneyWithdrawnT e;
    e.amount_cents = amount_cents;
    return Raise(e);
  }

 private:
  friend class annals::Aggregate<Account, AccountStateT>;
  void Apply(const AccountOpened& e) {
    mutable_state().owner = e.owner() != nullptr ? e.owner()->str() : "";
  }
  void Apply(const MoneyDeposited& e) { mutable_state().balance_cents += e.amount_cents(); }
  void Apply(const MoneyWithdrawn& e) { mutable_state().balance_cents -= e.amount_cents(); }
};

}  // namespace bank

#endif  // BANK_ACCOUNT_H_
