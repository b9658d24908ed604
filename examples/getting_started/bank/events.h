// The bank's event registry: which FlatBuffers table each stored event type
// is, and the schema text that renders events and state as JSON.

#ifndef BANK_EVENTS_H_
#define BANK_EVENTS_H_

#include <string_view>

#include "annals/event_registry.h"
#include "bank_generated.h"

namespace bank {

// The text of schemas/bank.fbs, embedded at build time (CMakeLists.txt).
extern const std::string_view kBankSchema;

// Built once, on first use; thread-safe.
const annals::EventRegistry& BankEvents();

}  // namespace bank

#endif  // BANK_EVENTS_H_
