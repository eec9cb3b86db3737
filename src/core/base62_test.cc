#include "core/base62.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace keyhold {
namespace {

// Reads a base62 string as a big-endian number of `width` bytes (empty if it does not fit).
std::vector<uint8_t> DecodeFixed(const std::string& text, size_t width) {
  std::vector<uint8_t> out(width, 0);
  for (char c : text) {
    uint32_t carry = static_cast<uint32_t>(kBase62Alphabet.find(c));
    for (size_t i = width; i-- > 0;) {
      uint32_t v = out[i] * 62u + carry;
      out[i] = static_cast<uint8_t>(v);
      carry = v >> 8;
    }
    if (carry != 0) return {};
  }
  return out;
}

TEST(Base62, LengthCoversEveryInputOfThatSize) {
  EXPECT_EQ(Base62LengthFor(16), 22u);
  EXPECT_EQ(Base62LengthFor(32), 43u);
  EXPECT_EQ(Base62LengthFor(195), 263u);
  EXPECT_EQ(Base62LengthFor(255), 343u);
  // The largest number of n bytes survives encoding (the width is enough) and needs its first
  // character (no narrower width would do), for every key length and then some.
  for (size_t n = 1; n <= 320; ++n) {
    std::vector<uint8_t> max(n, 0xff);
    std::string encoded = Base62EncodeFixed(max);
    ASSERT_EQ(encoded.size(), Base62LengthFor(n)) << n;
    EXPECT_EQ(DecodeFixed(encoded, n), max) << n;
    EXPECT_NE(encoded[0], '0') << n;
  }
}

// Found by tests/fuzz/key_format_fuzzer.cc: 195-byte numbers from 62^262 up lost their top
// digit, so two such keys could share a body.
TEST(Base62, KeepsTheTopDigitOf195ByteNumbers) {
  std::vector<uint8_t> high(195, 0xb3);
  std::fill(high.begin(), high.begin() + 7, uint8_t{0xff});
  EXPECT_EQ(DecodeFixed(Base62EncodeFixed(high), high.size()), high);
}

TEST(Base62, EncodesKnownValues) {
  std::vector<uint8_t> zero(4, 0);
  EXPECT_EQ(Base62EncodeFixed(zero), "000000");
  std::vector<uint8_t> v = {0, 0, 0, 62};
  EXPECT_EQ(Base62EncodeFixed(v), "000010");
  EXPECT_EQ(Base62EncodeUint(61, 3), "00z");
  EXPECT_EQ(Base62EncodeUint(62 * 62, 3), "100");
}

TEST(Base62, DecodeRoundTripsAndRejectsJunk) {
  uint64_t v = 0;
  ASSERT_TRUE(Base62DecodeUint(Base62EncodeUint(4294967295u, 6), &v));
  EXPECT_EQ(v, 4294967295u);
  EXPECT_FALSE(Base62DecodeUint("ab_c", &v));
  EXPECT_FALSE(Base62DecodeUint("", &v));
  EXPECT_TRUE(IsBase62("azAZ09"));
  EXPECT_FALSE(IsBase62("a-b"));
}

}  // namespace
}  // namespace keyhold
