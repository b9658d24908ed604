// File: annals/cli.h
//
// The `annals` command line as a library, so that a domain service can build
// its own annals-style binary that knows its aggregates (for `annals replay`)
// and renders its FlatBuffers events as JSON (for `read`, `all`, `export`).
// The command-line contract is documented in docs/cli.md.
//
// Example (a service's own tools/orders_annals.cc):
//   int main(int argc, char** argv) {
//     annals::CliOptions options;
//     options.aggregates.push_back({
//         .name = "order",
//         .description = "an order of the orders service",
//         .replay = [](absl::Span<const annals::RecordedEvent> events)
//             -> absl::StatusOr<std::string> { return ReplayOrderAsJson(events); }});
//     options.render_payload = [](const annals::RecordedEvent& e) {
//       return orders::EventToJson(e);  // std::nullopt for unknown types
//     };
//     return annals::RunCli(argc, argv, options);
//   }
//
// Thread-safety: RunCli() may run concurrently on different threads only with
// distinct output streams; the callbacks in CliOptions are called on the
// thread that runs RunCli().

#ifndef ANNALS_CLI_H_
#define ANNALS_CLI_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "annals/event.h"

namespace annals {

class Projection;  // annals/projection.h

// An aggregate that `annals replay <store> <stream> --aggregate NAME` can
// rebuild.
struct CliAggregate {
  // The value of --aggregate, e.g. "order". Unique within CliOptions.
  std::string name{};
  // One line for `annals replay --help` and the unknown-aggregate error.
  std::string description{};
  // Rebuilds the state from a stream's events, given in version order (a
  // prefix of the stream when --to-version or --as-of is given; possibly
  // empty). Returns the state as the text of a JSON object. A non-OK status
  // ends the command with the exit code of its code (kDataLoss -> 5, ...).
  std::function<absl::StatusOr<std::string>(absl::Span<const RecordedEvent> events)> replay{};
};

struct CliOptions {
  // The aggregates `annals replay` knows. Default: none.
  std::vector<CliAggregate> aggregates{};
  // Renders a payload that is not JSON (e.g. a FlatBuffers event) as the
  // text of a JSON value, or returns nullopt when it does not know the event;
  // the CLI then writes the payload as "data_base64". Not called for
  // ContentType::kJson payloads. Default: unset (base64 for every non-JSON
  // payload).
  std::function<std::optional<std::string>(const RecordedEvent& event)> render_payload{};
  // The projections `annals projection rebuild|replay-parked` can run (they
  // need the code); `annals projections` lists these and every projection
  // with state in the store. Names must be unique. Default: none.
  std::vector<std::shared_ptr<Projection>> projections{};
};

// RunCli()
//
// Runs the command line `argv` (argv[0] is the program name) and returns the
// process exit code: 0 success, 1 other error, 2 usage error, 3 wrong
// expected version, 4 store or stream not found, 5 corruption or tampering.
// Reads stdin, writes JSON to stdout and one-line errors to stderr.
int RunCli(int argc, char** argv, const CliOptions& options = {});

// RunCli() with injected streams, for tests and embedding: `in` replaces
// stdin, `out` stdout and `err` stderr. Never calls exit().
int RunCli(int argc, char** argv, const CliOptions& options, std::istream& in, std::ostream& out,
           std::ostream& err);

}  // namespace annals

#endif  // ANNALS_CLI_H_
