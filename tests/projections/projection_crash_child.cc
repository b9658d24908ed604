// The child of projection_crash_test; the parent SIGKILLs it at random
// moments. Modes:
//
//   <store> async <batch-events>
//       Runs the "counter" projection asynchronously in small batches until
//       it has caught up with the log, and exits 0 (kBuffered store).
//   <store> inline <seed>
//       kSync store; runs the inline projection "inline_stats", then appends
//       from three threads until killed.
//   <store> rebuild <seed>
//       kSync store; runs "inline_stats" (inline) and "async_stats" (async),
//       appends from two threads, and rebuilds both over and over (inline:
//       Rebuild() and RebuildSideBySide(); async: Rebuild()) until killed.
//
// In every mode it prints "ready" once its projections run (the kill window
// starts then). The appending modes then print one line per acknowledged
// event, "a <position> <version> <value> <stream>", each with one write(2)
// of less than PIPE_BUF bytes, so lines of different threads never
// interleave. Any error ends the child with a message and exit code >= 1:
// the parent expects every child to die by its SIGKILL.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "tests/projections/test_projections.h"

namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& s, int code) {
  std::fprintf(stderr, "crash child: %s: %s\n", what.c_str(), s.ToString().c_str());
  _exit(code);
}

void Say(const std::string& line) {
  if (write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(6);
}

int AsyncCatchUp(const char* path, int batch) {
  annals::Options options;
  options.durability = annals::Durability::kBuffered;
  auto store = annals::EventStore::Open(path, options);
  if (!store.ok()) Die("open", store.status(), 1);
  annals::ProjectionOptions popts;
  popts.batch_events = static_cast<size_t>(batch);
  auto runner = annals::ProjectionRunner::Start(
      **store, std::make_shared<annals::testing::CounterProjection>(), popts);
  if (!runner.ok()) Die("start", runner.status(), 1);
  Say("ready\n");
  if (!(*runner)->WaitForPosition((*store)->last_position(), absl::Minutes(5))) {
    std::fprintf(stderr, "did not catch up: %s\n", (*runner)->status().error.c_str());
    return 1;
  }
  return 0;
}

// Appends 1-3 events of random value to one of 8 streams, forever.
void Appender(annals::EventStore& store, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (;;) {
    const std::string stream = "p-" + std::to_string(rng() % 8);
    const int count = 1 + static_cast<int>(rng() % 3);
    std::vector<std::string> values(count);
    std::vector<annals::NewEvent> events(count);
    for (int i = 0; i < count; ++i) {
      values[i] = std::to_string(rng() % 1'000'000);
      events[i] = annals::NewEvent{.type = "Value", .payload = values[i]};
    }
    auto r = store.Append(stream, annals::ExpectedVersion::Any(), events);
    if (!r.ok()) Die("append", r.status(), 4);
    for (int i = 0; i < count; ++i) {
      Say("a " + std::to_string(r->first_position + i) + " " +
          std::to_string(r->first_version + i) + " " + values[i] + " " + stream + "\n");
    }
  }
}

[[noreturn]] void AppendAndRebuild(const char* path, bool rebuild, uint64_t seed) {
  annals::Options options;
  options.durability = annals::Durability::kSync;
  auto store = annals::EventStore::Open(path, options);
  if (!store.ok()) Die("open", store.status(), 1);
  annals::ProjectionOptions inline_options;
  inline_options.mode = annals::ProjectionMode::kInline;
  auto inline_runner = annals::ProjectionRunner::Start(
      **store, std::make_shared<annals::testing::StatsProjection>("inline_stats"), inline_options);
  if (!inline_runner.ok()) Die("start inline", inline_runner.status(), 1);
  std::unique_ptr<annals::ProjectionRunner> async_runner;
  if (rebuild) {
    annals::ProjectionOptions async_options;
    async_options.batch_events = 64;
    auto r = annals::ProjectionRunner::Start(
        **store, std::make_shared<annals::testing::StatsProjection>("async_stats"), async_options);
    if (!r.ok()) Die("start async", r.status(), 1);
    async_runner = std::move(*r);
  }
  Say("ready\n");
  std::vector<std::thread> threads;
  const int appenders = rebuild ? 2 : 3;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&, t] { Appender(**store, seed * 31 + t); });
  }
  if (rebuild) {
    threads.emplace_back([&] {
      std::mt19937_64 rng(seed * 31 + 7);
      // Two in-place rebuilds (the model is behind the log while they run,
      // which the parent counts) for one side-by-side rebuild; short pauses
      // let appends through.
      for (int i = 0;; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 5));
        absl::Status s =
            i % 3 == 2 ? (*inline_runner)
                             ->RebuildSideBySide(
                                 std::make_shared<annals::testing::StatsProjection>("inline_stats"))
                       : (*inline_runner)->Rebuild();
        if (!s.ok()) Die("inline rebuild", s, 5);
      }
    });
    threads.emplace_back([&] {
      std::mt19937_64 rng(seed * 31 + 8);
      for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
        absl::Status s = async_runner->Rebuild();
        if (!s.ok()) Die("async rebuild", s, 5);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <store-dir> async <batch> | inline <seed> | rebuild <seed>\n",
                 argv[0]);
    return 2;
  }
  const std::string mode = argv[2];
  if (mode == "async") return AsyncCatchUp(argv[1], std::atoi(argv[3]));
  const uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  if (mode == "inline") AppendAndRebuild(argv[1], /*rebuild=*/false, seed);
  if (mode == "rebuild") AppendAndRebuild(argv[1], /*rebuild=*/true, seed);
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
