// Fuzz target: the record decoder (codec_internal::RecordDecoder), which
// reads every record of the log, from disk, whatever a damaged or hostile
// file holds, and decompresses zstd payloads.
//
// Input: the bytes of one stored record (a FlatBuffers annals.fb.Record).
// Properties: decoding never crashes, never reads outside the buffer and
// never allocates more than the payload can hold; a refusal is kDataLoss (or,
// for a sealed payload read without its cipher, kFailedPrecondition); the
// aligned and the misaligned paths agree; a checksum-verified decode implies
// the unverified one; and what decodes re-encodes (EncodeRecord) to a record
// that decodes, checksum verified, to the same event.

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "codec/internal/record_codec.h"
#include "fuzz/fuzz_util.h"

namespace annals::fuzz {
namespace {

using codec_internal::PayloadEncoding;
using codec_internal::RecordDecoder;

// Every field of two decoded events, compared by value.
bool SameEvent(const EventView& a, const EventView& b) {
  return a.position == b.position && a.stream == b.stream && a.version == b.version &&
         a.id == b.id && a.type == b.type && a.schema_version == b.schema_version &&
         a.recorded_at_us == b.recorded_at_us && a.correlation_id == b.correlation_id &&
         a.causation_id == b.causation_id && a.metadata == b.metadata &&
         a.content_type == b.content_type && a.payload == b.payload && a.hash == b.hash;
}

std::unique_ptr<uint64_t[]> AlignedCopy(std::string_view bytes) {
  std::unique_ptr<uint64_t[]> words(new uint64_t[bytes.size() / 8 + 1]);
  if (!bytes.empty()) std::memcpy(words.get(), bytes.data(), bytes.size());
  return words;
}

void CheckOne(std::string_view aligned, std::string_view misaligned, bool verify) {
  // The event readers see.
  EventView event;
  RecordDecoder decoder;
  const absl::Status status = decoder.Decode(aligned, verify, &event);
  ANNALS_FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kDataLoss ||
                        status.code() == absl::StatusCode::kFailedPrecondition,
                    "Decode refused a record with ", status.ToString(),
                    " instead of kDataLoss (or kFailedPrecondition for a sealed payload)");
  RecordDecoder misaligned_decoder;
  EventView via_copy;
  const absl::Status misaligned_status = misaligned_decoder.Decode(misaligned, verify, &via_copy);
  ANNALS_FUZZ_CHECK(misaligned_status == status, "aligned decode: ", status.ToString(),
                    "; misaligned decode of the same bytes: ", misaligned_status.ToString());
  if (status.ok()) {
    ANNALS_FUZZ_CHECK(SameEvent(event, via_copy),
                      "aligned and misaligned decodes of the same bytes differ");
  }

  // The canonical view: never needs a cipher.
  EventView canonical;
  PayloadEncoding encoding;
  RecordDecoder canonical_decoder;
  const absl::Status canonical_status =
      canonical_decoder.DecodeCanonical(aligned, verify, &canonical, &encoding);
  ANNALS_FUZZ_CHECK(canonical_status.ok() || canonical_status.code() == absl::StatusCode::kDataLoss,
                    "DecodeCanonical refused a record with ", canonical_status.ToString(),
                    " instead of kDataLoss");
  ANNALS_FUZZ_CHECK(
      !status.ok() || canonical_status.ok(),
      "a record decodes but its canonical view does not: ", canonical_status.ToString());
  if (!canonical_status.ok()) return;
  ANNALS_FUZZ_CHECK(canonical.hash.size() == Sha256::kSize, "a decoded record has a ",
                    canonical.hash.size(), "-byte hash");
  ANNALS_FUZZ_CHECK(
      status.ok() || encoding.sealed(),
      "only a sealed payload may fail to decode after its canonical view did: ", status.ToString());

  // Re-encode the stored form with the right checksum (reading every byte the
  // views point to, so ASan checks them); it must decode, verified, to the
  // same canonical event.
  EventView stored;
  PayloadEncoding stored_encoding;
  uint32_t checksum = 0;
  RecordDecoder stored_decoder;
  const absl::Status stored_status =
      stored_decoder.DecodeStored(aligned, &stored, &stored_encoding, &checksum);
  ANNALS_FUZZ_CHECK(stored_status.ok(),
                    "a record has a canonical view but does not parse: ", stored_status.ToString());
  ANNALS_FUZZ_CHECK(stored_encoding == encoding,
                    "parse and canonical decode disagree on the encoding");
  flatbuffers::FlatBufferBuilder fbb;
  codec_internal::EncodeRecord(
      stored, encoding, codec_internal::RecordChecksum(canonical, encoding, canonical.hash), fbb);
  const std::string_view encoded(reinterpret_cast<const char*>(fbb.GetBufferPointer()),
                                 fbb.GetSize());
  const std::unique_ptr<uint64_t[]> words = AlignedCopy(encoded);
  EventView again;
  PayloadEncoding again_encoding;
  RecordDecoder again_decoder;
  const absl::Status again_status = again_decoder.DecodeCanonical(
      std::string_view(reinterpret_cast<const char*>(words.get()), encoded.size()), true, &again,
      &again_encoding);
  ANNALS_FUZZ_CHECK(again_status.ok(),
                    "a decoded record, re-encoded, does not decode: ", again_status.ToString());
  ANNALS_FUZZ_CHECK(SameEvent(canonical, again) && again_encoding == encoding,
                    "a decoded record, re-encoded, decodes differently");
}

}  // namespace
}  // namespace annals::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // FlatBuffers reads scalars in place, so the decoder copies misaligned
  // input (RocksDB's blocks give no alignment) into aligned scratch. Both
  // paths are fed.
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::unique_ptr<uint64_t[]> aligned = annals::fuzz::AlignedCopy(input);
  std::unique_ptr<char[]> misaligned_buffer(new char[size + 1]);
  if (size > 0) std::memcpy(misaligned_buffer.get() + 1, data, size);
  const std::string_view a(reinterpret_cast<const char*>(aligned.get()), size);
  const std::string_view m(misaligned_buffer.get() + 1, size);
  annals::fuzz::CheckOne(a, m, /*verify=*/false);
  annals::fuzz::CheckOne(a, m, /*verify=*/true);

  // Verified OK implies unverified OK.
  annals::EventView event;
  annals::codec_internal::RecordDecoder decoder;
  if (decoder.Decode(a, true, &event).ok()) {
    ANNALS_FUZZ_CHECK(decoder.Decode(a, false, &event).ok(),
                      "a record passes the checksum-verified decode but not the unverified one");
  }
  return 0;
}
