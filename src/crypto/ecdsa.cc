#include "crypto/ecdsa.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <climits>
#include <string>

namespace keyhold::crypto {

StatusOr<EcdsaP256PublicKey> EcdsaP256PublicKey::FromPem(std::string_view pem) {
  if (pem.empty() || pem.size() > 16 * 1024) {
    return InvalidArgument("not a PEM public key (empty, or larger than 16 KiB)");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return InvalidArgument("not a PEM public key");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) return InvalidArgument("not a PEM public key");
  std::shared_ptr<void> owned(key, [](void* k) { EVP_PKEY_free(static_cast<EVP_PKEY*>(k)); });
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &len) !=
          1 ||
      std::string(group, len) != "prime256v1") {
    return InvalidArgument("not an ECDSA P-256 public key");
  }
  EcdsaP256PublicKey out;
  out.key_ = std::move(owned);
  return out;
}

bool EcdsaP256PublicKey::Verify(std::string_view message,
                                std::span<const uint8_t> der_signature) const {
  // A P-256 DER signature is at most 72 bytes; anything far longer is not one.
  if (!key_ || der_signature.empty() || der_signature.size() > 256) return false;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr,
                           static_cast<EVP_PKEY*>(key_.get())) == 1 &&
      EVP_DigestVerify(ctx, der_signature.data(), der_signature.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

}  // namespace keyhold::crypto
