// Cryptographic primitives over OpenSSL: CSPRNG, SHA-256, HMAC-SHA256, constant-time equality,
// base64, and AES-256-GCM for small values kept encrypted at rest.
//
//   Sha256Digest d = Sha256(key_text);
//   if (ConstantTimeEqual(a, b)) ...
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyhold::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// Fills `out` from OpenSSL's CSPRNG (seeded by the OS). Aborts on failure: continuing without
// randomness would issue guessable credentials.
void RandomBytes(std::span<uint8_t> out);

Sha256Digest Sha256(std::string_view data);
Sha256Digest HmacSha256(std::span<const uint8_t> key, std::string_view data);

// Equality whose running time does not depend on where the inputs differ.
bool ConstantTimeEqual(std::span<const uint8_t> a, std::span<const uint8_t> b);

std::string HexEncode(std::span<const uint8_t> bytes);
// Decodes lowercase or uppercase hex; false on odd length or a non-hex character.
bool HexDecode(std::string_view hex, std::string* out);

// Standard base64 (RFC 4648 section 4, with padding).
std::string Base64Encode(std::span<const uint8_t> bytes);
// Decodes standard padded base64; false for any other character, bad padding or length.
bool Base64Decode(std::string_view text, std::vector<uint8_t>* out);

// AES-256-GCM: `nonce` (12 bytes, never reused with one key) || ciphertext || 16-byte tag.
// `key` must be 32 bytes; `aad` is authenticated but not encrypted (bind the value to its row).
std::vector<uint8_t> Aes256GcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> nonce,
                                   std::string_view plaintext, std::string_view aad);
// Opens what Aes256GcmSeal made into `out`; false if the key, aad or any byte is wrong.
bool Aes256GcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> sealed,
                   std::string_view aad, std::vector<uint8_t>* out);

}  // namespace keyhold::crypto
