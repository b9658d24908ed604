// cafe_annals: the `annals` command line for café stores. Everything the
// stock `annals` binary does, plus what needs the café's code:
//   cafe_annals replay <store> order-000001 --aggregate order   (also menu, stock)
//   cafe_annals read <store> order-000001      events rendered as JSON, not base64
//   cafe_annals projection rebuild <store> cafe_board            (also cafe_sales)

#include "annals/cli.h"
#include "examples/cafe/cafe_cli.h"
#include "examples/cafe_read_models/cafe_read_models.h"

int main(int argc, char** argv) {
  annals::CliOptions options;
  // The café's aggregates (order, menu, stock) for `replay`, and the JSON
  // rendering of its FlatBuffers events for `read`, `all` and `export`.
  options.aggregates = cafe::CafeCliAggregates();
  options.render_payload = cafe::CafeRenderPayload;
  // The café's read models, so that `projection rebuild` and
  // `projection replay-parked` can run them.
  options.projections = cafe::CafeProjections();
  return annals::RunCli(argc, argv, options);
}
