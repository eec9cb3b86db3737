#include "service/analytics.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>

#include "service/internal.h"
#include "service/usage_recorder.h"

namespace keyhold::service {
namespace {

constexpr size_t kMaxFilterIds = 1000;

int64_t BucketOf(int64_t t, store::UsageGranularity g) {
  int64_t size = g == store::UsageGranularity::kMinute ? 60'000
                 : g == store::UsageGranularity::kHour ? 3'600'000
                                                       : 86'400'000;
  int64_t b = t - t % size;
  return t < 0 && t % size != 0 ? b - size : b;
}

bool Matches(const std::vector<std::string>& filter, const std::string& value) {
  return filter.empty() || std::find(filter.begin(), filter.end(), value) != filter.end();
}

// Adds to `counts` (the store's answer to `q`) the rows not yet written to the store, grouped,
// filtered, ordered and limited as the store does. The store's answer holds the first q.limit
// groups of what it has, so the first q.limit groups of both together are right.
void AddUnwritten(const store::UsageQuery& q, std::span<const store::UsageRow> unwritten,
                  std::vector<store::UsageCount>* counts) {
  using Group = std::tuple<int64_t, std::string, std::string, std::string, std::string>;
  std::map<Group, int64_t> merged;
  for (store::UsageCount& c : *counts) {
    merged[{c.bucket_ms, std::move(c.key_id), std::move(c.identity_id), std::move(c.api_id),
            std::move(c.outcome)}] += c.count;
  }
  for (const store::UsageRow& r : unwritten) {
    int64_t bucket = BucketOf(r.second_ms, q.granularity);
    if (bucket < q.since_ms || bucket >= q.until_ms || r.count == 0) continue;
    if (!Matches(q.key_ids, r.key_id) || !Matches(q.identity_ids, r.identity_id) ||
        !Matches(q.api_ids, r.api_id) || !Matches(q.outcomes, r.outcome)) {
      continue;
    }
    merged[{q.by_time ? bucket : 0, q.by_key ? r.key_id : "", q.by_identity ? r.identity_id : "",
            q.by_api ? r.api_id : "", q.by_outcome ? r.outcome : ""}] += r.count;
  }
  counts->clear();
  for (auto& [g, n] : merged) {
    if (counts->size() == static_cast<size_t>(q.limit)) break;
    const auto& [bucket, key, identity, api, outcome] = g;
    counts->push_back({bucket, key, identity, api, outcome, n});
  }
}

class AnalyticsServiceImpl final : public AnalyticsService {
 public:
  AnalyticsServiceImpl(store::Store& store, Env& env, const UsageRecorder* usage)
      : store_(store), env_(env), usage_(usage) {}

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
    if (usage_ == nullptr) return store_.QueryUsage(q);
    // Counted but not yet written (the minutes still open): added so that an answer is as fresh
    // as the last flush.
    std::optional<StatusOr<std::vector<store::UsageCount>>> out;
    usage_->ReadWithUnwritten([&](std::span<const store::UsageRow> unwritten) {
      out = store_.QueryUsage(q);
      if (out->ok()) AddUnwritten(q, unwritten, &**out);
    });
    return std::move(*out);
  }

 private:
  store::Store& store_;
  Env& env_;
  const UsageRecorder* usage_;
};

}  // namespace

std::unique_ptr<AnalyticsService> AnalyticsService::Create(store::Store& store, Env& env,
                                                           const UsageRecorder* usage) {
  return std::make_unique<AnalyticsServiceImpl>(store, env, usage);
}

}  // namespace keyhold::service
