// File: annals/user_code.h
//
// What happens when code annals calls back throws.
//
// annals calls application code in a few places: Projection::Apply() (and
// name(), event_types(), stream_prefix()), EventRegistry upcasters, an
// aggregate's Apply() overloads, Repository::Execute() commands and the
// visitors of read-model scans. The rule for all of them:
//
//   An exception never crosses annals. It is caught where annals called the
//   code and turned into an absl::Status with code kInternal and the message
//     "<callback> threw <exception type>: <what()>"   (std::exception and
//                                                       anything derived)
//     "<callback> threw an unknown exception"         (anything else)
//   which then takes exactly the path a returned error of that callback
//   takes (each callback's comment says which). No lock stays held, no
//   append blocks, no annals thread ends and the process is not terminated.
//
// Two things cannot be caught: an exception from a destructor (destructors
// are noexcept, so it terminates first), and thread cancellation
// (abi::__forced_unwind), which is rethrown as the C++ runtime requires.
//
// The helpers below are what annals uses at those call sites; they are in
// this header because templates (Aggregate, Repository) need them.
//
// Thread-safety: the functions are stateless.

#ifndef ANNALS_USER_CODE_H_
#define ANNALS_USER_CODE_H_

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>

#include "absl/status/status.h"

namespace annals::user_code_internal {

// The readable name of a type ("std::invalid_argument").
inline std::string TypeName(const std::type_info& type) {
  int error = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &error), std::free);
  return error == 0 && demangled != nullptr ? std::string(demangled.get())
                                            : std::string(type.name());
}

// StatusFromCurrentException()
//
// kInternal describing the exception being handled; `callback` names the
// code that threw ("projection 'orders' Apply()"). Must be called from inside
// a catch block. Rethrows thread cancellation.
inline absl::Status StatusFromCurrentException(std::string_view callback) {
  std::string message(callback);
  try {
    throw;
  } catch (abi::__forced_unwind&) {
    throw;
  } catch (const std::exception& e) {
    message.append(" threw ").append(TypeName(typeid(e))).append(": ").append(e.what());
  } catch (...) {
    message.append(" threw an unknown exception");
  }
  return absl::InternalError(message);
}

// CallUserCode()
//
// Runs `f` (returning absl::Status or absl::StatusOr<T>) and returns its
// result, or StatusFromCurrentException(callback) when it throws.
template <typename F>
auto CallUserCode(std::string_view callback, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (...) {
    return decltype(f())(StatusFromCurrentException(callback));
  }
}

}  // namespace annals::user_code_internal

#endif  // ANNALS_USER_CODE_H_
