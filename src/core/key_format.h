// The keyhold key format: `<prefix>_<body><check>`.
//
//   body  = base62 of `byte_length` random bytes, fixed width for that length;
//   check = CRC32 of everything before it, as 6 base62 characters;
//   the last '_' separates the prefix; a key without a prefix is `<body><check>`.
//
// A key whose check fails can be rejected without any lookup, and a scanner can confirm that a
// string it found really is a keyhold key. The format is written out in docs/key-format.md.
//
//   std::string key = GenerateKey(env, "sk", 32);
//   if (!ParseKey(key).ok()) ...  // malformed or check mismatch
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/env.h"
#include "core/status.h"

namespace keyhold {

inline constexpr int kMinKeyBytes = 16;
inline constexpr int kMaxKeyBytes = 255;
inline constexpr int kDefaultKeyBytes = 32;
inline constexpr size_t kMaxPrefixLength = 16;
inline constexpr size_t kCheckLength = 6;
inline constexpr size_t kStartBodyChars = 4;

// True if `prefix` is empty or 1..16 characters of [a-zA-Z0-9_].
bool IsValidKeyPrefix(std::string_view prefix);

// Makes a new key. REQUIRES: IsValidKeyPrefix(prefix), kMinKeyBytes <= byte_length <= kMaxKeyBytes.
std::string GenerateKey(Env& env, std::string_view prefix, int byte_length);

// The 6-character check for `text` (CRC32, base62).
std::string KeyCheck(std::string_view text);

struct ParsedKey {
  std::string_view prefix;  // without the '_'; empty if none
  std::string_view body;
};

// Splits and verifies a key. Fails with InvalidArgument (reason "key/malformed") if the shape is
// wrong, and (reason "key/checksum") if the check does not match. Views point into `key`.
StatusOr<ParsedKey> ParseKey(std::string_view key);

// The display form stored with a key: the prefix and separator plus the first 4 body characters.
std::string KeyStart(std::string_view key);

}  // namespace keyhold
