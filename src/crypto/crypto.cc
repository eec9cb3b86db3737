#include "crypto/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace keyhold::crypto {

void RandomBytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    std::fputs("fatal: the system random generator failed\n", stderr);
    std::abort();
  }
}

namespace {

// EVP_Digest looks the algorithm up on every call; verification hashes on every request, so the
// algorithm is fetched once and each thread keeps its own context.
struct DigestContext {
  DigestContext() : ctx(EVP_MD_CTX_new()) {}
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
  EVP_MD_CTX* ctx;
};

const EVP_MD* FetchedSha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  thread_local DigestContext c;
  Sha256Digest d{};
  unsigned int len = 0;
  const EVP_MD* md = FetchedSha256();
  if (md == nullptr || c.ctx == nullptr || EVP_DigestInit_ex2(c.ctx, md, nullptr) != 1 ||
      EVP_DigestUpdate(c.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(c.ctx, d.data(), &len) != 1) {
    std::abort();  // only fails on allocation failure inside OpenSSL
  }
  return d;
}

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::string_view data) {
  Sha256Digest d{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(),
           &len) == nullptr) {
    std::abort();
  }
  return d;
}

bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexEncode(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HexDecode(std::string_view hex, std::string* out) {
  if (hex.size() % 2 != 0) return false;
  std::string result(hex.size() / 2, '\0');
  for (size_t i = 0; i < result.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    result[i] = static_cast<char>((hi << 4) | lo);
  }
  *out = std::move(result);
  return true;
}

}  // namespace keyhold::crypto

namespace keyhold::crypto {

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::vector<uint8_t>* out) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (text.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  // EVP_DecodeBlock skips whitespace and accepts '=' anywhere: check the text first.
  for (size_t i = 0; i < text.size() - pad; ++i) {
    if (kAlphabet.find(text[i]) == std::string_view::npos) return false;
  }
  out->assign(text.size() / 4 * 3, 0);
  int n = EVP_DecodeBlock(out->data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

namespace {

constexpr size_t kGcmNonce = 12;
constexpr size_t kGcmTag = 16;

struct CipherContext {
  CipherContext() : ctx(EVP_CIPHER_CTX_new()) {}
  ~CipherContext() { EVP_CIPHER_CTX_free(ctx); }
  CipherContext(const CipherContext&) = delete;
  CipherContext& operator=(const CipherContext&) = delete;
  EVP_CIPHER_CTX* ctx;
};

// Fetched once: naming the cipher at each use makes OpenSSL 3 look it up every time.
const EVP_CIPHER* FetchedAes256Gcm() {
  static EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) std::abort();  // the default provider always has it
  return cipher;
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::vector<uint8_t> Aes256GcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   std::string_view plaintext, std::string_view aad) {
  if (key.size() != 32 || nonce.size() != kGcmNonce) std::abort();  // a caller's broken invariant
  std::vector<uint8_t> out(kGcmNonce + plaintext.size() + kGcmTag);
  std::copy(nonce.begin(), nonce.end(), out.begin());
  CipherContext c;
  int len = 0;
  uint8_t* body = out.data() + kGcmNonce;
  bool ok =
      c.ctx &&
      EVP_EncryptInit_ex2(c.ctx, FetchedAes256Gcm(), key.data(), nonce.data(), nullptr) == 1 &&
      EVP_EncryptUpdate(c.ctx, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_EncryptUpdate(c.ctx, body, &len, Bytes(plaintext), static_cast<int>(plaintext.size())) ==
          1 &&
      EVP_EncryptFinal_ex(c.ctx, body + len, &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_GET_TAG, kGcmTag, body + plaintext.size()) == 1;
  if (!ok) std::abort();  // only fails on allocation failure inside OpenSSL
  return out;
}

bool Aes256GcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> sealed,
                   std::string_view aad, std::vector<uint8_t>* out) {
  if (key.size() != 32 || sealed.size() < kGcmNonce + kGcmTag) return false;
  size_t body_size = sealed.size() - kGcmNonce - kGcmTag;
  std::vector<uint8_t> tag(sealed.end() - kGcmTag, sealed.end());
  out->assign(body_size, 0);
  CipherContext c;
  int len = 0;
  bool ok =
      c.ctx &&
      EVP_DecryptInit_ex2(c.ctx, FetchedAes256Gcm(), key.data(), sealed.data(), nullptr) == 1 &&
      EVP_DecryptUpdate(c.ctx, nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(c.ctx, out->data(), &len, sealed.data() + kGcmNonce,
                        static_cast<int>(body_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(c.ctx, EVP_CTRL_GCM_SET_TAG, kGcmTag, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(c.ctx, out->data() + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(out->data(), out->size());
    out->clear();
  }
  return ok;
}

}  // namespace keyhold::crypto
