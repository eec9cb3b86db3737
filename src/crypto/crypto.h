// Cryptographic primitives over OpenSSL: CSPRNG, SHA-256, HMAC-SHA256, constant-time equality.
//
//   Sha256Digest d = Sha256(key_text);
//   if (ConstantTimeEqual(a, b)) ...
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

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

}  // namespace keyhold::crypto
