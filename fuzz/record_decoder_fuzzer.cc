// Fuzz target: the record decoder (internal::DecodeRecord), which reads every
// record of the log, from disk, whatever a damaged or hostile file holds.
//
// Input: the bytes of one stored record (a FlatBuffers annals.fb.Record).
// Properties: decoding never crashes and never reads outside the buffer; a
// refusal is kDataLoss; the aligned and the misaligned (AlignedScratch) paths
// agree; a checksum-verified decode implies the unverified one; and what
// decodes re-encodes (EncodeRecord) to a record that decodes, checksum
// verified, to the same event.

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "eventstore/internal/record_codec.h"
#include "fuzz/fuzz_util.h"

namespace annals::fuzz {
namespace {

// Every field of two decoded events, compared by value.
bool SameEvent(const EventView& a, const EventView& b) {
  return a.position == b.position && a.stream == b.stream && a.version == b.version &&
         a.id == b.id && a.type == b.type && a.schema_version == b.schema_version &&
         a.recorded_at_us == b.recorded_at_us && a.correlation_id == b.correlation_id &&
         a.causation_id == b.causation_id && a.metadata == b.metadata &&
         a.content_type == b.content_type && a.payload == b.payload && a.hash == b.hash;
}

void CheckOne(std::string_view aligned, std::string_view misaligned, bool verify) {
  EventView event;
  const absl::Status status = internal::DecodeRecord(aligned, verify, &event);
  ANNALS_FUZZ_CHECK(status.ok() || status.code() == absl::StatusCode::kDataLoss,
                    "DecodeRecord refused a record with ", status.ToString(),
                    " instead of kDataLoss");

  internal::AlignedScratch scratch;
  EventView via_scratch;
  const absl::Status scratch_status =
      internal::DecodeRecord(misaligned, verify, &via_scratch, scratch);
  ANNALS_FUZZ_CHECK(scratch_status == status, "aligned decode: ", status.ToString(),
                    "; misaligned decode of the same bytes: ", scratch_status.ToString());
  if (!status.ok()) return;
  ANNALS_FUZZ_CHECK(SameEvent(event, via_scratch),
                    "aligned and misaligned decodes of the same bytes differ");

  ANNALS_FUZZ_CHECK(event.hash.size() == Sha256::kSize, "a decoded record has a ",
                    event.hash.size(), "-byte hash");

  // Re-encode with the right checksum (reading every byte the views point to,
  // so ASan checks them); it must decode, verified, to the same event.
  flatbuffers::FlatBufferBuilder fbb;
  internal::EncodeRecord(event, internal::RecordChecksum(event, event.hash), fbb);
  std::string_view encoded(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
  std::unique_ptr<uint64_t[]> words(new uint64_t[(encoded.size() + 7) / 8]);
  std::memcpy(words.get(), encoded.data(), encoded.size());
  EventView again;
  const absl::Status again_status = internal::DecodeRecord(
      std::string_view(reinterpret_cast<const char*>(words.get()), encoded.size()), true, &again);
  ANNALS_FUZZ_CHECK(again_status.ok(), "a decoded record, re-encoded, does not decode: ",
                    again_status.ToString());
  ANNALS_FUZZ_CHECK(SameEvent(event, again), "a decoded record, re-encoded, decodes differently");
}

}  // namespace
}  // namespace annals::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // FlatBuffers reads scalars in place, so the decoder wants 8-byte-aligned
  // input (RocksDB's blocks give none: the scratch path copies). Both are fed.
  std::unique_ptr<uint64_t[]> aligned(new uint64_t[size / 8 + 1]);
  if (size > 0) std::memcpy(aligned.get(), data, size);
  std::unique_ptr<char[]> misaligned_buffer(new char[size + 1]);
  if (size > 0) std::memcpy(misaligned_buffer.get() + 1, data, size);
  const std::string_view a(reinterpret_cast<const char*>(aligned.get()), size);
  const std::string_view m(misaligned_buffer.get() + 1, size);
  annals::fuzz::CheckOne(a, m, /*verify=*/false);
  annals::fuzz::CheckOne(a, m, /*verify=*/true);

  // Verified OK implies unverified OK.
  annals::EventView event;
  if (annals::internal::DecodeRecord(a, true, &event).ok()) {
    ANNALS_FUZZ_CHECK(annals::internal::DecodeRecord(a, false, &event).ok(),
                      "a record passes the checksum-verified decode but not the unverified one");
  }
  return 0;
}
