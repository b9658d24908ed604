// File: common/utf8.h

#ifndef ANNALS_COMMON_UTF8_H_
#define ANNALS_COMMON_UTF8_H_

#include <string_view>

namespace annals {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF).
bool IsValidUtf8(std::string_view text);

}  // namespace annals

#endif  // ANNALS_COMMON_UTF8_H_
