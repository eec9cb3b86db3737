#include "core/base62.h"

#include <gtest/gtest.h>

#include <vector>

namespace keyhold {
namespace {

TEST(Base62, LengthCoversEveryInputOfThatSize) {
  EXPECT_EQ(Base62LengthFor(16), 22u);
  EXPECT_EQ(Base62LengthFor(32), 43u);
  EXPECT_EQ(Base62LengthFor(255), 343u);
  for (size_t n : {1u, 16u, 32u, 64u, 255u}) {
    std::vector<uint8_t> max(n, 0xff);
    EXPECT_EQ(Base62EncodeFixed(max).size(), Base62LengthFor(n)) << n;
    EXPECT_NE(Base62EncodeFixed(max)[0], '\0');
  }
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
