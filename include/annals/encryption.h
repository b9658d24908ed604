// File: annals/encryption.h
//
// EncryptionOptions: crypto-shredding (docs/lifecycle.md, "Crypto-shredding").
// With Options::encryption set, the payload of every event that names a data
// subject (NewEvent::subject), and the metadata entries listed in
// personal_metadata_keys, are sealed with AES-256-GCM under a data key of
// that subject. The data keys live in the store (column family
// `subject_keys`), each wrapped by the master key the application supplies
// here; EventStore::ForgetSubject() destroys a subject's keys, after which
// its events read as erased. Events without a subject are stored as before.
//
// Give the master key in exactly one of three ways: its 32 raw bytes, the
// path of a file holding exactly those 32 bytes, or a callback returning
// them (a KMS or a secret manager). The store keeps no copy on disk; a check
// value (an HMAC of a constant) lets an open with another key fail
// (kInvalidArgument) instead of writing keys nobody can unwrap.
//
// Thread-safety: plain value types. The callback is called once, from the
// thread that opens the store.

#ifndef ANNALS_ENCRYPTION_H_
#define ANNALS_ENCRYPTION_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace annals {

struct EncryptionOptions {
  // The master key: exactly 32 bytes (AES-256), not text.
  std::string master_key{};
  // Or: a file holding exactly the 32 bytes of the master key.
  std::string master_key_file{};
  // Or: a callback returning the 32 bytes (called once per open).
  std::function<absl::StatusOr<std::string>()> master_key_callback{};
  // Metadata entries with these keys, on events that are sealed, are sealed
  // together with the payload and removed from the plain metadata (which
  // stays readable and hashed in the clear). Readers get them back after the
  // plain entries; an erased event has only the plain ones.
  std::vector<std::string> personal_metadata_keys{};
};

}  // namespace annals

#endif  // ANNALS_ENCRYPTION_H_
