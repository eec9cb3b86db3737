// Credits: a key's remaining-uses counter and its periodic refill.
//
// A key may carry `remaining` credits (none = unlimited) and a refill rule: `daily` resets the
// balance to `amount` at 00:00 UTC every day; `monthly` resets it at 00:00 UTC on `refill_day`
// of every month (1..31, clamped to the month's last day, so 31 means "last day").
// Refills are applied lazily, when the key is next read or verified.
//
//   CreditsState s = ...;
//   ApplyRefill(s, now_ms);           // brings the balance up to date
//   if (!TrySpend(s, cost)) -> USAGE_EXCEEDED
#pragma once

#include <cstdint>
#include <optional>

namespace keyhold {

enum class RefillInterval { kDaily, kMonthly };

inline constexpr int64_t kMaxCredits = 1'000'000'000'000'000LL;  // 1e15, keeps sums in range

struct RefillRule {
  RefillInterval interval = RefillInterval::kDaily;
  int64_t amount = 0;  // 0 .. kMaxCredits
  int refill_day = 1;  // monthly only, 1..31
};

struct CreditsState {
  std::optional<int64_t> remaining;  // nullopt: unlimited
  std::optional<RefillRule> refill;
  int64_t last_refill_at = 0;  // ms; when the balance was last set by a refill or by hand
};

// The most recent refill boundary at or before `now_ms` (ms since epoch, UTC).
int64_t LastRefillBoundary(const RefillRule& rule, int64_t now_ms);

// Number of days in `month` (1..12) of `year`.
int DaysInMonth(int64_t year, int month);

// Resets `remaining` to the refill amount if a boundary has passed since last_refill_at.
// Returns true if the state changed.
bool ApplyRefill(CreditsState& state, int64_t now_ms);

// Spends `cost` credits if the balance allows it; unlimited keys always succeed. A cost of 0
// spends nothing but still fails on an exhausted balance, so it can probe a key.
// Returns false, changing nothing, if remaining < cost or remaining is 0.
bool TrySpend(CreditsState& state, int64_t cost);

}  // namespace keyhold
