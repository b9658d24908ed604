#include "codec/internal/payload_codec.h"

#include <zstd.h>

#include <algorithm>

#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace annals::codec_internal {
namespace {

// zstd's level 1, its fastest standard level: compression runs in the
// committer, which every append waits for, and event payloads are small
// enough that higher levels buy little (docs/benchmarks.md).
constexpr int kZstdLevel = 1;

// A zstd frame cannot expand more than this: its densest block is an RLE
// block of 4 bytes (3 of header) standing for at most 128 KiB. A damaged
// frame header claiming more is refused before anything is allocated.
constexpr uint64_t kZstdMaxRatio = (128u << 10) / 4;

// Payloads are bounded by FlatBuffers' 2 GiB buffers.
constexpr uint64_t kMaxPayloadBytes = (uint64_t{1} << 31) - 1;

// RocksDB's GoodCompressionRatio(): keep compressed bytes only when they
// save at least 1/8, so barely compressible payloads are not decompressed on
// every read for a few bytes.
bool WorthIt(size_t compressed, size_t raw) { return compressed < raw - raw / 8; }

void AppendStr(std::string& out, std::string_view s) {
  char n[4];
  coding::EncodeBigEndian32(n, static_cast<uint32_t>(s.size()));
  out.append(n, 4);
  out.append(s.data(), s.size());
}

bool TakeU32(std::string_view& in, uint32_t* v) {
  if (in.size() < 4) return false;
  *v = coding::DecodeBigEndian32(in);
  in.remove_prefix(4);
  return true;
}

bool TakeStr(std::string_view& in, std::string_view* s) {
  uint32_t n = 0;
  if (!TakeU32(in, &n) || in.size() < n) return false;
  *s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace

absl::Status ValidateCodecOptions(const Options& options) {
  switch (options.payload_compression) {
    case PayloadCompression::kNone:
    case PayloadCompression::kZstd:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      StrCat("Options: payload_compression has the unknown value ",
             static_cast<int>(options.payload_compression),
             "; use PayloadCompression::kNone or PayloadCompression::kZstd"));
}

PayloadCodecOptions CodecOptionsFrom(const Options& options) {
  PayloadCodecOptions out;
  out.compression = options.payload_compression == PayloadCompression::kZstd
                        ? StoredCompression::kZstd
                        : StoredCompression::kIdentity;
  out.compression_min_bytes = options.payload_compression_min_bytes;
  if (options.encryption.has_value()) {
    out.personal_metadata_keys = options.encryption->personal_metadata_keys;
  }
  return out;
}

PayloadEncoder::PayloadEncoder(const PayloadCodecOptions* options) : options_(options) {}

PayloadEncoder::~PayloadEncoder() { ZSTD_freeCCtx(zstd_); }

absl::Status PayloadEncoder::Encode(const EventView& envelope, std::string_view* stored,
                                    PayloadEncoding* encoding,
                                    std::vector<MetadataEntry>* plain_metadata) {
  if (options_->cipher != nullptr) {
    if (const std::optional<StoredCompression> as_sealed = options_->cipher->PassThrough(envelope);
        as_sealed.has_value()) {
      *stored = envelope.payload;
      *encoding = PayloadEncoding{.compression = *as_sealed, .cipher = options_->cipher->id()};
      *plain_metadata = envelope.metadata;
      return absl::OkStatus();
    }
  }
  std::string_view stage = envelope.payload;
  PayloadEncoding how;
  if (options_->compression == StoredCompression::kZstd && !stage.empty() &&
      stage.size() >= options_->compression_min_bytes) {
    if (zstd_ == nullptr) zstd_ = ZSTD_createCCtx();
    if (zstd_ != nullptr) {
      // Grown, never shrunk: resizing down and up again would zero-fill.
      const size_t bound = ZSTD_compressBound(stage.size());
      if (compressed_.size() < bound) compressed_.resize(bound);
      const size_t n = ZSTD_compressCCtx(zstd_, compressed_.data(), bound, stage.data(),
                                         stage.size(), kZstdLevel);
      // A failed compression (out of memory) stores the payload as it is:
      // compression is an optimisation, never a reason to fail an append.
      if (!ZSTD_isError(n) && WorthIt(n, stage.size())) {
        stage = std::string_view(compressed_.data(), n);
        how.compression = StoredCompression::kZstd;
      }
    }
  }
  if (const std::shared_ptr<PayloadCipher>& cipher = options_->cipher; cipher != nullptr) {
    if (cipher->id() == 0) {
      return absl::InternalError("a payload cipher has id 0, which means 'not sealed'");
    }
    // The sealed body (payload_codec.h): personal entries, then the payload.
    body_.clear();
    body_.append(4, '\0');
    uint32_t personal = 0;
    plain_metadata->clear();
    if (options_->personal_metadata_keys.empty()) {
      *plain_metadata = envelope.metadata;
    } else {
      for (const MetadataEntry& m : envelope.metadata) {
        const auto& keys = options_->personal_metadata_keys;
        if (std::find(keys.begin(), keys.end(), m.first) == keys.end()) {
          plain_metadata->push_back(m);
          continue;
        }
        ++personal;
        AppendStr(body_, m.first);
        AppendStr(body_, m.second);
      }
    }
    coding::EncodeBigEndian32(body_.data(), personal);
    body_.append(stage.data(), stage.size());
    ASSIGN_OR_RETURN(const bool sealed, cipher->Seal(envelope, body_, &sealed_));
    if (sealed) {
      stage = sealed_;
      how.cipher = cipher->id();
    }
  }
  *stored = stage;
  *encoding = how;
  return absl::OkStatus();
}

PayloadDecoder::PayloadDecoder(const PayloadCipher* cipher) : cipher_(cipher) {}

PayloadDecoder::~PayloadDecoder() { ZSTD_freeDCtx(zstd_); }

absl::StatusOr<std::string_view> PayloadDecoder::Decompress(std::string_view frame) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return absl::DataLossError(
        "record payload is marked zstd but is not a zstd frame with its content size");
  }
  if (size > kMaxPayloadBytes || size > frame.size() * kZstdMaxRatio) {
    return absl::DataLossError(StrCat("record payload's zstd frame claims ", size,
                                      " bytes, more than ", frame.size(),
                                      " compressed bytes can hold"));
  }
  if (zstd_ == nullptr) zstd_ = ZSTD_createDCtx();
  if (zstd_ == nullptr) return absl::ResourceExhaustedError("cannot allocate a zstd context");
  decompressed_.resize(size);
  const size_t n = ZSTD_decompressDCtx(zstd_, decompressed_.data(), decompressed_.size(),
                                       frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) {
    return absl::DataLossError(
        StrCat("record payload does not decompress (zstd: ",
               ZSTD_isError(n) ? ZSTD_getErrorName(n) : "shorter than its frame says", ")"));
  }
  return std::string_view(decompressed_);
}

absl::StatusOr<std::string_view> PayloadDecoder::Canonical(std::string_view stored,
                                                           const PayloadEncoding& encoding) {
  if (encoding.sealed() || encoding.compression == StoredCompression::kIdentity) return stored;
  return Decompress(stored);
}

absl::Status PayloadDecoder::OpenSealed(EventView* out, const PayloadEncoding& encoding) {
  if (!encoding.sealed()) return absl::OkStatus();
  if (cipher_ == nullptr || cipher_->id() != encoding.cipher) {
    return absl::FailedPreconditionError(
        StrCat("the payload of the event at position ", out->position, " is sealed by cipher ",
               encoding.cipher,
               ", which this store was not opened with; open it with Options::encryption (CLI: "
               "ANNALS_MASTER_KEY_FILE) to read it (the hash chain verifies without it)"));
  }
  absl::Status opened = cipher_->Open(*out, out->payload, &opened_);
  if (absl::IsNotFound(opened)) {
    out->erased = true;
    out->payload = std::string_view();
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(opened);
  std::string_view body(opened_);
  auto damaged = [&] {
    return absl::DataLossError(
        StrCat("the sealed body of the event at position ", out->position, " does not parse"));
  };
  uint32_t personal = 0;
  if (!TakeU32(body, &personal)) return damaged();
  for (uint32_t i = 0; i < personal; ++i) {
    std::string_view k, v;
    if (!TakeStr(body, &k) || !TakeStr(body, &v)) return damaged();
    out->metadata.emplace_back(k, v);
  }
  if (encoding.compression == StoredCompression::kIdentity) {
    out->payload = body;
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(out->payload, Decompress(body));
  return absl::OkStatus();
}

}  // namespace annals::codec_internal
