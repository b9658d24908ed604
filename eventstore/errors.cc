#include "annals/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "annals/expected_version.h"
#include "common/strings.h"

namespace annals {
namespace {

// Payload: "<kind>\n<expected version>\n<actual>\n<stream>".
constexpr char kWrongExpectedVersionUrl[] = "type.annals.dev/annals.WrongExpectedVersion";

}  // namespace

std::string ExpectedVersion::ToString() const {
  switch (kind_) {
    case Kind::kAny:
      return "any";
    case Kind::kNoStream:
      return "no-stream";
    case Kind::kStreamExists:
      return "exists";
    case Kind::kExact:
      return StrCat(version_);
  }
  return "?";
}

absl::Status WrongExpectedVersionError(const WrongExpectedVersion& d) {
  absl::Status status(
      absl::StatusCode::kAborted,
      StrCat("wrong expected version for stream '", d.stream, "': expected ", d.expected.ToString(),
             ", actual ", d.actual, "; reload the stream and retry with the actual version"));
  status.SetPayload(kWrongExpectedVersionUrl,
                    absl::Cord(StrCat(static_cast<int>(d.expected.kind()), "\n",
                                      d.expected.version(), "\n", d.actual, "\n", d.stream)));
  return status;
}

std::optional<WrongExpectedVersion> GetWrongExpectedVersion(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kAborted) return std::nullopt;
  absl::optional<absl::Cord> payload = status.GetPayload(kWrongExpectedVersionUrl);
  if (!payload.has_value()) return std::nullopt;
  std::vector<std::string> parts = absl::StrSplit(std::string(*payload), absl::MaxSplits('\n', 3));
  if (parts.size() != 4) return std::nullopt;
  int kind = 0;
  uint64_t expected = 0;
  WrongExpectedVersion d;
  if (!absl::SimpleAtoi(parts[0], &kind) || !absl::SimpleAtoi(parts[1], &expected) ||
      !absl::SimpleAtoi(parts[2], &d.actual)) {
    return std::nullopt;
  }
  switch (static_cast<ExpectedVersion::Kind>(kind)) {
    case ExpectedVersion::Kind::kAny:
      d.expected = ExpectedVersion::Any();
      break;
    case ExpectedVersion::Kind::kNoStream:
      d.expected = ExpectedVersion::NoStream();
      break;
    case ExpectedVersion::Kind::kStreamExists:
      d.expected = ExpectedVersion::StreamExists();
      break;
    case ExpectedVersion::Kind::kExact:
      d.expected = ExpectedVersion::Exact(expected);
      break;
    default:
      return std::nullopt;
  }
  d.stream = std::move(parts[3]);
  return d;
}

}  // namespace annals
