#include "service/brute_force.h"

#include <gtest/gtest.h>

namespace keyhold::service {
namespace {

constexpr int64_t kNow = 1'764'921'600'000;

TEST(BruteForceGuard, BlocksAnAddressAtTheThresholdForTheCooldown) {
  BruteForceGuard g({.threshold = 3, .window_ms = 60'000, .cooldown_ms = 300'000});
  int64_t failures = 0;
  EXPECT_FALSE(g.Fail("198.51.100.7", kNow, &failures));
  EXPECT_FALSE(g.Fail("198.51.100.7", kNow + 1'000, &failures));
  EXPECT_EQ(g.BlockedUntil("198.51.100.7", kNow + 1'000), 0);
  EXPECT_TRUE(g.Fail("198.51.100.7", kNow + 2'000, &failures));
  EXPECT_EQ(failures, 3);
  EXPECT_EQ(g.BlockedUntil("198.51.100.7", kNow + 2'000), kNow + 302'000);
  EXPECT_FALSE(g.Fail("198.51.100.7", kNow + 3'000, &failures)) << "reported once per block";
  EXPECT_EQ(g.BlockedUntil("198.51.100.8", kNow + 3'000), 0) << "another address";
  EXPECT_EQ(g.BlockedUntil("198.51.100.7", kNow + 302'000), 0) << "the cool-down is over";
}

TEST(BruteForceGuard, FailuresOutsideOneWindowDoNotAddUp) {
  BruteForceGuard g({.threshold = 3, .window_ms = 60'000, .cooldown_ms = 300'000});
  int64_t failures = 0;
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(g.Fail("198.51.100.7", kNow + i * 30'000, &failures));
}

TEST(BruteForceGuard, AnIPv6HostIsCountedByItsSlash64) {
  BruteForceGuard g({.threshold = 3, .window_ms = 60'000, .cooldown_ms = 300'000});
  int64_t failures = 0;
  EXPECT_FALSE(g.Fail("2001:db8:0:7::1", kNow, &failures));
  EXPECT_FALSE(g.Fail("2001:db8:0:7::2", kNow, &failures));
  EXPECT_TRUE(g.Fail("2001:db8:0:7:ffff::3", kNow, &failures));
  EXPECT_GT(g.BlockedUntil("2001:db8:0:7::99", kNow), kNow);
  EXPECT_EQ(g.BlockedUntil("2001:db8:0:8::1", kNow), 0);
  EXPECT_EQ(BruteForceSubject("2001:db8:0:7::1"), "2001:db8:0:7::/64");
}

TEST(BruteForceGuard, ThresholdZeroIsOffAndStateIsBounded) {
  BruteForceGuard off({.threshold = 0});
  int64_t failures = 0;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Fail("198.51.100.7", kNow, &failures));
  EXPECT_FALSE(off.enabled());
  BruteForceGuard small({.threshold = 5, .max_tracked = 32});
  for (int i = 0; i < 1000; ++i)
    small.Fail("10.0." + std::to_string(i % 250) + "." + std::to_string(i / 250), kNow, &failures);
  EXPECT_LE(small.tracked(), 32u);
}

}  // namespace
}  // namespace keyhold::service
