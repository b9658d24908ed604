// File: tests/projections/test_projections.h
//
// Projections shared by the projection tests and the crash-test child.

#ifndef ANNALS_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_
#define ANNALS_TESTS_PROJECTIONS_TEST_PROJECTIONS_H_

#include <atomic>
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
    return w.Put("log", coding::BigEndian64(e.position),
                 std::string(e.stream) + "/" + std::to_string(e.version) + "/" +
                     std::string(e.type));
  }

 private:
  std::string name_;
  std::vector<std::string> types_;
  std::string prefix_;
  std::string count_table_;
};

// Every entry of `table` in a reader, in key order.
inline std::vector<std::pair<std::string, std::string>> Dump(ReadModelReader& reader,
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
