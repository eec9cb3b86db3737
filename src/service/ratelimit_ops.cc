// KeyServiceImpl::Limit — ratelimit.limit and ratelimit.multiLimit.
#include <algorithm>

#include "service/internal.h"

namespace keyhold::service {

Status ValidateRatelimitText(const std::string& text, std::string_view field) {
  const bool bad = text.empty() || text.size() > 255 ||
                   std::any_of(text.begin(), text.end(),
                               [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; });
  if (!bad) return OkStatus();
  return InvalidArgument(std::string(field) +
                         " must be 1 to 255 characters, no control characters");
}

Status RequireRatelimit(const Principal& p, const std::string& namespace_name,
                        std::string_view action) {
  // A namespace may hold dots ("sms.sign_up"), which `*` (one segment) would not cover.
  std::string permission = "ratelimit." + namespace_name + "." + std::string(action);
  if (p.Can(permission) || p.Can("ratelimit.*." + std::string(action))) return OkStatus();
  return Require(p, permission);
}

static Status ValidateCheck(const LimitCheck& c) {
  KH_RETURN_IF_ERROR(ValidateRatelimitText(c.namespace_name, "namespace"));
  KH_RETURN_IF_ERROR(ValidateRatelimitText(c.identifier, "identifier"));
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
  std::vector<LimitResult> results;
  limiter_checks.reserve(checks.size());
  results.reserve(checks.size());
  for (const LimitCheck& c : checks) {
    KH_RETURN_IF_ERROR(ValidateCheck(c));
    KH_RETURN_IF_ERROR(RequireRatelimit(ctx.actor, c.namespace_name, "limit"));
    // A namespace holds no control characters, so '\n' separates it from the identifier.
    limiter_checks.push_back(
        {c.namespace_name + "\n" + c.identifier, {c.limit, c.duration_ms}, c.cost});
    results.push_back({c.namespace_name, c.identifier, c.limit, 0, 0, false, ""});
  }
  {
    // The overrides in force when the call began decide all its checks.
    std::shared_lock lock(overrides_mu_);
    if (overrides_.size() > 0) {
      for (size_t i = 0; i < checks.size(); ++i) {
        const RatelimitOverride* o =
            overrides_.Find(checks[i].namespace_name, checks[i].identifier);
        if (!o) continue;
        limiter_checks[i].limit = {o->limit, o->duration_ms};
        results[i].limit = o->limit;
        results[i].override_id = o->id;
      }
    }
  }
  const int64_t now = env_.NowMillis();
  std::vector<RateLimiter::Outcome> out;
  *all_passed = namespace_limiter_.Apply(limiter_checks, now, &out);
  (*all_passed ? ratelimit_passed_ : ratelimit_refused_).fetch_add(1, std::memory_order_relaxed);
  for (size_t i = 0; i < checks.size(); ++i) {
    results[i].remaining = out[i].remaining;
    results[i].reset_at_ms = now + out[i].reset_ms;
    results[i].passed = out[i].allowed;
  }
  return results;
}

}  // namespace keyhold::service
