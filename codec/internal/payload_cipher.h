// File: codec/internal/payload_cipher.h
//
// PayloadCipher: the hook where payload encryption plugs into the codec
// (crypto-shredding, issue 13). There is no implementation in annals yet;
// tests use a toy one to pin the contract.
//
// Where it sits (codec/internal/payload_codec.h):
//
//   append:  payload as appended -> compress (optional) -> Seal -> stored
//   read:    stored -> Open -> decompress -> payload as appended
//   verify:  stored -> hash; never opens (docs/format.md: a sealed payload
//            is hashed as stored, so the chain verifies without any key)
//
// Why internal, not a public extension point: what makes shredding a
// guarantee (keys in their own column family, destroyed durably and
// compacted away, wrapped by the application's master key) belongs to
// annals, and applications choose it through Options (a master key), not
// by writing ciphers. A public interface would freeze a contract before its
// first implementation exists and let a cipher that keeps plaintext, or
// seals without authentication, carry annals' promise. Opening it later
// stays possible; closing it would not be.

#ifndef ANNALS_CODEC_INTERNAL_PAYLOAD_CIPHER_H_
#define ANNALS_CODEC_INTERNAL_PAYLOAD_CIPHER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/event.h"
#include "codec/internal/canonical.h"

namespace annals::codec_internal {

// Seals and opens payloads. Seal() is called by the committer only (one call
// at a time, in position order, before the group's batch is written); Open()
// by any number of readers at once, so it must be thread-safe.
class PayloadCipher {
 public:
  virtual ~PayloadCipher() = default;

  // The id written into every record this cipher sealed (record field
  // payload_encoding.cipher) and hashed with it. Non-zero, and the same for the life
  // of every store that holds such records: a record names the cipher that
  // can open it.
  virtual uint8_t id() const = 0;

  // Seals `payload` (already compressed when compression applied) of the
  // event `envelope` describes: every field but payload and hash is set
  // (position, stream, version and id included, so a cipher can bind the
  // sealed bytes to their record as associated data). Returns false to leave
  // this payload unsealed (e.g. an event that names no data subject);
  // otherwise writes the sealed bytes to `*sealed` (replacing its content)
  // and returns true. An error fails the append that holds this event, and
  // nothing of that append is written.
  virtual absl::StatusOr<bool> Seal(const EventView& envelope, std::string_view payload,
                                    std::string* sealed) = 0;

  // Opens what Seal() produced for the same envelope into `*payload`
  // (replacing its content). kDataLoss when `sealed` is not authentic
  // (damaged or forged); kNotFound when the key is gone (the payload was
  // erased: issue 13 turns this into an erased flag on the event).
  virtual absl::Status Open(const EventView& envelope, std::string_view sealed,
                            std::string* payload) const = 0;

  // Import of an export (cli/import_command.cc): when this returns a value,
  // envelope.payload is already sealed (by the cipher with this id, in the
  // store the export came from) and the encoder stores it as it is, with
  // this compression marker, calling neither compression nor Seal(): the
  // record then hashes exactly as it did there. Every other cipher: nullopt.
  virtual std::optional<StoredCompression> PassThrough(const EventView& envelope) const {
    (void)envelope;
    return std::nullopt;
  }
};

}  // namespace annals::codec_internal

#endif  // ANNALS_CODEC_INTERNAL_PAYLOAD_CIPHER_H_
