#include "core/ratelimit.h"

#include <gtest/gtest.h>

#include <deque>

namespace keyhold {
namespace {

constexpr int64_t kT0 = 1'764'921'600'000;  // a realistic epoch time, in ms

TEST(Gcra, AFullBucketThenOneTokenPerInterval) {
  GcraLimit three{.limit = 3, .duration_ms = 60'000};
  GcraState s;
  for (int64_t left = 2; left >= 0; --left) {
    GcraDecision d = Gcra(s, three, 1, kT0);
    ASSERT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, left);
    EXPECT_EQ(d.reset_ms, (3 - left) * 20'000);
    s = d.state;
  }
  GcraDecision refused = Gcra(s, three, 1, kT0 + 5'000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after_ms, 15'000) << "one token every 20 s";
  EXPECT_EQ(refused.reset_ms, 55'000);
  EXPECT_FALSE(Gcra(s, three, 1, kT0 + 19'999).allowed);
  GcraDecision later = Gcra(s, three, 1, kT0 + 20'000);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.remaining, 0);
  EXPECT_TRUE(GcraIsFull(later.state, kT0 + 80'000));
  EXPECT_FALSE(GcraIsFull(later.state, kT0 + 79'999));
}

// Greedy traffic (a request every ms, admitted whenever possible): the documented bounds hold in
// every window, and the long-run rate is the limit's.
TEST(Gcra, BoundsInEveryWindow) {
  for (GcraLimit lim : {GcraLimit{3, 1'000}, GcraLimit{7, 10'000}, GcraLimit{100, 2'000}}) {
    GcraState s;
    std::deque<int64_t> admitted;
    int64_t total = 0;
    const int64_t span = 20 * lim.duration_ms;
    for (int64_t t = 0; t < span; ++t) {
      GcraDecision d = Gcra(s, lim, 1, kT0 + t);
      if (!d.allowed) continue;
      s = d.state;
      ++total;
      admitted.push_back(t);
      while (admitted.front() <= t - lim.duration_ms) admitted.pop_front();
      ASSERT_LE(static_cast<int64_t>(admitted.size()), 2 * lim.limit - 1) << "at t=" << t;
    }
    EXPECT_LE(total, lim.limit * 21);
    EXPECT_GE(total, lim.limit * 20);
  }
}

TEST(Gcra, CostZeroReadsAndACostAboveTheLimitNeverPasses) {
  GcraLimit ten{.limit = 10, .duration_ms = 1'000};
  GcraState s = Gcra({}, ten, 4, kT0).state;
  GcraDecision read = Gcra(s, ten, 0, kT0);
  EXPECT_TRUE(read.allowed);
  EXPECT_EQ(read.remaining, 6);
  EXPECT_EQ(read.state.tat, s.tat);
  GcraDecision big = Gcra({}, ten, 11, kT0);
  EXPECT_FALSE(big.allowed);
  EXPECT_EQ(big.retry_after_ms, -1);
  EXPECT_TRUE(Gcra({}, ten, 10, kT0).allowed) << "a whole bucket at once";
}

TEST(Gcra, ALimitOfZeroAdmitsNothing) {
  GcraDecision d = Gcra({}, {.limit = 0, .duration_ms = 1'000}, 1, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after_ms, -1);
  EXPECT_TRUE(Gcra({}, {.limit = 0, .duration_ms = 1'000}, 0, kT0).allowed);
}

TEST(Gcra, RefundGivesTokensBackButNeverPastFull) {
  GcraLimit five{.limit = 5, .duration_ms = 5'000};
  GcraState s = Gcra({}, five, 3, kT0).state;
  s = GcraRefund(s, five, 2, kT0);
  EXPECT_EQ(Gcra(s, five, 0, kT0).remaining, 4);
  s = GcraRefund(s, five, 100, kT0);
  EXPECT_EQ(Gcra(s, five, 0, kT0).remaining, 5);
  EXPECT_TRUE(GcraIsFull(s, kT0));
}

TEST(Gcra, AChangedLimitKeepsTheTimeTheStateStandsFor) {
  GcraState s = Gcra({}, {.limit = 10, .duration_ms = 10'000}, 10, kT0).state;  // full for 10 s
  GcraDecision d = Gcra(s, {.limit = 100, .duration_ms = 10'000}, 0, kT0);
  EXPECT_EQ(d.reset_ms, 10'000);
  EXPECT_EQ(d.remaining, 0);
  d = Gcra(s, {.limit = 100, .duration_ms = 20'000}, 0, kT0);
  EXPECT_EQ(d.remaining, 50) << "half of a 20 s bucket is used";
}

TEST(Gcra, ExtremeValuesDoNotOverflow) {
  GcraLimit huge{.limit = 1'000'000'000, .duration_ms = 30LL * 24 * 3'600'000};
  GcraDecision d = Gcra({}, huge, 1'000'000'000, kT0 * 100);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.reset_ms, huge.duration_ms);
  EXPECT_FALSE(Gcra(d.state, huge, 1, kT0 * 100).allowed);
  EXPECT_EQ(Gcra(d.state, huge, 1, kT0 * 100).retry_after_ms, 3) << "2.592 ms, rounded up";
}

}  // namespace
}  // namespace keyhold
