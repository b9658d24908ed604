// File: common/coding.h
//
// The one home of annals' fixed-width integer encodings: big-endian, in keys
// (so that RocksDB's byte-wise order equals numeric order), in values and in
// the canonical bytes that are hashed. Every module encodes and decodes its
// integers with these; none writes its own shifts.
//
// Thread-safety: pure functions.

#ifndef ANNALS_COMMON_CODING_H_
#define ANNALS_COMMON_CODING_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace annals::coding {

// Writes `v` big-endian into buf[0..8).
inline void EncodeBigEndian64(char* buf, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// Writes `v` big-endian into buf[0..4).
inline void EncodeBigEndian32(char* buf, uint32_t v) {
  for (int i = 3; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

// Appends `v` big-endian (8 bytes) to `out`.
inline void PutBigEndian64(std::string* out, uint64_t v) {
  char buf[8];
  EncodeBigEndian64(buf, v);
  out->append(buf, 8);
}

// Appends `v` big-endian (4 bytes) to `out`.
inline void PutBigEndian32(std::string* out, uint32_t v) {
  char buf[4];
  EncodeBigEndian32(buf, v);
  out->append(buf, 4);
}

// The first 8 bytes of `in`, big-endian. REQUIRES: in.size() >= 8.
inline uint64_t DecodeBigEndian64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// The first 4 bytes of `in`, big-endian. REQUIRES: in.size() >= 4.
inline uint32_t DecodeBigEndian32(std::string_view in) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

// `v` as 8 big-endian bytes.
inline std::string BigEndian64(uint64_t v) {
  std::string out;
  PutBigEndian64(&out, v);
  return out;
}

// `v` as 4 big-endian bytes.
inline std::string BigEndian32(uint32_t v) {
  std::string out;
  PutBigEndian32(&out, v);
  return out;
}

}  // namespace annals::coding

#endif  // ANNALS_COMMON_CODING_H_
