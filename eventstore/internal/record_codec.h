// File: eventstore/internal/record_codec.h
//
// Encoding of a stored record (schemas/record.fbs) and the canonical byte
// string that its checksum and hash-chain link are computed over:
//
//   canonical := "ANR1" position:be64 stream:str version:be64 id:16 type:str
//                schema_version:be32 recorded_at_us:be64 correlation_id:str
//                causation_id:str metadata_count:be32 (key:str value:str)*
//                content_type:u8 payload:str
//   str       := length:be32 bytes
//   hash      := SHA-256(previous record's hash || canonical)   (32 zero bytes
//                before position 1)
//   checksum  := CRC32C(canonical || hash)
//
// The canonical form is independent of the FlatBuffers layout, so an export
// imported into a new store reproduces the same hashes.

#ifndef ANNALS_EVENTSTORE_INTERNAL_RECORD_CODEC_H_
#define ANNALS_EVENTSTORE_INTERNAL_RECORD_CODEC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "annals/event.h"
#include "common/sha256.h"
#include "flatbuffers/flatbuffers.h"

namespace annals::internal {

// The hash "before" position 1.
inline constexpr std::string_view kGenesisHash(
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);

// Returns SHA-256(prev_hash || canonical(e)). `sha` is scratch state.
Sha256::Digest ChainHash(Sha256& sha, std::string_view prev_hash, const EventView& e);

// Returns CRC32C(canonical(e) || hash).
uint32_t RecordChecksum(const EventView& e, std::string_view hash);

// Serializes `e` (including e.hash) with `checksum` into `fbb` (cleared
// first). The encoded bytes are fbb.GetBufferPointer()/GetSize().
void EncodeRecord(const EventView& e, uint32_t checksum, flatbuffers::FlatBufferBuilder& fbb);

// Holds an 8-byte-aligned copy of a record. FlatBuffers reads scalars in
// place, and values in RocksDB blocks sit at arbitrary offsets: reading them
// there is undefined behaviour (UBSan reports it), so misaligned records are
// decoded from this copy. Reused across calls; not thread-safe.
class AlignedScratch {
 public:
  // Returns `bytes` itself when it is 8-byte aligned, else an aligned copy
  // that stays valid until the next Hold().
  std::string_view Hold(std::string_view bytes);

 private:
  std::unique_ptr<uint64_t[]> words_;
  size_t capacity_words_ = 0;
};

// Parses `bytes` into `out`. The views in `out` point into `bytes`, or into
// `scratch` when `bytes` is misaligned (valid until scratch's next use).
// Returns kDataLoss when the buffer is not a well-formed record or, with
// verify_checksum, when its checksum does not match its content.
absl::Status DecodeRecord(std::string_view bytes, bool verify_checksum, EventView* out,
                          AlignedScratch& scratch);

// As above for input the caller knows is 8-byte aligned (e.g. a
// std::string's heap buffer); misaligned input is refused with kInternal.
absl::Status DecodeRecord(std::string_view bytes, bool verify_checksum, EventView* out);

}  // namespace annals::internal

#endif  // ANNALS_EVENTSTORE_INTERNAL_RECORD_CODEC_H_
