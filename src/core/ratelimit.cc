#include "core/ratelimit.h"

#include <algorithm>

namespace keyhold {
namespace {

using i128 = GcraSlots;

// `state`'s TAT in slots of `limit` (a state of another limit keeps the time it stands for).
i128 TatIn(const GcraState& state, int64_t limit, int64_t now_ms) {
  const i128 now = static_cast<i128>(now_ms) * limit;
  if (state.limit == 0 || state.limit == limit) return std::max(state.tat, now);
  const i128 old_now = static_cast<i128>(now_ms) * state.limit;
  if (state.tat <= old_now) return now;
  return now + (state.tat - old_now) * limit / state.limit;
}

int64_t CeilDiv(i128 a, i128 b) { return static_cast<int64_t>((a + b - 1) / b); }

}  // namespace

GcraDecision Gcra(const GcraState& state, GcraLimit limit, int64_t cost, int64_t now_ms) {
  GcraDecision d;
  d.state = state;
  if (limit.limit <= 0 || limit.duration_ms <= 0) {
    d.allowed = cost == 0;
    d.retry_after_ms = d.allowed ? 0 : -1;
    return d;
  }
  const i128 L = limit.limit;
  const i128 token = limit.duration_ms;  // one token, in slots
  const i128 window = token * L;         // a full bucket, in slots
  const i128 now = static_cast<i128>(now_ms) * L;
  const i128 tat = TatIn(state, limit.limit, now_ms);
  const i128 next = tat + token * cost;
  d.allowed = next - now <= window;
  i128 after = tat;
  if (d.allowed) {
    after = next;
    if (cost > 0) d.state = {next, limit.limit};
  } else if (cost > limit.limit) {
    d.retry_after_ms = -1;
  } else {
    d.retry_after_ms = CeilDiv(next - window - now, L);
  }
  d.remaining = static_cast<int64_t>(std::clamp<i128>((window - (after - now)) / token, 0, L));
  d.reset_ms = CeilDiv(after - now, L);
  return d;
}

GcraState GcraRefund(const GcraState& state, GcraLimit limit, int64_t cost, int64_t now_ms) {
  if (limit.limit <= 0 || limit.duration_ms <= 0 || cost <= 0 || state.limit == 0) return state;
  const i128 now = static_cast<i128>(now_ms) * limit.limit;
  const i128 tat = TatIn(state, limit.limit, now_ms);
  return {std::max(now, tat - static_cast<i128>(limit.duration_ms) * cost), limit.limit};
}

bool GcraIsFull(const GcraState& state, int64_t now_ms) {
  return state.limit == 0 || state.tat <= static_cast<i128>(now_ms) * state.limit;
}

}  // namespace keyhold
