#include "service/analytics.h"

#include <algorithm>
#include <string_view>

#include "service/internal.h"

namespace keyhold::service {
namespace {

constexpr size_t kMaxFilterIds = 1000;

class AnalyticsServiceImpl final : public AnalyticsService {
 public:
  AnalyticsServiceImpl(store::Store& store, Env& env) : store_(store), env_(env) {}

  StatusOr<std::vector<store::UsageCount>> GetVerifications(const RequestContext& ctx,
                                                            const VerificationQuery& in) override {
    if (in.api_ids.empty()) {
      KH_RETURN_IF_ERROR(Require(ctx.actor, "api.*.read_analytics"));
    }
    for (const std::string& api : in.api_ids) {
      KH_RETURN_IF_ERROR(Require(ctx.actor, "api." + api + ".read_analytics"));
    }
    for (const auto* ids : {&in.key_ids, &in.identity_ids, &in.api_ids, &in.outcomes}) {
      if (ids->size() > kMaxFilterIds) return InvalidArgument("at most 1000 ids per filter");
    }
    for (const std::string& o : in.outcomes) {
      static constexpr std::string_view kOutcomes[] = {
          "VALID",          "NOT_FOUND",    "FORBIDDEN", "INSUFFICIENT_PERMISSIONS",
          "USAGE_EXCEEDED", "RATE_LIMITED", "DISABLED",  "EXPIRED"};
      if (std::find(std::begin(kOutcomes), std::end(kOutcomes), o) == std::end(kOutcomes)) {
        return InvalidArgument("'" + o + "' is not a verification outcome");
      }
    }
    store::UsageQuery q;
    q.granularity = in.granularity;
    q.since_ms = in.since_ms;
    q.until_ms = in.until_ms ? in.until_ms : env_.NowMillis() + 1;
    if (q.until_ms <= q.since_ms) return InvalidArgument("until must be after since");
    q.key_ids = in.key_ids;
    q.identity_ids = in.identity_ids;
    q.api_ids = in.api_ids;
    q.outcomes = in.outcomes;
    q.by_time = in.group_by_time;
    q.by_key = in.group_by_key;
    q.by_identity = in.group_by_identity;
    q.by_api = in.group_by_api;
    q.by_outcome = in.group_by_outcome;
    q.limit = std::clamp(in.limit, 1, store::kMaxUsageRows);
    return store_.QueryUsage(q);
  }

 private:
  store::Store& store_;
  Env& env_;
};

}  // namespace

std::unique_ptr<AnalyticsService> AnalyticsService::Create(store::Store& store, Env& env) {
  return std::make_unique<AnalyticsServiceImpl>(store, env);
}

}  // namespace keyhold::service
