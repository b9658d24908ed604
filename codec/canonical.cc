#include "codec/internal/canonical.h"

#include "common/coding.h"
#include "common/crc32c.h"

namespace annals::codec_internal {
namespace {

// The canonical bytes are fed to a sink (SHA-256, CRC32C or a string) as
// they are produced, never materialised on the hot path.
class CrcSink {
 public:
  void Update(const void* data, size_t n) { crc_ = crc32c::Extend(crc_, data, n); }
  uint32_t value() const { return crc_; }

 private:
  uint32_t crc_ = 0;
};

class StringSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  void Update(const void* data, size_t n) { out_->append(static_cast<const char*>(data), n); }

 private:
  std::string* out_;
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
void FeedU8(Sink& sink, uint8_t v) {
  sink.Update(&v, 1);
}

template <typename Sink>
void FeedStr(Sink& sink, std::string_view s) {
  FeedU32(sink, static_cast<uint32_t>(s.size()));
  sink.Update(s.data(), s.size());
}

// The grammar of canonical.h, field by field.
template <typename Sink>
void FeedCanonical(const EventView& e, const PayloadEncoding& encoding, Sink& sink) {
  // "ANR3" (format 4): a subject, and the bracketed part always; records
  // without a subject keep the bytes of "ANR1" and "ANR2".
  const bool v3 = !e.subject.empty();
  sink.Update(v3 ? "ANR3" : encoding.sealed() ? "ANR2" : "ANR1", 4);
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
  FeedU8(sink, static_cast<uint8_t>(e.content_type));
  if (v3 || encoding.sealed()) {
    FeedU8(sink, static_cast<uint8_t>(encoding.compression));
    FeedU8(sink, encoding.cipher);
  }
  if (v3) FeedStr(sink, e.subject);
  FeedStr(sink, e.payload);
}

}  // namespace

std::string CanonicalBytes(const EventView& e, const PayloadEncoding& encoding) {
  std::string out;
  StringSink sink(&out);
  FeedCanonical(e, encoding, sink);
  return out;
}

Sha256::Digest ChainHash(Sha256& sha, std::string_view prev_hash, const EventView& e,
                         const PayloadEncoding& encoding) {
  sha.Reset();
  sha.Update(prev_hash.data(), prev_hash.size());
  FeedCanonical(e, encoding, sha);
  return sha.Finish();
}

uint32_t RecordChecksum(const EventView& e, const PayloadEncoding& encoding,
                        std::string_view hash) {
  CrcSink sink;
  FeedCanonical(e, encoding, sink);
  sink.Update(hash.data(), hash.size());
  return sink.value();
}

}  // namespace annals::codec_internal
