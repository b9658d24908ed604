// File: codec/internal/record_codec.h
//
// Records: an event of the log in its stored form (schemas/record.fbs,
// FlatBuffers table annals.fb.Record), built and read through the payload
// pipeline (payload_codec.h) and the canonical bytes (canonical.h):
//
//   RecordEncoder  event (payload as appended) + previous hash
//                    -> record bytes and the record's hash   (the committer)
//   RecordDecoder  record bytes -> the event readers see     (reads)
//                  record bytes -> the canonical view        (verify)
//
// The record layout is storage; what is hashed is the canonical form, which
// does not depend on it (canonical.h says what the hash covers and why).

#ifndef ANNALS_CODEC_INTERNAL_RECORD_CODEC_H_
#define ANNALS_CODEC_INTERNAL_RECORD_CODEC_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event.h"
#include "codec/internal/canonical.h"
#include "codec/internal/payload_codec.h"
#include "common/sha256.h"
#include "flatbuffers/flatbuffers.h"

namespace annals::codec_internal {

// Serializes the record `record` describes into `fbb` (cleared first):
// record.payload is the payload AS STORED (encoded with `encoding`) and
// record.hash its hash. The encoded bytes are fbb.GetBufferPointer() /
// GetSize(). The low-level step of RecordEncoder; tests and fuzzers use it
// to write records by hand.
void EncodeRecord(const EventView& record, const PayloadEncoding& encoding, uint32_t checksum,
                  flatbuffers::FlatBufferBuilder& fbb);

// Turns events into records. Committer state: not thread-safe.
class RecordEncoder {
 public:
  // `options` is not owned and must outlive the encoder.
  explicit RecordEncoder(const PayloadCodecOptions* options);

  // Encodes `e` as the record that follows `prev_hash` in the log into `fbb`
  // (cleared first): encodes its payload (e.payload is the payload as
  // appended; e.hash is ignored), computes its hash and checksum over its
  // canonical bytes, and serializes it. Returns the record's hash. Fails
  // only when a payload cipher fails; `fbb` is then unspecified.
  absl::StatusOr<Sha256::Digest> Encode(const EventView& e, std::string_view prev_hash,
                                        flatbuffers::FlatBufferBuilder& fbb);

 private:
  PayloadEncoder payload_;
  Sha256 sha_;
  std::vector<MetadataEntry> plain_metadata_;
  EventView stored_;  // `e` with its payload as stored; reused across calls.
};

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

// Reads records. Not thread-safe: one per reader (a scan). Every view it
// hands out points into the record bytes given or into this decoder's
// buffers, and is valid while those bytes live and until the next call.
class RecordDecoder {
 public:
  // `cipher` (may be null) is not owned and must outlive the decoder; it is
  // needed only to read sealed payloads.
  explicit RecordDecoder(const PayloadCipher* cipher = nullptr);

  // Decodes one record (any alignment) into the event readers see:
  // out->payload is the payload as appended. kDataLoss when the bytes are
  // not a well-formed record or, with verify_checksum, when its CRC32C does
  // not match its canonical bytes (checked before a sealed payload is
  // opened); PayloadDecoder::Plaintext's errors for a sealed payload.
  absl::Status Decode(std::string_view bytes, bool verify_checksum, EventView* out);

  // Decodes one record into its canonical view, what the hash chain covers:
  // out->payload is the canonical payload (a sealed payload as stored, never
  // opened, so this works without any key; an unsealed one as appended,
  // decompressed if need be) and *encoding how the payload is stored.
  // kDataLoss as for Decode().
  absl::Status DecodeCanonical(std::string_view bytes, bool verify_checksum, EventView* out,
                               PayloadEncoding* encoding);

  // Parses one record without decoding its payload or checking anything but
  // its form: out->payload is the payload as stored. For tools that rewrite
  // records by hand (tests, fuzzing).
  absl::Status DecodeStored(std::string_view bytes, EventView* out, PayloadEncoding* encoding,
                            uint32_t* checksum);

 private:
  AlignedScratch aligned_;
  PayloadDecoder payload_;
};

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_RECORD_CODEC_H_
