#include "crypto/shamir.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

namespace keyhold::crypto::shamir {
namespace {

SecureBytes RandomKey(size_t size = 32) {
  SecureBytes key(size);
  RandomBytes(key.mutable_view());
  return key;
}

bool SameBytes(const SecureBytes& a, const SecureBytes& b) {
  return ConstantTimeEqual(a.view(), b.view());
}

Share Copy(const Share& s) {
  Share c{.x = s.x, .y = SecureBytes(s.y.size())};
  std::copy(s.y.view().begin(), s.y.view().end(), c.y.mutable_view().begin());
  return c;
}

// Calls `visit` with every subset of `shares` of size `k`.
void ForEachSubset(const std::vector<Share>& shares, size_t k,
                   const std::function<void(const std::vector<Share>&)>& visit) {
  std::vector<bool> pick(shares.size(), false);
  std::fill(pick.begin(), pick.begin() + static_cast<ptrdiff_t>(k), true);
  do {
    std::vector<Share> subset;
    for (size_t i = 0; i < shares.size(); ++i) {
      if (pick[i]) subset.push_back(Copy(shares[i]));
    }
    visit(subset);
  } while (std::prev_permutation(pick.begin(), pick.end()));
}

TEST(Shamir, EveryThresholdSubsetRecoversAndFewerDoNot) {
  for (auto [t, n] : {std::pair{1, 1}, std::pair{1, 4}, std::pair{2, 3}, std::pair{3, 5},
                      std::pair{4, 4}, std::pair{5, 7}}) {
    SecureBytes key = RandomKey();
    auto shares = Split(key.view(), t, n);
    ASSERT_TRUE(shares.ok()) << shares.status().message();
    ASSERT_EQ(shares->size(), static_cast<size_t>(n));
    int subsets = 0;
    ForEachSubset(*shares, static_cast<size_t>(t), [&](const std::vector<Share>& subset) {
      auto got = Combine(subset);
      ASSERT_TRUE(got.ok());
      EXPECT_TRUE(SameBytes(*got, key)) << "t=" << t << " n=" << n;
      EXPECT_TRUE(ConstantTimeEqual(KeyCheck(got->view()), KeyCheck(key.view())));
      ++subsets;
    });
    EXPECT_GT(subsets, 0);
    if (t > 1) {
      ForEachSubset(*shares, static_cast<size_t>(t - 1), [&](const std::vector<Share>& subset) {
        auto got = Combine(subset);
        ASSERT_TRUE(got.ok());
        EXPECT_FALSE(SameBytes(*got, key)) << "t-1 shares gave the key, t=" << t;
        EXPECT_FALSE(ConstantTimeEqual(KeyCheck(got->view()), KeyCheck(key.view())));
      });
    }
  }
}

TEST(Shamir, MoreThanThresholdSharesAlsoRecover) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 3, 6);
  ASSERT_TRUE(shares.ok());
  auto got = Combine(*shares);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(*got, key));
}

TEST(Shamir, ThresholdOneSharesAreTheSecret) {
  SecureBytes key = RandomKey(16);
  auto shares = Split(key.view(), 1, 3);
  ASSERT_TRUE(shares.ok());
  for (const Share& s : *shares) EXPECT_TRUE(SameBytes(s.y, key));
}

TEST(Shamir, TwoHundredFiftyFiveShares) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 255, 255);
  ASSERT_TRUE(shares.ok());
  EXPECT_EQ(shares->back().x, 255);
  auto got = Combine(*shares);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(*got, key));
}

TEST(Shamir, SplitRefusesBadParameters) {
  SecureBytes key = RandomKey();
  EXPECT_FALSE(Split(key.view(), 0, 3).ok());
  EXPECT_FALSE(Split(key.view(), 4, 3).ok());
  EXPECT_FALSE(Split(key.view(), 1, 0).ok());
  EXPECT_FALSE(Split(key.view(), 2, 256).ok());
  EXPECT_FALSE(Split({}, 1, 1).ok());
  SecureBytes big = RandomKey(kMaxSecretSize + 1);
  EXPECT_FALSE(Split(big.view(), 1, 1).ok());
}

TEST(Shamir, SplitsDiffer) {
  SecureBytes key = RandomKey();
  auto a = Split(key.view(), 2, 2);
  auto b = Split(key.view(), 2, 2);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_FALSE(SameBytes((*a)[0].y, (*b)[0].y));  // fresh random coefficients each time
}

TEST(Shamir, CombineRefusesDuplicatesZeroIndexAndMixedSizes) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 2, 3);
  ASSERT_TRUE(shares.ok());
  std::vector<Share> dup;
  dup.push_back(Copy((*shares)[0]));
  dup.push_back(Copy((*shares)[0]));
  EXPECT_EQ(Combine(dup).status().code(), StatusCode::kInvalidArgument);
  std::vector<Share> zero;
  zero.push_back(Copy((*shares)[0]));
  zero.back().x = 0;
  EXPECT_FALSE(Combine(zero).ok());
  std::vector<Share> mixed;
  mixed.push_back(Copy((*shares)[0]));
  mixed.push_back(Share{.x = 9, .y = SecureBytes(16)});
  EXPECT_FALSE(Combine(mixed).ok());
  EXPECT_FALSE(Combine({}).ok());
}

TEST(Shamir, AlteredShareCombinesToSomethingElse) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 2, 2);
  ASSERT_TRUE(shares.ok());
  (*shares)[1].y.mutable_view()[7] ^= 0x01;
  auto got = Combine(*shares);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(ConstantTimeEqual(KeyCheck(got->view()), KeyCheck(key.view())));
}

TEST(ShamirText, RoundTripsInBase64AndHex) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 2, 3);
  ASSERT_TRUE(shares.ok());
  SetId id{1, 2, 3, 4};
  std::string text = EncodeShare(id, 2, (*shares)[2]);
  EXPECT_EQ(text.size(), 60U);  // 43 bytes
  auto parsed = ParseShare("  " + text + "\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->set_id, id);
  EXPECT_EQ(parsed->threshold, 2);
  EXPECT_EQ(parsed->share.x, 3);
  EXPECT_TRUE(SameBytes(parsed->share.y, (*shares)[2].y));

  std::vector<uint8_t> raw;
  ASSERT_TRUE(Base64Decode(text, &raw));
  auto from_hex = ParseShare(HexEncode(raw));
  ASSERT_TRUE(from_hex.ok());
  EXPECT_EQ(from_hex->share.x, 3);
  EXPECT_TRUE(SameBytes(from_hex->share.y, (*shares)[2].y));
}

TEST(ShamirText, CorruptedSharesAreRefusedWithoutQuotingThem) {
  SecureBytes key = RandomKey();
  auto shares = Split(key.view(), 2, 2);
  ASSERT_TRUE(shares.ok());
  std::string text = EncodeShare(SetId{9, 9, 9, 9}, 2, (*shares)[0]);
  for (size_t i = 0; i + 4 < text.size(); ++i) {  // every character but the padding tail
    std::string bad = text;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    auto parsed = ParseShare(bad);
    ASSERT_FALSE(parsed.ok()) << "position " << i;
    EXPECT_EQ(parsed.status().message().find(text.substr(10, 20)), std::string::npos);
  }
  EXPECT_FALSE(ParseShare(text.substr(0, 40)).ok());
  EXPECT_FALSE(ParseShare("").ok());
  EXPECT_FALSE(ParseShare("not base64 at all!").ok());
  EXPECT_FALSE(ParseShare(std::string(1000, 'A')).ok());
}

TEST(ShamirText, KeyCheckIsFixedForAKey) {
  SecureBytes a = RandomKey();
  SecureBytes b = RandomKey();
  EXPECT_TRUE(ConstantTimeEqual(KeyCheck(a.view()), KeyCheck(a.view())));
  EXPECT_FALSE(ConstantTimeEqual(KeyCheck(a.view()), KeyCheck(b.view())));
}

}  // namespace
}  // namespace keyhold::crypto::shamir
