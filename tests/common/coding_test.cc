// common/coding.h: the big-endian encodings that keys, values and the hashed
// canonical bytes are made of. Known answers (a change of byte order would
// make every stored key and hash unreadable) and the property keys rely on:
// byte-wise order equals numeric order.

#include "common/coding.h"

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace annals::coding {
namespace {

TEST(CodingTest, KnownAnswers) {
  EXPECT_EQ(BigEndian64(0x0102030405060708ULL), std::string("\x01\x02\x03\x04\x05\x06\x07\x08"));
  EXPECT_EQ(BigEndian32(0x01020304u), std::string("\x01\x02\x03\x04"));
  EXPECT_EQ(BigEndian64(1), std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_EQ(BigEndian32(0xff00ff00u), std::string("\xff\x00\xff\x00", 4));

  std::string out = "k";
  PutBigEndian32(&out, 7);
  PutBigEndian64(&out, 9);
  EXPECT_EQ(out, std::string("k\0\0\0\x07\0\0\0\0\0\0\0\x09", 13));

  char buf[8];
  EncodeBigEndian64(buf, 0xfedcba9876543210ULL);
  EXPECT_EQ(std::string(buf, 8), "\xfe\xdc\xba\x98\x76\x54\x32\x10");
  EncodeBigEndian32(buf, 0x89abcdefu);
  EXPECT_EQ(std::string(buf, 4), "\x89\xab\xcd\xef");

  EXPECT_EQ(DecodeBigEndian64("\x01\x02\x03\x04\x05\x06\x07\x08"), 0x0102030405060708ULL);
  EXPECT_EQ(DecodeBigEndian32("\x01\x02\x03\x04"), 0x01020304u);
  // Only the first bytes are read.
  EXPECT_EQ(DecodeBigEndian32(std::string_view("\0\0\x01\x00zzzz", 8)), 256u);
  EXPECT_EQ(DecodeBigEndian64(std::string("\0\0\0\0\0\0\0\x02tail", 12)), 2u);
}

TEST(CodingTest, RoundTripsAndKeepsNumericOrder) {
  std::mt19937_64 rng(42);
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, UINT64_MAX}) {
    EXPECT_EQ(DecodeBigEndian64(BigEndian64(v)), v);
  }
  for (uint32_t v : {0u, 1u, 255u, 256u, UINT32_MAX}) {
    EXPECT_EQ(DecodeBigEndian32(BigEndian32(v)), v);
  }
  for (int i = 0; i < 1000; ++i) {
    const uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64);
    EXPECT_EQ(DecodeBigEndian64(BigEndian64(a)), a);
    EXPECT_EQ(a < b, BigEndian64(a) < BigEndian64(b)) << a << " " << b;
    const uint32_t c = static_cast<uint32_t>(a), d = static_cast<uint32_t>(b);
    EXPECT_EQ(DecodeBigEndian32(BigEndian32(c)), c);
    EXPECT_EQ(c < d, BigEndian32(c) < BigEndian32(d)) << c << " " << d;
  }
}

}  // namespace
}  // namespace annals::coding
