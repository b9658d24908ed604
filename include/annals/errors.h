// File: annals/errors.h
//
// How annals reports errors. Every fallible call returns absl::Status or
// absl::StatusOr<T>; the codes mean the same thing everywhere:
//
//   kAborted            wrong expected version (a concurrency conflict):
//                       reload the stream and decide again. The status
//                       carries the actual version: see WrongExpectedVersion.
//   kInvalidArgument    bad input; nothing was written.
//   kAlreadyExists      an event id is already stored for a different event.
//   kNotFound           a missing store, stream, snapshot or projection.
//   kDataLoss           corruption or tampering was found; the data is not
//                       served as a shorter log.
//   kFailedPrecondition the store cannot accept appends now: it is read-only,
//                       or an earlier write failed (reopen it).
//   kUnknown            an append's outcome is unknown (the write to RocksDB
//                       failed; it may or may not be stored). Retry after
//                       reopening with the same event ids: retries are
//                       idempotent.
//   kUnavailable        the store is locked by another process.
//
// Thread-safety: free functions over values.

#ifndef ANNALS_ERRORS_H_
#define ANNALS_ERRORS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "annals/expected_version.h"

namespace annals {

// The details of a kAborted append.
struct WrongExpectedVersion {
  std::string stream{};
  ExpectedVersion expected = ExpectedVersion::Any();
  // The stream's last version when the append was checked (0: no events).
  uint64_t actual = 0;
};

// Builds the kAborted status for a conflict; its message names the stream,
// the expected and the actual version, and the details travel as a payload.
absl::Status WrongExpectedVersionError(const WrongExpectedVersion& details);

// Returns the details of a status made by WrongExpectedVersionError(), or
// nullopt for any other status.
std::optional<WrongExpectedVersion> GetWrongExpectedVersion(const absl::Status& status);

}  // namespace annals

#endif  // ANNALS_ERRORS_H_
