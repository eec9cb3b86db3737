#include "service/usage_recorder.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <random>
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

  // Counts in the journal, and in the rows the recorder shows as unwritten.
  int64_t Journaled() {
    auto rows = sqlite_->ReadUsageJournal();
    EXPECT_TRUE(rows.ok());
    int64_t n = 0;
    for (const auto& r : rows.ok() ? rows->rows : std::vector<store::UsageRow>{}) n += r.count;
    return n;
  }
  static int64_t Unwritten(const UsageRecorder& usage) {
    int64_t n = 0;
    usage.ReadWithUnwritten([&](std::span<const store::UsageRow> rows) {
      for (const auto& r : rows) n += r.count;
    });
    return n;
  }

  // From now on (or, with false, no longer) the store refuses to write ended minutes to the
  // usage log, while the journal still takes rows: a trigger, changed through a connection of
  // its own.
  void RefuseMinuteWrites(bool refuse = true) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_.path() + "/u.db").c_str(), &db), SQLITE_OK);
    const char* sql = refuse ? "CREATE TRIGGER no_rows BEFORE INSERT ON usage_events BEGIN "
                               "SELECT RAISE(ABORT, 'refused'); END"
                             : "DROP TRIGGER no_rows";
    EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
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
  // Usage is pruned by age: events are recorded at the clock's time, minute-aligned.
  const int64_t minute_ = env_.NowMillis() - env_.NowMillis() % 60'000;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
};

TEST_F(UsageRecorderTest, AFlushJournalsAndAnEndedMinuteIsWrittenAsOneRowPerAttributes) {
  UsageRecorder usage(*faulty_, env_, {});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) usage.Record(At(minute_ + (i % 2) * 1000, "key_a"));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(usage.buffered(), 1000u);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(usage.buffered(), 0u);
  EXPECT_EQ(Total(), 0) << "the minute has not ended: journaled, not yet in the usage log";
  EXPECT_EQ(Journaled(), 1000);
  EXPECT_EQ(Unwritten(usage), 1000);

  env_.Set(minute_ + 62'000);  // the minute and the margin for late verifications have passed
  usage.Record(At(minute_ + 61'000, "key_a"));
  ASSERT_TRUE(usage.Flush().ok());
  auto rows = sqlite_->ReadUsage("key_a", 0, INT64_MAX, 100);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u) << "one row for the minute and its attributes";
  EXPECT_EQ((*rows)[0].second_ms, minute_);
  EXPECT_EQ((*rows)[0].count, 1000);
  EXPECT_EQ(Total(), 1000);
  EXPECT_EQ(Journaled(), 1) << "only the open minute is left in the journal";
  EXPECT_EQ(Unwritten(usage), 1);
}

TEST_F(UsageRecorderTest, WhatTheStoreHoldsAndWhatIsUnwrittenCountEachVerificationOnce) {
  UsageRecorder usage(*faulty_, env_, {});
  std::atomic<bool> done = false;
  std::thread flusher([&] {
    for (int i = 0; i < 200; ++i) {
      for (int j = 0; j < 5; ++j) usage.Record(At(env_.NowMillis(), "key_a"));
      ASSERT_TRUE(usage.Flush().ok());
      env_.Advance(20'000);  // a minute ends every third flush
    }
    done = true;
  });
  while (!done) {
    // Counts only rise, and never past what was flushed.
    int64_t seen = 0;
    usage.ReadWithUnwritten([&](std::span<const store::UsageRow> rows) {
      seen = Total();
      for (const auto& r : rows) seen += r.count;
    });
    EXPECT_LE(seen, 1000);
    EXPECT_EQ(seen % 5, 0) << "a flush's verifications are seen all or none";
  }
  flusher.join();
  ASSERT_TRUE(usage.Flush(/*close_all=*/true).ok());
  EXPECT_EQ(Total(), 1000);
  EXPECT_EQ(Journaled(), 0);
  EXPECT_EQ(Unwritten(usage), 0);
}

TEST_F(UsageRecorderTest, ARestartReadsTheJournalBackWithoutCountingTwice) {
  {
    UsageRecorder usage(*faulty_, env_, {});
    for (int i = 0; i < 7; ++i) usage.Record(At(minute_, "key_a"));
    ASSERT_TRUE(usage.Flush().ok());
    // Then the process dies: no Stop(), nothing more written.
    for (int i = 0; i < 3; ++i) usage.Record(At(minute_, "key_a"));
  }
  EXPECT_EQ(Total(), 0);
  EXPECT_EQ(Journaled(), 7);
  env_.Set(minute_ + 5 * 60'000);
  UsageRecorder again(*faulty_, env_, {});
  ASSERT_TRUE(again.Start().ok());
  int64_t unwritten = 0;
  again.ReadWithUnwritten([&](std::span<const store::UsageRow> rows) {
    for (const auto& r : rows) unwritten += r.count;
  });
  EXPECT_EQ(unwritten, 7) << "read back at start, before the first flush";
  ASSERT_TRUE(again.Flush().ok());
  EXPECT_EQ(Total(), 7) << "the ended minute is written";
  EXPECT_EQ(Journaled(), 0);
  again.Stop();
  EXPECT_EQ(Total(), 7);
}

TEST_F(UsageRecorderTest, AJournalThatCannotBeReadRefusesTheStartAndIsLeftAsItIs) {
  ASSERT_TRUE(sqlite_->JournalUsage({{minute_, "key_a", "", "", "VALID", "", "", "", 6}}).ok());
  env_.Set(minute_ + 5 * 60'000);
  faulty_->FailJournalReads(true);
  {
    UsageRecorder usage(*faulty_, env_, {.flush_interval = std::chrono::milliseconds(1)});
    Status st = usage.Start();
    EXPECT_EQ(st.code(), StatusCode::kUnavailable);
    usage.Record(At(minute_ + 5 * 60'000, "key_a"));
    EXPECT_FALSE(usage.Flush(/*close_all=*/true).ok()) << "nothing is journaled or written";
    EXPECT_EQ(usage.buffered(), 1u) << "kept in memory, within max_buffered";
    EXPECT_EQ(usage.failed_flushes(), 1u);
    EXPECT_EQ(Total(), 0);
    usage.Stop();  // not started: nothing to stop
  }
  faulty_->FailJournalReads(false);
  EXPECT_EQ(Journaled(), 6) << "the entries no run could read are still there";
  EXPECT_EQ(Total(), 0);

  UsageRecorder again(*faulty_, env_, {});
  ASSERT_TRUE(again.Start().ok());
  again.Stop();
  EXPECT_EQ(Total(), 6) << "read back and written once the journal can be read";
  EXPECT_EQ(Journaled(), 0);
}

TEST_F(UsageRecorderTest, AFailedFlushKeepsItsRowsForTheNext) {
  UsageRecorder usage(*faulty_, env_, {});
  usage.Record(At(minute_, "key_a"));
  faulty_->FailWrites(true);
  EXPECT_FALSE(usage.Flush().ok());
  EXPECT_EQ(usage.failed_flushes(), 1u);
  EXPECT_EQ(usage.flushes(), 0u);
  EXPECT_EQ(Unwritten(usage), 1) << "kept, and seen by queries";
  faulty_->FailWrites(false);
  usage.Record(At(minute_, "key_a"));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Journaled(), 2);
  EXPECT_EQ(usage.dropped(), 0u);
  EXPECT_EQ(usage.flushes(), 1u);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(usage.flushes(), 1u) << "a flush with nothing to write is not counted";
  EXPECT_EQ(usage.failed_flushes(), 1u);

  // A minute the store will not take stays open, and is written by a later flush.
  env_.Set(minute_ + 62'000);
  faulty_->FailWrites(true);
  EXPECT_FALSE(usage.Flush().ok());
  EXPECT_EQ(Unwritten(usage), 2);
  EXPECT_EQ(usage.failed_flushes(), 1u) << "nothing was to be journaled";
  EXPECT_EQ(usage.failed_minute_writes(), 1u);
  EXPECT_EQ(usage.minute_writes(), 0u);
  faulty_->FailWrites(false);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 2);
  EXPECT_EQ(Unwritten(usage), 0);
  EXPECT_EQ(Journaled(), 0);
  EXPECT_EQ(usage.minute_writes(), 1u);
  EXPECT_EQ(usage.failed_minute_writes(), 1u);
}

TEST_F(UsageRecorderTest, AJournaledFlushWhoseMinuteCannotBeWrittenIsNotAFailedFlush) {
  RefuseMinuteWrites();
  UsageRecorder usage(*faulty_, env_, {});
  usage.Record(At(minute_, "key_a"));
  ASSERT_TRUE(usage.Flush().ok());
  env_.Set(minute_ + 62'000);
  usage.Record(At(minute_ + 61'000, "key_a"));
  EXPECT_FALSE(usage.Flush().ok()) << "the ended minute could not be written";
  EXPECT_EQ(Journaled(), 2) << "yet this flush's verification was journaled";
  EXPECT_EQ(usage.flushes(), 2u);
  EXPECT_EQ(usage.failed_flushes(), 0u);
  EXPECT_EQ(usage.minute_writes(), 0u);
  EXPECT_EQ(usage.failed_minute_writes(), 1u);

  RefuseMinuteWrites(false);
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 1);
  EXPECT_EQ(Journaled(), 1) << "the open minute";
  EXPECT_EQ(usage.flushes(), 2u) << "nothing new to journal";
  EXPECT_EQ(usage.minute_writes(), 1u);
  EXPECT_EQ(usage.failed_minute_writes(), 1u);
}

TEST_F(UsageRecorderTest, PastTheBufferLimitVerificationsAreCountedAsDropped) {
  UsageRecorder usage(*faulty_, env_, {.max_buffered = 3});
  for (int i = 0; i < 5; ++i) usage.Record(At(minute_, "key_a"));
  EXPECT_EQ(usage.buffered(), 3u);
  EXPECT_EQ(usage.dropped(), 2u);
  ASSERT_TRUE(usage.Flush(/*close_all=*/true).ok());
  EXPECT_EQ(Total(), 3);
}

TEST_F(UsageRecorderTest, PastTheOpenRowLimitEveryOpenMinuteIsWritten) {
  UsageRecorder usage(*faulty_, env_, {.max_open_rows = 2});
  for (const char* key : {"key_a", "key_b"}) usage.Record(At(minute_, key));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 0);
  usage.Record(At(minute_, "key_c"));
  ASSERT_TRUE(usage.Flush().ok());
  EXPECT_EQ(Total(), 3) << "three rows of an open minute: written early";
  EXPECT_EQ(Journaled(), 0);
  usage.Record(At(minute_ + 1000, "key_a"));
  ASSERT_TRUE(usage.Flush(/*close_all=*/true).ok());
  auto rows = sqlite_->ReadUsage("key_a", 0, INT64_MAX, 100);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 2u) << "the minute was written in two parts";
  EXPECT_EQ(Total(), 4);
}

TEST_F(UsageRecorderTest, StopWritesEverythingTheCurrentMinuteIncluded) {
  {
    UsageRecorder usage(*faulty_, env_, {.flush_interval = std::chrono::hours(1)});
    ASSERT_TRUE(usage.Start().ok());
    usage.Record(At(minute_, "key_a"));
    usage.Stop();
  }
  EXPECT_EQ(Total(), 1);
  EXPECT_EQ(Journaled(), 0);
}

TEST_F(UsageRecorderTest, AJournalEntryThatCannotBeReadIsSkipped) {
  ASSERT_TRUE(sqlite_->JournalUsage({{minute_, "key_a", "", "", "VALID", "", "", "", 4}}).ok());
  // What a damaged database file could hold: not JSON, wrong shapes, a time off the minute.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_.path() + "/u.db").c_str(), &db), SQLITE_OK);
  const std::string minute = std::to_string(minute_);
  for (const std::string& sql :
       {"INSERT INTO usage_journal (minute_ms, rows) VALUES (" + minute + ", 'not json')",
        "INSERT INTO usage_journal (minute_ms, rows) VALUES (" + minute + ", '[[1,2]]')",
        "INSERT INTO usage_journal (minute_ms, rows) VALUES (" + minute +
            ", '[[\"k\",\"\",\"\",\"VALID\",\"\",\"\",\"\",-5]]')",
        "INSERT INTO usage_journal (minute_ms, rows) VALUES (" + std::to_string(minute_ + 1) +
            ", '[]')"}) {
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }
  sqlite3_close(db);
  auto journal = sqlite_->ReadUsageJournal();
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->rows.size(), 1u);
  EXPECT_EQ(journal->rows[0].count, 4);
  EXPECT_EQ(journal->unreadable, 4u);
  EXPECT_EQ(sqlite_->JournalUsage({{minute_ + 1, "key_a", "", "", "VALID", "", "", "", 1}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(sqlite_->JournalUsage({{minute_, "key_a", "", "", "VALID", "", "", "", -1}}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(UsageRecorderTest, WhateverBytesARouteHoldsTheJournalReadsItBack) {
  std::mt19937 rng(1);
  auto text = [&] {
    std::string out(rng() % 12, '\0');
    for (char& c : out) {
      switch (rng() % 4) {
        case 0:
          c = static_cast<char>(rng() % 0x20);
          break;  // controls, NUL
        case 1:
          c = static_cast<char>(0x80 + rng() % 0x80);
          break;  // not UTF-8 alone
        case 2:
          c = "\"\\/"[rng() % 3];
          break;
        default:
          c = static_cast<char>(rng() % 256);
      }
    }
    return out;
  };
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(
        sqlite_
            ->JournalUsage({{minute_, text(), text(), text(), text(), text(), text(), text(), 1}})
            .ok());
  }
  auto journal = sqlite_->ReadUsageJournal();
  ASSERT_TRUE(journal.ok());
  EXPECT_EQ(journal->unreadable, 0u);
  EXPECT_EQ(journal->rows.size(), 500u);
}

TEST_F(UsageRecorderTest, ACountNoFlushCouldReachIsDamageAndSkipped) {
  ASSERT_TRUE(
      sqlite_->JournalUsage({{minute_, "key_a", "", "", "VALID", "", "", "", int64_t{1} << 40}})
          .ok());
  ASSERT_TRUE(sqlite_->JournalUsage({{minute_, "key_a", "", "", "VALID", "", "", "", 2}}).ok());
  UsageRecorder usage(*faulty_, env_, {});
  ASSERT_TRUE(usage.Start().ok());
  EXPECT_EQ(Unwritten(usage), 2);
  env_.Set(minute_ + 2 * 60'000);
  ASSERT_TRUE(usage.Flush().ok()) << "writing goes on";
  EXPECT_EQ(Total(), 2);
  usage.Stop();
}

TEST_F(UsageRecorderTest, WhileTheStoreRefusesMinutesMemoryStaysBoundedAndDropsAreCounted) {
  RefuseMinuteWrites();
  UsageRecorder usage(*faulty_, env_, {.max_open_rows = 100});
  for (int f = 0; f < 50; ++f) {
    env_.Set(minute_ + f * 1000);
    for (int i = 0; i < 100; ++i)
      usage.Record(At(env_.NowMillis(), "key_" + std::to_string(f * 100 + i)));
    (void)usage.Flush();
  }
  size_t rows = 0;
  usage.ReadWithUnwritten([&](std::span<const store::UsageRow> r) { rows = r.size(); });
  EXPECT_LE(rows, 300u) << "at most twice the limit, plus one flush";
  EXPECT_GE(usage.dropped(), 4'700u) << "what memory let go of is counted";
  EXPECT_EQ(Unwritten(usage) + static_cast<int64_t>(usage.dropped()), 5'000);
}

TEST_F(UsageRecorderTest, ALongRouteIsCutAndOneWithoutAKeyIsNotKept) {
  UsageRecorder usage(*faulty_, env_, {});
  Verification v = At(minute_, "key_a");
  v.route = "GET /" + std::string(10'000, 'a');
  usage.Record(std::move(v));
  for (int i = 0; i < 100; ++i) {
    Verification unknown = At(minute_, "");
    unknown.outcome = "NOT_FOUND";
    unknown.route = "GET /probe/" + std::to_string(i);
    usage.Record(std::move(unknown));
  }
  ASSERT_TRUE(usage.Flush().ok());
  usage.ReadWithUnwritten([&](std::span<const store::UsageRow> rows) {
    ASSERT_EQ(rows.size(), 2u) << "a hundred routes of unknown keys are one row";
    for (const auto& r : rows) {
      if (r.key_id.empty()) {
        EXPECT_EQ(r.route, "");
        EXPECT_EQ(r.count, 100);
      } else {
        EXPECT_EQ(r.route.size(), UsageRecorder::kMaxRoute);
      }
    }
  });
}

}  // namespace
}  // namespace keyhold::service
