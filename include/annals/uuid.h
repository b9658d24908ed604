// File: annals/uuid.h
//
// Uuid: a 16-byte RFC 9562 UUID, the identity of every stored event.
//
// Event ids make retries idempotent: an append re-sent with the same ids at
// the same place returns the original result and stores nothing twice. When a
// caller gives no id, annals generates a version-7 UUID (time-ordered, so the
// event-id index is written almost sequentially).
//
// Thread-safety: a plain value type. Uuid::V7() is safe to call concurrently.

#ifndef ANNALS_UUID_H_
#define ANNALS_UUID_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace annals {

class Uuid {
 public:
  // The nil UUID (all zero). A NewEvent with a nil id gets a generated one.
  constexpr Uuid() : bytes_{} {}
  explicit constexpr Uuid(const std::array<uint8_t, 16>& bytes) : bytes_(bytes) {}

  // Uuid::V7()
  //
  // A new time-ordered random UUID (version 7): 48 bits of Unix milliseconds,
  // then 74 random bits.
  static Uuid V7();

  // Uuid::Parse()
  //
  // Accepts the canonical 36-character form (8-4-4-4-12 hex, either case).
  // Returns kInvalidArgument for anything else.
  static absl::StatusOr<Uuid> Parse(std::string_view text);

  // Uuid::FromBytes()
  //
  // `bytes` must be exactly 16 bytes; otherwise kInvalidArgument.
  static absl::StatusOr<Uuid> FromBytes(std::string_view bytes);

  bool is_nil() const;
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  std::string_view AsBytes() const {
    return std::string_view(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  }

  // Lower-case canonical form, e.g. "1b4e28ba-2fa1-11d2-883f-0016d3cca427".
  std::string ToString() const;

  friend bool operator==(const Uuid& a, const Uuid& b) { return a.bytes_ == b.bytes_; }
  friend bool operator<(const Uuid& a, const Uuid& b) { return a.bytes_ < b.bytes_; }
  template <typename H>
  friend H AbslHashValue(H h, const Uuid& id) {
    return H::combine(std::move(h), id.bytes_);
  }

 private:
  std::array<uint8_t, 16> bytes_;
};

}  // namespace annals

#endif  // ANNALS_UUID_H_
