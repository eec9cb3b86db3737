// SecureBytes: key material in locked memory, zeroed when freed.
//
// Backed by OpenSSL's secure heap: pages locked in RAM (never swapped), excluded from core dumps,
// guarded, and cleansed on free. Call InitSecureHeap() once at start-up, before any thread
// starts; without it (or if the system refuses to lock memory) allocations fall back to the
// ordinary heap and are still zeroed on free — Locked() tells which.
//
//   crypto::InitSecureHeap();
//   KH_ASSIGN_OR_RETURN(SecureBytes key, SecureBytes::FromHex(hex_text));
//   Aes256Gcm(key.view(), ...);
//
// Thread-safety: a SecureBytes is a value; distinct objects may be used from distinct threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <span>
#include <string_view>

#include "core/status.h"

namespace keyhold::crypto {

// Sets up OpenSSL's secure heap (`bytes`, a power of two). Returns true if memory is locked.
bool InitSecureHeap(size_t bytes = 64 * 1024);

class SecureBytes {
 public:
  SecureBytes() = default;
  // `size` zero bytes. Aborts if memory cannot be had: no key material is worth a half state.
  explicit SecureBytes(size_t size);
  // Decodes `hex` (whitespace around it ignored) into exactly `size` bytes.
  // Errors: kInvalidArgument if it is not 2*size hex digits (the message never quotes it).
  static StatusOr<SecureBytes> FromHex(std::string_view hex, size_t size);

  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;
  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  ~SecureBytes();

  std::span<const uint8_t> view() const { return {data_, size_}; }
  std::span<uint8_t> mutable_view() { return {data_, size_}; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // True if the bytes live in the locked secure heap.
  bool Locked() const;

  friend std::ostream& operator<<(std::ostream& os, const SecureBytes&) {
    return os << "[redacted]";
  }

 private:
  void Free();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace keyhold::crypto
