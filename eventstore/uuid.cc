#include "annals/uuid.h"

#include <chrono>
#include <cstring>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace annals {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Uuid Uuid::V7() {
  // One generator per thread: absl::BitGen is seeded from the OS and is not
  // thread-safe, so sharing one would need a lock on the append path.
  thread_local absl::BitGen gen;
  const uint64_t ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  const uint64_t r1 = absl::Uniform<uint64_t>(gen);
  const uint64_t r2 = absl::Uniform<uint64_t>(gen);
  for (int i = 0; i < 2; ++i) b[6 + i] = static_cast<uint8_t>(r1 >> (8 * i));
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<uint8_t>(r2 >> (8 * i));
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x70);  // version 7
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  return Uuid(b);
}

absl::StatusOr<Uuid> Uuid::Parse(std::string_view text) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        StrCat("invalid UUID '", text,
               "': expected 36 characters like 1b4e28ba-2fa1-11d2-883f-0016d3cca427"));
  };
  if (text.size() != 36) return bad();
  std::array<uint8_t, 16> b{};
  size_t j = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    b[j++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return Uuid(b);
}

absl::StatusOr<Uuid> Uuid::FromBytes(std::string_view bytes) {
  if (bytes.size() != 16) {
    return absl::InvalidArgumentError(StrCat("a UUID is 16 bytes, got ", bytes.size()));
  }
  std::array<uint8_t, 16> b;
  std::memcpy(b.data(), bytes.data(), 16);
  return Uuid(b);
}

bool Uuid::is_nil() const {
  for (uint8_t c : bytes_) {
    if (c != 0) return false;
  }
  return true;
}

std::string Uuid::ToString() const {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[bytes_[i] >> 4]);
    out.push_back(kHex[bytes_[i] & 0xf]);
  }
  return out;
}

}  // namespace annals
