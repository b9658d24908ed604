// The bank service: opens its store, keeps the balances read model inline
// (queries see every committed deposit at once), and runs a few commands.
//
//   bank_service <store directory>

#include <iostream>
#include <memory>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "annals/repository.h"
#include "bank/account.h"
#include "bank/balances.h"

namespace {

absl::Status Run(const char* path) {
  absl::StatusOr<std::unique_ptr<annals::EventStore>> store = annals::EventStore::Open(path);
  if (!store.ok()) return store.status();

  absl::StatusOr<std::unique_ptr<annals::ProjectionRunner>> balances =
      annals::ProjectionRunner::Start(**store, std::make_shared<bank::Balances>(),
                                      {.mode = annals::ProjectionMode::kInline});
  if (!balances.ok()) return balances.status();

  // Load, run the command, save; retried when another writer got there first.
  annals::Repository<bank::Account> accounts(**store, {.snapshot_every = 100});
  for (auto command : {+[](bank::Account& a) { return a.Open("Ada"); },
                       +[](bank::Account& a) { return a.Deposit(10'000); },
                       +[](bank::Account& a) { return a.Withdraw(2'500); }}) {
    absl::StatusOr<bank::Account> account = accounts.Execute("account-ada", command);
    // Run twice on the same store, Open() is refused: the account exists.
    if (!account.ok() && !absl::IsFailedPrecondition(account.status())) return account.status();
  }
  // A rule the aggregate enforces: nothing is stored for a refused command.
  absl::StatusOr<bank::Account> refused =
      accounts.Execute("account-ada", [](bank::Account& a) { return a.Withdraw(1'000'000); });
  std::cout << "overdraft: " << refused.status() << "\n";

  absl::StatusOr<bank::Account> ada = accounts.Load("account-ada");
  if (!ada.ok()) return ada.status();
  absl::StatusOr<int64_t> balance = bank::BalanceOf(**store, "account-ada");
  if (!balance.ok()) return balance.status();
  std::cout << "account-ada at version " << ada->version() << ": balance "
            << ada->state().balance_cents << " cents; read model: " << *balance << " cents\n";
  return ada->state().balance_cents == *balance
             ? absl::OkStatus()
             : absl::InternalError("the read model disagrees with the aggregate");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: bank_service <store directory>\n";
    return 2;
  }
  absl::Status status = Run(argv[1]);
  if (!status.ok()) {
    std::cerr << "bank_service: " << status << "\n";
    return 1;
  }
  return 0;
}
