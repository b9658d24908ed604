#include "codec/internal/stub_codec.h"

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/sha256.h"
#include "common/strings.h"
#include "flatbuffers/flatbuffers.h"
#include "stub_generated.h"

namespace annals::codec_internal {
namespace {

constexpr std::string_view kStubMagic = "ANS1";

std::string_view View(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::string_view()
                      : std::string_view(reinterpret_cast<const char*>(v->data()), v->size());
}

}  // namespace

std::string_view ScavengeReasonName(ScavengeReason reason) {
  switch (reason) {
    case ScavengeReason::kRetention:
      return "retention";
    case ScavengeReason::kDeleted:
      return "deleted";
    case ScavengeReason::kCompacted:
      return "compacted";
  }
  return "unknown";
}

bool IsStub(std::string_view bytes) {
  return bytes.size() >= 8 &&
         bytes.substr(flatbuffers::kFileIdentifierLength, kStubMagic.size()) == kStubMagic;
}

uint32_t StubChecksum(const StubView& stub) {
  std::string canonical;
  canonical.reserve(4 + 8 + 4 + stub.stream.size() + 8 + 8 + 64 + 1);
  canonical.append(kStubMagic);
  coding::PutBigEndian64(&canonical, stub.position);
  coding::PutBigEndian32(&canonical, static_cast<uint32_t>(stub.stream.size()));
  canonical.append(stub.stream);
  coding::PutBigEndian64(&canonical, stub.version);
  coding::PutBigEndian64(&canonical, static_cast<uint64_t>(stub.recorded_at_us));
  canonical.append(stub.hash);
  canonical.append(stub.previous_hash);
  canonical.push_back(static_cast<char>(stub.reason));
  return crc32c::Value(canonical.data(), canonical.size());
}

std::string EncodeStub(const StubView& stub) {
  flatbuffers::FlatBufferBuilder fbb(128 + stub.stream.size());
  auto stream = fbb.CreateString(stub.stream.data(), stub.stream.size());
  auto hash =
      fbb.CreateVector(reinterpret_cast<const uint8_t*>(stub.hash.data()), stub.hash.size());
  auto previous = fbb.CreateVector(reinterpret_cast<const uint8_t*>(stub.previous_hash.data()),
                                   stub.previous_hash.size());
  fb::StubBuilder b(fbb);
  b.add_position(stub.position);
  b.add_stream(stream);
  b.add_version(stub.version);
  b.add_recorded_at_us(stub.recorded_at_us);
  b.add_hash(hash);
  b.add_previous_hash(previous);
  b.add_reason(static_cast<fb::ScavengeReason>(stub.reason));
  b.add_checksum(StubChecksum(stub));
  fb::FinishStubBuffer(fbb, b.Finish());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

absl::Status DecodeStub(std::string_view bytes, std::string* scratch, StubView* out) {
  // FlatBuffers reads scalars in place: decode from an aligned copy (the
  // string's buffer is aligned for any scalar).
  if (reinterpret_cast<uintptr_t>(bytes.data()) % 8 != 0) {
    scratch->assign(bytes);
    bytes = *scratch;
  }
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyStubBuffer(verifier)) {
    return absl::DataLossError("stub is not a well-formed annals stub (FlatBuffers check)");
  }
  const fb::Stub* s = fb::GetStub(data);
  if (s->stream() == nullptr || s->hash() == nullptr || s->hash()->size() != Sha256::kSize ||
      s->previous_hash() == nullptr || s->previous_hash()->size() != Sha256::kSize) {
    return absl::DataLossError("stub lacks a required field (stream, hash or previous hash)");
  }
  const uint8_t reason = static_cast<uint8_t>(s->reason());
  if (reason > kMaxScavengeReason) {
    return absl::DataLossError(StrCat("stub has unknown reason ", reason));
  }
  out->position = s->position();
  out->stream = std::string_view(s->stream()->data(), s->stream()->size());
  out->version = s->version();
  out->recorded_at_us = s->recorded_at_us();
  out->hash = View(s->hash());
  out->previous_hash = View(s->previous_hash());
  out->reason = static_cast<ScavengeReason>(reason);
  if (StubChecksum(*out) != s->checksum()) {
    return absl::DataLossError("stub checksum mismatch (CRC32C over its canonical bytes)");
  }
  return absl::OkStatus();
}

}  // namespace annals::codec_internal
