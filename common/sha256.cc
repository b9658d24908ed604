#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace annals {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) std::abort();  // Out of memory: nothing sane to do.
  Reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Reset() {
  if (EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

void Sha256::Update(const void* data, size_t n) {
  if (EVP_DigestUpdate(ctx_, data, n) != 1) std::abort();
}

Sha256::Digest Sha256::Finish() {
  Digest digest;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_, digest.data(), &len) != 1 || len != kSize) std::abort();
  Reset();
  return digest;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace annals
