// Shamir's secret sharing over GF(2^8): a secret split into `n` shares, any `t` of which give it
// back and fewer give nothing about it. Used to split the master key for sealed start.
//
//   KH_ASSIGN_OR_RETURN(auto shares, shamir::Split(master_key.view(), 3, 5));
//   std::string text = shamir::EncodeShare(set_id, 3, shares[0]);  // shown once
//   KH_ASSIGN_OR_RETURN(ParsedShare s, shamir::ParseShare(text));   // from an operator
//   KH_ASSIGN_OR_RETURN(SecureBytes key, shamir::Combine(held));    // then check KeyCheck(key)
//
// A share's text form carries its x index, the split's random id, the threshold and a checksum,
// so a mistyped, truncated or foreign share is refused before it is used. The checksum is not a
// MAC: whoever combines must still compare KeyCheck of the result with the stored value, since t
// shares that agree in form but not in content combine to garbage without an error.
//
// Thread-safety: free functions; no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/crypto.h"
#include "crypto/secure_bytes.h"

namespace keyhold::crypto::shamir {

constexpr int kMaxShares = 255;
constexpr size_t kMaxSecretSize = 64;
using SetId = std::array<uint8_t, 4>;

struct Share {
  uint8_t x = 0;  // 1..255: the point the polynomial was evaluated at
  SecureBytes y;  // one byte per byte of the secret
};

struct ParsedShare {
  SetId set_id{};
  int threshold = 0;
  Share share;
};

// Splits `secret` (1..kMaxSecretSize bytes) into `shares` shares with x = 1..shares, any
// `threshold` of which recover it; coefficients from the OS CSPRNG.
// Errors: kInvalidArgument unless 1 <= threshold <= shares <= 255 and the size is allowed.
StatusOr<std::vector<Share>> Split(std::span<const uint8_t> secret, int threshold, int shares);

// Interpolates the secret at x = 0 from `shares` (all of one size, distinct non-zero x). Given
// fewer shares than the split's threshold it returns bytes unrelated to the secret: check them.
// Errors: kInvalidArgument for no shares, a zero or repeated x, or sizes that differ.
StatusOr<SecureBytes> Combine(std::span<const Share> shares);

// The text of a share: standard base64 of
//   version (1) | set id (4) | threshold (1) | x (1) | y | checksum (4, SHA-256 prefix).
std::string EncodeShare(const SetId& set_id, int threshold, const Share& share);
// Reads a share's text (base64, or the same bytes as hex; whitespace around it ignored).
// Errors: kInvalidArgument with a message that never quotes the text.
StatusOr<ParsedShare> ParseShare(std::string_view text);

// A value that tells whether a key is the right one without revealing it: HMAC-SHA256 of a fixed
// label under the key.
Sha256Digest KeyCheck(std::span<const uint8_t> key);

}  // namespace keyhold::crypto::shamir
