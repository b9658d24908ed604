#include "bank/balances.h"

#include <charconv>
#include <optional>
#include <string>

#include "annals/read_model.h"
#include "bank/events.h"

namespace bank {
namespace {

absl::StatusOr<int64_t> ParseCents(const std::optional<std::string>& stored) {
  if (!stored.has_value()) return 0;
  int64_t cents = 0;
  auto [end, ec] = std::from_chars(stored->data(), stored->data() + stored->size(), cents);
  if (ec != std::errc() || end != stored->data() + stored->size()) {
    return absl::DataLossError("table 'balance' holds a value that is not a number");
  }
  return cents;
}

}  // namespace

absl::Status Balances::Apply(const annals::EventView& event, annals::ReadModelWriter& writer) {
  // The registry decodes (and upcasts) the stored payload.
  int64_t change = 0;
  if (event.type == "MoneyDeposited") {
    absl::StatusOr<MoneyDepositedT> e =
        BankEvents().Decode<MoneyDeposited>(event.type, event.schema_version, event.payload);
    if (!e.ok()) return e.status();
    change = e->amount_cents;
  } else {
    absl::StatusOr<MoneyWithdrawnT> e =
        BankEvents().Decode<MoneyWithdrawn>(event.type, event.schema_version, event.payload);
    if (!e.ok()) return e.status();
    change = -e->amount_cents;
  }
  absl::StatusOr<std::optional<std::string>> stored = writer.Get("balance", event.stream);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<int64_t> balance = ParseCents(*stored);
  if (!balance.ok()) return balance.status();
  return writer.Put("balance", event.stream, std::to_string(*balance + change));
}

absl::StatusOr<int64_t> BalanceOf(annals::EventStore& store, std::string_view account) {
  absl::StatusOr<std::unique_ptr<annals::ReadModelSnapshot>> view =
      annals::ReadModelSnapshot::Open(store, "balances");
  if (!view.ok()) return view.status();
  absl::StatusOr<std::optional<std::string>> stored = (*view)->Get("balance", account);
  if (!stored.ok()) return stored.status();
  return ParseCents(*stored);
}

}  // namespace bank
