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
//
// What a cipher seals (format 4) is the sealed body, not the bare payload:
//   body := personal_count:be32 (str(key) str(value))* payload
// where the entries are the event's metadata entries whose keys are in
// PayloadCodecOptions::personal_metadata_keys (they leave the record's plain
// metadata, so the hash covers them only as ciphertext) and `payload` the
// payload after compression. Readers get them back after the plain entries.

#ifndef ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_
#define ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  // Metadata keys sealed with the payload of a sealed event
  // (EncryptionOptions::personal_metadata_keys).
  std::vector<std::string> personal_metadata_keys;
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
  // *encoding to how they are stored, and, only when the payload was sealed,
  // *plain_metadata to the metadata that stays in the clear (envelope.metadata
  // without the personal entries; otherwise it is left unspecified, and the
  // record keeps envelope.metadata). Fails only when the cipher fails.
  absl::Status Encode(const EventView& envelope, std::string_view* stored,
                      PayloadEncoding* encoding, std::vector<MetadataEntry>* plain_metadata);

 private:
  const PayloadCodecOptions* options_;
  ZSTD_CCtx_s* zstd_ = nullptr;  // Created on the first compression.
  std::string compressed_;
  std::string body_;
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

  // Turns the canonical view of a sealed record (out->payload the sealed
  // bytes) into what readers see: opens it with the cipher, sets
  // out->payload to the payload as appended and appends the personal
  // metadata to out->metadata (views into this decoder's buffers). When the
  // cipher's key is gone (kNotFound) the payload was crypto-shredded: sets
  // out->erased and an empty payload, and returns OK. kFailedPrecondition
  // without the record's cipher; kDataLoss for bytes that are not authentic
  // or a body that does not parse.
  absl::Status OpenSealed(EventView* out, const PayloadEncoding& encoding);

 private:
  absl::StatusOr<std::string_view> Decompress(std::string_view frame);

  const PayloadCipher* cipher_;
  ZSTD_DCtx_s* zstd_ = nullptr;  // Created on the first compressed payload.
  std::string decompressed_;
  std::string opened_;
};

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_PAYLOAD_CODEC_H_
