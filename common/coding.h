// File: common/coding.h
//
// Fixed-width integer encodings used in keys and values. Keys use big-endian
// so that RocksDB's byte-wise order equals numeric order.

#ifndef ANNALS_COMMON_CODING_H_
#define ANNALS_COMMON_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace annals::coding {

inline void PutBigEndian64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

inline void EncodeBigEndian64(char* buf, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

inline void PutBigEndian32(std::string* out, uint32_t v) {
  char buf[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                 static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(buf, 4);
}

// REQUIRES: in.size() >= 8.
inline uint64_t DecodeBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

inline std::string BigEndian64(uint64_t v) {
  std::string out;
  PutBigEndian64(&out, v);
  return out;
}

}  // namespace annals::coding

#endif  // ANNALS_COMMON_CODING_H_
