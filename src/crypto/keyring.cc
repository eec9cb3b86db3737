#include "crypto/keyring.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <mutex>
#include <string>

#include "crypto/crypto.h"

namespace keyhold::crypto {
namespace {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 12;
// Labels separating the uses of one key: a wrapped data key is never mistaken for a value, nor a
// term for either.
constexpr std::string_view kWrappingLabel = "keyhold keyring v1";
constexpr std::string_view kDataKeyLabel = "keyhold data key|";
constexpr std::string_view kValueLabel = "keyhold value|";

std::string TermAad(int32_t term) { return "keyhold keyring term " + std::to_string(term); }

std::vector<uint8_t> SealWith(std::span<const uint8_t> key, std::string_view plaintext,
                              std::string_view aad) {
  std::array<uint8_t, kNonceSize> nonce{};
  RandomBytes(nonce);
  return Aes256GcmSeal(key, nonce, plaintext, aad);
}

std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Opens `sealed` into locked memory of exactly `size` bytes; false if it does not open or is
// not that size.
bool OpenKey(std::span<const uint8_t> key, std::span<const uint8_t> sealed, std::string_view aad,
             SecureBytes* out) {
  std::vector<uint8_t> plain;
  bool ok = Aes256GcmOpen(key, sealed, aad, &plain) && plain.size() == kKeySize;
  if (ok) {
    *out = SecureBytes(kKeySize);
    std::copy(plain.begin(), plain.end(), out->mutable_view().begin());
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  return ok;
}

}  // namespace

StatusOr<std::unique_ptr<Keyring>> Keyring::Open(std::span<const uint8_t> master_key,
                                                 const std::vector<SealedTerm>& terms) {
  if (master_key.size() != kKeySize) return InvalidArgument("the master key must be 32 bytes");
  SecureBytes wrapping(kKeySize);
  Sha256Digest derived = HmacSha256(master_key, kWrappingLabel);
  std::copy(derived.begin(), derived.end(), wrapping.mutable_view().begin());
  OPENSSL_cleanse(derived.data(), derived.size());
  std::unique_ptr<Keyring> ring(new Keyring(std::move(wrapping)));
  for (const SealedTerm& t : terms) KH_RETURN_IF_ERROR(ring->AddTermLocked(t));
  return ring;
}

SealedTerm Keyring::MakeTerm(int64_t now_ms) const {
  SealedTerm t;
  t.term = CurrentTerm() + 1;
  t.created_at_ms = now_ms;
  SecureBytes kek(kKeySize);
  RandomBytes(kek.mutable_view());
  t.sealed = SealWith(wrapping_key_.view(), AsText(kek.view()), TermAad(t.term));
  return t;
}

Status Keyring::AddTerm(const SealedTerm& t) {
  std::unique_lock lock(mu_);
  return AddTermLocked(t);
}

Status Keyring::AddTermLocked(const SealedTerm& t) {
  SecureBytes kek;
  if (t.term < 1 || !OpenKey(wrapping_key_.view(), t.sealed, TermAad(t.term), &kek)) {
    return FailedPrecondition("the master key does not open the secrets keyring (keyring term " +
                                  std::to_string(t.term) +
                                  "): this data directory was set up with another master key",
                              "crypto/wrong_master_key");
  }
  keks_[t.term] = std::move(kek);
  return OkStatus();
}

int32_t Keyring::CurrentTerm() const {
  std::shared_lock lock(mu_);
  return keks_.empty() ? 0 : keks_.rbegin()->first;
}

std::vector<int32_t> Keyring::Terms() const {
  std::shared_lock lock(mu_);
  std::vector<int32_t> out;
  for (const auto& [term, kek] : keks_) out.push_back(term);
  return out;
}

Envelope Keyring::Seal(std::string_view aad, std::string_view plaintext) const {
  SecureBytes data_key(kKeySize);
  RandomBytes(data_key.mutable_view());
  Envelope e;
  e.ciphertext = SealWith(data_key.view(), plaintext, std::string(kValueLabel) + std::string(aad));
  std::shared_lock lock(mu_);
  if (keks_.empty()) std::abort();  // REQUIRES: a term; sealing without one would lose the value
  const auto& [term, kek] = *keks_.rbegin();
  e.term = term;
  e.wrapped_key =
      SealWith(kek.view(), AsText(data_key.view()), std::string(kDataKeyLabel) + std::string(aad));
  return e;
}

StatusOr<SecureBytes> Keyring::UnwrapDataKey(std::string_view aad, const Envelope& e) const {
  std::shared_lock lock(mu_);
  auto kek = keks_.find(e.term);
  if (kek == keks_.end()) {
    return NotFound("the keyring has no term " + std::to_string(e.term), "crypto/unknown_term");
  }
  SecureBytes data_key;
  if (!OpenKey(kek->second.view(), e.wrapped_key, std::string(kDataKeyLabel) + std::string(aad),
               &data_key)) {
    return Status(StatusCode::kInternal, "crypto/tampered",
                  "a stored secret does not decrypt: its row was changed or corrupted");
  }
  return data_key;
}

StatusOr<Secret> Keyring::Open(std::string_view aad, const Envelope& e) const {
  KH_ASSIGN_OR_RETURN(SecureBytes data_key, UnwrapDataKey(aad, e));
  std::vector<uint8_t> plain;
  if (!Aes256GcmOpen(data_key.view(), e.ciphertext, std::string(kValueLabel) + std::string(aad),
                     &plain)) {
    return Status(StatusCode::kInternal, "crypto/tampered",
                  "a stored secret does not decrypt: its row was changed or corrupted");
  }
  Secret value{std::string(plain.begin(), plain.end())};
  OPENSSL_cleanse(plain.data(), plain.size());
  return value;
}

StatusOr<Keyring::Rewrapped> Keyring::Rewrap(std::string_view aad, const Envelope& e) const {
  KH_ASSIGN_OR_RETURN(SecureBytes data_key, UnwrapDataKey(aad, e));
  std::shared_lock lock(mu_);
  const auto& [term, kek] = *keks_.rbegin();
  return Rewrapped{term, SealWith(kek.view(), AsText(data_key.view()),
                                  std::string(kDataKeyLabel) + std::string(aad))};
}

}  // namespace keyhold::crypto
