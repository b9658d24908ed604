// File: tests/codec/toy_cipher.h
//
// ToyCipher: a PayloadCipher for tests of the encryption hook
// (codec/internal/payload_cipher.h), until crypto-shredding brings a real
// one.

#ifndef ANNALS_TESTS_CODEC_TOY_CIPHER_H_
#define ANNALS_TESTS_CODEC_TOY_CIPHER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "codec/internal/payload_cipher.h"
#include "common/crc32c.h"

namespace annals::codec_internal {

// A toy cipher for the contract, not for secrecy: seals events whose
// metadata names a "subject" as "TOY" + be64 position + CRC32C + payload
// XOR 0x5a. Open checks the position and the CRC (authenticity) and fails
// with kNotFound once its key is "destroyed".
class ToyCipher : public PayloadCipher {
 public:
  explicit ToyCipher(uint8_t id = 9) : id_(id) {}
  uint8_t id() const override { return id_; }

  absl::StatusOr<bool> Seal(const EventView& envelope, std::string_view payload,
                            std::string* sealed) override {
    if (fail_seal) return absl::UnavailableError("key store is down");
    bool has_subject = false;
    for (const auto& [k, v] : envelope.metadata) has_subject = has_subject || k == "subject";
    if (!has_subject) return false;
    seen_by_seal = std::string(payload);
    *sealed = "TOY" + Be64(envelope.position) + Crc(payload);
    for (char c : payload) sealed->push_back(static_cast<char>(c ^ 0x5a));
    return true;
  }

  absl::Status Open(const EventView& envelope, std::string_view sealed,
                    std::string* payload) const override {
    if (key_destroyed) return absl::NotFoundError("the subject's key was destroyed");
    if (sealed.size() < 15 || sealed.substr(0, 3) != "TOY" ||
        sealed.substr(3, 8) != Be64(envelope.position)) {
      return absl::DataLossError("not sealed for this record");
    }
    payload->clear();
    for (char c : sealed.substr(15)) payload->push_back(static_cast<char>(c ^ 0x5a));
    if (Crc(*payload) != sealed.substr(11, 4)) return absl::DataLossError("tag mismatch");
    return absl::OkStatus();
  }

  std::atomic<bool> fail_seal = false;
  std::atomic<bool> key_destroyed = false;
  std::string seen_by_seal;

 private:
  static std::string Be64(uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
    return out;
  }
  static std::string Crc(std::string_view s) {
    const uint32_t c = crc32c::Value(s.data(), s.size());
    return std::string(reinterpret_cast<const char*>(&c), 4);
  }
  uint8_t id_;
};

}  // namespace annals::codec_internal

#endif  // ANNALS_TESTS_CODEC_TOY_CIPHER_H_
