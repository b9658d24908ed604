#include "crypto/internal/subject_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <iterator>

#include "common/coding.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace annals::crypto_internal {
namespace {

constexpr std::string_view kCheckKey = "c";
constexpr std::string_view kCheckLabel = "annals subject keys check 1";
constexpr std::string_view kSealLabel = "annals-seal-1";
constexpr uint8_t kSealVersion = 1;
constexpr size_t kKeyIdBytes = 8;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kSealHeader = 1 + kKeyIdBytes + kNonceBytes;
// Unwrapped keys held for readers and for the committer, each: beyond it
// the cache is wiped and refilled from the store.
constexpr size_t kMaxCachedKeys = 100'000;

absl::Status CryptoError(std::string_view what) {
  return absl::InternalError(StrCat("OpenSSL failed ", what));
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// AES-256-GCM: out = ciphertext || tag.
absl::Status GcmSeal(EVP_CIPHER_CTX* reuse, std::string_view key, std::string_view nonce,
                     std::string_view aad, std::string_view plain, std::string* out) {
  Ctx owned(reuse == nullptr ? EVP_CIPHER_CTX_new() : nullptr);
  EVP_CIPHER_CTX* const c = reuse != nullptr ? reuse : owned.get();
  int len = 0;
  const size_t start = out->size();
  out->resize(start + plain.size() + kTagBytes);
  auto* o = reinterpret_cast<unsigned char*>(out->data() + start);
  // A reused context keeps its cipher: only the key and nonce are set anew
  // (OpenSSL 3 looks the cipher up again on every full init).
  const EVP_CIPHER* cipher =
      reuse != nullptr && EVP_CIPHER_CTX_cipher(c) != nullptr ? nullptr : EVP_aes_256_gcm();
  if (c == nullptr ||
      EVP_EncryptInit_ex(c, cipher, nullptr, reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_EncryptUpdate(c, nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(c, o, &len, reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(c, o + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, o + plain.size()) != 1) {
    return CryptoError("to seal with AES-256-GCM");
  }
  return absl::OkStatus();
}

// false when the tag does not match.
absl::StatusOr<bool> GcmOpen(std::string_view key, std::string_view nonce, std::string_view aad,
                             std::string_view sealed, std::string* out) {
  if (sealed.size() < kTagBytes) return false;
  const size_t n = sealed.size() - kTagBytes;
  Ctx ctx(EVP_CIPHER_CTX_new());
  out->resize(n);
  auto* o = reinterpret_cast<unsigned char*>(out->data());
  int len = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()),
                         reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                        reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(sealed.data()),
                        static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                          const_cast<char*>(sealed.data() + n)) != 1) {
    return CryptoError("to open with AES-256-GCM");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), o + len, &len) != 1) {
    OPENSSL_cleanse(out->data(), out->size());
    return false;
  }
  return true;
}

std::string Random(size_t n) {
  std::string s(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(s.data()), static_cast<int>(n)) != 1) {
    return std::string();
  }
  return s;
}

std::string CheckValue(std::string_view master) {
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), master.data(), static_cast<int>(master.size()),
       reinterpret_cast<const unsigned char*>(kCheckLabel.data()), kCheckLabel.size(), mac, &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

void AppendStr(std::string& out, std::string_view s) {
  char n[4];
  coding::EncodeBigEndian32(n, static_cast<uint32_t>(s.size()));
  out.append(n, 4);
  out.append(s.data(), s.size());
}

std::string SealAad(const EventView& e, std::string_view key_id) {
  std::string aad(kSealLabel);
  aad += coding::BigEndian64(e.position);
  AppendStr(aad, e.stream);
  aad += coding::BigEndian64(e.version);
  aad.append(reinterpret_cast<const char*>(e.id.bytes().data()), 16);
  AppendStr(aad, e.subject);
  aad.append(key_id.data(), key_id.size());
  return aad;
}

absl::StatusOr<std::string> WrapKey(std::string_view master, std::string_view name,
                                    std::string_view key) {
  std::string nonce = Random(kNonceBytes);
  if (nonce.empty()) return CryptoError("to draw a nonce");
  std::string wrapped = nonce;
  RETURN_IF_ERROR(GcmSeal(nullptr, master, nonce, name, key, &wrapped));
  return wrapped;
}

}  // namespace

absl::StatusOr<std::string> ResolveMasterKey(const EncryptionOptions& options) {
  const int given = !options.master_key.empty() + !options.master_key_file.empty() +
                    (options.master_key_callback != nullptr);
  if (given != 1) {
    return absl::InvalidArgumentError(
        StrCat("Options::encryption needs exactly one of master_key, master_key_file and "
               "master_key_callback; ",
               given, " are set"));
  }
  std::string key;
  if (!options.master_key.empty()) {
    key = options.master_key;
  } else if (!options.master_key_file.empty()) {
    std::ifstream in(options.master_key_file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          StrCat("cannot read the master key file '", options.master_key_file,
                 "' (EncryptionOptions::master_key_file); check the path and its permissions"));
    }
    key.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) {
      return absl::InvalidArgumentError(
          StrCat("cannot read the master key file '", options.master_key_file, "'"));
    }
  } else {
    absl::StatusOr<std::string> got = options.master_key_callback();
    if (!got.ok()) {
      return absl::Status(
          got.status().code(),
          StrCat("EncryptionOptions::master_key_callback failed: ", got.status().message()));
    }
    key = std::move(*got);
  }
  if (key.size() != kKeyBytes) {
    const size_t n = key.size();
    OPENSSL_cleanse(key.data(), key.size());
    return absl::InvalidArgumentError(
        StrCat("the master key is ", n, " bytes; it must be exactly ", kKeyBytes,
               " raw bytes (AES-256), e.g. `head -c 32 /dev/urandom > master.key`"));
  }
  return key;
}

std::string SubjectKeyPrefix(std::string_view subject) {
  std::string k("k");
  AppendStr(k, subject);
  return k;
}

std::string SubjectKeyRangeEnd(std::string_view subject) {
  // Every key name of the subject is the prefix and 8 bytes: all sort below
  // the prefix and 9 bytes of 0xff.
  return SubjectKeyPrefix(subject) + std::string(kKeyIdBytes + 1, '\xff');
}

absl::StatusOr<std::string> KeyNameOfSealed(std::string_view subject, std::string_view sealed) {
  if (sealed.size() < kSealHeader + kTagBytes || static_cast<uint8_t>(sealed[0]) != kSealVersion) {
    return absl::DataLossError("sealed payload has an unknown layout");
  }
  return SubjectKeyPrefix(subject) + std::string(sealed.substr(1, kKeyIdBytes));
}

absl::StatusOr<std::string> UnwrapKey(std::string_view master, std::string_view key_name,
                                      std::string_view wrapped) {
  if (wrapped.size() != kNonceBytes + kKeyBytes + kTagBytes) {
    return absl::DataLossError("a wrapped subject key has the wrong size");
  }
  std::string key;
  ASSIGN_OR_RETURN(const bool ok, GcmOpen(master, wrapped.substr(0, kNonceBytes), key_name,
                                          wrapped.substr(kNonceBytes), &key));
  if (!ok) {
    return absl::DataLossError(
        "a subject key does not unwrap with the master key (damaged or forged)");
  }
  return key;
}

SubjectCipher::SubjectCipher(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* keys, std::string master)
    : db_(db), keys_(keys), master_(std::move(master)) {}

SubjectCipher::~SubjectCipher() {
  EVP_CIPHER_CTX_free(seal_ctx_);  // Cleanses its key schedule.
  Wipe(nonce_pool_);
  Wipe(master_);
  WipeMap(current_);
  WipeMap(pending_);
  MutexLock lock(&cache_mu_);
  for (auto& [name, key] : cache_) Wipe(key);
}

void SubjectCipher::Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void SubjectCipher::WipeMap(absl::flat_hash_map<std::string, DataKey>& m) {
  for (auto& [subject, k] : m) Wipe(k.key);
  m.clear();
}

absl::StatusOr<std::shared_ptr<SubjectCipher>> SubjectCipher::Create(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* keys, std::string master, bool writable) {
  const std::string check = CheckValue(master);
  std::shared_ptr<SubjectCipher> cipher(new SubjectCipher(db, keys, std::move(master)));
  if (keys == nullptr) return cipher;
  std::string stored;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), keys, kCheckKey, &stored);
  if (s.ok()) {
    if (stored != check) {
      return absl::InvalidArgumentError(
          "the master key (Options::encryption) is not the one this store's subject keys are "
          "wrapped with; open it with that key");
    }
    return cipher;
  }
  if (!s.IsNotFound())
    return absl::UnavailableError(StrCat("reading subject_keys: ", s.ToString()));
  if (writable) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db->Put(wo, keys, kCheckKey, check);
    if (!s.ok()) {
      return absl::UnavailableError(StrCat("writing the master key's check value: ", s.ToString()));
    }
  }
  return cipher;
}

absl::StatusOr<std::string> SubjectCipher::LoadKey(std::string_view name) const {
  if (keys_ == nullptr) {
    return absl::FailedPreconditionError(
        "this read-only store has no subject_keys family: either the store holds no subject keys "
        "(keys never travel with an export, so an imported store reads its sealed events as "
        "erased once opened for writing), or the writer created the family after this store "
        "opened (reopen it)");
  }
  std::string wrapped;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), keys_, name, &wrapped);
  if (s.IsNotFound()) return absl::NotFoundError("the subject key was destroyed");
  if (!s.ok()) return absl::UnavailableError(StrCat("reading a subject key: ", s.ToString()));
  return UnwrapKey(master_, name, wrapped);
}

absl::StatusOr<const SubjectCipher::DataKey*> SubjectCipher::CurrentKey(std::string_view subject) {
  const std::string s(subject);
  if (auto it = pending_.find(s); it != pending_.end()) return &it->second;
  if (auto it = current_.find(s); it != current_.end()) return &it->second;
  if (keys_ == nullptr)
    return absl::FailedPreconditionError("the store has no subject_keys family");
  // A key written before (by an earlier open): the newest of the subject.
  const std::string prefix = SubjectKeyPrefix(subject);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), keys_));
  DataKey found;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + kKeyIdBytes) continue;
    found.name = it->key().ToString();
    ASSIGN_OR_RETURN(found.key, UnwrapKey(master_, found.name, it->value().ToStringView()));
  }
  if (!it->status().ok()) {
    return absl::UnavailableError(StrCat("reading subject keys: ", it->status().ToString()));
  }
  if (!found.name.empty()) {
    if (current_.size() >= kMaxCachedKeys) WipeMap(current_);
    return &current_.emplace(s, std::move(found)).first->second;
  }
  // A new subject: a new random key, Put with the record it seals (OnEvent).
  DataKey fresh;
  fresh.name = prefix + Random(kKeyIdBytes);
  fresh.key = Random(kKeyBytes);
  if (fresh.name.size() != prefix.size() + kKeyIdBytes || fresh.key.size() != kKeyBytes) {
    return CryptoError("to draw a subject key");
  }
  unemitted_.push_back(s);
  return &pending_.emplace(s, std::move(fresh)).first->second;
}

absl::StatusOr<bool> SubjectCipher::Seal(const EventView& envelope, std::string_view payload,
                                         std::string* sealed) {
  if (envelope.subject.empty()) return false;
  ASSIGN_OR_RETURN(const DataKey* key, CurrentKey(envelope.subject));
  const std::string_view key_id =
      std::string_view(key->name).substr(key->name.size() - kKeyIdBytes);
  // Random 96-bit nonces, drawn 4 KiB at a time (one RAND_bytes call per
  // ~340 events instead of one per event).
  if (nonce_pool_.size() - nonce_used_ < kNonceBytes) {
    nonce_pool_ = Random(4096);
    nonce_used_ = 0;
    if (nonce_pool_.empty()) return CryptoError("to draw nonces");
  }
  const std::string_view nonce = std::string_view(nonce_pool_).substr(nonce_used_, kNonceBytes);
  nonce_used_ += kNonceBytes;
  if (seal_ctx_ == nullptr) seal_ctx_ = EVP_CIPHER_CTX_new();
  sealed->clear();
  sealed->reserve(kSealHeader + payload.size() + kTagBytes);
  sealed->push_back(static_cast<char>(kSealVersion));
  sealed->append(key_id.data(), key_id.size());
  sealed->append(nonce.data(), nonce.size());
  RETURN_IF_ERROR(GcmSeal(seal_ctx_, key->key, nonce, SealAad(envelope, key_id), payload, sealed));
  return true;
}

absl::Status SubjectCipher::Open(const EventView& envelope, std::string_view sealed,
                                 std::string* payload) const {
  ASSIGN_OR_RETURN(const std::string name, KeyNameOfSealed(envelope.subject, sealed));
  std::string key;
  uint64_t generation = 0;
  {
    MutexLock lock(&cache_mu_);
    if (auto it = cache_.find(name); it != cache_.end()) key = it->second;
    generation = generation_;
  }
  if (key.empty()) {
    ASSIGN_OR_RETURN(key, LoadKey(name));
    MutexLock lock(&cache_mu_);
    // A forget since the load: do not bring its key back.
    if (generation == generation_) {
      if (cache_.size() >= kMaxCachedKeys) {
        for (auto& [n, k] : cache_) Wipe(k);
        cache_.clear();
      }
      cache_.emplace(name, key);
    }
  }
  const std::string_view key_id = sealed.substr(1, kKeyIdBytes);
  absl::StatusOr<bool> ok = GcmOpen(key, sealed.substr(1 + kKeyIdBytes, kNonceBytes),
                                    SealAad(envelope, key_id), sealed.substr(kSealHeader), payload);
  Wipe(key);
  if (!ok.ok()) return ok.status();
  if (!*ok) {
    return absl::DataLossError(
        StrCat("the sealed payload of the event at position ", envelope.position,
               " is not authentic (damaged, forged or moved from another record)"));
  }
  return absl::OkStatus();
}

absl::Status SubjectCipher::OnEvent(const EventView& event, rocksdb::WriteBatch& batch) {
  (void)event;
  for (const std::string& subject : unemitted_) {
    const DataKey& k = pending_.at(subject);
    ASSIGN_OR_RETURN(std::string wrapped, WrapKey(master_, k.name, k.key));
    rocksdb::Status s = batch.Put(keys_, k.name, wrapped);
    if (!s.ok()) return absl::InternalError(StrCat("staging a subject key: ", s.ToString()));
  }
  unemitted_.clear();
  return absl::OkStatus();
}

void SubjectCipher::OnRollback() {
  // The batch lost the Puts of this request's new keys (and we cannot tell
  // them from the group's earlier ones): forget every pending key. A subject
  // sealed again in this group gets another key; keys of earlier requests
  // stay in the batch and are written, unused after this point but harmless.
  WipeMap(pending_);
  unemitted_.clear();
}

void SubjectCipher::OnGroupDone(bool written) {
  if (written) {
    for (auto& [subject, k] : pending_) {
      if (current_.size() >= kMaxCachedKeys) WipeMap(current_);
      current_[subject] = std::move(k);
    }
    pending_.clear();
  } else {
    WipeMap(pending_);
  }
  unemitted_.clear();
}

absl::Status SubjectCipher::ForgetLocked(std::string_view subject) {
  if (keys_ == nullptr) return absl::OkStatus();
  rocksdb::WriteBatch batch;
  rocksdb::Status s =
      batch.DeleteRange(keys_, SubjectKeyPrefix(subject), SubjectKeyRangeEnd(subject));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  if (s.ok()) s = db_->Write(wo, &batch);
  if (!s.ok()) {
    return absl::UnavailableError(
        StrCat("deleting the keys of subject '", subject, "': ", s.ToString()));
  }
  const std::string key(subject);
  if (auto it = current_.find(key); it != current_.end()) {
    Wipe(it->second.key);
    current_.erase(it);
  }
  const std::string prefix = SubjectKeyPrefix(subject);
  MutexLock lock(&cache_mu_);
  ++generation_;
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (std::string_view(it->first).starts_with(prefix)) {
      Wipe(it->second);
      cache_.erase(it++);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

}  // namespace annals::crypto_internal
