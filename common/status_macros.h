// File: common/status_macros.h
//
// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status code. Abseil's own
// versions arrived only in LTS 20260526; switch to them after upgrading.

#ifndef ANNALS_COMMON_STATUS_MACROS_H_
#define ANNALS_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ANNALS_STATUS_CONCAT_INNER(a, b) a##b
#define ANNALS_STATUS_CONCAT(a, b) ANNALS_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status annals_status_ = (expr);          \
    if (!annals_status_.ok()) return annals_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ANNALS_ASSIGN_OR_RETURN_IMPL(ANNALS_STATUS_CONCAT(annals_statusor_, __LINE__), lhs, expr)

#define ANNALS_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr)  \
  auto statusor = (expr);                                  \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // ANNALS_COMMON_STATUS_MACROS_H_
