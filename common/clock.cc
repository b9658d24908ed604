#include "common/clock.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/strings.h"

namespace annals {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTimestampMicros(int64_t micros) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::FromUnixMicros(micros),
                          absl::UTCTimeZone());
}

absl::StatusOr<int64_t> ParseTimestampMicros(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), absl::UTCTimeZone(), &t, &err)) {
    return absl::InvalidArgumentError(
        StrCat("cannot parse timestamp '", text,
               "': expected RFC 3339, e.g. 2026-11-23T10:00:00Z or 2026-11-23T10:00:00.123456Z (",
               err, ")"));
  }
  return absl::ToUnixMicros(t);
}

}  // namespace annals
