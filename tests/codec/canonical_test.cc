// Known-answer tests of the canonical bytes, the hash chain and the record
// checksum (codec/internal/canonical.h, docs/format.md). The expected values
// were computed by an independent implementation of the grammar in
// docs/format.md (a short Python script: struct.pack, hashlib.sha256 and a
// bitwise CRC32C), not by this code: a change to the canonical form, the
// order of one field included, fails here. Changing them means every hash
// of every existing store changes: a new canonical magic, never an edit.

#include "codec/internal/canonical.h"

#include <array>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace annals::codec_internal {
namespace {

std::string Hex(std::string_view bytes) { return HexEncode(bytes); }

std::string_view DigestView(const Sha256::Digest& d) {
  return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
}

Uuid IdFrom(uint8_t first) {
  std::array<uint8_t, 16> b;
  for (int i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(first + i);
  return Uuid(b);
}

// Three records of the log, one per content type, with and without metadata
// and ids: every field of the grammar takes a non-default value somewhere.
class ChainKat : public ::testing::Test {
 protected:
  void SetUp() override {
    EventView& a = events_[0];
    a.position = 1;
    a.stream = "order-1";
    a.version = 1;
    a.id = IdFrom(0x10);
    a.type = "OrderPlaced";
    a.schema_version = 2;
    a.recorded_at_us = 1764576000000001;
    a.correlation_id = "corr-1";
    a.metadata = {{"user", "ann"}, {"ip", "10.0.0.1"}};
    a.content_type = ContentType::kJson;
    a.payload = R"({"sku":"A1","qty":2})";

    EventView& b = events_[1];
    b.position = 2;
    b.stream = "order-1";
    b.version = 2;
    b.id = IdFrom(0x20);
    b.type = "ItemAdded";
    b.schema_version = 1;
    b.recorded_at_us = 1764576000000002;
    b.correlation_id = "corr-1";
    b.causation_id = "10111213-1415-1617-1819-1a1b1c1d1e1f";
    b.content_type = ContentType::kBytes;
    b.payload = std::string_view("\x00\x01\x02\xff", 4);

    EventView& c = events_[2];
    c.position = 3;
    c.stream = "blob-7";
    c.version = 1;
    c.id = IdFrom(0x30);
    c.type = "BlobStored";
    c.schema_version = 1;
    c.recorded_at_us = 1764576000000003;
    c.metadata = {{"k", ""}};
    c.content_type = ContentType::kFlatBuffers;
  }

  std::array<EventView, 3> events_;
};

TEST_F(ChainKat, CanonicalBytesOfFixedEvents) {
  // Field by field, in the order of the grammar.
  // clang-format off
  EXPECT_EQ(Hex(CanonicalBytes(events_[0], {})),
            "414e5231"                                 // "ANR1"
            "0000000000000001"                         // position
            "000000076f726465722d31"                   // str(stream)
            "0000000000000001"                         // version
            "101112131415161718191a1b1c1d1e1f"         // id
            "0000000b4f72646572506c61636564"           // str(type)
            "00000002"                                 // schema_version
            "000644df5da8c001"                         // recorded_at_us
            "00000006636f72722d31"                     // str(correlation_id)
            "00000000"                                 // str(causation_id)
            "00000002"                                 // metadata_count
            "0000000475736572" "00000003616e6e"        // user=ann
            "000000026970" "0000000831302e302e302e31"  // ip=10.0.0.1
            "01"                                       // content_type (json)
            "000000147b22736b75223a224131222c22717479223a327d");  // str(payload)
  // clang-format on
  EXPECT_EQ(Hex(CanonicalBytes(events_[1], {})),
            "414e52310000000000000002000000076f726465722d310000000000000002202122232425262728"
            "292a2b2c2d2e2f000000094974656d416464656400000001000644df5da8c00200000006636f7272"
            "2d310000002431303131313231332d313431352d313631372d313831392d31613162316331643165"
            "3166000000000000000004000102ff");
  EXPECT_EQ(Hex(CanonicalBytes(events_[2], {})),
            "414e5231000000000000000300000006626c6f622d370000000000000001303132333435363738"
            "393a3b3c3d3e3f0000000a426c6f6253746f72656400000001000644df5da8c003000000000000"
            "000000000001000000016b000000000200000000");
}

TEST_F(ChainKat, HashesAndChecksumsOfAThreeRecordChain) {
  const std::array<std::string, 3> hashes = {
      "1108862ab3519595ec766f14f5b7107b68d3050d71379931cbe37e5a7601aec6",
      "5a98a0ba387ffb55fcad177fe717d7c5347257d5e49540beb5fc8927b2cfe48e",
      "4479bfa4272b4144b9580cea45c5a2a20a1d77b8b830a5127b0d19a56902a895"};
  const std::array<uint32_t, 3> checksums = {0x0bf581a7, 0xe5177027, 0xe3d15e08};
  Sha256 sha;
  std::string prev(kGenesisHash);
  for (size_t i = 0; i < events_.size(); ++i) {
    SCOPED_TRACE(i + 1);
    const Sha256::Digest hash = ChainHash(sha, prev, events_[i], {});
    EXPECT_EQ(Hex(DigestView(hash)), hashes[i]);
    EXPECT_EQ(RecordChecksum(events_[i], {}, DigestView(hash)), checksums[i]);
    prev = std::string(DigestView(hash));
  }
}

// Compression is storage: an unsealed payload is hashed as appended, so the
// compression marker is not in the canonical bytes.
TEST_F(ChainKat, CompressionIsNotInTheCanonicalBytes) {
  const PayloadEncoding zstd{.compression = StoredCompression::kZstd};
  for (const EventView& e : events_) {
    EXPECT_EQ(CanonicalBytes(e, zstd), CanonicalBytes(e, {}));
  }
}

// A sealed payload is hashed as stored, with both markers: "ANR2".
TEST_F(ChainKat, SealedPayloadCanonicalBytes) {
  EventView e = events_[0];
  e.payload = std::string_view("\x00sealed\xff", 8);
  const PayloadEncoding sealed{.compression = StoredCompression::kZstd, .cipher = 7};
  const std::string canonical = CanonicalBytes(e, sealed);
  // clang-format off
  EXPECT_EQ(Hex(canonical),
            "414e5232"  // "ANR2"
            "0000000000000001000000076f726465722d310000000000000001"
            "101112131415161718191a1b1c1d1e1f0000000b4f72646572506c61636564"
            "00000002000644df5da8c00100000006636f72722d3100000000"
            "00000002000000047573657200000003616e6e0000000269700000000831302e302e302e31"
            "01"  // content_type (json)
            "01"  // compression: zstd
            "07"  // cipher 7
            "00000008007365616c6564ff");  // str(payload as stored)
  // clang-format on
  Sha256 sha;
  const Sha256::Digest hash = ChainHash(sha, kGenesisHash, e, sealed);
  EXPECT_EQ(Hex(DigestView(hash)),
            "b47429d39136514f2b914fbc6855e6f5a99e16609c9d35940c875b958d8a004e");
  EXPECT_EQ(RecordChecksum(e, sealed, DigestView(hash)), 0x50871363u);
  // The markers are covered: another cipher or compression is another hash.
  EXPECT_NE(CanonicalBytes(e, {.compression = StoredCompression::kIdentity, .cipher = 7}),
            canonical);
  EXPECT_NE(CanonicalBytes(e, {.compression = StoredCompression::kZstd, .cipher = 8}), canonical);
}

// A record with a subject (format 4) is an "ANR3" record: the bracketed part
// always (0 0 when neither compressed-and-sealed nor sealed) and str(subject)
// before the payload. Records without a subject keep their "ANR1"/"ANR2"
// bytes (the tests above), so no older hash changes.
TEST_F(ChainKat, SubjectCanonicalBytes) {
  EventView e = events_[0];
  e.subject = "cust-42";
  // clang-format off
  EXPECT_EQ(Hex(CanonicalBytes(e, {})),
            "414e5233"  // "ANR3"
            "0000000000000001000000076f726465722d310000000000000001"
            "101112131415161718191a1b1c1d1e1f0000000b4f72646572506c61636564"
            "00000002000644df5da8c00100000006636f72722d3100000000"
            "00000002000000047573657200000003616e6e0000000269700000000831302e302e302e31"
            "01"    // content_type (json)
            "0000"  // compression, cipher: as appended
            "00000007637573742d3432"  // str(subject)
            "000000147b22736b75223a224131222c22717479223a327d");  // str(payload as appended)
  // clang-format on
  Sha256 sha;
  Sha256::Digest hash = ChainHash(sha, kGenesisHash, e, {});
  EXPECT_EQ(Hex(DigestView(hash)),
            "40597a91451b8e5bc37cc1494bb0347627ca5888c6ec77220974023372f115e3");
  EXPECT_EQ(RecordChecksum(e, {}, DigestView(hash)), 0x3fc8ce5du);

  e.payload = std::string_view("\x00sealed\xff", 8);
  const PayloadEncoding sealed{.compression = StoredCompression::kZstd, .cipher = 7};
  hash = ChainHash(sha, kGenesisHash, e, sealed);
  EXPECT_EQ(Hex(DigestView(hash)),
            "18a12a6fd1d8a2407eba63e88795984b655e3d6df8e13ddb480bc4e225702312");
  EXPECT_EQ(RecordChecksum(e, sealed, DigestView(hash)), 0xfa2a53c0u);
  // The subject is covered: another subject is another hash.
  EventView other = e;
  other.subject = "cust-43";
  EXPECT_NE(CanonicalBytes(other, sealed), CanonicalBytes(e, sealed));
}

// ChainHash and RecordChecksum are the SHA-256 and CRC32C of CanonicalBytes:
// the streaming feed and the materialised bytes are one definition.
TEST_F(ChainKat, StreamingFeedMatchesTheBytes) {
  Sha256 sha;
  const std::string prev(32, '\x5a');
  for (const EventView& e : events_) {
    const std::string bytes = CanonicalBytes(e, {});
    sha.Reset();
    sha.Update(prev.data(), prev.size());
    sha.Update(bytes.data(), bytes.size());
    const Sha256::Digest expected = sha.Finish();
    EXPECT_EQ(ChainHash(sha, prev, e, {}), expected);
  }
}

}  // namespace
}  // namespace annals::codec_internal
