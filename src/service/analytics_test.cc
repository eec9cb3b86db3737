#include "service/analytics.h"

#include <gtest/gtest.h>

#include <random>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "service/usage_recorder.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

using Counts =
    std::vector<std::tuple<int64_t, std::string, std::string, std::string, std::string, int64_t>>;

Counts Flat(const std::vector<store::UsageCount>& rows) {
  Counts out;
  for (const auto& r : rows) {
    out.emplace_back(r.bucket_ms, r.key_id, r.identity_id, r.api_id, r.outcome, r.count);
  }
  return out;
}

// Answers that count the minutes still open in memory must be the answers the store gives once
// they are written: same groups, same order, same counts, same limit.
TEST(AnalyticsTest, OpenMinutesAreCountedAsIfWritten) {
  testing::TempDir dir;
  testing::FakeEnv env;
  auto store = store::SqliteStore::Open(dir.path() + "/a.db");
  ASSERT_TRUE(store.ok());
  UsageRecorder usage(**store, env, {});
  auto analytics = AnalyticsService::Create(**store, env, &usage);
  RequestContext ctx;
  ctx.actor = {.key_id = "root_1", .permissions = {"api.*.read_analytics"}};

  const int64_t start = env.NowMillis() - env.NowMillis() % 3'600'000;
  std::mt19937 rng(7);
  const char* outcomes[] = {"VALID", "RATE_LIMITED", "DISABLED"};
  auto record = [&](int64_t t) {
    Verification v;
    v.time_ms = t;
    v.key_id = "key_" + std::to_string(rng() % 6);
    v.identity_id = rng() % 2 ? "id_" + std::to_string(rng() % 3) : "";
    v.api_id = "api_" + std::to_string(rng() % 2);
    v.outcome = outcomes[rng() % 3];
    v.client_ip = "10.0.0." + std::to_string(rng() % 4);
    usage.Record(std::move(v));
  };
  // Three written minutes, then two open ones that share groups with them.
  for (int m = 0; m < 5; ++m) {
    env.Set(start + m * 60'000 + 1'000);
    for (int i = 0; i < 40; ++i) record(env.NowMillis() + i * 100);
    // The last flush comes before the margin after minute 3 has passed: minutes 3 and 4 stay open.
    env.Set(start + m * 60'000 + (m < 4 ? 5'000 : 1'500));
    ASSERT_TRUE(usage.Flush().ok());
  }

  std::vector<VerificationQuery> queries;
  for (auto g : {store::UsageGranularity::kMinute, store::UsageGranularity::kHour,
                 store::UsageGranularity::kDay}) {
    for (int groups = 0; groups < 32; ++groups) {
      VerificationQuery q{.granularity = g, .since_ms = start - 86'400'000};
      q.until_ms = start + 86'400'000;
      q.group_by_time = groups & 1;
      q.group_by_key = groups & 2;
      q.group_by_identity = groups & 4;
      q.group_by_api = groups & 8;
      q.group_by_outcome = groups & 16;
      queries.push_back(q);
    }
  }
  VerificationQuery filtered{.granularity = store::UsageGranularity::kMinute,
                             .since_ms = start + 60'000,
                             .until_ms = start + 4 * 60'000,
                             .key_ids = {"key_1", "key_2"},
                             .api_ids = {"api_1"},
                             .outcomes = {"VALID", "DISABLED"}};
  filtered.group_by_key = true;
  queries.push_back(filtered);
  VerificationQuery limited{.granularity = store::UsageGranularity::kMinute,
                            .since_ms = start,
                            .until_ms = start + 86'400'000};
  limited.group_by_key = limited.group_by_identity = true;
  for (int limit : {1, 5, 17}) {
    limited.limit = limit;
    queries.push_back(limited);
  }

  std::vector<Counts> before;
  int64_t unwritten = 0;
  usage.ReadWithUnwritten([&](std::span<const store::UsageRow> rows) {
    for (const auto& r : rows) unwritten += r.count;
  });
  ASSERT_EQ(unwritten, 80) << "two minutes open";
  for (const auto& q : queries) {
    auto r = analytics->GetVerifications(ctx, q);
    ASSERT_TRUE(r.ok()) << r.status().message();
    before.push_back(Flat(*r));
  }
  ASSERT_TRUE(usage.Flush(/*close_all=*/true).ok());
  for (size_t i = 0; i < queries.size(); ++i) {
    auto r = analytics->GetVerifications(ctx, queries[i]);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(before[i], Flat(*r)) << "query " << i;
    EXPECT_FALSE(before[i].empty()) << "query " << i;
  }
}

}  // namespace
}  // namespace keyhold::service
