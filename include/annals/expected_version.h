// File: annals/expected_version.h
//
// ExpectedVersion: the optimistic-concurrency precondition of an append.
//
// Versions start at 1; a stream that has no events is at version 0. An append
// states what it expects the stream's current last version to be, and fails
// with absl::StatusCode::kAborted when the stream is elsewhere.
//
// Example:
//   store.Append("order-42", annals::ExpectedVersion::NoStream(), events);
//   store.Append("order-42", annals::ExpectedVersion::Exact(3), events);
//
// Thread-safety: a plain value type; copyable.

#ifndef ANNALS_EXPECTED_VERSION_H_
#define ANNALS_EXPECTED_VERSION_H_

#include <cstdint>
#include <string>

namespace annals {

class ExpectedVersion {
 public:
  enum class Kind : uint8_t {
    kAny,           // No check.
    kNoStream,      // The stream must have no events (version 0).
    kStreamExists,  // The stream must have at least one event.
    kExact,         // The stream's last version must equal `version()`.
  };

  // ExpectedVersion::Any()
  //
  // Appends whatever the stream's version; still atomic and gap-free.
  static constexpr ExpectedVersion Any() { return ExpectedVersion(Kind::kAny, 0); }

  // ExpectedVersion::NoStream()
  //
  // The stream must be empty. Same as Exact(0).
  static constexpr ExpectedVersion NoStream() { return ExpectedVersion(Kind::kNoStream, 0); }

  // ExpectedVersion::StreamExists()
  //
  // The stream must have at least one event.
  static constexpr ExpectedVersion StreamExists() {
    return ExpectedVersion(Kind::kStreamExists, 0);
  }

  // ExpectedVersion::Exact()
  //
  // The stream's current last version must be `version`. Exact(0) is NoStream().
  static constexpr ExpectedVersion Exact(uint64_t version) {
    return version == 0 ? NoStream() : ExpectedVersion(Kind::kExact, version);
  }

  constexpr Kind kind() const { return kind_; }
  // Meaningful for kExact only.
  constexpr uint64_t version() const { return version_; }

  // Returns true when a stream whose last version is `current` satisfies this.
  constexpr bool Matches(uint64_t current) const {
    switch (kind_) {
      case Kind::kAny:
        return true;
      case Kind::kNoStream:
        return current == 0;
      case Kind::kStreamExists:
        return current > 0;
      case Kind::kExact:
        return current == version_;
    }
    return false;
  }

  // "any", "no-stream", "exists" or the decimal version, as the CLI spells them.
  std::string ToString() const;

  friend constexpr bool operator==(const ExpectedVersion& a, const ExpectedVersion& b) {
    return a.kind_ == b.kind_ && a.version_ == b.version_;
  }

 private:
  constexpr ExpectedVersion(Kind kind, uint64_t version) : kind_(kind), version_(version) {}

  Kind kind_;
  uint64_t version_;
};

}  // namespace annals

#endif  // ANNALS_EXPECTED_VERSION_H_
