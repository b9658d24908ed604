// File: common/clock.h

#ifndef ANNALS_COMMON_CLOCK_H_
#define ANNALS_COMMON_CLOCK_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace annals {

// UTC microseconds since the Unix epoch.
int64_t NowMicros();

// RFC 3339 with microseconds, e.g. "2026-11-23T10:00:00.123456Z".
std::string FormatTimestampMicros(int64_t micros);

// Parses RFC 3339 (any offset, fractional seconds optional) to UTC micros.
absl::StatusOr<int64_t> ParseTimestampMicros(std::string_view text);

}  // namespace annals

#endif  // ANNALS_COMMON_CLOCK_H_
