// File: examples/cafe/cafe_cli.h
//
// What the `annals` command line needs to know about the café domain:
// its aggregates for `annals replay --aggregate order|menu|stock`, and the
// JSON rendering of its FlatBuffers events for `read`, `all` and `export`.
//
// Thread-safety: both functions are safe to call from any thread.

#ifndef ANNALS_EXAMPLES_CAFE_CAFE_CLI_H_
#define ANNALS_EXAMPLES_CAFE_CAFE_CLI_H_

#include <optional>
#include <string>
#include <vector>

#include "annals/cli.h"
#include "annals/event.h"

namespace cafe {

// "order", "menu" and "stock".
std::vector<annals::CliAggregate> CafeCliAggregates();

// CliOptions::render_payload for café events (nullopt for anything else).
std::optional<std::string> CafeRenderPayload(const annals::RecordedEvent& event);

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_CAFE_CLI_H_
