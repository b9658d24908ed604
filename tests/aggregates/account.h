// File: tests/aggregates/account.h
//
// A small bank-account aggregate for the aggregate, repository and snapshot
// tests. Its events, schemas and registry are in
// tests/event_registry/account_events.h.

#ifndef ANNALS_TESTS_AGGREGATES_ACCOUNT_H_
#define ANNALS_TESTS_AGGREGATES_ACCOUNT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "annals/aggregate.h"
#include "tests/event_registry/account_events.h"

namespace test_domain {

template <typename Derived, uint32_t kStateVersion>
class AccountBase : public annals::Aggregate<Derived, AccountStateT> {
 public:
  using Events = annals::EventList<Opened, Deposited, Withdrawn, Renamed>;
  static const annals::AggregateSpec& Spec() {
    static const annals::AggregateSpec spec{.name = "account",
                                            .registry = &AccountEvents(),
                                            .state_schema = kAccountSchema,
                                            .state_table = "test_domain.AccountState",
                                            .state_version = kStateVersion};
    return spec;
  }
  using annals::Aggregate<Derived, AccountStateT>::Aggregate;

  absl::Status Open(std::string owner) {
    if (this->version() != 0) return absl::FailedPreconditionError("account already open");
    OpenedT e;
    e.owner = std::move(owner);
    return this->Raise(e);
  }
  absl::Status Deposit(int64_t amount, std::string memo = {}) {
    if (this->version() == 0) return absl::FailedPreconditionError("account is not open");
    if (amount <= 0) return absl::InvalidArgumentError("amount must be positive");
    DepositedT e;
    e.amount = amount;
    e.memo = std::move(memo);
    return this->Raise(e);
  }
  absl::Status Withdraw(int64_t amount) {
    if (this->version() == 0) return absl::FailedPreconditionError("account is not open");
    if (amount > this->state().balance) {
      return absl::FailedPreconditionError("insufficient funds");
    }
    WithdrawnT e;
    e.amount = amount;
    return this->Raise(e);
  }

  // Counts Apply() calls, to tell replayed events from snapshot restores.
  int applied = 0;

 private:
  friend class annals::Aggregate<Derived, AccountStateT>;
  void Apply(const Opened& e) {
    ++applied;
    this->mutable_state().owner = e.owner() ? e.owner()->str() : "";
  }
  void Apply(const Deposited& e) {
    ++applied;
    this->mutable_state().balance += e.amount();
    ++this->mutable_state().deposits;
    this->mutable_state().last_memo = e.memo() ? e.memo()->str() : "";
  }
  void Apply(const Withdrawn& e) {
    ++applied;
    this->mutable_state().balance -= e.amount();
  }
  void Apply(const Renamed& e) {
    ++applied;
    this->mutable_state().display_name = e.display_name() ? e.display_name()->str() : "";
  }
};

class Account : public AccountBase<Account, 1> {
 public:
  using AccountBase::AccountBase;
};

// Same events and state layout, but Apply() logic "changed": the developer
// bumped the state version, so Account's snapshots must not be used.
class AccountV2Logic : public AccountBase<AccountV2Logic, 2> {
 public:
  using AccountBase::AccountBase;
};

}  // namespace test_domain

#endif  // ANNALS_TESTS_AGGREGATES_ACCOUNT_H_
