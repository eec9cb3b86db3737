// What only the SQLite store has to get right: its transactions when the disk fails, its
// error messages, and upgrading databases in place. The Store contract itself is tested in
// store_contract_test.cc.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>

#include <fstream>

#include "fakes/faulty_vfs.h"
#include "fakes/temp_dir.h"

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
                           switch (p.param) {
                             case FaultyVfs::Fault::kWrite:
                               return "DiskFull";
                             case FaultyVfs::Fault::kSync:
                               return "SyncFails";
                             default:
                               return "Busy";
                           }
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

}  // namespace
}  // namespace keyhold::store
