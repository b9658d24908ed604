// File: codec/internal/payload_codec.h
//
// The payload pipeline between an event as appended and its record:
//
//   encode:  payload as appended
//              -> compress   (Options::payload_compression; only when the
//                             payload has at least
//                             payload_compression_min_bytes and zstd saves
//                             at least 1/8 of it, RocksDB's rule for blocks)
//              -> seal       (a PayloadCipher, when one is installed and it
//                             takes the event)
//              -> the payload as stored + its PayloadEncoding
//   decode:  the reverse; the canonical payload (what the hash covers, see
//            canonical.h) is the plaintext of an unsealed payload and the
//            stored bytes of a sealed one.
//
// Compression before sealing: ciphertext does not compress.

#ifndef ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_
#define ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event.h"
#include "annals/options.h"
#include "codec/internal/canonical.h"
#include "codec/internal/payload_cipher.h"

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;

namespace annals::codec_internal {

// The codec's settings for one store. Fixed while the store is open (the
// cipher is installed before the first append or read).
struct PayloadCodecOptions {
  StoredCompression compression = StoredCompression::kIdentity;
  size_t compression_min_bytes = 512;
  // Null: nothing is sealed, and reading a sealed record fails.
  std::shared_ptr<PayloadCipher> cipher;
};

// kInvalidArgument naming the field when the payload options of `options`
// are out of range.
absl::Status ValidateCodecOptions(const Options& options);

// The codec settings `options` ask for (no cipher: none is configured by
// Options yet). REQUIRES: ValidateCodecOptions(options) is OK.
PayloadCodecOptions CodecOptionsFrom(const Options& options);

// Encodes payloads for storage. Not thread-safe (it reuses a zstd context
// and buffers): one per committer.
class PayloadEncoder {
 public:
  // `options` is not owned and must outlive the encoder.
  explicit PayloadEncoder(const PayloadCodecOptions* options);
  ~PayloadEncoder();
  PayloadEncoder(const PayloadEncoder&) = delete;
  PayloadEncoder& operator=(const PayloadEncoder&) = delete;

  // Encodes envelope.payload (the payload as appended; the other fields
  // describe its event). Sets *stored to the bytes to store (envelope.payload
  // itself, or a buffer of this encoder valid until the next call) and
  // *encoding to how they are stored. Fails only when the cipher fails.
  absl::Status Encode(const EventView& envelope, std::string_view* stored,
                      PayloadEncoding* encoding);

 private:
  const PayloadCodecOptions* options_;
  ZSTD_CCtx_s* zstd_ = nullptr;  // Created on the first compression.
  std::string compressed_;
  std::string sealed_;
};

// Decodes stored payloads. Not thread-safe: one per reader (a scan).
class PayloadDecoder {
 public:
  // `cipher` (may be null) is not owned and must outlive the decoder.
  explicit PayloadDecoder(const PayloadCipher* cipher);
  ~PayloadDecoder();
  PayloadDecoder(const PayloadDecoder&) = delete;
  PayloadDecoder& operator=(const PayloadDecoder&) = delete;

  // The canonical payload of a payload stored as `stored` with `encoding`:
  // `stored` itself when it is sealed or not compressed, else its
  // decompressed bytes (in this decoder's buffer, valid until the next
  // call). kDataLoss when it does not decompress.
  absl::StatusOr<std::string_view> Canonical(std::string_view stored,
                                             const PayloadEncoding& encoding);

  // The payload as appended, from the canonical payload: `canonical` itself
  // when not sealed; else opened with the cipher and decompressed (into this
  // decoder's buffers). kFailedPrecondition without the record's cipher; the
  // cipher's kDataLoss or kNotFound (see PayloadCipher::Open) otherwise.
  absl::StatusOr<std::string_view> Plaintext(const EventView& envelope, std::string_view canonical,
                                             const PayloadEncoding& encoding);

 private:
  absl::StatusOr<std::string_view> Decompress(std::string_view frame);

  const PayloadCipher* cipher_;
  ZSTD_DCtx_s* zstd_ = nullptr;  // Created on the first compressed payload.
  std::string decompressed_;
  std::string opened_;
};

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_
