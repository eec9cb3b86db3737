#include "core/anomaly.h"

#include <gtest/gtest.h>

namespace keyhold::anomaly {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

// Drives a detector along a made-up timeline.
class Traffic {
 public:
  explicit Traffic(Options options = {}) : detector_(std::move(options)) {}

  // `count` verifications in one second, then the clock moved to `now_ms`.
  void At(int64_t second_ms, std::string_view key, int64_t count, std::string_view ip = "10.0.0.5",
          std::string_view outcome = "VALID", std::string_view route = "",
          std::vector<std::string> tags = {}) {
    Observation o;
    o.second_ms = second_ms;
    o.key_id = key;
    o.api_id = key.empty() ? "" : "api_1";
    o.outcome = outcome;
    o.client_ip = ip;
    o.route = route;
    o.tags = std::move(tags);
    o.count = count;
    detector_.Observe(o, &found);
    detector_.Advance(second_ms + 1000, &found);
  }
  // `count` verifications of `key` in minute `m` (in its sixth second); the minute is then over.
  void Minute(int64_t m, std::string_view key, int64_t count) {
    At(m * kMinute + 5000, key, count);
    detector_.Advance((m + 1) * kMinute + 3000, &found);
  }
  size_t Count(std::string_view kind) const {
    size_t n = 0;
    for (const Detection& d : found) n += d.kind == kind;
    return n;
  }

  Detector detector_;
  std::vector<Detection> found;
};

TEST(Spike, SustainedRiseAboveTheKeysOwnBaselineIsDetectedOnce) {
  Traffic t;
  for (int m = 0; m < 60; ++m) t.Minute(m, "key_a", m % 2 ? 8 : 12);
  t.Minute(60, "key_a", 400);
  t.Minute(61, "key_a", 410);
  EXPECT_TRUE(t.found.empty()) << "two hot minutes are not yet sustained";
  t.Minute(62, "key_a", 420);
  ASSERT_EQ(t.found.size(), 1u);
  const Detection& d = t.found[0];
  EXPECT_EQ(d.kind, kSpike);
  EXPECT_EQ(d.key_id, "key_a");
  EXPECT_EQ(d.api_id, "api_1");
  EXPECT_EQ(d.window_start_ms, 60 * kMinute);
  EXPECT_EQ(d.window_end_ms, 63 * kMinute);
  EXPECT_EQ(d.per_minute, (std::vector<int64_t>{400, 410, 420}));
  EXPECT_EQ(d.count, 1230);
  EXPECT_NEAR(d.baseline, 10, 1);
  EXPECT_EQ(d.threshold, 60) << "the minimum count, above baseline + 4 deviations";
  EXPECT_EQ(d.addresses, std::vector<std::string>{"10.0.0.5"});
  EXPECT_EQ(d.dedupe_key, "anomaly.spike:key_a");
  t.Minute(63, "key_a", 430);
  EXPECT_EQ(t.found.size(), 1u) << "the same key within its cooldown";
  EXPECT_EQ(t.detector_.suppressed(), 1u);
}

TEST(Spike, ALastingNewLevelBecomesTheBaseline) {
  Traffic t;
  for (int m = 0; m < 60; ++m) t.Minute(m, "key_a", 10);
  for (int m = 60; m < 180; ++m) t.Minute(m, "key_a", 400);
  EXPECT_GE(t.Count(kSpike), 1u);
  EXPECT_LE(t.Count(kSpike), 2u) << "a new level stops being a spike once learned";
}

TEST(Spike, NoiseAndGrowthOfABusyKeyAreNotSpikes) {
  Traffic t;
  for (int m = 0; m < 120; ++m) t.Minute(m, "busy", 1000 + (m * 37 % 61) - 30);
  for (int m = 120; m < 240; ++m) t.Minute(m, "busy", 1000 + (m - 120) * 10);  // doubles in 2h
  EXPECT_EQ(t.Count(kSpike), 0u);
}

TEST(Spike, NeedsItsWarmupAndTheMinimumCount) {
  Traffic t;
  for (int m = 0; m < 5; ++m) t.Minute(m, "young", 10);
  for (int m = 5; m < 15; ++m) t.Minute(m, "young", 400);  // within the 30-minute warmup
  for (int m = 0; m < 60; ++m) t.Minute(m, "quiet", 1);
  for (int m = 60; m < 70; ++m) t.Minute(m, "quiet", 50);  // 50x, but under 60 a minute
  EXPECT_EQ(t.Count(kSpike), 0u);
}

TEST(Spike, IdleMinutesCountAsZero) {
  Traffic t;
  for (int m = 0; m < 60; ++m) t.Minute(m, "key_a", 100);
  // Three hours of silence: the baseline decays to nothing, so 100 a minute is a spike again.
  for (int m = 240; m < 243; ++m) t.Minute(m, "key_a", 100);
  EXPECT_EQ(t.Count(kSpike), 1u);
}

TEST(NewNetwork, AKeyUsedFromANetworkItNeverUsedAfterLearning) {
  Traffic t;
  t.At(0, "key_a", 1, "10.0.0.5");
  t.At(2 * kHour, "key_a", 1, "192.0.2.44");  // still learning (24 h)
  t.At(25 * kHour, "key_a", 1, "10.0.0.77");  // a network it knows
  t.At(25 * kHour + 1000, "key_a", 1, "192.0.2.9");
  EXPECT_TRUE(t.found.empty());
  t.At(26 * kHour, "key_a", 3, "203.0.113.9");
  ASSERT_EQ(t.found.size(), 1u);
  const Detection& d = t.found[0];
  EXPECT_EQ(d.kind, kNewNetwork);
  EXPECT_EQ(d.network, "203.0.113.0/24");
  EXPECT_EQ(d.client_ip, "203.0.113.9");
  EXPECT_EQ(d.known_networks, 2u);
  EXPECT_EQ(d.count, 3);
  t.At(26 * kHour + 5000, "key_a", 1, "203.0.113.10");  // now known
  t.At(27 * kHour, "key_a", 1, "2001:db8:1:2::1");
  t.At(27 * kHour + 1000, "key_a", 1, "2001:db8:1:ffff::2");  // the same /48
  EXPECT_EQ(t.Count(kNewNetwork), 2u);
  EXPECT_EQ(t.found.back().network, "2001:db8:1::/48");
}

TEST(NewNetwork, UnknownKeysAndFailuresDoNotTeachOrAlert) {
  Traffic t;
  t.At(0, "key_a", 1, "10.0.0.5");
  t.At(25 * kHour, "", 1, "203.0.113.9", "NOT_FOUND");
  t.At(25 * kHour + 1000, "key_a", 1, "", "VALID");
  EXPECT_EQ(t.Count(kNewNetwork), 0u);
}

TEST(NewNetwork, AKeyUsedFromEverywhereStopsAlerting) {
  Options o;
  o.max_networks_per_key = 3;
  o.network_learning_ms = 0;
  Traffic t(o);
  t.At(0, "roaming", 1, "10.0.0.1");
  for (int i = 1; i <= 6; ++i) t.At(i * 1000, "roaming", 1, "10.0." + std::to_string(i) + ".1");
  EXPECT_EQ(t.Count(kNewNetwork), 3u) << "three new networks, then the key is used from anywhere";
}

TEST(FailedBurst, PerKeyWithinTheWindow) {
  Traffic t;
  for (int i = 0; i < 19; ++i) t.At(i * 3000, "key_a", 1, "10.0.0.5", "INSUFFICIENT_PERMISSIONS");
  EXPECT_TRUE(t.found.empty());
  t.At(57'000, "key_a", 1, "10.0.0.6", "EXPIRED");
  ASSERT_EQ(t.found.size(), 1u);
  const Detection& d = t.found[0];
  EXPECT_EQ(d.kind, kFailedBurst);
  EXPECT_EQ(d.key_id, "key_a");
  EXPECT_EQ(d.count, 20);
  EXPECT_EQ(d.threshold, 20);
  EXPECT_EQ(d.window_start_ms, 0);
  EXPECT_EQ(d.window_end_ms, 58'000);
  EXPECT_EQ(d.addresses, (std::vector<std::string>{"10.0.0.5", "10.0.0.6"}));
}

TEST(FailedBurst, SpreadOverMoreThanTheWindowIsNot) {
  Traffic t;
  for (int i = 0; i < 40; ++i) t.At(i * 4000, "key_a", 1, "10.0.0.5", "DISABLED");
  EXPECT_EQ(t.Count(kFailedBurst), 0u);
  for (int i = 0; i < 40; ++i) t.At(200'000 + i * 1000, "key_b", 1, "10.0.0.5", "VALID");
  EXPECT_EQ(t.Count(kFailedBurst), 0u) << "valid verifications are not failures";
}

TEST(FailedBurst, AMinuteRowCountsUntilItsLastSecondHasLeftTheWindow) {
  // 15 failures stored for minute 10: they may have happened as late as 10 min 59 s.
  for (int64_t later : {118'000, 119'000}) {
    Detector d({});
    Observation minute;
    minute.second_ms = 10 * kMinute;
    minute.span_ms = kMinute;
    minute.key_id = "key_a";
    minute.outcome = "DISABLED";
    minute.client_ip = "10.0.0.5";
    minute.count = 15;
    d.Seed(minute);
    std::vector<Detection> found;
    Observation now = minute;
    now.second_ms = 10 * kMinute + later;
    now.span_ms = 1000;
    now.count = 5;
    d.Observe(now, &found);
    if (later == 119'000) {
      EXPECT_TRUE(found.empty()) << "the minute's last second is a full window before";
      continue;
    }
    ASSERT_EQ(found.size(), 2u) << "by key and by address";
    EXPECT_EQ(found[0].count, 20);
    EXPECT_EQ(found[0].window_start_ms, 10 * kMinute) << "from the minute's start";
    EXPECT_EQ(found[0].window_end_ms, 10 * kMinute + later + 1000);
    EXPECT_EQ(found[1].count, 20);
  }
}

TEST(FailedBurst, PerAddressAcrossKeysAndUnknownKeys) {
  Traffic t;
  for (int i = 0; i < 15; ++i) t.At(i * 1000, "", 1, "198.51.100.7", "NOT_FOUND");
  t.At(15'000, "key_a", 5, "198.51.100.7", "FORBIDDEN");
  ASSERT_EQ(t.Count(kFailedBurst), 1u);
  const Detection& d = t.found[0];
  EXPECT_EQ(d.client_ip, "198.51.100.7");
  EXPECT_TRUE(d.key_id.empty());
  EXPECT_EQ(d.count, 20);
  EXPECT_EQ(d.key_ids, std::vector<std::string>{"key_a"});
  EXPECT_EQ(d.dedupe_key, "anomaly.failed_burst:address:198.51.100.7");
}

TEST(FailedBurst, IPv6AddressesOfOneSlash64CountTogether) {
  Traffic t;
  for (int i = 0; i < 20; ++i) {
    t.At(i * 1000, "", 1, "2001:db8:0:7::" + std::to_string(i + 1), "NOT_FOUND");
  }
  ASSERT_EQ(t.Count(kFailedBurst), 1u);
  EXPECT_EQ(t.found[0].client_ip, "2001:db8:0:7::/64");
}

TEST(Sensitive, ValidUseOfAMarkedRouteOrTag) {
  Options o;
  o.sensitive_routes = {"DELETE /admin/*"};
  o.sensitive_tags = {"path=/billing*"};
  Traffic t(o);
  t.At(0, "key_a", 1, "10.0.0.5", "VALID", "GET /admin/users");
  t.At(1000, "key_a", 1, "10.0.0.5", "INSUFFICIENT_PERMISSIONS", "DELETE /admin/users");
  EXPECT_TRUE(t.found.empty());
  t.At(2000, "key_a", 1, "10.0.0.5", "VALID", "DELETE /admin/users");
  ASSERT_EQ(t.found.size(), 1u);
  EXPECT_EQ(t.found[0].kind, kSensitiveRoute);
  EXPECT_EQ(t.found[0].matched, "route DELETE /admin/users (DELETE /admin/*)");
  t.At(3000, "key_a", 1, "10.0.0.5", "VALID", "DELETE /admin/users");
  EXPECT_EQ(t.found.size(), 1u) << "within the cooldown";
  t.At(4000, "key_a", 1, "10.0.0.5", "VALID", "", {"plan=pro", "path=/billing/cards"});
  ASSERT_EQ(t.found.size(), 2u);
  EXPECT_EQ(t.found[1].matched, "tag path=/billing/cards (path=/billing*)");
  t.At(5000, "key_a", 1, "10.0.0.5", "VALID", "", {"path=/billing/invoices"});
  EXPECT_EQ(t.found.size(), 2u) << "one report per key and pattern, whatever the concrete tag";
  t.At(kMinute * 20, "key_b", 1, "10.0.0.5", "VALID", "", {"path=/billing\nFORGED line"});
  ASSERT_EQ(t.found.size(), 3u);
  EXPECT_EQ(t.found[2].matched, "tag path=/billing?FORGED line (path=/billing*)")
      << "control characters never reach a summary";
}

TEST(Seed, PastUsageIsLearnedWithoutDetections) {
  Options o;
  Detector d(o);
  for (int m = 0; m < 60; ++m) {
    Observation past;
    past.second_ms = 100 * kHour + m * kMinute;
    past.key_id = "key_a";
    past.outcome = "VALID";
    past.client_ip = m == 59 ? "203.0.113.9" : "10.0.0.5";
    past.count = m == 59 ? 500 : 10;
    d.Seed(past);
  }
  std::vector<Detection> found;
  Observation now;
  now.second_ms = 101 * kHour;
  now.key_id = "key_a";
  now.outcome = "VALID";
  now.client_ip = "203.0.113.50";
  d.Observe(now, &found);
  d.Advance(now.second_ms + 1000, &found);
  EXPECT_TRUE(found.empty()) << "the network was seen before, the spike was in the past";
  EXPECT_EQ(d.tracked_keys(), 1u);
  now.client_ip = "198.51.100.1";
  now.second_ms += 1000;
  d.Observe(now, &found);
  ASSERT_EQ(found.size(), 1u) << "a key found in the stored usage is past its learning period";
  EXPECT_EQ(found[0].kind, kNewNetwork);
}

TEST(Limits, StateIsBoundedAndIdleKeysAreForgotten) {
  Options o;
  o.max_tracked = 2;
  o.idle_eviction_ms = kHour;
  Traffic t(o);
  t.At(0, "key_a", 1);
  t.At(0, "key_b", 1);
  t.At(0, "key_c", 1);
  EXPECT_EQ(t.detector_.tracked_keys(), 2u);
  EXPECT_EQ(t.detector_.untracked(), 1u);
  t.detector_.Advance(2 * kHour, &t.found);
  EXPECT_EQ(t.detector_.tracked_keys(), 0u);
  t.At(2 * kHour, "key_c", 1);
  EXPECT_EQ(t.detector_.tracked_keys(), 1u);
}

TEST(GlobMatch, StarMatchesAnyRun) {
  EXPECT_TRUE(GlobMatch("DELETE /admin/*", "DELETE /admin/users/7"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("* /admin/*", "POST /admin/x"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXXbYY"));
  EXPECT_FALSE(GlobMatch("DELETE /admin/*", "DELETE /administrator"));
  EXPECT_FALSE(GlobMatch("", "x"));
  EXPECT_TRUE(GlobMatch(std::string(200, '*') + "x", std::string(10'000, 'a') + "x"));
}

}  // namespace
}  // namespace keyhold::anomaly
