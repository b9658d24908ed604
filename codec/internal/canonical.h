// File: codec/internal/canonical.h
//
// The canonical bytes of a record: the byte string its hash-chain link and
// its checksum are computed over. The definition lives here and only here
// (docs/format.md publishes it for auditors):
//
//   canonical := magic position:be64 str(stream) version:be64 id:16 str(type)
//                schema_version:be32 recorded_at_us:be64 str(correlation_id)
//                str(causation_id) metadata_count:be32 (str(key) str(value))*
//                content_type:u8 [compression:u8 cipher:u8] [str(subject)]
//                str(payload)
//   magic     := "ANR1"  no subject, a payload that is not sealed: no
//                        bracketed part, and `payload` is the payload as
//                        appended (plaintext, whether or not the record
//                        stores it compressed)
//              | "ANR2"  no subject, a sealed payload (PayloadCipher): the
//                        first bracketed part is present, and `payload` is
//                        the payload as stored (sealed after compression)
//              | "ANR3"  a subject (format 4): both bracketed parts are
//                        present; `payload` as for "ANR1" when cipher is 0,
//                        as for "ANR2" otherwise. A record without a subject
//                        keeps its "ANR1"/"ANR2" bytes, so no hash of an
//                        older store changes.
//   str(x)    := length:be32 bytes      (absent and empty are the same)
//   hash      := SHA-256(previous record's hash || canonical)
//                (32 zero bytes before position 1: kGenesisHash)
//   checksum  := CRC32C(canonical || hash)
//
// Why the hash covers these bytes (the decision for compression and the
// encryption hook of issue 13):
//  - Compression is storage. An unsealed payload is hashed as appended, so
//    a store's compression setting never changes a hash: the same event has
//    the same hash compressed or not, an export (which carries plaintext)
//    imported into a store with any setting reproduces the chain, and an
//    auditor recomputes it from an export without a decompressor. Every
//    record written before compression existed is an "ANR1" record and
//    keeps its bytes. The price: verify decompresses compressed records.
//  - A sealed payload is hashed as stored. Its plaintext can be destroyed
//    (crypto-shredding deletes the key), and the chain must still verify
//    afterwards without any key; the ciphertext is all that remains, so it
//    is what the hash covers, together with the two markers needed to read
//    it back (so they cannot be flipped unnoticed).
//
// Thread-safety: pure functions; a Sha256 is per thread.

#ifndef ANNALS_CODEC_INTERNAL_CANONICAL_H_
#define ANNALS_CODEC_INTERNAL_CANONICAL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "annals/event.h"
#include "common/sha256.h"

namespace annals::codec_internal {

// The hash "before" position 1.
inline constexpr std::string_view kGenesisHash(
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);

// How a payload is compressed in its record. The values are stored (record
// field payload_encoding.compression) and hashed ("ANR2"): never renumber.
enum class StoredCompression : uint8_t {
  kIdentity = 0,  // the bytes as appended
  kZstd = 1,      // one zstd frame holding its content size
};
inline constexpr uint8_t kMaxStoredCompression = 1;

// How a payload sits in its record. The default is the identity: what every
// record of format versions 1 and 2 has.
struct PayloadEncoding {
  StoredCompression compression = StoredCompression::kIdentity;
  // 0: not sealed; otherwise the id of the PayloadCipher that sealed it
  // (codec/internal/payload_cipher.h).
  uint8_t cipher = 0;

  bool sealed() const { return cipher != 0; }
  bool identity() const { return compression == StoredCompression::kIdentity && !sealed(); }
  friend bool operator==(const PayloadEncoding&, const PayloadEncoding&) = default;
};

// The canonical bytes of `e` stored with `encoding`. e.payload must be the
// canonical payload: the payload as appended when it is not sealed, the
// sealed bytes as stored when it is. e.hash is not part of them.
std::string CanonicalBytes(const EventView& e, const PayloadEncoding& encoding);

// Returns SHA-256(prev_hash || canonical). `sha` is scratch state.
Sha256::Digest ChainHash(Sha256& sha, std::string_view prev_hash, const EventView& e,
                         const PayloadEncoding& encoding);

// Returns CRC32C(canonical || hash).
uint32_t RecordChecksum(const EventView& e, const PayloadEncoding& encoding, std::string_view hash);

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_CANONICAL_H_
