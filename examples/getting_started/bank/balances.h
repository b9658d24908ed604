// Balances: a read model of every account's balance, kept by a projection,
// and the query that reads it.

#ifndef BANK_BALANCES_H_
#define BANK_BALANCES_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event_store.h"
#include "annals/projection.h"

namespace bank {

// Table "balance": account id -> balance in cents (decimal text).
class Balances : public annals::Projection {
 public:
  std::string_view name() const override { return "balances"; }
  std::vector<std::string> event_types() const override {
    return {"MoneyDeposited", "MoneyWithdrawn"};
  }
  absl::Status Apply(const annals::EventView& event, annals::ReadModelWriter& writer) override;
};

// The balance of `account` as the read model has it (0 for an unknown one).
absl::StatusOr<int64_t> BalanceOf(annals::EventStore& store, std::string_view account);

}  // namespace bank

#endif  // BANK_BALANCES_H_
