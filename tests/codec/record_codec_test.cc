// The record codec (codec/internal/record_codec.h): records round-trip
// through the payload pipeline; compression is marked in the record, never
// in the hash; damage to a compressed payload or to its marker is kDataLoss;
// and the encryption hook (PayloadCipher) seals after compression, hashes
// what it stored, and leaves a chain that verifies without the cipher.

#include "codec/internal/record_codec.h"

#include <array>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "record_generated.h"
#include "tests/codec/toy_cipher.h"

namespace annals::codec_internal {
namespace {

using ::testing::HasSubstr;

std::string_view DigestView(const Sha256::Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

std::string Bytes(const flatbuffers::FlatBufferBuilder& fbb) {
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

// A JSON document of about 2 KiB that compresses well, like real events.
std::string Document() {
  std::string d = R"({"order":"o-17","lines":[)";
  for (int i = 0; i < 60; ++i) {
    d += R"({"sku":"SKU-)" + std::to_string(i % 7) + R"(","qty":)" + std::to_string(i % 3 + 1) +
         R"(,"note":"gift wrap"},)";
  }
  d += "{}]}";
  return d;
}

EventView Event(uint64_t position, std::string_view payload) {
  EventView e;
  e.position = position;
  e.stream = "order-17";
  e.version = position;
  std::array<uint8_t, 16> id{};
  id[15] = static_cast<uint8_t>(position);
  e.id = Uuid(id);
  e.type = "LinesAdded";
  e.recorded_at_us = 1764576000000000 + static_cast<int64_t>(position);
  e.metadata = {{"user", "ann"}};
  e.content_type = ContentType::kJson;
  e.payload = payload;
  return e;
}

PayloadCodecOptions Zstd(size_t min_bytes = 512) {
  PayloadCodecOptions o;
  o.compression = StoredCompression::kZstd;
  o.compression_min_bytes = min_bytes;
  return o;
}

// Encodes `e` after `prev` with `options`; returns the record and its hash.
std::pair<std::string, std::string> EncodeWith(const PayloadCodecOptions& options,
                                               const EventView& e,
                                               std::string_view prev = kGenesisHash) {
  RecordEncoder encoder(&options);
  flatbuffers::FlatBufferBuilder fbb;
  absl::StatusOr<Sha256::Digest> hash = encoder.Encode(e, prev, fbb);
  EXPECT_TRUE(hash.ok()) << hash.status();
  if (!hash.ok()) return {};
  return {Bytes(fbb), std::string(DigestView(*hash))};
}

PayloadEncoding StoredEncoding(const std::string& record, std::string* stored_payload = nullptr) {
  RecordDecoder decoder;
  EventView stored;
  PayloadEncoding encoding;
  uint32_t checksum = 0;
  EXPECT_TRUE(decoder.DecodeStored(record, &stored, &encoding, &checksum).ok());
  if (stored_payload != nullptr) *stored_payload = std::string(stored.payload);
  return encoding;
}

TEST(RecordCodecTest, IdentityRecordRoundTripsWithoutTheNewFields) {
  const std::string payload = Document();
  const EventView e = Event(1, payload);
  const auto [record, hash] = EncodeWith(PayloadCodecOptions(), e);
  // Format 2's bytes: an identity encoding is not written.
  const auto* table = flatbuffers::GetRoot<flatbuffers::Table>(record.data());
  EXPECT_TRUE(table->CheckField(fb::Record::VT_CHECKSUM));
  EXPECT_FALSE(table->CheckField(fb::Record::VT_PAYLOAD_ENCODING));

  RecordDecoder decoder;
  EventView out;
  ASSERT_TRUE(decoder.Decode(record, true, &out).ok());
  EXPECT_EQ(out.payload, payload);
  EXPECT_EQ(out.stream, e.stream);
  EXPECT_EQ(out.metadata, e.metadata);
  EXPECT_EQ(out.hash, hash);
  Sha256 sha;
  EXPECT_EQ(DigestView(ChainHash(sha, kGenesisHash, e, {})), hash);
}

TEST(RecordCodecTest, CompressedRecordRoundTripsVerifiesAndKeepsTheHash) {
  const std::string payload = Document();
  const EventView e = Event(1, payload);
  const auto [plain_record, plain_hash] = EncodeWith(PayloadCodecOptions(), e);
  const auto [record, hash] = EncodeWith(Zstd(), e);

  std::string stored;
  EXPECT_EQ(StoredEncoding(record, &stored).compression, StoredCompression::kZstd);
  EXPECT_LT(stored.size(), payload.size() / 4) << "the document should compress well";
  EXPECT_LT(record.size(), plain_record.size());
  // Same event, same hash, whatever the storage.
  EXPECT_EQ(hash, plain_hash);

  RecordDecoder decoder;
  EventView out;
  ASSERT_TRUE(decoder.Decode(record, true, &out).ok());
  EXPECT_EQ(out.payload, payload);
  EXPECT_EQ(out.hash, hash);

  // What verify does: the canonical view rehashes to the stored hash.
  EventView canonical;
  PayloadEncoding encoding;
  ASSERT_TRUE(decoder.DecodeCanonical(record, true, &canonical, &encoding).ok());
  EXPECT_EQ(canonical.payload, payload);
  Sha256 sha;
  EXPECT_EQ(DigestView(ChainHash(sha, kGenesisHash, canonical, encoding)), hash);

  // Misaligned bytes (RocksDB's blocks) decode the same.
  std::string shifted = " " + record;
  EventView via_copy;
  ASSERT_TRUE(decoder.Decode(std::string_view(shifted).substr(1), true, &via_copy).ok());
  EXPECT_EQ(via_copy.payload, payload);
}

TEST(RecordCodecTest, SmallOrIncompressiblePayloadsAreStoredAsAppended) {
  std::string random(4096, '\0');
  uint32_t x = 1;
  for (char& c : random) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  const std::string small = Document().substr(0, 511);
  for (const std::string& payload : {random, small, std::string()}) {
    const auto [record, hash] = EncodeWith(Zstd(), Event(1, payload));
    std::string stored;
    EXPECT_EQ(StoredEncoding(record, &stored).compression, StoredCompression::kIdentity)
        << payload.size();
    EXPECT_EQ(stored, payload);
  }
  // At the threshold it compresses.
  const std::string at_min = Document().substr(0, 512);
  EXPECT_EQ(StoredEncoding(EncodeWith(Zstd(), Event(1, at_min)).first).compression,
            StoredCompression::kZstd);
}

// Every single-bit flip of a compressed record is refused by a
// checksum-verified decode, or decodes to the very same event (a flip in
// bytes FlatBuffers does not read): never a different payload.
TEST(RecordCodecTest, EveryBitFlipOfACompressedRecordIsDetected) {
  const std::string payload = Document();
  const EventView e = Event(3, payload);
  const auto [record, hash] = EncodeWith(Zstd(), e);
  ASSERT_EQ(StoredEncoding(record).compression, StoredCompression::kZstd);
  RecordDecoder decoder;
  int refused = 0;
  for (size_t byte = 0; byte < record.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = record;
      damaged[byte] ^= static_cast<char>(1 << bit);
      EventView out;
      const absl::Status s = decoder.Decode(damaged, true, &out);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
        ++refused;
        continue;
      }
      EXPECT_EQ(out.payload, payload) << "byte " << byte << " bit " << bit;
      EXPECT_EQ(out.hash, hash) << "byte " << byte << " bit " << bit;
      EXPECT_EQ(out.stream, e.stream) << "byte " << byte << " bit " << bit;
    }
  }
  EXPECT_GT(refused, static_cast<int>(record.size()) * 4);
}

TEST(RecordCodecTest, AFlippedCompressionMarkerIsDataLoss) {
  const std::string payload = Document();
  const EventView e = Event(1, payload);
  Sha256 sha;
  const Sha256::Digest digest = ChainHash(sha, kGenesisHash, e, {});
  EventView record = e;
  record.hash = DigestView(digest);
  const uint32_t crc = RecordChecksum(e, {}, record.hash);

  // Plain bytes marked as zstd: not a zstd frame.
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(record, {.compression = StoredCompression::kZstd}, crc, fbb);
  RecordDecoder decoder;
  EventView out;
  absl::Status s = decoder.Decode(Bytes(fbb), false, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("zstd"));

  // Compressed bytes marked as plain: the checksum does not match.
  std::string compressed;
  StoredEncoding(EncodeWith(Zstd(), e).first, &compressed);
  record.payload = compressed;
  EncodeRecord(record, {}, crc, fbb);
  s = decoder.Decode(Bytes(fbb), true, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("checksum"));

  // A marker no annals wrote.
  EncodeRecord(record, {.compression = static_cast<StoredCompression>(5)}, crc, fbb);
  s = decoder.Decode(Bytes(fbb), false, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("unknown payload compression 5"));
}

// A damaged frame header that claims a huge content size is refused before
// anything of that size is allocated.
TEST(RecordCodecTest, AFrameClaimingMoreThanItCanHoldIsRefused) {
  // zstd magic, a header with an 8-byte content size (single segment) of
  // 2^40 bytes, then one empty raw last block.
  std::string frame("\x28\xb5\x2f\xfd\xe0", 5);
  for (int i = 0; i < 8; ++i) frame.push_back(i == 5 ? '\x01' : '\0');
  frame.append("\x01\x00\x00", 3);
  EventView e = Event(1, "");
  e.hash = kGenesisHash;
  e.payload = frame;
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(e, {.compression = StoredCompression::kZstd}, 0, fbb);
  RecordDecoder decoder;
  EventView out;
  const absl::Status s = decoder.Decode(Bytes(fbb), false, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_THAT(s.message(), HasSubstr("claims 1099511627776 bytes"));
}

// --- the encryption hook ---

class CipherHookTest : public ::testing::Test {
 protected:
  CipherHookTest() {
    options_ = Zstd();
    options_.cipher = cipher_;
    subject_ = {{"user", "ann"}, {"subject", "customer-17"}};
  }

  // A chain of three records; the second names a data subject.
  void EncodeChain() {
    RecordEncoder encoder(&options_);
    std::string prev(kGenesisHash);
    for (uint64_t p = 1; p <= 3; ++p) {
      EventView e = Event(p, payload_);
      if (p == 2) e.metadata = subject_;
      flatbuffers::FlatBufferBuilder fbb;
      absl::StatusOr<Sha256::Digest> hash = encoder.Encode(e, prev, fbb);
      ASSERT_TRUE(hash.ok()) << hash.status();
      records_.push_back(Bytes(fbb));
      prev = std::string(DigestView(*hash));
      hashes_.push_back(prev);
    }
  }

  std::shared_ptr<ToyCipher> cipher_ = std::make_shared<ToyCipher>();
  PayloadCodecOptions options_;
  std::vector<MetadataEntry> subject_;
  const std::string payload_ = Document();
  std::vector<std::string> records_;
  std::vector<std::string> hashes_;
};

TEST_F(CipherHookTest, SealsAfterCompressionAndOpensOnRead) {
  EncodeChain();
  std::string stored;
  const PayloadEncoding sealed = StoredEncoding(records_[1], &stored);
  EXPECT_EQ(sealed.cipher, 9);
  EXPECT_EQ(sealed.compression, StoredCompression::kZstd);
  EXPECT_LT(cipher_->seen_by_seal.size(), payload_.size()) << "the cipher got compressed bytes";
  EXPECT_EQ(stored.find("gift wrap"), std::string::npos) << "plaintext in a sealed record";
  // Records without a subject are not sealed.
  EXPECT_FALSE(StoredEncoding(records_[0]).sealed());
  EXPECT_FALSE(StoredEncoding(records_[2]).sealed());

  RecordDecoder reader(cipher_.get());
  for (size_t i = 0; i < records_.size(); ++i) {
    EventView out;
    ASSERT_TRUE(reader.Decode(records_[i], true, &out).ok()) << i;
    EXPECT_EQ(out.payload, payload_) << i;
    EXPECT_EQ(out.hash, hashes_[i]) << i;
  }
}

// What crypto-shredding needs: once the key is gone the payload cannot be
// read, and the chain still verifies, with no cipher at all.
TEST_F(CipherHookTest, TheChainVerifiesWithoutTheCipher) {
  EncodeChain();
  RecordDecoder verifier;  // No cipher.
  Sha256 sha;
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < records_.size(); ++i) {
    EventView canonical;
    PayloadEncoding encoding;
    ASSERT_TRUE(verifier.DecodeCanonical(records_[i], true, &canonical, &encoding).ok()) << i;
    EXPECT_EQ(DigestView(ChainHash(sha, prev, canonical, encoding)), canonical.hash) << i;
    EXPECT_EQ(CanonicalBytes(canonical, encoding).substr(0, 4), i == 1 ? "ANR2" : "ANR1");
    prev = std::string(canonical.hash);
  }
  EXPECT_EQ(prev, hashes_.back());

  EventView out;
  absl::Status s = verifier.Decode(records_[1], true, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_THAT(s.message(), HasSubstr("sealed by cipher 9"));
  ToyCipher other(8);
  s = RecordDecoder(&other).Decode(records_[1], true, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;

  // The key is gone (crypto-shredded): the record reads as erased, with no
  // payload and its envelope intact.
  cipher_->key_destroyed = true;
  s = RecordDecoder(cipher_.get()).Decode(records_[1], true, &out);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_TRUE(out.erased);
  EXPECT_EQ(out.payload, "");
  EXPECT_EQ(out.position, 2u);
  // Unsealed records still read.
  RecordDecoder reader(cipher_.get());
  ASSERT_TRUE(reader.Decode(records_[2], true, &out).ok());
  EXPECT_EQ(out.payload, payload_);
}

// The hash covers the sealed bytes: rewriting them (with a valid CRC) breaks
// the chain, as for any other field.
TEST_F(CipherHookTest, RewrittenCiphertextBreaksTheChain) {
  EncodeChain();
  RecordDecoder decoder;
  EventView stored;
  PayloadEncoding encoding;
  uint32_t checksum = 0;
  ASSERT_TRUE(decoder.DecodeStored(records_[1], &stored, &encoding, &checksum).ok());
  std::string forged(stored.payload);
  forged.back() ^= 1;
  stored.payload = forged;
  flatbuffers::FlatBufferBuilder fbb;
  EncodeRecord(stored, encoding, RecordChecksum(stored, encoding, stored.hash), fbb);
  // The decoded view points into the record: it must outlive the view.
  const std::string record = Bytes(fbb);
  EventView canonical;
  ASSERT_TRUE(decoder.DecodeCanonical(record, true, &canonical, &encoding).ok());
  Sha256 sha;
  EXPECT_NE(DigestView(ChainHash(sha, hashes_[0], canonical, encoding)), hashes_[1]);
  EXPECT_EQ(RecordDecoder(cipher_.get()).Decode(record, true, &canonical).code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(CipherHookTest, ADecliningCipherLeavesTheRecordAsWithoutOne) {
  const EventView e = Event(1, payload_);
  EXPECT_EQ(EncodeWith(options_, e), EncodeWith(Zstd(), e));
}

TEST_F(CipherHookTest, ASealFailureFailsTheEncode) {
  cipher_->fail_seal = true;
  RecordEncoder encoder(&options_);
  EventView e = Event(1, payload_);
  e.metadata = subject_;
  flatbuffers::FlatBufferBuilder fbb;
  absl::StatusOr<Sha256::Digest> hash = encoder.Encode(e, kGenesisHash, fbb);
  EXPECT_EQ(hash.status().code(), absl::StatusCode::kUnavailable) << hash.status();
}

}  // namespace
}  // namespace annals::codec_internal
