#include "core/credits.h"

#include <gtest/gtest.h>

#include <chrono>

namespace keyhold {
namespace {

// Milliseconds for a UTC date and time.
int64_t At(int y, unsigned m, unsigned d, int hour = 0) {
  using namespace std::chrono;
  sys_days date = std::chrono::year(y) / std::chrono::month(m) / std::chrono::day(d);
  return duration_cast<milliseconds>(date.time_since_epoch()).count() + hour * 3'600'000LL;
}

TEST(Credits, DaysInMonth) {
  EXPECT_EQ(DaysInMonth(2026, 1), 31);
  EXPECT_EQ(DaysInMonth(2026, 2), 28);
  EXPECT_EQ(DaysInMonth(2028, 2), 29);
  EXPECT_EQ(DaysInMonth(2100, 2), 28);
  EXPECT_EQ(DaysInMonth(2000, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 4), 30);
}

TEST(Credits, DailyBoundaryIsMidnightUtc) {
  RefillRule daily{RefillInterval::kDaily, 10, 1};
  EXPECT_EQ(LastRefillBoundary(daily, At(2026, 3, 5, 13)), At(2026, 3, 5));
  EXPECT_EQ(LastRefillBoundary(daily, At(2026, 3, 5)), At(2026, 3, 5));
}

TEST(Credits, MonthlyBoundaryClampsToShortMonths) {
  RefillRule on31{RefillInterval::kMonthly, 10, 31};
  EXPECT_EQ(LastRefillBoundary(on31, At(2026, 2, 28, 1)), At(2026, 2, 28));
  EXPECT_EQ(LastRefillBoundary(on31, At(2026, 2, 27)), At(2026, 1, 31));
  EXPECT_EQ(LastRefillBoundary(on31, At(2028, 2, 29, 5)), At(2028, 2, 29));
  EXPECT_EQ(LastRefillBoundary(on31, At(2026, 4, 30, 5)), At(2026, 4, 30));
  EXPECT_EQ(LastRefillBoundary(on31, At(2026, 5, 1)), At(2026, 4, 30));
  RefillRule on15{RefillInterval::kMonthly, 10, 15};
  EXPECT_EQ(LastRefillBoundary(on15, At(2026, 1, 10)), At(2025, 12, 15));
  EXPECT_EQ(LastRefillBoundary(on15, At(2026, 1, 15)), At(2026, 1, 15));
}

TEST(Credits, RefillResetsBalanceOncePerPeriod) {
  CreditsState s;
  s.remaining = 0;
  s.refill = RefillRule{RefillInterval::kDaily, 100, 1};
  s.last_refill_at = At(2026, 3, 5, 9);
  EXPECT_FALSE(ApplyRefill(s, At(2026, 3, 5, 23)));
  EXPECT_EQ(*s.remaining, 0);
  EXPECT_TRUE(ApplyRefill(s, At(2026, 3, 6, 0)));
  EXPECT_EQ(*s.remaining, 100);
  ASSERT_TRUE(TrySpend(s, 40));
  EXPECT_FALSE(ApplyRefill(s, At(2026, 3, 6, 12)));
  EXPECT_EQ(*s.remaining, 60);
}

TEST(Credits, MonthlyRefillAcrossFebruary) {
  CreditsState s;
  s.remaining = 3;
  s.refill = RefillRule{RefillInterval::kMonthly, 50, 30};
  s.last_refill_at = At(2026, 1, 30, 1);
  EXPECT_FALSE(ApplyRefill(s, At(2026, 2, 27)));
  EXPECT_TRUE(ApplyRefill(s, At(2026, 2, 28, 2)));  // Feb has no 30th: its last day
  EXPECT_EQ(*s.remaining, 50);
  EXPECT_FALSE(ApplyRefill(s, At(2026, 3, 29)));
  EXPECT_TRUE(ApplyRefill(s, At(2026, 3, 30)));
}

TEST(Credits, SpendNeverGoesNegative) {
  CreditsState s;
  s.remaining = 5;
  EXPECT_FALSE(TrySpend(s, 6));
  EXPECT_EQ(*s.remaining, 5);
  EXPECT_TRUE(TrySpend(s, 5));
  EXPECT_FALSE(TrySpend(s, 0));
  EXPECT_EQ(*s.remaining, 0);
  CreditsState unlimited;
  EXPECT_TRUE(TrySpend(unlimited, 1'000'000));
}

}  // namespace
}  // namespace keyhold
