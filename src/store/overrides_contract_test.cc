// The Store contract for rate-limit overrides and keys' own IP allowlists (store/store.h
// "rate-limit overrides"), run against every store in Factories().
#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/temp_dir.h"
#include "store/store_contract.h"

namespace keyhold::store {
namespace {

class OverrideStoreContract : public StoreContractSuite {};

RatelimitOverrideRecord MakeOverride(const std::string& id, const std::string& ns,
                                     const std::string& identifier, int64_t limit,
                                     int64_t at = 1000) {
  return {id, ns, identifier, limit, 60'000, at, at};
}

audit::AuditEntry Entry(const std::string& action) { return ContractAuditEntry(action, "rlo_1"); }

TEST_P(OverrideStoreContract, OverridesRoundTripWithTheirAuditEntries) {
  auto s = Open();
  audit::AuditEntry set = Entry("ratelimit.set_override");
  auto put = s->PutRatelimitOverride(MakeOverride("rlo_1", "sms", "user_*", 5), &set);
  ASSERT_TRUE(put.ok()) << put.status().message();
  EXPECT_EQ(put->id, "rlo_1");
  ASSERT_TRUE(s->PutRatelimitOverride(MakeOverride("rlo_2", "email", "bob", 0)).ok());

  s = Open();  // acknowledged writes are durable
  auto all = s->ListRatelimitOverrides("", "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "rlo_1");
  EXPECT_EQ((*all)[0].namespace_name, "sms");
  EXPECT_EQ((*all)[0].identifier, "user_*");
  EXPECT_EQ((*all)[0].limit, 5);
  EXPECT_EQ((*all)[0].duration_ms, 60'000);
  EXPECT_EQ((*all)[1].limit, 0);
  auto audit = s->QueryAudit({.action = "ratelimit.*"});
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "ratelimit.set_override");
}

TEST_P(OverrideStoreContract, APutOfTheSameIdentifierKeepsItsIdAndCreationTime) {
  auto s = Open();
  ASSERT_TRUE(s->PutRatelimitOverride(MakeOverride("rlo_1", "sms", "alice", 5, 1000)).ok());
  auto again = s->PutRatelimitOverride(MakeOverride("rlo_9", "sms", "alice", 50, 2000));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, "rlo_1");
  EXPECT_EQ(again->created_at_ms, 1000);
  EXPECT_EQ(again->updated_at_ms, 2000);
  auto all = s->ListRatelimitOverrides("sms", "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].limit, 50);
}

TEST_P(OverrideStoreContract, ListsOneNamespacePageByPage) {
  auto s = Open();
  for (int i = 0; i < 5; ++i) {
    std::string n = std::to_string(i);
    ASSERT_TRUE(s->PutRatelimitOverride(MakeOverride("rlo_" + n, "sms", "u" + n, i)).ok());
  }
  ASSERT_TRUE(s->PutRatelimitOverride(MakeOverride("rlo_x", "email", "u", 1)).ok());
  auto first = s->ListRatelimitOverrides("sms", "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  auto rest = s->ListRatelimitOverrides("sms", first->back().id, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ(rest->front().id, "rlo_2");
  EXPECT_EQ(s->ListRatelimitOverrides("sms", "", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->ListRatelimitOverrides("sms", "", kMaxOverridesPage + 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(OverrideStoreContract, DeletingRemovesTheOverrideAndRecordsTheChange) {
  auto s = Open();
  ASSERT_TRUE(s->PutRatelimitOverride(MakeOverride("rlo_1", "sms", "alice", 5)).ok());
  auto before = s->LatestChangeSeq();
  ASSERT_TRUE(before.ok());
  audit::AuditEntry del = Entry("ratelimit.delete_override");
  auto removed = s->DeleteRatelimitOverride("sms", "alice", &del);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->id, "rlo_1");
  auto changes = s->ChangesSince(*before, kMaxChangesPage);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->size(), 1u);
  EXPECT_EQ((*changes)[0].kind, ChangeKind::kRatelimitOverride);
  EXPECT_EQ((*changes)[0].id, "rlo_1");
  EXPECT_EQ((*changes)[0].op, ChangeOp::kDelete);
  auto again = s->DeleteRatelimitOverride("sms", "alice");
  EXPECT_EQ(again.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(again.status().reason(), "data/ratelimit_override_not_found");
  EXPECT_TRUE(s->ListRatelimitOverrides("", "", 10)->empty());
}

TEST_P(OverrideStoreContract, AKeysIpAllowlistRoundTrips) {
  auto s = Open();
  WriteBatch b;
  KeyRecord k;
  k.id = "key_1";
  k.api_id = "api_1";
  k.hash.fill(1);
  k.start = "hd_abcd";
  k.created_at = k.updated_at = 1000;
  k.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
  b.put_keys.push_back(k);
  ASSERT_TRUE(s->Apply(b).ok());
  s = Open();
  auto got = s->GetKeyRecord("key_1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ip_allowlist, k.ip_allowlist);
  k.ip_allowlist.clear();
  b.put_keys = {k};
  ASSERT_TRUE(s->Apply(b).ok());
  EXPECT_TRUE(s->GetKeyRecord("key_1")->ip_allowlist.empty());
}

INSTANTIATE_TEST_SUITE_P(AllStores, OverrideStoreContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
