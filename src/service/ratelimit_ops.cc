// KeyServiceImpl::Limit — ratelimit.limit and ratelimit.multiLimit.
#include <algorithm>

#include "service/internal.h"

namespace keyhold::service {

static Status ValidateCheck(const LimitCheck& c) {
  auto bad_text = [](const std::string& s) {
    return s.empty() || s.size() > 255 || std::any_of(s.begin(), s.end(), [](unsigned char ch) {
             return ch < 0x20 || ch == 0x7f;
           });
  };
  if (bad_text(c.namespace_name)) {
    return InvalidArgument("namespace must be 1 to 255 characters, no control characters");
  }
  if (bad_text(c.identifier)) {
    return InvalidArgument("identifier must be 1 to 255 characters, no control characters");
  }
  if (c.limit < 1 || c.limit > kMaxRatelimitLimit) {
    return InvalidArgument("limit must be between 1 and 1000000000");
  }
  if (c.duration_ms < 1000 || c.duration_ms > kMaxRatelimitDurationMs) {
    return InvalidArgument("duration must be between 1000 and 2592000000 ms");
  }
  if (c.cost < 0 || c.cost > kMaxRatelimitLimit) {
    return InvalidArgument("cost must be between 0 and 1000000000");
  }
  return OkStatus();
}

StatusOr<std::vector<LimitResult>> KeyServiceImpl::Limit(const RequestContext& ctx,
                                                         const std::vector<LimitCheck>& checks,
                                                         bool* all_passed) {
  if (checks.empty() || checks.size() > 100) {
    return InvalidArgument("give 1 to 100 rate limits to check");
  }
  std::vector<RateLimiter::Check> limiter_checks;
  for (const LimitCheck& c : checks) {
    KH_RETURN_IF_ERROR(ValidateCheck(c));
    // A namespace may hold dots ("sms.sign_up"), which `*` (one segment) would not cover.
    std::string permission = "ratelimit." + c.namespace_name + ".limit";
    if (!ctx.actor.Can(permission) && !ctx.actor.Can("ratelimit.*.limit")) {
      KH_RETURN_IF_ERROR(Require(ctx.actor, permission));
    }
    // A namespace holds no control characters, so '\n' separates it from the identifier.
    limiter_checks.push_back(
        {c.namespace_name + "\n" + c.identifier, {c.limit, c.duration_ms}, c.cost});
  }
  const int64_t now = env_.NowMillis();
  std::vector<RateLimiter::Outcome> out;
  *all_passed = namespace_limiter_.Apply(limiter_checks, now, &out);
  (*all_passed ? ratelimit_passed_ : ratelimit_refused_).fetch_add(1, std::memory_order_relaxed);
  std::vector<LimitResult> results;
  for (size_t i = 0; i < checks.size(); ++i) {
    results.push_back({checks[i].namespace_name, checks[i].identifier, checks[i].limit,
                       out[i].remaining, now + out[i].reset_ms, out[i].allowed});
  }
  return results;
}

}  // namespace keyhold::service
