// The child of projection_crash_test: opens the store, runs the "counter"
// projection asynchronously in small batches until it has caught up with the
// log, and exits 0. The parent SIGKILLs it at random moments.
//
// Usage: projection_crash_child <store-dir> <batch-events>

#include <cstdio>
#include <cstdlib>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "tests/projections/test_projections.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <store-dir> <batch-events>\n", argv[0]);
    return 2;
  }
  annals::Options options;
  options.durability = annals::Durability::kBuffered;
  auto store = annals::EventStore::Open(argv[1], options);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  annals::ProjectionOptions popts;
  popts.batch_events = static_cast<size_t>(std::atoi(argv[2]));
  auto runner = annals::ProjectionRunner::Start(
      **store, std::make_shared<annals::testing::CounterProjection>(), popts);
  if (!runner.ok()) {
    std::fprintf(stderr, "start: %s\n", std::string(runner.status().message()).c_str());
    return 1;
  }
  // Tells the parent that the projection is running (the kill window starts).
  std::fputs("ready\n", stdout);
  std::fflush(stdout);
  if (!(*runner)->WaitForPosition((*store)->last_position(), absl::Minutes(5))) {
    std::fprintf(stderr, "did not catch up: %s\n", (*runner)->status().error.c_str());
    return 1;
  }
  return 0;
}
