// EcdsaSigner: a key pair made for a test, standing in for whoever signs what keyhold verifies
// (a code host's leak reports). PEM public half, DER signatures of SHA-256.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace keyhold::testing {

class EcdsaSigner {
 public:
  // Another type or curve makes a key that keyhold must refuse, e.g. ("EC", "P-384").
  explicit EcdsaSigner(const char* type = "EC", const char* curve = "P-256")
      : key_(curve ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve)
                   : EVP_PKEY_Q_keygen(nullptr, nullptr, type),
             EVP_PKEY_free) {}

  std::string PublicPem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), key_.get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    return {data, static_cast<size_t>(len)};
  }

  std::vector<uint8_t> Sign(const std::string& message) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get());
    EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(message.data()),
                   message.size());
    std::vector<uint8_t> sig(len);
    EVP_DigestSign(ctx.get(), sig.data(), &len,
                   reinterpret_cast<const unsigned char*>(message.data()), message.size());
    sig.resize(len);
    return sig;
  }

 private:
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key_;
};

}  // namespace keyhold::testing
