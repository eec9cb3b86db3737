#include "crypto/secure_bytes.h"

#include <openssl/crypto.h>

#include <cstdlib>
#include <utility>

namespace keyhold::crypto {

bool InitSecureHeap(size_t bytes) {
  if (CRYPTO_secure_malloc_initialized() == 0) CRYPTO_secure_malloc_init(bytes, 32);
  return CRYPTO_secure_malloc_initialized() == 1;
}

SecureBytes::SecureBytes(size_t size) : size_(size) {
  if (size == 0) return;
  data_ = static_cast<uint8_t*>(OPENSSL_secure_zalloc(size));
  if (data_ == nullptr) std::abort();
}

StatusOr<SecureBytes> SecureBytes::FromHex(std::string_view hex, size_t size) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!hex.empty() && is_space(hex.front())) hex.remove_prefix(1);
  while (!hex.empty() && is_space(hex.back())) hex.remove_suffix(1);
  Status bad = InvalidArgument("must be " + std::to_string(2 * size) + " hex digits");
  if (hex.size() != 2 * size) return bad;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  SecureBytes out(size);
  for (size_t i = 0; i < size; ++i) {
    int hi = nibble(hex[2 * i]);
    int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return bad;  // `out` is cleansed as it goes
    out.data_[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Free();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecureBytes::~SecureBytes() { Free(); }

bool SecureBytes::Locked() const { return data_ != nullptr && CRYPTO_secure_allocated(data_) == 1; }

void SecureBytes::Free() {
  if (data_ != nullptr) OPENSSL_secure_clear_free(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace keyhold::crypto
