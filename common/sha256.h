// File: common/sha256.h
//
// Incremental SHA-256 over OpenSSL's EVP interface (libcrypto uses the CPU's
// SHA extensions when present). The hash chain of the global log uses it.
// Thread-compatible: one Sha256 per thread.

#ifndef ANNALS_COMMON_SHA256_H_
#define ANNALS_COMMON_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

struct evp_md_ctx_st;

namespace annals {

class Sha256 {
 public:
  static constexpr size_t kSize = 32;
  using Digest = std::array<uint8_t, kSize>;

  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Reset();
  void Update(const void* data, size_t n);
  Digest Finish();

 private:
  evp_md_ctx_st* ctx_;
};

std::string HexEncode(std::string_view bytes);

}  // namespace annals

#endif  // ANNALS_COMMON_SHA256_H_
