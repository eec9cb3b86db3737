// FakeSecret: credential-shaped strings made at run time, so that no source file of this project
// holds a literal that looks like a real credential (to this project's scanner or anyone's).
//
//   std::string token = FakeSecret("ghp_", 36);  // "ghp_" and 36 characters of [A-Za-z0-9]
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace keyhold::testing {

inline constexpr std::string_view kAlnum =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

// `prefix` then `length` characters drawn from `alphabet`; the same `seed` gives the same string.
inline std::string FakeSecret(std::string_view prefix, size_t length,
                              std::string_view alphabet = kAlnum, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::string out(prefix);
  for (size_t i = 0; i < length; ++i) out += alphabet[pick(rng)];
  return out;
}

// A PEM block of `lines` lines of base64 between BEGIN and END markers of `label`.
inline std::string FakePem(std::string_view label, int lines) {
  std::string dashes = "-----";
  std::string out = dashes + "BEGIN " + std::string(label) + dashes + "\n";
  for (int i = 0; i < lines; ++i) {
    out += FakeSecret("", 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                      static_cast<uint32_t>(i)) +
           "\n";
  }
  return out + dashes + "END " + std::string(label) + dashes + "\n";
}

}  // namespace keyhold::testing
