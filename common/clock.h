// File: common/clock.h

#ifndef ANNALS_COMMON_CLOCK_H_
#define ANNALS_COMMON_CLOCK_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace annals {

// UTC microseconds since the Unix epoch.
int64_t NowMicros();

// Microseconds on the monotonic clock, for measuring durations only (it does
// not jump with the wall clock). Inline: the append path reads it per call
// when statistics are on.
inline uint64_t MonotonicMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// RFC 3339 with microseconds, e.g. "2026-11-23T10:00:00.123456Z".
std::string FormatTimestampMicros(int64_t micros);

// Parses RFC 3339 (any offset, fractional seconds optional) to UTC micros.
absl::StatusOr<int64_t> ParseTimestampMicros(std::string_view text);

}  // namespace annals

#endif  // ANNALS_COMMON_CLOCK_H_
