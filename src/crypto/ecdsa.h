// ECDSA P-256 signature verification (SHA-256), for messages signed by others — e.g. leak reports
// a code host sends, signed with a key it publishes.
//
//   KH_ASSIGN_OR_RETURN(EcdsaP256PublicKey key, EcdsaP256PublicKey::FromPem(pem));
//   if (!key.Verify(body, der_signature)) reject;
//
// Thread-safety: a key may verify on several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/status.h"

namespace keyhold::crypto {

class EcdsaP256PublicKey {
 public:
  // Reads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo). Errors: kInvalidArgument if it is not PEM, not
  // a public key, or a key on any curve but P-256 (prime256v1).
  static StatusOr<EcdsaP256PublicKey> FromPem(std::string_view pem);

  // True if `der_signature` (ASN.1 DER, as OpenSSL and most signers produce it) is this key's
  // signature of SHA-256(`message`). Anything malformed is false.
  bool Verify(std::string_view message, std::span<const uint8_t> der_signature) const;

 private:
  std::shared_ptr<void> key_;  // EVP_PKEY
};

}  // namespace keyhold::crypto
