// File: crypto/internal/subject_cipher.h
//
// SubjectCipher: crypto-shredding (issue 13, docs/lifecycle.md). The
// PayloadCipher (codec/internal/payload_cipher.h) the store installs at open
// when Options::encryption is set. Seals the body of every event that names
// a data subject with AES-256-GCM under a random 256-bit data key of that
// subject; ForgetSubject() destroys the subject's keys.
//
// Keys (column family `subject_keys`, owned by this module):
//   "c"                                   -> HMAC-SHA256(master, kCheckLabel)
//   "k" len:be32 subject key_id:8         -> nonce:12 AES-256-GCM(master,
//                                            data key; AAD = the key):32 tag:16
// A sealed payload:
//   version:u8 (1) key_id:8 nonce:12 ciphertext tag:16
//   AAD := "annals-seal-1" position:be64 str(stream) version:be64 id:16
//          str(subject) key_id:8
// so a ciphertext cannot be moved to another record or subject unnoticed.
//
// Durability: a new data key is Put into the same WriteBatch as the first
// record it seals (the CommitHook side: OnEvent), so it is durable exactly
// when that record is; keys of a rolled-back request are dropped from
// memory and never used. No fsync of its own.
//
// Threading: Seal(), OnEvent(), OnRollback(), OnGroupDone() and
// ForgetLocked() run on the committer only (the store holds the committer
// role for ForgetLocked()); Open() and KeyExists() from any reader thread.
// The readers' key cache has its own mutex; the committer's state none.

#ifndef ANNALS_CRYPTO_INTERNAL_SUBJECT_CIPHER_H_
#define ANNALS_CRYPTO_INTERNAL_SUBJECT_CIPHER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "annals/encryption.h"
#include "codec/internal/payload_cipher.h"
#include "common/mutex.h"
#include "eventstore/internal/column_family.h"
#include "eventstore/internal/commit_hook.h"
#include "rocksdb/db.h"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX.

namespace annals::crypto_internal {

inline constexpr internal::ColumnFamilySpec kSubjectKeysFamily{
    .name = "subject_keys",
    .tuning = {.block_size = 4 * 1024, .bloom_bits_per_key = 0, .target_file_bytes = 8u << 20}};

// The id written into records this cipher sealed (payload_encoding.cipher).
inline constexpr uint8_t kSubjectCipherId = 1;
inline constexpr size_t kKeyBytes = 32;

// The master key `options` names: exactly 32 bytes from one of its three
// sources. kInvalidArgument (none or several given, wrong size, unreadable
// file) saying what to fix.
absl::StatusOr<std::string> ResolveMasterKey(const EncryptionOptions& options);

// The `subject_keys` key prefix of every data key of `subject`, and the end
// of its range (exclusive), for DeleteRange.
std::string SubjectKeyPrefix(std::string_view subject);
std::string SubjectKeyRangeEnd(std::string_view subject);

// The `subject_keys` key of the data key that sealed `sealed` for `subject`;
// kDataLoss when `sealed` is not a sealed payload of this cipher.
absl::StatusOr<std::string> KeyNameOfSealed(std::string_view subject, std::string_view sealed);

// Unwraps a stored data key (tests read the raw key through this).
absl::StatusOr<std::string> UnwrapKey(std::string_view master, std::string_view key_name,
                                      std::string_view wrapped);

class SubjectCipher : public codec_internal::PayloadCipher, public internal::CommitHook {
 public:
  // Checks `master` against the store's check value (kInvalidArgument for
  // another key) and, in a writable store that has none, writes it (synced).
  // `keys` may be null only for a read-only store without the family (no
  // key was ever written: every sealed read is then erased... never sealed).
  static absl::StatusOr<std::shared_ptr<SubjectCipher>> Create(rocksdb::DB* db,
                                                               rocksdb::ColumnFamilyHandle* keys,
                                                               std::string master, bool writable);
  ~SubjectCipher() override;

  // PayloadCipher.
  uint8_t id() const override { return kSubjectCipherId; }
  absl::StatusOr<bool> Seal(const EventView& envelope, std::string_view payload,
                            std::string* sealed) override;
  absl::Status Open(const EventView& envelope, std::string_view sealed,
                    std::string* payload) const override;

  // CommitHook: puts the keys Seal() created into the group's batch.
  absl::Status OnEvent(const EventView& event, rocksdb::WriteBatch& batch) override;
  void OnRollback() override;
  void OnGroupDone(bool written) override;

  // Deletes every key of `subject` (a range deletion, synced) and wipes
  // them from memory. REQUIRES: the caller holds the committer role (no
  // group is being staged or written).
  absl::Status ForgetLocked(std::string_view subject);

 private:
  struct DataKey {
    std::string name;  // The key in `subject_keys`.
    std::string key;   // 32 raw bytes.
  };
  SubjectCipher(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* keys, std::string master);

  absl::StatusOr<const DataKey*> CurrentKey(std::string_view subject);
  absl::StatusOr<std::string> LoadKey(std::string_view name) const;
  static void Wipe(std::string& s);
  void WipeMap(absl::flat_hash_map<std::string, DataKey>& m);

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const keys_;
  std::string master_;

  // Committer state: the key each subject seals with now (durable ones),
  // the keys created in the current group (not yet written), and those of
  // them whose Put is not yet in the batch.
  absl::flat_hash_map<std::string, DataKey> current_;
  absl::flat_hash_map<std::string, DataKey> pending_;
  std::vector<std::string> unemitted_;  // Subjects in pending_.
  // Seal()'s AES-GCM context (reused: only key and nonce change per event)
  // and its supply of random nonces.
  evp_cipher_ctx_st* seal_ctx_ = nullptr;
  std::string nonce_pool_;
  size_t nonce_used_ = 0;

  // Readers: unwrapped keys by key name, bounded; generation_ grows with
  // every forget so a reader that loaded a key before it never caches it.
  mutable Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::string> cache_ ABSL_GUARDED_BY(cache_mu_);
  mutable uint64_t generation_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

}  // namespace annals::crypto_internal

#endif  // ANNALS_CRYPTO_INTERNAL_SUBJECT_CIPHER_H_
