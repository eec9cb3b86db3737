#include "core/key_format.h"

#include <gtest/gtest.h>

#include <set>

#include "fakes/fake_env.h"

namespace keyhold {
namespace {

TEST(KeyFormat, GeneratedKeysParseAndCarryTheirPrefix) {
  testing::FakeEnv env;
  std::string key = GenerateKey(env, "sk_live", 32);
  auto parsed = ParseKey(key);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->prefix, "sk_live");
  EXPECT_EQ(parsed->body.size(), 43u);
  EXPECT_EQ(key.size(), 7 + 1 + 43 + kCheckLength);
  EXPECT_EQ(KeyStart(key), "sk_live_" + std::string(parsed->body.substr(0, 4)));
}

TEST(KeyFormat, KeyWithoutPrefix) {
  testing::FakeEnv env;
  std::string key = GenerateKey(env, "", 16);
  auto parsed = ParseKey(key);
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->prefix.empty());
  EXPECT_EQ(KeyStart(key), key.substr(0, 4));
}

TEST(KeyFormat, EveryByteLengthRoundTrips) {
  testing::FakeEnv env;
  for (int n = kMinKeyBytes; n <= kMaxKeyBytes; n += 17) {
    EXPECT_TRUE(ParseKey(GenerateKey(env, "p", n)).ok()) << n;
  }
  EXPECT_TRUE(ParseKey(GenerateKey(env, "p", kMaxKeyBytes)).ok());
}

TEST(KeyFormat, AnySingleCharacterChangeFailsTheCheck) {
  testing::FakeEnv env;
  std::string key = GenerateKey(env, "hd", 32);
  for (size_t i = 3; i < key.size(); ++i) {
    std::string bad = key;
    bad[i] = bad[i] == 'a' ? 'b' : 'a';
    auto st = ParseKey(bad);
    ASSERT_FALSE(st.ok()) << i;
    EXPECT_EQ(st.status().reason(), "key/checksum") << i;
  }
}

TEST(KeyFormat, MalformedKeysAreRejectedWithoutCheck) {
  EXPECT_EQ(ParseKey("").status().reason(), "key/malformed");
  EXPECT_EQ(ParseKey("short").status().reason(), "key/malformed");
  EXPECT_EQ(ParseKey(std::string(600, 'a')).status().reason(), "key/malformed");
  EXPECT_EQ(ParseKey("bad-prefix_" + std::string(43, 'a') + "AAAAAA").status().reason(),
            "key/malformed");
  EXPECT_EQ(ParseKey("_" + std::string(43, 'a') + "AAAAAA").status().reason(), "key/malformed");
  EXPECT_EQ(ParseKey("hd_" + std::string(40, '!') + "AAAAAA").status().reason(), "key/malformed");
}

TEST(KeyFormat, PrefixRules) {
  EXPECT_TRUE(IsValidKeyPrefix(""));
  EXPECT_TRUE(IsValidKeyPrefix("a_B_9"));
  EXPECT_TRUE(IsValidKeyPrefix(std::string(16, 'x')));
  EXPECT_FALSE(IsValidKeyPrefix(std::string(17, 'x')));
  EXPECT_FALSE(IsValidKeyPrefix("has-dash"));
  EXPECT_FALSE(IsValidKeyPrefix("sp ace"));
}

TEST(KeyFormat, KeysAreDistinct) {
  testing::FakeEnv env;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(GenerateKey(env, "k", 16)).second);
}

}  // namespace
}  // namespace keyhold
