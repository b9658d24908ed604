// The appender that crash_test SIGKILLs (protocol: crash_test_child.h).
// Opens the store with Durability::kSync, says it is ready, then appends from
// four threads until killed, reporting every acknowledged event.

#include "tests/eventstore/crash_test_child.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "annals/event_store.h"

namespace {

void WriteOrDie(const void* data, size_t size) {
  if (write(1, data, size) != static_cast<ssize_t>(size)) _exit(5);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <store> <seed>\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const uint64_t seed = std::strtoull(argv[2], nullptr, 10);
  annals::Options options;
  options.durability = annals::Durability::kSync;
  auto store = annals::EventStore::Open(path, options);
  if (!store.ok()) {
    std::fprintf(stderr, "child: open failed: %s\n", store.status().ToString().c_str());
    _exit(3);
  }
  WriteOrDie(&annals::testing::kCrashChildReady, 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 31 + t);
      const std::string payload(static_cast<size_t>(100 + rng() % 4000), 'x');
      for (;;) {
        annals::testing::CrashAck ack{};
        std::snprintf(ack.stream, sizeof(ack.stream), "s-%d", static_cast<int>(rng() % 6));
        const int count = 1 + static_cast<int>(rng() % 3);
        std::vector<annals::NewEvent> events(count);
        std::vector<annals::Uuid> ids(count);
        for (int i = 0; i < count; ++i) {
          ids[i] = annals::Uuid::V7();
          events[i] = annals::NewEvent{.id = ids[i], .type = "Tick", .payload = payload};
        }
        auto r = (*store)->Append(ack.stream, annals::ExpectedVersion::Any(), events);
        if (!r.ok()) {
          std::fprintf(stderr, "child: append failed: %s\n", r.status().ToString().c_str());
          _exit(4);
        }
        for (int i = 0; i < count; ++i) {
          ack.position = r->first_position + i;
          ack.version = r->first_version + i;
          ack.id = ids[i].bytes();
          WriteOrDie(&ack, sizeof(ack));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}
