#include "service/anomaly_monitor.h"

#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class AnomalyMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/a.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
  }

  Verification At(int64_t t, std::string key, const char* outcome, std::string ip,
                  std::vector<std::string> tags = {}) {
    Verification v;
    v.time_ms = t;
    v.key_id = std::move(key);
    v.outcome = outcome;
    v.client_ip = std::move(ip);
    v.tags = std::move(tags);
    return v;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  const int64_t now_ = env_.NowMillis() - env_.NowMillis() % 1000;
  std::unique_ptr<store::SqliteStore> store_;
  std::vector<nlohmann::json> found_;
  AnomalyMonitor::Sink sink_ = [this](const anomaly::Detection& d) {
    found_.push_back(DetectionJson(d));
  };
};

TEST_F(AnomalyMonitorTest, EveryFlushIsWatchedAndDetectionsCarryTheirEvidence) {
  anomaly::Options o;
  o.failed_per_address = 5;
  o.sensitive_tags = {"path=/admin*"};
  AnomalyMonitor monitor(*store_, o, sink_);
  UsageRecorder usage(*store_, env_, {});
  usage.SetObserver(&monitor);
  for (int i = 0; i < 5; ++i) usage.Record(At(now_ + i * 100, "", "NOT_FOUND", "198.51.100.7"));
  usage.Record(At(now_, "key_a", "VALID", "10.0.0.1", {"plan=pro", "path=/admin/users"}));
  ASSERT_TRUE(usage.Flush().ok());
  ASSERT_EQ(found_.size(), 2u);
  const nlohmann::json& burst = found_[0]["kind"] == "anomaly.failed_burst" ? found_[0] : found_[1];
  const nlohmann::json& tag = &burst == &found_[0] ? found_[1] : found_[0];
  EXPECT_EQ(burst["clientAddress"], "198.51.100.7");
  EXPECT_EQ(burst["count"], 5);
  EXPECT_EQ(burst["threshold"], 5);
  EXPECT_EQ(burst["windowStart"], now_);
  EXPECT_EQ(tag["kind"], "anomaly.sensitive_route");
  EXPECT_EQ(tag["keyId"], "key_a");
  EXPECT_EQ(tag["matched"], "tag path=/admin/users (path=/admin*)");
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(found_.size(), 2u) << "an empty flush finds nothing new";
}

TEST_F(AnomalyMonitorTest, LearnsFromStoredUsageBeforeItsFirstBatch) {
  constexpr int64_t kHour = 3'600'000;
  ASSERT_TRUE(
      store_
          ->RecordUsage({{now_ - 2 * kHour, "key_a", "", "api_1", "VALID", "10.0.0.5", "", "", 3}})
          .ok());
  anomaly::Options o;
  o.network_learning_ms = kHour;
  AnomalyMonitor monitor(*store_, o, sink_);
  UsageRecorder usage(*store_, env_, {});
  usage.SetObserver(&monitor);
  usage.Record(At(now_, "key_a", "VALID", "10.0.0.9"));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_TRUE(found_.empty()) << "10.0.0.0/24 was learned from the stored usage";
  usage.Record(At(now_ + 1000, "key_a", "VALID", "203.0.113.1"));
  ASSERT_TRUE(usage.Flush().ok());
  ASSERT_EQ(found_.size(), 1u);
  EXPECT_EQ(found_[0]["kind"], "anomaly.new_network");
  EXPECT_EQ(found_[0]["network"], "203.0.113.0/24");
  EXPECT_EQ(found_[0]["knownNetworks"], 1);
  EXPECT_EQ(monitor.tracked_keys(), 1u);
}

}  // namespace
}  // namespace keyhold::service
