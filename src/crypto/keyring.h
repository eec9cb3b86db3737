// Keyring: envelope encryption of secret values under versioned key-encryption keys.
//
// Every value is sealed with a fresh random 256-bit data key (AES-256-GCM, random 96-bit nonce);
// the data key is wrapped by the keyring's current key-encryption key (KEK), and each KEK "term"
// is itself sealed by a key derived from the master key. The caller's associated data (for a
// secret: mount, path and version) is bound into both seals, so a ciphertext or a wrapped key
// moved to another row does not open. docs/envelope-format.md has the byte layout.
//
//   KH_ASSIGN_OR_RETURN(auto ring, Keyring::Open(master_key, stored_terms));
//   Envelope e = ring->Seal(aad, plaintext);          // store e.term, e.wrapped_key, e.ciphertext
//   KH_ASSIGN_OR_RETURN(Secret value, ring->Open(aad, e));
//
// Rotation: MakeTerm seals a new KEK for the store; AddTerm makes it current once stored. Old
// terms stay until nothing is wrapped by them (Rewrap moves a data key to the current term
// without touching the ciphertext).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/secret.h"
#include "crypto/secure_bytes.h"

namespace keyhold::crypto {

// One KEK as stored: sealed by the master key, never in the clear.
struct SealedTerm {
  int32_t term = 0;  // from 1
  std::vector<uint8_t> sealed;
  int64_t created_at_ms = 0;
};

// One sealed value.
struct Envelope {
  int32_t term = 0;                  // the KEK term that wraps the data key
  std::vector<uint8_t> wrapped_key;  // nonce || AES-256-GCM(data key) || tag
  std::vector<uint8_t> ciphertext;   // nonce || AES-256-GCM(value) || tag
};

class Keyring {
 public:
  // Opens `terms` (any order) with `master_key` (32 bytes). An empty list is an empty keyring:
  // add a first term before sealing. Errors: kInvalidArgument if the master key is not 32
  // bytes; kFailedPrecondition if a term does not open — the master key is not the one this
  // keyring was made with (the message says so and never quotes key material).
  static StatusOr<std::unique_ptr<Keyring>> Open(std::span<const uint8_t> master_key,
                                                 const std::vector<SealedTerm>& terms);

  // A new random KEK numbered one past the newest term, sealed for storing. Not yet used:
  // AddTerm it once the store holds it.
  SealedTerm MakeTerm(int64_t now_ms) const;
  // Makes `t` (from MakeTerm, possibly on another node) known, and current if it is the newest.
  // Errors: kFailedPrecondition if it does not open with this master key.
  Status AddTerm(const SealedTerm& t);

  // The newest term; 0 if the keyring is empty.
  int32_t CurrentTerm() const;
  // Every known term, oldest first.
  std::vector<int32_t> Terms() const;

  // Seals `plaintext` under a fresh data key wrapped by the current term.
  // REQUIRES: CurrentTerm() > 0.
  Envelope Seal(std::string_view aad, std::string_view plaintext) const;

  // Opens `e`. Errors: kNotFound ("crypto/unknown_term") if its term is not in the keyring;
  // kInternal ("crypto/tampered") if the wrapped key or ciphertext does not open with `aad` —
  // the row was changed, moved or corrupted.
  StatusOr<Secret> Open(std::string_view aad, const Envelope& e) const;

  // `e`'s data key wrapped by the current term instead: the new term and wrapped key (the
  // ciphertext is unchanged). Errors: as Open.
  struct Rewrapped {
    int32_t term = 0;
    std::vector<uint8_t> wrapped_key;
  };
  StatusOr<Rewrapped> Rewrap(std::string_view aad, const Envelope& e) const;

 private:
  explicit Keyring(SecureBytes wrapping_key) : wrapping_key_(std::move(wrapping_key)) {}
  Status AddTermLocked(const SealedTerm& t);
  StatusOr<SecureBytes> UnwrapDataKey(std::string_view aad, const Envelope& e) const;

  const SecureBytes wrapping_key_;  // derived from the master key; seals the terms
  mutable std::shared_mutex mu_;
  std::map<int32_t, SecureBytes> keks_;  // guarded by mu_
};

}  // namespace keyhold::crypto
