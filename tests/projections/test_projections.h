// File: tests/projections/test_projections.h
//
// Projections shared by the projection tests and the crash-test child.

#ifndef ANNALS_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_
#define ANNALS_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_

#include <atomic>
#include <charconv>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "annals/event_store.h"
#include "annals/projection.h"
#include "common/coding.h"

namespace annals::testing {

// Counts events per stream ("count" table, read-modify-write, so a duplicate
// application shows as a wrong count) and records each applied position
// ("log" table: be64 position -> stream/version/type), so a skipped or repeated
// event is visible.
class CounterProjection : public Projection {
 public:
  explicit CounterProjection(std::string name = "counter", std::vector<std::string> types = {},
                             std::string prefix = {}, std::string count_table = "count")
      : name_(std::move(name)),
        types_(std::move(types)),
        prefix_(std::move(prefix)),
        count_table_(std::move(count_table)) {}

  std::string_view name() const override { return name_; }
  std::vector<std::string> event_types() const override { return types_; }
  std::string stream_prefix() const override { return prefix_; }

  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    absl::StatusOr<std::optional<std::string>> count = w.Get(count_table_, e.stream);
    if (!count.ok()) return count.status();
    const long n = count->has_value() ? std::stol(**count) : 0;
    absl::Status s = w.Put(count_table_, e.stream, std::to_string(n + 1));
    if (!s.ok()) return s;
    return w.Put(
        "log", coding::BigEndian64(e.position),
        std::string(e.stream) + "/" + std::to_string(e.version) + "/" + std::string(e.type));
  }

 private:
  std::string name_;
  std::vector<std::string> types_;
  std::string prefix_;
  std::string count_table_;
};

// For the crash tests: per stream, "count sum last_version" in table "stats",
// where sum adds the events' payloads (decimal numbers). Read-modify-write,
// so an event applied twice or skipped changes count and sum, and
// last_version == count holds only when versions 1..count were all applied.
// Handles streams starting with "p-".
class StatsProjection : public Projection {
 public:
  explicit StatsProjection(std::string name) : name_(std::move(name)) {}
  std::string_view name() const override { return name_; }
  std::string stream_prefix() const override { return "p-"; }

  absl::Status Apply(const EventView& e, ReadModelWriter& w) override {
    absl::StatusOr<std::optional<std::string>> stored = w.Get("stats", e.stream);
    if (!stored.ok()) return stored.status();
    Stats s;
    if (stored->has_value() && !Parse(**stored, &s)) {
      return absl::DataLossError("malformed stats row");
    }
    uint64_t value = 0;
    if (!ParseNumber(e.payload, &value)) return absl::InvalidArgumentError("payload not a number");
    ++s.count;
    s.sum += value;
    s.last_version = e.version;
    return w.Put("stats", e.stream, Format(s));
  }

  struct Stats {
    uint64_t count = 0;
    uint64_t sum = 0;
    uint64_t last_version = 0;
  };
  static std::string Format(const Stats& s) {
    return std::to_string(s.count) + " " + std::to_string(s.sum) + " " +
           std::to_string(s.last_version);
  }
  static bool ParseNumber(std::string_view text, uint64_t* out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc() && end == text.data() + text.size();
  }
  static bool Parse(std::string_view text, Stats* s) {
    const size_t a = text.find(' ');
    const size_t b = a == std::string_view::npos ? a : text.find(' ', a + 1);
    return b != std::string_view::npos && ParseNumber(text.substr(0, a), &s->count) &&
           ParseNumber(text.substr(a + 1, b - a - 1), &s->sum) &&
           ParseNumber(text.substr(b + 1), &s->last_version);
  }

 private:
  std::string name_;
};

// Every entry of `table` in a reader, in key order.
inline std::vector<std::pair<std::string, std::string>> Dump(const ReadModelReader& reader,
                                                             std::string_view table) {
  std::vector<std::pair<std::string, std::string>> out;
  absl::Status s = reader.Scan(table, "", [&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return true;
  });
  if (!s.ok()) out.emplace_back("<error>", std::string(s.message()));
  return out;
}

}  // namespace annals::testing

#endif  // ANNALS_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_
