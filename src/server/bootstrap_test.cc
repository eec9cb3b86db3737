#include "server/bootstrap.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::server {
namespace {

std::string MakeDataDir(const testing::TempDir& root, const std::string& name) {
  std::string dir = root.path() + "/" + name;
  EXPECT_EQ(mkdir(dir.c_str(), 0700), 0);
  return dir;
}

// Whether another open file description could take an exclusive flock on `path` now (taken
// and released at once if so).
bool Lockable(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  bool free = flock(fd, LOCK_EX | LOCK_NB) == 0;
  close(fd);
  return free;
}

store::WriteBatch PutApi(const std::string& id) {
  store::WriteBatch b;
  b.put_apis.push_back({.id = id, .name = id, .created_at = 1});
  return b;
}

TEST(LockDataDir, OneServerPerDirectory) {
  testing::TempDir root;
  std::string a = MakeDataDir(root, "a");
  ASSERT_TRUE(LockDataDir(a).ok());
  Status again = LockDataDir(a);
  EXPECT_EQ(again.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(), "another keyhold server is serving " + a);
  EXPECT_FALSE(Lockable(a + "/serve.lock"));
  EXPECT_FALSE(Lockable(a + "/keyhold.db"));  // created to be locked, empty
}

// A directory whose database is a link (symbolic or hard) to a served directory's is refused, and
// leaves its own directory lock free for a later try.
TEST(LockDataDir, ADatabaseLinkedToAServedOneIsRefused) {
  testing::TempDir root;
  std::string a = MakeDataDir(root, "a");
  ASSERT_TRUE(LockDataDir(a).ok());
  std::string real_db = std::filesystem::canonical(a + "/keyhold.db").string();

  std::string b = MakeDataDir(root, "b");
  std::filesystem::create_symlink(a + "/keyhold.db", b + "/keyhold.db");
  Status st = LockDataDir(b);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(st.message(), "another keyhold server is serving the database " + real_db + " (" + b +
                              "/keyhold.db)");
  EXPECT_TRUE(Lockable(b + "/serve.lock"));

  std::string c = MakeDataDir(root, "c");
  std::filesystem::create_hard_link(a + "/keyhold.db", c + "/keyhold.db");
  EXPECT_EQ(LockDataDir(c).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Lockable(c + "/serve.lock"));

  // A symbolic link to a database no one serves is served through the link.
  std::string d = MakeDataDir(root, "d");
  std::string elsewhere = MakeDataDir(root, "elsewhere");
  std::filesystem::create_symlink(elsewhere + "/keyhold.db", d + "/keyhold.db");
  ASSERT_TRUE(LockDataDir(d).ok());
  EXPECT_FALSE(Lockable(elsewhere + "/keyhold.db"));
}

// SQLite's locks are POSIX record locks, which a process drops whenever it closes any
// descriptor of the file, as SQLite does when a connection closes; the database's flock is held
// by an open file description of its own, and stays.
TEST(LockDataDir, TheDatabaseLockOutlivesSQLiteClosingTheFile) {
  testing::TempDir root;
  std::string a = MakeDataDir(root, "a");
  ASSERT_TRUE(LockDataDir(a).ok());
  for (const char* api : {"api_1", "api_2"}) {
    auto s = store::SqliteStore::Open(a + "/keyhold.db");  // the empty file becomes a database
    ASSERT_TRUE(s.ok()) << s.status().log_detail();
    ASSERT_TRUE((*s)->Apply(PutApi(api)).ok());
  }
  EXPECT_FALSE(Lockable(a + "/keyhold.db"));
  EXPECT_EQ(LockDataDir(a).code(), StatusCode::kFailedPrecondition);
  auto s = store::SqliteStore::Open(a + "/keyhold.db");
  ASSERT_TRUE(s.ok());
  store::Snapshot snap;
  ASSERT_TRUE((*s)->Load(snap, [](store::KeyRecord&&) { return OkStatus(); }).ok());
  EXPECT_EQ(snap.apis.size(), 2u);
}

}  // namespace
}  // namespace keyhold::server
