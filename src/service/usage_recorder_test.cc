#include "service/usage_recorder.h"

#include <gtest/gtest.h>

#include <thread>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class UsageRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/u.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
  }

  int64_t Total() {
    auto r = sqlite_->QueryUsage({.since_ms = 0, .until_ms = INT64_MAX, .limit = 10});
    EXPECT_TRUE(r.ok());
    return r.ok() && !r->empty() ? (*r)[0].count : 0;
  }

  static Verification At(int64_t t, std::string key) {
    Verification v;
    v.time_ms = t;
    v.key_id = std::move(key);
    v.outcome = "VALID";
    v.client_ip = "10.0.0.1";
    return v;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  // Usage is pruned by age: events are recorded at the clock's time, second-aligned.
  const int64_t now_ = env_.NowMillis() - env_.NowMillis() % 1000;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
};

TEST_F(UsageRecorderTest, AFlushWritesOneRowPerSecondAndAttributes) {
  UsageRecorder usage(*faulty_, env_, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) usage.Record(At(now_ + (i % 2) * 1000, "key_a"));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(usage.buffered(), 1000u);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(usage.buffered(), 0u);
  auto rows = sqlite_->ReadUsage("key_a", 0, INT64_MAX, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u) << "two seconds, same attributes";
  EXPECT_EQ((*rows)[0].count + (*rows)[1].count, 1000);
  EXPECT_EQ(Total(), 1000);
}

TEST_F(UsageRecorderTest, AFailedFlushKeepsItsRowsForTheNext) {
  UsageRecorder usage(*faulty_, env_, {});
  usage.Record(At(now_, "key_a"));
  faulty_->FailWrites(true);
  EXPECT_FALSE(usage.Flush().ok());
  EXPECT_EQ(usage.failed_flushes(), 1u);
  EXPECT_EQ(usage.flushes(), 0u);
  faulty_->FailWrites(false);
  usage.Record(At(now_, "key_a"));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 2);
  EXPECT_EQ(usage.dropped(), 0u);
  EXPECT_EQ(usage.flushes(), 1u);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(usage.flushes(), 1u) << "a flush with nothing to write is not counted";
  EXPECT_EQ(usage.failed_flushes(), 1u);
}

TEST_F(UsageRecorderTest, PastTheBufferLimitVerificationsAreCountedAsDropped) {
  UsageRecorder usage(*faulty_, env_, {.max_buffered = 3});
  for (int i = 0; i < 5; ++i) usage.Record(At(now_, "key_a"));
  EXPECT_EQ(usage.buffered(), 3u);
  EXPECT_EQ(usage.dropped(), 2u);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 3);
}

TEST_F(UsageRecorderTest, StopFlushesWhatIsLeft) {
  {
    UsageRecorder usage(*faulty_, env_, {.flush_interval = std::chrono::hours(1)});
    usage.Start();
    usage.Record(At(now_, "key_a"));
    usage.Stop();
  }
  EXPECT_EQ(Total(), 1);
}

}  // namespace
}  // namespace keyhold::service
