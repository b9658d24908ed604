#include "bank/events.h"

#include <cstdlib>
#include <iostream>

namespace bank {

const annals::EventRegistry& BankEvents() {
  static const annals::EventRegistry* registry = [] {
    auto* r = new annals::EventRegistry();
    for (absl::Status s : {r->AddSchema(kBankSchema), r->Register<AccountOpened>("AccountOpened"),
                           r->Register<MoneyDeposited>("MoneyDeposited"),
                           r->Register<MoneyWithdrawn>("MoneyWithdrawn")}) {
      if (!s.ok()) {  // A programming error: the schema and the code disagree.
        std::cerr << "bank: " << s << "\n";
        std::abort();
      }
    }
    return r;
  }();
  return *registry;
}

}  // namespace bank
