#include "codec/internal/record_codec.h"

#include <array>
#include <cstring>
#include <vector>

#include "common/status_macros.h"
#include "common/strings.h"
#include "record_generated.h"

namespace annals::codec_internal {
namespace {

std::string_view View(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

// Parses 8-byte-aligned record bytes: out->payload is the payload as stored.
absl::Status Parse(std::string_view bytes, EventView* out, PayloadEncoding* encoding,
                   uint32_t* checksum) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier verifier(data, bytes.size());
  if (!fb::VerifyRecordBuffer(verifier)) {
    return absl::DataLossError("record is not a well-formed annals record (FlatBuffers check)");
  }
  const fb::Record* r = fb::GetRecord(data);
  if (r->stream() == nullptr || r->type() == nullptr || r->id() == nullptr ||
      r->hash() == nullptr || r->hash()->size() != Sha256::kSize) {
    return absl::DataLossError("record lacks a required field (stream, type, id or hash)");
  }
  out->position = r->position();
  out->stream = View(r->stream());
  out->version = r->version();
  std::array<uint8_t, 16> id;
  std::memcpy(id.data(), r->id()->bytes()->data(), 16);
  out->id = Uuid(id);
  out->type = View(r->type());
  out->schema_version = r->schema_version();
  out->recorded_at_us = r->recorded_at_us();
  out->correlation_id = View(r->correlation_id());
  out->causation_id = View(r->causation_id());
  out->metadata.clear();
  if (r->metadata() != nullptr) {
    out->metadata.reserve(r->metadata()->size());
    for (const fb::MetadataEntry* m : *r->metadata()) {
      out->metadata.emplace_back(View(m->key()), View(m->value()));
    }
  }
  const uint8_t ct = static_cast<uint8_t>(r->content_type());
  if (ct > static_cast<uint8_t>(ContentType::kFlatBuffers)) {
    return absl::DataLossError(StrCat("record has unknown content type ", ct));
  }
  out->content_type = static_cast<ContentType>(ct);
  if (const fb::PayloadEncoding* how = r->payload_encoding(); how != nullptr) {
    const uint8_t compression = static_cast<uint8_t>(how->compression());
    if (compression > kMaxStoredCompression) {
      return absl::DataLossError(StrCat("record has unknown payload compression ", compression));
    }
    encoding->compression = static_cast<StoredCompression>(compression);
    encoding->cipher = how->cipher();
  } else {
    *encoding = PayloadEncoding();
  }
  out->payload = r->payload() == nullptr
                     ? std::string_view()
                     : std::string_view(reinterpret_cast<const char*>(r->payload()->data()),
                                        r->payload()->size());
  out->hash = std::string_view(reinterpret_cast<const char*>(r->hash()->data()), r->hash()->size());
  out->subject = View(r->subject());
  out->erased = false;
  *checksum = r->checksum();
  return absl::OkStatus();
}

absl::Status ChecksumMismatch() {
  return absl::DataLossError("record checksum mismatch (content does not match its CRC32C)");
}

}  // namespace

void EncodeRecord(const EventView& e, const PayloadEncoding& encoding, uint32_t checksum,
                  flatbuffers::FlatBufferBuilder& fbb) {
  fbb.Clear();
  auto stream = fbb.CreateString(e.stream.data(), e.stream.size());
  auto type = fbb.CreateString(e.type.data(), e.type.size());
  flatbuffers::Offset<flatbuffers::String> correlation, causation;
  if (!e.correlation_id.empty()) {
    correlation = fbb.CreateString(e.correlation_id.data(), e.correlation_id.size());
  }
  if (!e.causation_id.empty()) {
    causation = fbb.CreateString(e.causation_id.data(), e.causation_id.size());
  }
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::MetadataEntry>>> metadata;
  if (!e.metadata.empty()) {
    std::vector<flatbuffers::Offset<fb::MetadataEntry>> entries;
    entries.reserve(e.metadata.size());
    for (const auto& [k, v] : e.metadata) {
      entries.push_back(fb::CreateMetadataEntry(fbb, fbb.CreateString(k.data(), k.size()),
                                                fbb.CreateString(v.data(), v.size())));
    }
    metadata = fbb.CreateVector(entries);
  }
  flatbuffers::Offset<flatbuffers::String> subject;
  if (!e.subject.empty()) subject = fbb.CreateString(e.subject.data(), e.subject.size());
  auto payload =
      fbb.CreateVector(reinterpret_cast<const uint8_t*>(e.payload.data()), e.payload.size());
  auto hash = fbb.CreateVector(reinterpret_cast<const uint8_t*>(e.hash.data()), e.hash.size());
  fb::Uuid id(flatbuffers::span<const uint8_t, 16>(e.id.bytes().data(), 16));
  fb::RecordBuilder b(fbb);
  b.add_position(e.position);
  b.add_version(e.version);
  b.add_recorded_at_us(e.recorded_at_us);
  b.add_stream(stream);
  b.add_id(&id);
  b.add_type(type);
  b.add_schema_version(e.schema_version);
  if (!e.correlation_id.empty()) b.add_correlation_id(correlation);
  if (!e.causation_id.empty()) b.add_causation_id(causation);
  if (!e.metadata.empty()) b.add_metadata(metadata);
  b.add_content_type(static_cast<fb::ContentType>(e.content_type));
  b.add_payload(payload);
  b.add_hash(hash);
  b.add_checksum(checksum);
  // The identity (not compressed, not sealed) is not written: such a record
  // is byte for byte what format 2 wrote.
  const fb::PayloadEncoding how(static_cast<fb::PayloadCompression>(encoding.compression),
                                encoding.cipher);
  if (!encoding.identity()) b.add_payload_encoding(&how);
  if (!e.subject.empty()) b.add_subject(subject);
  fbb.Finish(b.Finish(), fb::RecordIdentifier());
}

RecordEncoder::RecordEncoder(const PayloadCodecOptions* options) : payload_(options) {}

absl::StatusOr<Sha256::Digest> RecordEncoder::Encode(const EventView& e, std::string_view prev_hash,
                                                     flatbuffers::FlatBufferBuilder& fbb) {
  std::string_view stored_payload;
  PayloadEncoding encoding;
  RETURN_IF_ERROR(payload_.Encode(e, &stored_payload, &encoding, &plain_metadata_));
  stored_ = e;
  stored_.payload = stored_payload;
  if (encoding.sealed()) stored_.metadata = plain_metadata_;
  // canonical.h: an unsealed payload is hashed as appended, a sealed one as
  // stored.
  const EventView& canonical = encoding.sealed() ? stored_ : e;
  const Sha256::Digest hash = ChainHash(sha_, prev_hash, canonical, encoding);
  stored_.hash = std::string_view(reinterpret_cast<const char*>(hash.data()), hash.size());
  EncodeRecord(stored_, encoding, RecordChecksum(canonical, encoding, stored_.hash), fbb);
  return hash;
}

std::string_view AlignedScratch::Hold(std::string_view bytes) {
  // Nothing to copy (and words_ may still be null: memcpy from or to null is
  // undefined even for zero bytes; the record-decoder fuzzer found it).
  if (bytes.empty()) return std::string_view();
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) == 0) return bytes;
  const size_t words = (bytes.size() + sizeof(uint64_t) - 1) / sizeof(uint64_t);
  if (words > capacity_words_) {
    words_ = std::make_unique<uint64_t[]>(words);
    capacity_words_ = words;
  }
  std::memcpy(words_.get(), bytes.data(), bytes.size());
  return std::string_view(reinterpret_cast<const char*>(words_.get()), bytes.size());
}

RecordDecoder::RecordDecoder(const PayloadCipher* cipher) : payload_(cipher) {}

absl::Status RecordDecoder::DecodeStored(std::string_view bytes, EventView* out,
                                         PayloadEncoding* encoding, uint32_t* checksum) {
  return Parse(aligned_.Hold(bytes), out, encoding, checksum);
}

absl::Status RecordDecoder::DecodeCanonical(std::string_view bytes, bool verify_checksum,
                                            EventView* out, PayloadEncoding* encoding) {
  uint32_t checksum = 0;
  RETURN_IF_ERROR(Parse(aligned_.Hold(bytes), out, encoding, &checksum));
  if (!encoding->identity()) {
    ASSIGN_OR_RETURN(out->payload, payload_.Canonical(out->payload, *encoding));
  }
  if (verify_checksum && RecordChecksum(*out, *encoding, out->hash) != checksum) {
    return ChecksumMismatch();
  }
  return absl::OkStatus();
}

absl::Status RecordDecoder::Decode(std::string_view bytes, bool verify_checksum, EventView* out) {
  PayloadEncoding encoding;
  uint32_t checksum = 0;
  absl::Status parsed = Parse(aligned_.Hold(bytes), out, &encoding, &checksum);
  if (!parsed.ok()) return parsed;
  // Most records are stored as appended: this path makes no further call
  // and no StatusOr (every read goes through here, about 30 ns a record).
  if (encoding.identity()) {
    if (verify_checksum && RecordChecksum(*out, encoding, out->hash) != checksum) {
      return ChecksumMismatch();
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(out->payload, payload_.Canonical(out->payload, encoding));
  // A sealed payload's checksum is checked before it is opened.
  if (verify_checksum && RecordChecksum(*out, encoding, out->hash) != checksum) {
    return ChecksumMismatch();
  }
  if (encoding.sealed()) RETURN_IF_ERROR(payload_.OpenSealed(out, encoding));
  return absl::OkStatus();
}

}  // namespace annals::codec_internal
