#include "eventstore/internal/record_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/coding.h"
#include "common/crc32c.h"
#include "common/strings.h"
#include "record_generated.h"

namespace annals::internal {
namespace {

class CrcSink {
 public:
  void Update(const void* data, size_t n) { crc_ = crc32c::Extend(crc_, data, n); }
  uint32_t value() const { return crc_; }

 private:
  uint32_t crc_ = 0;
};

template <typename Sink>
void FeedU64(Sink& sink, uint64_t v) {
  char b[8];
  coding::EncodeBigEndian64(b, v);
  sink.Update(b, 8);
}

template <typename Sink>
void FeedU32(Sink& sink, uint32_t v) {
  char b[4];
  coding::EncodeBigEndian32(b, v);
  sink.Update(b, 4);
}

template <typename Sink>
void FeedStr(Sink& sink, std::string_view s) {
  FeedU32(sink, static_cast<uint32_t>(s.size()));
  sink.Update(s.data(), s.size());
}

template <typename Sink>
void FeedCanonical(const EventView& e, Sink& sink) {
  sink.Update("ANR1", 4);
  FeedU64(sink, e.position);
  FeedStr(sink, e.stream);
  FeedU64(sink, e.version);
  sink.Update(e.id.bytes().data(), 16);
  FeedStr(sink, e.type);
  FeedU32(sink, e.schema_version);
  FeedU64(sink, static_cast<uint64_t>(e.recorded_at_us));
  FeedStr(sink, e.correlation_id);
  FeedStr(sink, e.causation_id);
  FeedU32(sink, static_cast<uint32_t>(e.metadata.size()));
  for (const auto& [k, v] : e.metadata) {
    FeedStr(sink, k);
    FeedStr(sink, v);
  }
  const uint8_t ct = static_cast<uint8_t>(e.content_type);
  sink.Update(&ct, 1);
  FeedStr(sink, e.payload);
}

std::string_view View(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

}  // namespace

Sha256::Digest ChainHash(Sha256& sha, std::string_view prev_hash, const EventView& e) {
  sha.Reset();
  sha.Update(prev_hash.data(), prev_hash.size());
  FeedCanonical(e, sha);
  return sha.Finish();
}

uint32_t RecordChecksum(const EventView& e, std::string_view hash) {
  CrcSink sink;
  FeedCanonical(e, sink);
  sink.Update(hash.data(), hash.size());
  return sink.value();
}

void EncodeRecord(const EventView& e, uint32_t checksum, flatbuffers::FlatBufferBuilder& fbb) {
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
  fbb.Finish(b.Finish(), fb::RecordIdentifier());
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

absl::Status DecodeRecord(std::string_view bytes, bool verify_checksum, EventView* out,
                          AlignedScratch& scratch) {
  return DecodeRecord(scratch.Hold(bytes), verify_checksum, out);
}

absl::Status DecodeRecord(std::string_view bytes, bool verify_checksum, EventView* out) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(uint64_t) != 0) {
    return absl::InternalError(
        "DecodeRecord: misaligned record buffer (pass an AlignedScratch)");
  }
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
  out->payload = r->payload() == nullptr
                     ? std::string_view()
                     : std::string_view(reinterpret_cast<const char*>(r->payload()->data()),
                                        r->payload()->size());
  out->hash =
      std::string_view(reinterpret_cast<const char*>(r->hash()->data()), r->hash()->size());
  if (verify_checksum && RecordChecksum(*out, out->hash) != r->checksum()) {
    return absl::DataLossError("record checksum mismatch (content does not match its CRC32C)");
  }
  return absl::OkStatus();
}

}  // namespace annals::internal
