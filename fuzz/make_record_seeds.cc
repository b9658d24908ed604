// Writes the seed corpus of the record_decoder fuzz target: records encoded
// as the store writes them (identity, zstd-compressed and sealed payloads)
// and damaged variants of them.
// Built on request only (`cmake --build <dir> --target make_record_seeds`):
//
//   make_record_seeds fuzz/corpus/record_decoder

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "codec/internal/record_codec.h"

namespace {

void Write(const std::string& dir, const std::string& name, std::string_view bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary).write(bytes.data(), bytes.size());
}

using annals::codec_internal::PayloadEncoding;

// `e` with its payload stored as given and `encoding`.
std::string Encode(const annals::EventView& e, const PayloadEncoding& encoding = {}) {
  flatbuffers::FlatBufferBuilder fbb;
  annals::codec_internal::EncodeRecord(
      e, encoding, annals::codec_internal::RecordChecksum(e, encoding, e.hash), fbb);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

std::string Bytes(const flatbuffers::FlatBufferBuilder& fbb) {
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const std::string hash(32, '\x11');
  std::array<uint8_t, 16> id_bytes{};
  for (int i = 0; i < 16; ++i) id_bytes[i] = static_cast<uint8_t>(0xa0 + i);

  annals::EventView full;
  full.position = 42;
  full.stream = "order-42";
  full.version = 3;
  full.id = annals::Uuid(id_bytes);
  full.type = "ItemAdded";
  full.schema_version = 2;
  full.recorded_at_us = 1795000000123456;
  full.correlation_id = "c-1";
  full.causation_id = "k-9";
  full.metadata = {{"user", "ann"}, {"ip", "10.0.0.1"}};
  full.content_type = annals::ContentType::kJson;
  full.payload = "{\"sku\":\"A1\",\"qty\":2}";
  full.hash = hash;
  const std::string full_bytes = Encode(full);
  Write(dir, "full_json_event", full_bytes);

  annals::EventView minimal;
  minimal.position = 1;
  minimal.stream = "s";
  minimal.version = 1;
  minimal.type = "T";
  minimal.content_type = annals::ContentType::kBytes;
  minimal.hash = hash;
  Write(dir, "minimal_bytes_event", Encode(minimal));

  annals::EventView binary = full;
  binary.metadata.clear();
  binary.correlation_id = "";
  binary.content_type = annals::ContentType::kFlatBuffers;
  binary.payload = std::string_view("\x10\0\0\0\x0c\0\x14\0\xff\xfe", 10);
  Write(dir, "flatbuffers_payload_event", Encode(binary));

  // A payload compressed by the store's own encoder.
  annals::codec_internal::PayloadCodecOptions zstd;
  zstd.compression = annals::codec_internal::StoredCompression::kZstd;
  zstd.compression_min_bytes = 1;
  annals::codec_internal::RecordEncoder encoder(&zstd);
  std::string document = "{\"lines\":[";
  for (int i = 0; i < 40; ++i) document += "{\"sku\":\"A1\",\"qty\":2},";
  document += "{}]}";
  annals::EventView compressible = full;
  compressible.payload = document;
  flatbuffers::FlatBufferBuilder fbb;
  if (!encoder.Encode(compressible, hash, fbb).ok()) return 1;
  const std::string compressed_bytes = Bytes(fbb);
  Write(dir, "zstd_payload_event", compressed_bytes);
  std::string flipped_frame = compressed_bytes;
  flipped_frame[flipped_frame.size() - 12] ^= 0x20;
  Write(dir, "zstd_payload_flipped", flipped_frame);

  // A sealed payload (cipher 7, of which no implementation exists here).
  annals::EventView sealed = full;
  sealed.payload = std::string_view("\x01\x02sealed-bytes\xff", 15);
  Write(dir, "sealed_payload_event", Encode(sealed, PayloadEncoding{.cipher = 7}));

  std::string flipped = full_bytes;
  flipped[flipped.size() / 2] ^= 0x04;
  Write(dir, "one_bit_flipped", flipped);
  Write(dir, "truncated", std::string_view(full_bytes).substr(0, full_bytes.size() - 7));
  std::string bad_identifier = full_bytes;
  bad_identifier[4] = 'X';
  Write(dir, "wrong_file_identifier", bad_identifier);
  Write(dir, "empty", "");
  std::printf("wrote 10 records to %s\n", dir.c_str());
  return 0;
}
