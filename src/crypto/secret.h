// Secret: a move-only string for key and secret material.
//
// It zeroes its memory when destroyed or moved from, prints as "[redacted]" through operator<<
// and fmt, and compares in constant time. Use it for any plaintext that must not outlive the
// request that carries it.
//
//   Secret key(std::move(plaintext));
//   spdlog::info("got {}", key);   // logs "[redacted]"
#pragma once

#include <openssl/crypto.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace keyhold::crypto {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  Secret(Secret&& other) noexcept : value_(std::move(other.value_)) { other.Wipe(); }
  Secret& operator=(Secret&& other) noexcept {
    if (this != &other) {
      Wipe();
      value_ = std::move(other.value_);
      other.Wipe();
    }
    return *this;
  }
  ~Secret() { Wipe(); }

  // The plaintext. Callers must not copy it into anything that outlives the request.
  std::string_view Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  bool Equals(const Secret& other) const {
    return value_.size() == other.value_.size() &&
           CRYPTO_memcmp(value_.data(), other.value_.data(), value_.size()) == 0;
  }

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "[redacted]"; }

 private:
  // The whole buffer, not just the current size: a moved-from string keeps its old characters in
  // its inline buffer, and OPENSSL_cleanse cannot be optimised away as std::fill can.
  void Wipe() {
    OPENSSL_cleanse(value_.data(), value_.capacity());
    value_.clear();
  }
  std::string value_;
};

}  // namespace keyhold::crypto
