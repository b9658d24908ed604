// File: examples/cafe/cafe_registry.h
//
// The café domain's event registry and embedded schemas.
//
// Thread-safety: CafeEvents() is built once on first use (thread-safe) and is
// immutable afterwards.

#ifndef ANNALS_EXAMPLES_CAFE_CAFE_REGISTRY_H_
#define ANNALS_EXAMPLES_CAFE_CAFE_REGISTRY_H_

#include <string_view>

#include "annals/event_registry.h"

namespace cafe {

// Texts of schemas/cafe_events.fbs and schemas/cafe_state.fbs, embedded at
// build time (annals_embed_text in CMake).
extern const std::string_view kCafeEventsSchema;
extern const std::string_view kCafeStateSchema;

// Every café event, registered with its current schema version, plus the
// schema text for JSON rendering.
const annals::EventRegistry& CafeEvents();

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_CAFE_REGISTRY_H_
