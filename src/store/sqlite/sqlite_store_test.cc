// What only the SQLite store has to get right: its transactions when the disk fails, its
// error messages, and upgrading databases in place. The Store contract itself is tested in
// store_contract_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "audit/chain.h"
#include "fakes/faulty_vfs.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/migrations.h"

namespace keyhold::store {
namespace {

using testing::FaultyVfs;

KeyRecord Key(const std::string& id, uint8_t hash_byte) {
  KeyRecord k;
  k.id = id;
  k.api_id = "api_1";
  k.hash.fill(hash_byte);
  k.start = "hd_abcd";
  k.created_at = k.updated_at = 1000;
  return k;
}

WriteBatch PutKey(const std::string& id, uint8_t hash_byte) {
  WriteBatch b;
  b.put_keys.push_back(Key(id, hash_byte));
  return b;
}

std::vector<std::string> KeyIds(Store& s) {
  auto snap = s.LoadAll();
  EXPECT_TRUE(snap.ok()) << snap.status().log_detail();
  std::vector<std::string> ids;
  for (const KeyRecord& k : snap->keys) ids.push_back(k.id);
  return ids;
}

// The message a caller may see names no engine, file or SQL.
void ExpectNoEngineText(const Status& st) {
  for (const char* word : {"SQLite", "sqlite", "disk", "UNIQUE", "constraint", "keys.", ".db"}) {
    EXPECT_EQ(st.message().find(word), std::string::npos) << st.message();
  }
  EXPECT_FALSE(st.log_detail().empty());
}

const char* FaultName(FaultyVfs::Fault f) {
  switch (f) {
    case FaultyVfs::Fault::kWrite:
      return "DiskFull";
    case FaultyVfs::Fault::kSync:
      return "SyncFails";
    case FaultyVfs::Fault::kBusy:
      return "Busy";
    case FaultyVfs::Fault::kNone:
      break;
  }
  return "None";
}

// The load holds the key links in memory and reads the keys in table order when there are few
// links, and joins them in id order as they stream when there are more: both give every key its
// own links, in the same order.
TEST(SqliteLoad, KeysGetTheSameLinksWhetherTheLinksAreHeldOrJoinedAsTheyStream) {
  testing::TempDir dir;
  {
    auto s = SqliteStore::Open(dir.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    WriteBatch b;
    b.put_permissions.push_back({"perm_a", "a", "a", "", 1});
    b.put_permissions.push_back({"perm_b", "b", "b", "", 1});
    b.put_roles.push_back({"role_a", "ra", "", {"perm_a"}, 1});
    // Written out of id order, so that table order and id order differ.
    for (int i = 20; i >= 1; --i) {
      KeyRecord k =
          Key("key_" + std::string(i < 10 ? "0" : "") + std::to_string(i), static_cast<uint8_t>(i));
      if (i % 2 == 0) k.permission_ids = {"perm_a", "perm_b"};
      if (i % 3 == 0) k.role_ids = {"role_a"};
      if (i % 5 == 0) {
        k.kind = KeyKind::kRoot;
        k.api_id = "";
        k.root_permissions = {"api.*.read_key", "*"};
      }
      b.put_keys.push_back(k);
    }
    ASSERT_TRUE((*s)->Apply(b).ok());
    ASSERT_TRUE((*s)->Apply(PutKey("key_21", 21)).ok());  // no links
  }
  auto links_of = [&](size_t most_links_held) {
    auto s = SqliteStore::Open(dir.path() + "/k.db", {.most_links_held = most_links_held});
    EXPECT_TRUE(s.ok());
    std::vector<std::string> out;
    Snapshot snap;
    EXPECT_TRUE(
        (*s)->Load(snap,
                   [&](KeyRecord&& k) {
                     std::string line = k.id + ":";
                     for (const auto* v : {&k.permission_ids, &k.role_ids, &k.root_permissions}) {
                       for (const std::string& x : *v) line += x + ",";
                       line += ";";
                     }
                     out.push_back(line);
                     return OkStatus();
                   })
            .ok());
    std::sort(out.begin(), out.end());
    return out;
  };
  // 10 + 6 + 2 * 4 = 24 link rows.
  std::vector<std::string> held = links_of(1000);
  ASSERT_EQ(held.size(), 21u);
  EXPECT_EQ(held[0], "key_01:;;;");
  EXPECT_EQ(held[5], "key_06:perm_a,perm_b,;role_a,;;");
  EXPECT_EQ(held[19], "key_20:perm_a,perm_b,;;*,api.*.read_key,;");
  EXPECT_EQ(held[20], "key_21:;;;");
  // Bounds as large as size_t holds (no bound at all) hold every link too.
  constexpr size_t kMax = std::numeric_limits<size_t>::max();
  for (size_t most : {size_t{0}, size_t{1}, size_t{10}, size_t{23}, size_t{24}, kMax - 1, kMax,
                      static_cast<size_t>(std::numeric_limits<int64_t>::max()),
                      static_cast<size_t>(std::numeric_limits<int64_t>::max()) + 1}) {
    EXPECT_EQ(links_of(most), held) << most;
  }
}

class FailedCommit : public ::testing::TestWithParam<FaultyVfs::Fault> {
 protected:
  void TearDown() override { FaultyVfs::Get().FailWal(FaultyVfs::Fault::kNone); }
  std::unique_ptr<SqliteStore> Open() {
    auto s = SqliteStore::Open(dir_.path() + "/k.db", {.vfs = FaultyVfs::Get().name()});
    EXPECT_TRUE(s.ok()) << s.status().log_detail();
    return std::move(s).value();
  }
  testing::TempDir dir_;
};

TEST_P(FailedCommit, IsRolledBackAndTheNextWriteSucceeds) {
  auto s = Open();
  ASSERT_TRUE(s->Apply(PutKey("key_1", 1)).ok());
  FaultyVfs::Get().FailWal(GetParam());
  Status st = s->Apply(PutKey("key_2", 2));
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_EQ(st.message(), "the store could not be written");
  EXPECT_NE(st.log_detail().find("COMMIT"), std::string::npos) << st.log_detail();
  ExpectNoEngineText(st);
  EXPECT_EQ(s->TouchLastUsed({{"key_1", 5000}}).code(), StatusCode::kUnavailable);
  FaultyVfs::Get().FailWal(FaultyVfs::Fault::kNone);

  // A transaction left open would make this BEGIN fail.
  ASSERT_TRUE(s->Apply(PutKey("key_3", 3)).ok());
  EXPECT_EQ(KeyIds(*s), (std::vector<std::string>{"key_1", "key_3"}));
  s = Open();
  EXPECT_EQ(KeyIds(*s), (std::vector<std::string>{"key_1", "key_3"}));
}

INSTANTIATE_TEST_SUITE_P(DiskFaults, FailedCommit,
                         ::testing::Values(FaultyVfs::Fault::kWrite, FaultyVfs::Fault::kSync,
                                           FaultyVfs::Fault::kBusy),
                         [](const ::testing::TestParamInfo<FaultyVfs::Fault>& p) {
                           return std::string(FaultName(p.param));
                         });

TEST(SqliteStoreTest, ConflictsSayNothingOfTheSchema) {
  testing::TempDir dir;
  auto s = SqliteStore::Open(dir.path() + "/k.db");
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Apply(PutKey("key_1", 1)).ok());
  Status st = (*s)->Apply(PutKey("key_2", 1));  // same hash
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  ExpectNoEngineText(st);
  EXPECT_NE(st.log_detail().find("UNIQUE"), std::string::npos) << st.log_detail();
}

TEST(SqliteStoreTest, AFileThatIsNoDatabaseIsRefusedWithTheReasonInTheDetail) {
  testing::TempDir dir;
  std::string path = dir.path() + "/k.db";
  std::ofstream(path) << std::string(4096, 'x');
  auto s = SqliteStore::Open(path);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  ExpectNoEngineText(s.status());
  EXPECT_NE(s.status().log_detail().find("not a database"), std::string::npos)
      << s.status().log_detail();
}

// Runs `sql` on the database file at `path` outside the store, as an older keyhold or an operator
// with the sqlite3 shell would.
void RunSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  sqlite3_close(db);
}

int64_t CountRows(const std::string& path, const std::string& table) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, ("SELECT COUNT(*) FROM " + table).c_str(), -1, &s, nullptr);
  int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(SqliteStoreTest, AVersion1DatabaseIsUpgradedInPlace) {
  testing::TempDir dir;
  std::string path = dir.path() + "/k.db";
  RunSql(path, "PRAGMA journal_mode=WAL; " + std::string(SqliteMigrations()[0]) +
                   "INSERT INTO keys (id, kind, api_id, hash, start, created_at, updated_at, "
                   "enabled, credits_remaining) VALUES ('key_old', 0, 'api_1', zeroblob(32), "
                   "'hd_abcd', 1, 1, 1, 7); PRAGMA user_version = 1;");
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().log_detail();
  EXPECT_EQ((*s)->SchemaVersion(), static_cast<int>(SqliteMigrations().size()));
  auto snap = (*s)->LoadAll();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->keys.size(), 1u);
  EXPECT_EQ(snap->keys[0].credits.remaining, 7);
  EXPECT_EQ(snap->change_seq, 0u);  // nothing was recorded before the feed existed
  auto spent = (*s)->SpendCredits("key_old", 2, 1000, 0);
  ASSERT_TRUE(spent.ok() && spent->spent);
  auto changes = (*s)->ChangesSince(0, 10);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].seq, 1u);
  EXPECT_EQ((*changes)[0].id, "key_old");
}

TEST(SqliteStoreTest, ADatabaseFromANewerKeyholdIsRefused) {
  testing::TempDir dir;
  std::string path = dir.path() + "/k.db";
  RunSql(path, "PRAGMA user_version = 999;");
  auto s = SqliteStore::Open(path);
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
}

TEST(SqliteStoreTest, ARetentionOutOfRangeIsRefused) {
  testing::TempDir dir;
  for (uint64_t retention : {uint64_t{0}, uint64_t{1} << 63}) {
    auto s = SqliteStore::Open(dir.path() + "/k.db", {.change_retention = retention});
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << retention;
  }
}

TEST(SqliteStoreTest, TheChangeTableStaysWithinItsRetention) {
  testing::TempDir dir;
  std::string path = dir.path() + "/k.db";
  constexpr uint64_t kRetention = 40;
  auto s = SqliteStore::Open(path, {.change_retention = kRetention});
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Apply(PutKey("key_1", 1)).ok());
  WriteBatch set;
  set.credits.push_back({"key_1", CreditsState{100'000, std::nullopt, 0}});
  ASSERT_TRUE((*s)->Apply(set).ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*s)->SpendCredits("key_1", 1, 1000, 0)->spent);
    // Pruned every kRetention changes, down to kRetention: never more than twice that.
    ASSERT_LE(CountRows(path, "changes"), static_cast<int64_t>(2 * kRetention));
  }
  EXPECT_GE(CountRows(path, "changes"), static_cast<int64_t>(kRetention));
  s = SqliteStore::Open(path, {.change_retention = 5});  // a shorter retention applies at once
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(CountRows(path, "changes"), 5);
  EXPECT_EQ(*(*s)->LatestChangeSeq(), 202u);
}

audit::AuditEntry ReadEntry(const std::string& request_id) {
  audit::AuditEntry e;
  e.time_ms = 1000;
  e.actor = "root_1";
  e.action = "secret.read";
  e.target = "secret/app/db";
  e.outcome = "success";
  e.request_id = request_id;
  e.details_json = R"({"version":1})";
  return e;
}

// Concurrent reads are committed in batches: every one of them is audited exactly once, and their
// entries and those of other writers form one unbroken chain.
TEST(SqliteStoreTest, ConcurrentSecretReadsAreEachAuditedInOneChain) {
  testing::TempDir dir;
  auto s = SqliteStore::Open(dir.path() + "/k.db");
  ASSERT_TRUE(s.ok()) << s.status().log_detail();
  constexpr int kThreads = 8;
  constexpr int kReads = 60;
  std::atomic<int> failed = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kReads; ++i) {
        if (!(*s)->RecordSecretRead(ReadEntry("r" + std::to_string(t) + "_" + std::to_string(i)))
                 .ok()) {
          ++failed;
        }
        if (t == 0 && i % 10 == 0) {  // another writer of the chain, in between
          WriteBatch b = PutKey("key_" + std::to_string(i), static_cast<uint8_t>(i + 1));
          b.audit.push_back(ReadEntry("w" + std::to_string(i)));
          b.audit.back().action = "key.create";
          if (!(*s)->Apply(b).ok()) ++failed;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed, 0);
  auto entries = (*s)->ReadAudit(0, 1000);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), size_t{kThreads * kReads + kReads / 10});
  std::set<std::string> ids;
  for (const auto& e : *entries) ids.insert(e.request_id);
  EXPECT_EQ(ids.size(), entries->size());
  EXPECT_FALSE(audit::VerifyChain(*entries, audit::kGenesis, 1).has_value());
}

// Entries queued without waiting are committed in order, each caller is answered from the
// store's thread, and those still queued when the store closes are committed before it does.
TEST(SqliteStoreTest, ReadAuditsQueuedWithoutWaitingAreAllCommittedEvenAtClose) {
  testing::TempDir dir;
  constexpr int kReads = 300;
  std::atomic<int> answered = 0;
  std::atomic<int> failed = 0;
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> answered_on_caller = false;
  {
    auto s = SqliteStore::Open(dir.path() + "/k.db");
    ASSERT_TRUE(s.ok()) << s.status().log_detail();
    for (int i = 0; i < kReads; ++i) {
      (*s)->RecordSecretReadLater(ReadEntry("q" + std::to_string(i)), [&](const Status& st) {
        if (std::this_thread::get_id() == caller) answered_on_caller = true;
        if (!st.ok()) ++failed;
        ++answered;
      });
    }
  }  // closed with entries still queued
  EXPECT_EQ(answered, kReads);
  EXPECT_EQ(failed, 0);
  EXPECT_FALSE(answered_on_caller);
  auto s = SqliteStore::Open(dir.path() + "/k.db");
  ASSERT_TRUE(s.ok());
  auto entries = (*s)->ReadAudit(0, 1000);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), size_t{kReads});
  for (int i = 0; i < kReads; ++i) EXPECT_EQ((*entries)[i].request_id, "q" + std::to_string(i));
  EXPECT_FALSE(audit::VerifyChain(*entries, audit::kGenesis, 1).has_value());
}

// Fail closed: while the log cannot be written, every concurrent read fails and none is audited;
// afterwards reads are audited again, the chain unbroken.
TEST(SqliteStoreTest, AFailedReadAuditBatchFailsEveryReadInIt) {
  testing::TempDir dir;
  auto s = SqliteStore::Open(dir.path() + "/k.db", {.vfs = FaultyVfs::Get().name()});
  ASSERT_TRUE(s.ok()) << s.status().log_detail();
  ASSERT_TRUE((*s)->RecordSecretRead(ReadEntry("before")).ok());
  FaultyVfs::Get().FailWal(FaultyVfs::Fault::kWrite);
  constexpr int kThreads = 6;
  std::atomic<int> unavailable = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Status st = (*s)->RecordSecretRead(ReadEntry("x" + std::to_string(t * 100 + i)));
        if (st.code() == StatusCode::kUnavailable) ++unavailable;
        ExpectNoEngineText(st);
      }
    });
  }
  for (auto& th : threads) th.join();
  FaultyVfs::Get().FailWal(FaultyVfs::Fault::kNone);
  EXPECT_EQ(unavailable, kThreads * 20);
  ASSERT_TRUE((*s)->RecordSecretRead(ReadEntry("after")).ok());
  auto entries = (*s)->ReadAudit(0, 1000);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].request_id, "before");
  EXPECT_EQ((*entries)[1].request_id, "after");
  EXPECT_FALSE(audit::VerifyChain(*entries, audit::kGenesis, 1).has_value());
}

// Memory statistics can be turned off only before SQLite initializes: in a fresh process (the
// check runs in a child started anew) it works, and the library then counts no memory; once
// SQLite is initialized the refusal is reported, not ignored.
TEST(SqliteMemoryStatistics, TurnedOffBeforeSQLiteInitializesAndRefusedAfter) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a child that re-executes: SQLite unused
  EXPECT_EXIT(
      {
        if (!SqliteStore::TurnOffMemoryStatistics().ok()) std::_Exit(1);
        auto s = SqliteStore::Open(":memory:");  // a file would outlive the child
        if (!s.ok() || !(*s)->Apply(PutKey("key_01", 1)).ok()) std::_Exit(2);
        sqlite3_int64 used = -1;
        sqlite3_int64 highest = -1;
        sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &used, &highest, 0);
        std::_Exit(used == 0 && highest == 0 ? 0 : 3);
      },
      ::testing::ExitedWithCode(0), "");
  ASSERT_EQ(sqlite3_initialize(), SQLITE_OK);
  Status st = SqliteStore::TurnOffMemoryStatistics();
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("already initialized"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace keyhold::store

namespace keyhold::store {
namespace {

SecretVersionWrite VersionOf(int64_t after, size_t bytes = 16) {
  SecretVersionWrite w;
  w.mount = "secret";
  w.path = "app";
  w.expected_current = after;
  w.version.version = after + 1;
  w.version.created_at_ms = 1000 + after;
  w.version.kek_term = 1;
  w.version.wrapped_key = {1, 2, 3};
  w.version.ciphertext.assign(bytes, static_cast<uint8_t>(after + 1));
  return w;
}

// Reads without waiting may come from what an earlier read kept; racing with writes, none may
// show a version older than one whose write had returned before the read began.
TEST(SqliteStoreTest, ReadsWithoutWaitingNeverGoBackBehindAnAnsweredWrite) {
  testing::TempDir dir;
  auto s = SqliteStore::Open(dir.path() + "/k.db", {.sole_writer = true});
  ASSERT_TRUE(s.ok()) << s.status().log_detail();
  ASSERT_TRUE((*s)->WriteSecretVersion(VersionOf(0)).ok());
  constexpr int64_t kWrites = 200;
  std::atomic<int64_t> answered = 1;
  std::atomic<int> stale = 0;
  std::atomic<int> mismatched = 0;
  std::atomic<int> reads = 0;
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (answered.load() < kWrites + 1) {
        int64_t floor = answered.load();
        auto r = (*s)->TryReadSecretNow("secret", "app", 0);
        if (!r || !r->ok()) continue;  // all readers busy: the caller would wait instead
        ++reads;
        if ((*r)->secret.current_version < floor) ++stale;
        if (!(*r)->version || (*r)->version->version != (*r)->secret.current_version ||
            (*r)->version->ciphertext.back() != (*r)->secret.current_version) {
          ++mismatched;
        }
      }
    });
  }
  for (int64_t v = 1; v <= kWrites; ++v) {
    ASSERT_TRUE((*s)->WriteSecretVersion(VersionOf(v)).ok());
    answered = v + 1;
  }
  for (std::thread& t : readers) t.join();
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(mismatched.load(), 0);
  auto last = (*s)->TryReadSecretNow("secret", "app", 0);
  ASSERT_TRUE(last && last->ok());
  EXPECT_EQ((*last)->secret.current_version, kWrites + 1);
}

// Checkpoints run beside the writes; if they fall behind, the writer checkpoints itself: the
// log stays within about 4,000 pages however fast and much is written.
TEST(SqliteStoreTest, TheWriteAheadLogIsCheckpointed) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/k.db";
  auto s = SqliteStore::Open(path);
  ASSERT_TRUE(s.ok()) << s.status().log_detail();
  SecretRecord meta;
  meta.mount = "secret";
  meta.path = "app";
  meta.max_versions = 2;
  ASSERT_TRUE((*s)->PutSecretMetadata(meta).ok());
  for (int64_t v = 0; v < 600; ++v) {
    ASSERT_TRUE((*s)->WriteSecretVersion(VersionOf(v, 40000)).ok());
  }
  struct stat wal {};
  ASSERT_EQ(stat((path + "-wal").c_str(), &wal), 0);
  // 600 versions of 40 KB write over 60 MB of pages: without checkpoints the log would hold
  // them all.
  EXPECT_LT(wal.st_size, 24 << 20);
}

// Without sole_writer (a store opened beside a server, say), nothing read is kept: a change
// made through another connection shows at once. With it, a change through the store itself
// shows at once.
TEST(SqliteStoreTest, ReadsAreKeptOnlyForASoleWriter) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/k.db";
  auto first = SqliteStore::Open(path);
  ASSERT_TRUE(first.ok()) << first.status().log_detail();
  ASSERT_TRUE((*first)->WriteSecretVersion(VersionOf(0)).ok());
  auto before = (*first)->TryReadSecretNow("secret", "app", 0);
  ASSERT_TRUE(before && before->ok());
  EXPECT_EQ((*before)->secret.current_version, 1);
  {
    auto beside = SqliteStore::Open(path);
    ASSERT_TRUE(beside.ok());
    ASSERT_TRUE((*beside)->WriteSecretVersion(VersionOf(1)).ok());
  }
  auto after = (*first)->TryReadSecretNow("secret", "app", 0);
  ASSERT_TRUE(after && after->ok());
  EXPECT_EQ((*after)->secret.current_version, 2);
  first->reset();

  auto sole = SqliteStore::Open(path, {.sole_writer = true});
  ASSERT_TRUE(sole.ok());
  ASSERT_TRUE((*sole)->TryReadSecretNow("secret", "app", 0));
  ASSERT_TRUE((*sole)->TryReadSecretNow("secret", "app", 1));
  ASSERT_TRUE((*sole)->DeleteSecret("secret", "app").ok());
  auto gone = (*sole)->TryReadSecretNow("secret", "app", 0);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace keyhold::store
