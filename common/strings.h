// File: common/strings.h
//
// Debian's Abseil 20220623 is built with its own absl::string_view (not an
// alias of std::string_view), and annals' API uses std::string_view. Sv()
// bridges the two at Abseil call sites without copying.

#ifndef ANNALS_COMMON_STRINGS_H_
#define ANNALS_COMMON_STRINGS_H_

#include <string>
#include <string_view>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace annals {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view StdSv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

namespace strings_internal {
template <typename T>
decltype(auto) ToAlphaNum(const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view> &&
                !std::is_convertible_v<const T&, absl::string_view>) {
    return Sv(v);
  } else {
    return (v);
  }
}
}  // namespace strings_internal

// annals::StrCat(): absl::StrCat() that also takes std::string_view.
template <typename... Args>
std::string StrCat(const Args&... args) {
  return absl::StrCat(strings_internal::ToAlphaNum(args)...);
}

}  // namespace annals

#endif  // ANNALS_COMMON_STRINGS_H_
