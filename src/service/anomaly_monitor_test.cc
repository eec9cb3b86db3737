#include "service/anomaly_monitor.h"

#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
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
    faulty_ = std::make_unique<testing::FaultyStore>(*store_);
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
  const int64_t minute_ = env_.NowMillis() - env_.NowMillis() % 60'000;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<testing::FaultyStore> faulty_;
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

// Failures of one key only: a burst of 10 is reported.
anomaly::Options BurstOf10() {
  anomaly::Options o;
  o.failed_per_key = 10;
  o.failed_per_address = 0;
  return o;
}

TEST_F(AnomalyMonitorTest, AFailureBurstAcrossAKillIsCompletedFromTheJournal) {
  {
    // Five failures in the last seconds of a minute, journaled; then the process dies (no
    // Stop(): the minute is never written to the usage log).
    env_.Set(minute_ + 55'000);
    AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
    UsageRecorder usage(*faulty_, env_, {});
    usage.SetObserver(&monitor);
    for (int i = 0; i < 5; ++i)
      usage.Record(At(minute_ + 50'000 + i * 1000, "key_a", "DISABLED", ""));
    ASSERT_TRUE(usage.Flush().ok());
  }
  auto journal = store_->ReadUsageJournal();
  ASSERT_TRUE(journal.ok());
  int64_t journaled = 0;
  for (const auto& r : journal->rows) journaled += r.count;
  ASSERT_EQ(journaled, 5);
  ASSERT_TRUE(store_->ReadUsage("", 0, INT64_MAX, 10)->empty());
  EXPECT_TRUE(found_.empty());

  // The restart comes after the minute ended: its journaled row is stamped at its start, 65 s
  // before, yet its failures may have happened as late as 59 s into it.
  env_.Set(minute_ + 65'000);
  AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
  UsageRecorder usage(*faulty_, env_, {});
  usage.SetObserver(&monitor);
  const size_t reads = faulty_->journal_reads();
  ASSERT_TRUE(usage.Start().ok());
  EXPECT_EQ(faulty_->journal_reads(), reads + 1) << "the journal is read once, by the recorder";
  EXPECT_EQ(monitor.tracked_keys(), 1u) << "learned before the first flush";
  for (int i = 0; i < 5; ++i)
    usage.Record(At(minute_ + 65'000 + i * 1000, "key_a", "DISABLED", ""));
  env_.Set(minute_ + 70'000);
  ASSERT_TRUE(usage.Flush().ok());
  ASSERT_EQ(found_.size(), 1u);
  EXPECT_EQ(found_[0]["kind"], "anomaly.failed_burst");
  EXPECT_EQ(found_[0]["keyId"], "key_a");
  EXPECT_EQ(found_[0]["count"], 10);
  EXPECT_EQ(found_[0]["windowStart"], minute_);
  EXPECT_EQ(found_[0]["windowEnd"], minute_ + 70'000);
  EXPECT_EQ(faulty_->journal_reads(), reads + 1);
  usage.Stop();
}

TEST_F(AnomalyMonitorTest, AFailureBurstBeforeAStopIsCompletedFromTheUsageLog) {
  {
    env_.Set(minute_ + 45'000);
    AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
    UsageRecorder usage(*faulty_, env_, {.flush_interval = std::chrono::hours(1)});
    usage.SetObserver(&monitor);
    ASSERT_TRUE(usage.Start().ok());
    for (int i = 0; i < 8; ++i)
      usage.Record(At(minute_ + 52'000 + i * 1000, "key_a", "EXPIRED", ""));
    usage.Stop();  // writes the open minute to the usage log
  }
  ASSERT_TRUE(store_->ReadUsageJournal()->rows.empty());
  auto written = store_->ReadUsage("", 0, INT64_MAX, 10);
  ASSERT_EQ(written->size(), 1u);
  ASSERT_EQ((*written)[0].second_ms, minute_) << "one row for the minute, stamped at its start";
  EXPECT_TRUE(found_.empty());

  env_.Set(minute_ + 75'000);
  AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
  UsageRecorder usage(*faulty_, env_, {.flush_interval = std::chrono::hours(1)});
  usage.SetObserver(&monitor);
  ASSERT_TRUE(usage.Start().ok());
  usage.Record(At(minute_ + 75'000, "key_a", "EXPIRED", ""));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_TRUE(found_.empty()) << "nine failures";
  usage.Record(At(minute_ + 76'000, "key_a", "EXPIRED", ""));
  ASSERT_TRUE(usage.Flush().ok());
  ASSERT_EQ(found_.size(), 1u);
  EXPECT_EQ(found_[0]["count"], 10);
  EXPECT_EQ(found_[0]["windowStart"], minute_);
  usage.Stop();
}

TEST_F(AnomalyMonitorTest, AFailureBurstLongOverIsNotCompletedAfterARestart) {
  ASSERT_TRUE(store_->RecordUsage({{minute_, "key_a", "", "", "DISABLED", "", "", "", 9}}).ok());
  // The minute's last second (59 s) left the 60 s window at 119 s.
  env_.Set(minute_ + 119'000);
  AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
  UsageRecorder usage(*faulty_, env_, {});
  usage.SetObserver(&monitor);
  ASSERT_TRUE(usage.Start().ok());
  usage.Record(At(minute_ + 119'000, "key_a", "DISABLED", ""));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_TRUE(found_.empty());
  usage.Stop();
}

TEST_F(AnomalyMonitorTest, AMinuteInTheUsageLogAndTheJournalIsLearnedOnceFromEach) {
  // A minute written to the usage log, then a late verification of it journaled: the two hold
  // different verifications of the same minute.
  ASSERT_TRUE(store_->RecordUsage({{minute_, "key_a", "", "", "FORBIDDEN", "", "", "", 5}}).ok());
  ASSERT_TRUE(store_->JournalUsage({{minute_, "key_a", "", "", "FORBIDDEN", "", "", "", 4}}).ok());
  env_.Set(minute_ + 30'000);
  AnomalyMonitor monitor(*faulty_, BurstOf10(), sink_);
  UsageRecorder usage(*faulty_, env_, {});
  usage.SetObserver(&monitor);
  const size_t reads = faulty_->journal_reads();
  ASSERT_TRUE(usage.Start().ok());
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_TRUE(found_.empty()) << "learning reports nothing";
  usage.Record(At(minute_ + 30'000, "key_a", "FORBIDDEN", ""));
  ASSERT_TRUE(usage.Flush().ok());
  ASSERT_EQ(found_.size(), 1u);
  EXPECT_EQ(found_[0]["count"], 10) << "5 from the usage log, 4 from the journal, 1 new";
  EXPECT_EQ(faulty_->journal_reads(), reads + 1);
  usage.Stop();
}

}  // namespace
}  // namespace keyhold::service
