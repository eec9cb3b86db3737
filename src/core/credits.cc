#include "core/credits.h"

#include <chrono>

namespace keyhold {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

int64_t DaysToMillis(std::chrono::sys_days d) {
  return static_cast<int64_t>(d.time_since_epoch().count()) * kMsPerDay;
}

}  // namespace

int DaysInMonth(int64_t year, int month) {
  using namespace std::chrono;
  year_month_day_last last{std::chrono::year(static_cast<int>(year)) /
                           std::chrono::month(static_cast<unsigned>(month)) / std::chrono::last};
  return static_cast<int>(static_cast<unsigned>(last.day()));
}

int64_t LastRefillBoundary(const RefillRule& rule, int64_t now_ms) {
  using namespace std::chrono;
  int64_t day_index = FloorDiv(now_ms, kMsPerDay);
  if (rule.interval == RefillInterval::kDaily) return day_index * kMsPerDay;

  sys_days today{days{day_index}};
  year_month_day ymd{today};
  auto boundary_in = [&](std::chrono::year_month ym) {
    int dim = DaysInMonth(static_cast<int>(ym.year()),
                          static_cast<int>(static_cast<unsigned>(ym.month())));
    int day = rule.refill_day < 1 ? 1 : (rule.refill_day > dim ? dim : rule.refill_day);
    return sys_days{ym / std::chrono::day(static_cast<unsigned>(day))};
  };
  std::chrono::year_month this_month{ymd.year(), ymd.month()};
  sys_days b = boundary_in(this_month);
  if (b > today) b = boundary_in(this_month - months{1});
  return DaysToMillis(b);
}

bool ApplyRefill(CreditsState& state, int64_t now_ms) {
  if (!state.refill) return false;
  int64_t boundary = LastRefillBoundary(*state.refill, now_ms);
  if (state.last_refill_at >= boundary) return false;
  state.remaining = state.refill->amount;
  state.last_refill_at = now_ms;
  return true;
}

bool TrySpend(CreditsState& state, int64_t cost) {
  if (!state.remaining) return true;
  if (*state.remaining <= 0 || *state.remaining < cost) return false;
  *state.remaining -= cost;
  return true;
}

}  // namespace keyhold
