// File: eventstore/internal/append_validation.h
//
// Checks of an append's input that need no store state. Thread-safe (pure
// functions of their arguments).

#ifndef ANNALS_EVENTSTORE_INTERNAL_APPEND_VALIDATION_H_
#define ANNALS_EVENTSTORE_INTERNAL_APPEND_VALIDATION_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "annals/event_store.h"
#include "annals/options.h"

namespace annals::internal {

// kInvalidArgument naming the rule a stream name breaks (see
// EventStore::Append), with control bytes escaped.
absl::Status ValidateStreamName(std::string_view stream);

// Checks one call's input before it is queued. Returns the call's size in
// bytes (what Options::max_append_bytes limits).
absl::StatusOr<size_t> ValidateAppend(absl::Span<const StreamAppend> parts, const Options& options);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_APPEND_VALIDATION_H_
