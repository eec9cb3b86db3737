// Base62 ([0-9A-Za-z]) encoding of byte strings and integers, as used in keys and ids.
//
//   std::string s = Base62EncodeFixed(bytes);  // same length for every input of that size
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace keyhold {

inline constexpr std::string_view kBase62Alphabet =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Number of base62 characters needed for any `byte_count`-byte input: the least width that holds
// every such number (exactly so up to 1,000,000 bytes; never less than enough).
size_t Base62LengthFor(size_t byte_count);

// Encodes `bytes` as a big-endian number in base62, left-padded with '0' to
// Base62LengthFor(bytes.size()) characters.
std::string Base62EncodeFixed(std::span<const uint8_t> bytes);

// Encodes `value` in exactly `width` characters (left-padded). REQUIRES: value < 62^width.
std::string Base62EncodeUint(uint64_t value, size_t width);

// True if every character of `s` is in the base62 alphabet.
bool IsBase62(std::string_view s);

// Decodes a base62 number of at most 10 characters; false on a bad character or overflow.
bool Base62DecodeUint(std::string_view s, uint64_t* out);

}  // namespace keyhold
