// File: tests/common/recorded_events.h
//
// An aggregate's pending events as the store would record them, for tests
// that replay events without a store.

#ifndef ANNALS_TESTS_COMMON_RECORDED_EVENTS_H_
#define ANNALS_TESTS_COMMON_RECORDED_EVENTS_H_

#include <string_view>
#include <vector>

#include "annals/aggregate.h"
#include "annals/event.h"

namespace annals::testing {

// `pending` (from Aggregate::TakePendingEvents()) as stream `stream`'s
// events 1..n: id, type, schema version and FlatBuffers payload as raised;
// no position, time or hash (no store assigned them).
inline std::vector<RecordedEvent> AsRecorded(std::string_view stream,
                                             const std::vector<PendingEvent>& pending) {
  std::vector<RecordedEvent> recorded;
  uint64_t version = 0;
  for (const PendingEvent& e : pending) {
    RecordedEvent r;
    r.stream = std::string(stream);
    r.version = ++version;
    r.id = e.id;
    r.type = std::string(e.type);
    r.schema_version = e.schema_version;
    r.content_type = ContentType::kFlatBuffers;
    r.payload = e.payload;
    recorded.push_back(std::move(r));
  }
  return recorded;
}

}  // namespace annals::testing

#endif  // ANNALS_TESTS_COMMON_RECORDED_EVENTS_H_
