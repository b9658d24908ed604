// File: tests/event_registry/account_events.h
//
// The events of the test bank-account domain, with a schema history
// (tests/event_registry/schemas/: version 1, version 2 of Renamed, and the
// current code) and its registry. The registry tests use it alone; the
// aggregate, repository, snapshot and store tests use it through the Account
// aggregate of tests/aggregates/account.h.
//
// Thread-safety: AccountEvents() is built once on first use (a function-local
// static) and is read-only afterwards.

#ifndef ANNALS_TESTS_EVENT_REGISTRY_ACCOUNT_EVENTS_H_
#define ANNALS_TESTS_EVENT_REGISTRY_ACCOUNT_EVENTS_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "account_generated.h"
#include "annals/event_registry.h"

namespace test_domain {

extern const std::string_view kAccountSchema;
extern const std::string_view kAccountV1Schema;

// Registry with Opened, Deposited (v1), Withdrawn, Renamed (v3 + upcasters).
const annals::EventRegistry& AccountEvents();

// Upcasters of Renamed, exposed for the registry tests.
absl::StatusOr<std::string> RenamedV1ToV2(std::string_view payload);
absl::StatusOr<std::string> RenamedV2ToV3(std::string_view payload);

// The bytes of an event as a store holds them, whichever schema version
// (namespace test_domain, v1 or v2) its native type `Native` is of.
template <typename Native>
std::string Bytes(const Native& event) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.Finish(Native::TableType::Pack(fbb, &event));
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace test_domain

#endif  // ANNALS_TESTS_EVENT_REGISTRY_ACCOUNT_EVENTS_H_
