#include "core/base62.h"

#include <array>
#include <cmath>
#include <vector>

namespace keyhold {

size_t Base62LengthFor(size_t byte_count) {
  // ceil(8 * n / log2(62)), in integers so that no platform rounds differently. 9792694 / 1644671
  // is a continued-fraction convergent of log2(62) = 5.95419631038687... from *below* (by 2e-13):
  // the width can never come out one short, which would drop the top digit of the largest
  // numbers. It is the exact minimum for every n up to 1,000,000. (5.9542, used before, was
  // above log2(62) and gave 262 instead of 263 characters for 195 bytes.)
  constexpr uint64_t kLog2Of62Num = 9'792'694;
  constexpr uint64_t kLog2Of62Den = 1'644'671;
  return static_cast<size_t>((byte_count * 8 * kLog2Of62Den + kLog2Of62Num - 1) / kLog2Of62Num);
}

std::string Base62EncodeFixed(std::span<const uint8_t> bytes) {
  const size_t width = Base62LengthFor(bytes.size());
  std::vector<uint8_t> num(bytes.begin(), bytes.end());
  std::string out(width, '0');
  // Repeated division of the big-endian number by 62; quadratic, fine for <= 255 bytes.
  size_t pos = width;
  size_t start = 0;
  while (start < num.size() && pos > 0) {
    uint32_t rem = 0;
    for (size_t i = start; i < num.size(); ++i) {
      uint32_t cur = (rem << 8) | num[i];
      num[i] = static_cast<uint8_t>(cur / 62);
      rem = cur % 62;
    }
    out[--pos] = kBase62Alphabet[rem];
    while (start < num.size() && num[start] == 0) {
      ++start;
    }
  }
  return out;
}

std::string Base62EncodeUint(uint64_t value, size_t width) {
  std::string out(width, '0');
  for (size_t pos = width; pos > 0 && value > 0; value /= 62) {
    out[--pos] = kBase62Alphabet[value % 62];
  }
  return out;
}

static constexpr int Base62Digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  if (c >= 'a' && c <= 'z') return c - 'a' + 36;
  return -1;
}

bool IsBase62(std::string_view s) {
  // One table lookup a byte: keys are checked on every verification.
  static constexpr auto kIsDigit = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
      t[static_cast<size_t>(c)] = Base62Digit(static_cast<char>(c)) >= 0;
    return t;
  }();
  for (char c : s) {
    if (!kIsDigit[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

bool Base62DecodeUint(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = Base62Digit(c);
    if (d < 0) return false;
    v = v * 62 + static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

}  // namespace keyhold
