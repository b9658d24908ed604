// The `annals` binary: the command line of docs/cli.md with the aggregates
// registered below (for `annals replay`).

#include "annals/cli.h"
#include "examples/cafe/cafe_cli.h"
#include "examples/cafe_read_models/cafe_read_models.h"

int main(int argc, char** argv) {
  annals::CliOptions options;
  // The café example's aggregates (order, menu, stock) and the JSON rendering
  // of its FlatBuffers events.
  options.aggregates = cafe::CafeCliAggregates();
  options.render_payload = cafe::CafeRenderPayload;
  // The café read models, so `annals projection rebuild` knows them.
  options.projections = cafe::CafeProjections();
  return annals::RunCli(argc, argv, options);
}
