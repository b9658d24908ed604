// File: codec/internal/stub_codec.h
//
// Stubs: what remains of a scavenged event in the log (schemas/stub.fbs,
// FlatBuffers table annals.fb.Stub, file identifier "ANS1"; format 4). A
// stub sits at the event's position and keeps its position, stream, version,
// recorded_at_us, its record's hash, the previous record's hash and why it
// was scavenged; nothing of the content. The hash chain runs through it:
// the next record's hash is computed from the stub's hash, and the stub's
// previous hash must equal the hash before it (docs/format.md, "Stub").
//
// The stub's own CRC32C covers its canonical bytes:
//
//   stub_canonical := "ANS1" position:be64 str(stream) version:be64
//                     recorded_at_us:be64 hash:32 previous_hash:32 reason:u8
//   checksum       := CRC32C(stub_canonical)
//
// Free functions, thread-safe.

#ifndef ANNALS_CODEC_INTERNAL_STUB_CODEC_H_
#define ANNALS_CODEC_INTERNAL_STUB_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace annals::codec_internal {

// Why an event was scavenged; the values of schemas/stub.fbs.
enum class ScavengeReason : uint8_t {
  kRetention = 0,  // A retention rule or a soft delete of its stream.
  kDeleted = 1,    // A hard delete of its stream.
  kCompacted = 2,  // Log compaction by key kept a newer event of its key.
};
inline constexpr uint8_t kMaxScavengeReason = 2;

// "retention", "deleted" or "compacted".
std::string_view ScavengeReasonName(ScavengeReason reason);

// A stub's fields. The views point into the bytes decoded (or, to encode,
// into the caller's storage).
struct StubView {
  uint64_t position = 0;
  std::string_view stream;
  uint64_t version = 0;
  int64_t recorded_at_us = 0;
  std::string_view hash;           // 32 bytes
  std::string_view previous_hash;  // 32 bytes
  ScavengeReason reason = ScavengeReason::kRetention;
};

// True when `bytes` carry the stub's file identifier. Says nothing about
// whether they are a well-formed stub: DecodeStub() checks that. Every reader
// of the log asks this first, and decodes a record otherwise.
bool IsStub(std::string_view bytes);

// The stub's bytes (with its checksum). hash and previous_hash must be 32
// bytes each.
std::string EncodeStub(const StubView& stub);

// Decodes a stub (any alignment; `scratch` holds an aligned copy when needed
// and must outlive *out). kDataLoss when the bytes are not a well-formed stub
// or its checksum does not match.
absl::Status DecodeStub(std::string_view bytes, std::string* scratch, StubView* out);

// The stub's checksum (over its canonical bytes above).
uint32_t StubChecksum(const StubView& stub);

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_STUB_CODEC_H_
