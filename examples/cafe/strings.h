// File: examples/cafe/strings.h
//
// Cat(): string concatenation for messages (std::string_view friendly,
// independent of the Abseil build's string_view flavour).

#ifndef ANNALS_EXAMPLES_CAFE_STRINGS_H_
#define ANNALS_EXAMPLES_CAFE_STRINGS_H_

#include <sstream>
#include <string>

namespace cafe {

template <typename... Args>
std::string Cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace cafe

#endif  // ANNALS_EXAMPLES_CAFE_STRINGS_H_
