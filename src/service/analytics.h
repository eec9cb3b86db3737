// AnalyticsService: verification counts, from the rollups the usage recorder writes and, when
// given the recorder, the counts it has flushed but not yet written (the minutes still open).
//
//   auto analytics = AnalyticsService::Create(store, env, &usage);
//   VerificationQuery q{.since_ms = now - 86'400'000, .key_ids = {"key_1", "key_2"}};
//   q.group_by_key = q.group_by_outcome = true;
//   KH_ASSIGN_OR_RETURN(std::vector<store::UsageCount> rows, analytics->GetVerifications(ctx, q));
//
// Permissions: `api.<apiId>.read_analytics` for each API named in api_ids; without api_ids, the
// query spans every API and needs `api.*.read_analytics`.
//
// Thread-safety: safe to call concurrently.
#pragma once

#include <memory>

#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "store/store.h"

namespace keyhold::service {

class UsageRecorder;

struct VerificationQuery {
  store::UsageGranularity granularity = store::UsageGranularity::kHour;
  int64_t since_ms = 0;
  int64_t until_ms = 0;  // 0: now
  std::vector<std::string> key_ids;
  std::vector<std::string> identity_ids;
  std::vector<std::string> api_ids;
  std::vector<std::string> outcomes;
  bool group_by_time = true, group_by_key = false, group_by_identity = false, group_by_api = false,
       group_by_outcome = true;
  int limit = 1000;
};

class AnalyticsService {
 public:
  // `usage` (not owned, may be null) must outlive the service.
  static std::unique_ptr<AnalyticsService> Create(store::Store& store, Env& env,
                                                  const UsageRecorder* usage = nullptr);
  virtual ~AnalyticsService() = default;

  // Counts of verifications in [since, until) matching the filters, grouped as asked. Buckets are
  // the granularity's (minute, hour, UTC day); a bucket is counted whole if it starts in range.
  // At most `limit` rows. Errors: kPermissionDenied; kInvalidArgument for an empty range, an
  // unknown outcome, more than 1,000 ids in a filter; kUnavailable.
  virtual StatusOr<std::vector<store::UsageCount>> GetVerifications(const RequestContext& ctx,
                                                                    const VerificationQuery& q) = 0;
};

}  // namespace keyhold::service
