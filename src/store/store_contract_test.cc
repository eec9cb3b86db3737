// The contract every Store implementation meets: one suite, run against each store in
// Factories() below. A new implementation joins by adding one line there.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>

#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::store {
namespace {

// How the suite opens the store under test. `dir` is a fresh directory per test; opening again
// with the same `dir` reopens the same store, with everything acknowledged before (the
// durability tests reopen). A server-backed store uses `dir` to name a fresh database or schema.
struct StoreFactory {
  std::string name;
  std::function<StatusOr<std::unique_ptr<Store>>(const std::string& dir)> open;
};

void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }

const std::vector<StoreFactory>& Factories() {
  static const std::vector<StoreFactory> kFactories = {
      {"sqlite",
       [](const std::string& dir) -> StatusOr<std::unique_ptr<Store>> {
         KH_ASSIGN_OR_RETURN(auto s, SqliteStore::Open(dir + "/test.db"));
         return std::unique_ptr<Store>(std::move(s));
       }},
  };
  return kFactories;
}

class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  // Fails the test (gtest reports the exception) if the store cannot be opened.
  std::unique_ptr<Store> Open() {
    auto s = GetParam().open(dir_.path());
    if (!s.ok()) {
      throw std::runtime_error("cannot open the store: " + s.status().message() + " (" +
                               s.status().log_detail() + ")");
    }
    return std::move(s).value();
  }
  testing::TempDir dir_;
};

KeyRecord MakeKey(const std::string& id, const std::string& api, uint8_t hash_byte) {
  KeyRecord k;
  k.id = id;
  k.api_id = api;
  k.hash.fill(hash_byte);
  k.start = "hd_abcd";
  k.name = "n";
  k.meta_json = R"({"plan":"pro"})";
  k.created_at = 1000;
  k.updated_at = 1000;
  k.expires = 99999;
  k.credits.remaining = 7;
  k.credits.refill = RefillRule{RefillInterval::kMonthly, 10, 31};
  k.ratelimits = {{"rl_1", "requests", 10, 60000, true}};
  return k;
}

TEST_P(StoreContract, RoundTripsEveryRecordKind) {
  auto s = Open();
  WriteBatch b;
  b.put_apis.push_back({"api_1", "helpdesk", "hd", 24, {"10.0.0.0/8"}, 5, std::nullopt});
  b.put_identities.push_back({"id_1", "user-1", R"({"a":1})", {{"rl_2", "x", 1, 1000, false}}, 6});
  b.put_permissions.push_back({"perm_1", "read", "documents.read", "can read", 7});
  b.put_roles.push_back({"role_1", "reader", "", {"perm_1"}, 8});
  KeyRecord k = MakeKey("key_1", "api_1", 1);
  k.identity_id = "id_1";
  k.permission_ids = {"perm_1"};
  k.role_ids = {"role_1"};
  b.put_keys.push_back(k);
  KeyRecord root = MakeKey("key_r", "", 2);
  root.kind = KeyKind::kRoot;
  root.root_permissions = {"*", "api.*.verify_key"};
  b.put_keys.push_back(root);
  ASSERT_TRUE(s->Apply(b).ok());

  s = Open();  // reopen: what was acknowledged is durable
  auto snap = s->LoadAll();
  ASSERT_TRUE(snap.ok());
  ASSERT_EQ(snap->apis.size(), 1u);
  EXPECT_EQ(snap->apis[0].default_prefix, "hd");
  EXPECT_EQ(snap->apis[0].default_byte_length, 24);
  EXPECT_EQ(snap->apis[0].ip_allowlist, std::vector<std::string>{"10.0.0.0/8"});
  ASSERT_EQ(snap->identities.size(), 1u);
  EXPECT_EQ(snap->identities[0].ratelimits.size(), 1u);
  ASSERT_EQ(snap->roles.size(), 1u);
  EXPECT_EQ(snap->roles[0].permission_ids, std::vector<std::string>{"perm_1"});
  ASSERT_EQ(snap->keys.size(), 2u);
  const KeyRecord& got = snap->keys[0].id == "key_1" ? snap->keys[0] : snap->keys[1];
  EXPECT_EQ(got.hash, k.hash);
  EXPECT_EQ(got.meta_json, k.meta_json);
  EXPECT_EQ(got.identity_id, "id_1");
  EXPECT_EQ(got.expires, 99999);
  EXPECT_EQ(got.credits.remaining, 7);
  ASSERT_TRUE(got.credits.refill.has_value());
  EXPECT_EQ(got.credits.refill->refill_day, 31);
  EXPECT_EQ(got.permission_ids, std::vector<std::string>{"perm_1"});
  EXPECT_EQ(got.role_ids, std::vector<std::string>{"role_1"});
  EXPECT_EQ(got.ratelimits.size(), 1u);
  const KeyRecord& got_root = snap->keys[0].id == "key_r" ? snap->keys[0] : snap->keys[1];
  EXPECT_EQ(got_root.kind, KeyKind::kRoot);
  EXPECT_EQ(got_root.root_permissions.size(), 2u);
}

TEST_P(StoreContract, DuplicateHashIsAConflictAndNothingIsApplied) {
  auto s = Open();
  WriteBatch b;
  b.put_keys.push_back(MakeKey("key_1", "api_1", 1));
  ASSERT_TRUE(s->Apply(b).ok());
  WriteBatch dup;
  dup.put_apis.push_back({"api_2", "other", "", 32, {}, 5, std::nullopt});
  dup.put_keys.push_back(MakeKey("key_2", "api_1", 1));
  Status st = s->Apply(dup);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  auto snap = s->LoadAll();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->keys.size(), 1u);
  EXPECT_TRUE(snap->apis.empty());  // the whole batch rolled back
}

TEST_P(StoreContract, SoftAndHardDeletesDisappearFromTheSnapshot) {
  auto s = Open();
  WriteBatch b;
  b.put_keys.push_back(MakeKey("key_1", "api_1", 1));
  b.put_keys.push_back(MakeKey("key_2", "api_1", 2));
  ASSERT_TRUE(s->Apply(b).ok());
  WriteBatch del;
  KeyRecord soft = MakeKey("key_1", "api_1", 1);
  soft.deleted_at = 5;
  del.put_keys.push_back(soft);
  del.delete_keys.push_back("key_2");
  ASSERT_TRUE(s->Apply(del).ok());
  EXPECT_TRUE(s->LoadAll()->keys.empty());
}

TEST_P(StoreContract, CreditUpdatesAndListing) {
  auto s = Open();
  WriteBatch b;
  for (int i = 0; i < 5; ++i) {
    KeyRecord k = MakeKey("key_" + std::to_string(i), i < 4 ? "api_1" : "api_2",
                          static_cast<uint8_t>(10 + i));
    if (i == 1) k.identity_id = "id_x";
    b.put_keys.push_back(k);
  }
  ASSERT_TRUE(s->Apply(b).ok());
  WriteBatch c;
  CreditsState cs;
  cs.remaining = 3;
  cs.last_refill_at = 42;
  c.credits.push_back({"key_0", cs});
  ASSERT_TRUE(s->Apply(c).ok());
  auto snap = s->LoadAll();
  EXPECT_EQ(snap->keys[0].credits.remaining, 3);
  EXPECT_EQ(snap->keys[0].credits.last_refill_at, 42);
  auto page1 = s->ListKeyIds("api_1", "", "", 2);
  ASSERT_TRUE(page1.ok());
  EXPECT_EQ(*page1, (std::vector<std::string>{"key_0", "key_1"}));
  auto page2 = s->ListKeyIds("api_1", "key_1", "", 2);
  EXPECT_EQ(*page2, (std::vector<std::string>{"key_2", "key_3"}));
  EXPECT_EQ(*s->ListKeyIds("api_1", "", "id_x", 10), std::vector<std::string>{"key_1"});
}

TEST_P(StoreContract, SchemaIsVersioned) {
  auto s = Open();
  EXPECT_GE(s->SchemaVersion(), 1);
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
