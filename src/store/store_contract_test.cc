// The contract every Store implementation meets: one suite, run against each store in
// Factories() (store/store_contract.h). A new implementation joins by adding one line there.
#include "store/store_contract.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "fakes/temp_dir.h"

namespace keyhold::store {
namespace {

class StoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  // Fails the test (gtest reports the exception) if the store cannot be opened.
  std::unique_ptr<Store> Open(const ContractOptions& options = {}) {
    auto s = GetParam().open(dir_.path(), options);
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

// Every field of a key record, links and all, as one line: two records that print the same
// hold the same key.
std::string Fields(const KeyRecord& k) {
  std::string out;
  auto add = [&](const std::string& v) { out += v + "|"; };
  auto add_opt = [&](const auto& v) { add(v ? "=" + std::to_string(*v) : "none"); };
  auto add_list = [&](const std::vector<std::string>& v) {
    for (const std::string& e : v) out += e + ",";
    out += "|";
  };
  add(k.id);
  add(std::to_string(static_cast<int>(k.kind)));
  add(k.api_id);
  add(std::string(k.hash.begin(), k.hash.end()));
  add(k.start);
  add(k.name ? "=" + *k.name : "none");
  add(k.meta_json);
  add(k.identity_id);
  add(std::to_string(k.created_at) + "/" + std::to_string(k.updated_at) + "/" +
      std::to_string(k.last_used_at));
  add_opt(k.expires);
  add(k.enabled ? "enabled" : "disabled");
  add_opt(k.credits.remaining);
  add(k.credits.refill ? std::to_string(static_cast<int>(k.credits.refill->interval)) + "/" +
                             std::to_string(k.credits.refill->amount) + "/" +
                             std::to_string(k.credits.refill->refill_day)
                       : "none");
  add(std::to_string(k.credits.last_refill_at));
  for (const RatelimitConfig& r : k.ratelimits) {
    add(r.id + "/" + r.name + "/" + std::to_string(r.limit) + "/" + std::to_string(r.duration_ms) +
        "/" + (r.auto_apply ? "auto" : "manual"));
  }
  add_list(k.permission_ids);
  add_list(k.role_ids);
  add_list(k.root_permissions);
  add_opt(k.deleted_at);
  add(k.rerolled_from);
  add(k.rerolled_to);
  add_opt(k.rerolled_at);
  add(k.credits_key_id);
  add(k.revoked_reason ? "=" + *k.revoked_reason : "none");
  add(k.created_by);
  add(k.imported ? "imported" : "native");
  add_list(k.ip_allowlist);
  return out;
}

// The load streams keys through one record after another: a key with few fields set that follows
// one with many must come out exactly as reading it alone gives it, and the other way round.
TEST_P(StoreContract, LoadGivesEveryKeyAsReadingItAloneDoes) {
  auto s = Open();
  WriteBatch b;
  b.put_apis.push_back({"api_1", "helpdesk", "hd", 24, {}, 5, std::nullopt});
  b.put_identities.push_back({"id_1", "user-1", "{}", {}, 6});
  b.put_permissions.push_back({"perm_1", "read", "documents.read", "", 7});
  b.put_roles.push_back({"role_1", "reader", "", {"perm_1"}, 8});
  auto plain = [](const std::string& id, uint8_t hash_byte) {
    KeyRecord k;
    k.id = id;
    k.api_id = "api_1";
    k.hash.fill(hash_byte);
    k.start = "hd_abcd";
    k.created_at = 1000;
    k.updated_at = 1001;
    k.last_used_at = 1002;
    k.created_by = "key_r";
    return k;
  };
  KeyRecord full = MakeKey("key_01", "api_1", 1);  // name, meta, expiry, credits, rate limits
  full.identity_id = "id_1";
  full.permission_ids = {"perm_1"};
  full.role_ids = {"role_1"};
  full.rerolled_from = "key_00";
  full.rerolled_to = "key_09";
  full.rerolled_at = 1500;
  full.credits_key_id = "key_09";
  full.imported = true;
  full.ip_allowlist = {"10.0.0.0/8", "2001:db8::/32"};
  full.credits.last_refill_at = 1200;
  b.put_keys.push_back(full);
  b.put_keys.push_back(plain("key_02", 2));
  KeyRecord named = plain("key_03", 3);
  named.name = "";  // an empty name is a name
  b.put_keys.push_back(named);
  b.put_keys.push_back(plain("key_04", 4));
  KeyRecord refilled = plain("key_05", 5);  // no balance left to count, but refilled by hand
  refilled.credits.last_refill_at = 1300;
  b.put_keys.push_back(refilled);
  KeyRecord allowlisted = plain("key_06", 6);
  allowlisted.ip_allowlist = {"192.0.2.1"};
  allowlisted.enabled = false;
  b.put_keys.push_back(allowlisted);
  KeyRecord limited = plain("key_07", 7);
  limited.ratelimits = {{"rl_1", "requests", 10, 60000, false}};
  b.put_keys.push_back(limited);
  KeyRecord root = plain("key_08", 8);
  root.kind = KeyKind::kRoot;
  root.api_id = "";
  root.root_permissions = {"*"};
  b.put_keys.push_back(root);
  b.put_keys.push_back(plain("key_09", 9));
  ASSERT_TRUE(s->Apply(b).ok());

  Snapshot snap;
  std::vector<std::pair<std::string, std::string>> loaded;  // (id, fields)
  ASSERT_TRUE(s->Load(snap, [&](KeyRecord&& k) {
                 loaded.emplace_back(k.id, Fields(k));
                 return OkStatus();
               }).ok());
  EXPECT_EQ(loaded.size(), b.put_keys.size());
  EXPECT_GE(snap.key_rows, b.put_keys.size());
  for (const auto& [id, fields] : loaded) {
    auto alone = s->GetKeyRecord(id);
    ASSERT_TRUE(alone.ok()) << id;
    EXPECT_EQ(fields, Fields(*alone)) << id;
  }
  // And each as it was written (the store adds nothing to a key but what it was given).
  for (const KeyRecord& k : b.put_keys) {
    auto alone = s->GetKeyRecord(k.id);
    ASSERT_TRUE(alone.ok()) << k.id;
    EXPECT_EQ(Fields(*alone), Fields(k)) << k.id;
  }
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
  c.credits.push_back({"key_0", cs});  // replaces the balance, and the refill rule with none
  CreditsState daily = cs;
  daily.refill = RefillRule{RefillInterval::kDaily, 20, 1};
  c.credits.push_back({"key_1", daily});
  ASSERT_TRUE(s->Apply(c).ok());
  auto snap = s->LoadAll();
  EXPECT_EQ(snap->keys[0].credits.remaining, 3);
  EXPECT_EQ(snap->keys[0].credits.last_refill_at, 42);
  EXPECT_FALSE(snap->keys[0].credits.refill.has_value());
  ASSERT_TRUE(snap->keys[1].credits.refill.has_value());
  EXPECT_EQ(snap->keys[1].credits.refill->interval, RefillInterval::kDaily);
  EXPECT_EQ(snap->keys[1].credits.refill->amount, 20);
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

// --- credits ---------------------------------------------------------------------------------

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kJan1 = 1'767'225'600'000;  // 2026-01-01T00:00Z

// A key holding `remaining` credits (none: unlimited), refilled daily to `daily_refill` if set.
KeyRecord CreditKey(const std::string& id, uint8_t hash_byte, std::optional<int64_t> remaining,
                    std::optional<int64_t> daily_refill = std::nullopt) {
  KeyRecord k = MakeKey(id, "api_1", hash_byte);
  k.credits = CreditsState{};
  k.credits.remaining = remaining;
  if (daily_refill) k.credits.refill = RefillRule{RefillInterval::kDaily, *daily_refill, 1};
  k.credits.last_refill_at = kJan1 + 3'600'000;  // 01:00 on the first day
  return k;
}

Status Put(Store& s, const KeyRecord& k) {
  WriteBatch b;
  b.put_keys.push_back(k);
  return s.Apply(b);
}

CreditsState Stored(Store& s, const std::string& key_id) {
  auto snap = s.LoadAll();
  EXPECT_TRUE(snap.ok());
  for (const KeyRecord& k : snap->keys) {
    if (k.id == key_id) return k.credits;
  }
  ADD_FAILURE() << key_id << " is not in the store";
  return {};
}

TEST_P(StoreContract, SpendTakesTheWholeBalanceAndThenNothing) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 5)).ok());
  auto r = s->SpendCredits("key_1", 3, kJan1 + 4'000'000, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spent);
  EXPECT_EQ(r->credits.remaining, 2);
  r = s->SpendCredits("key_1", 2, kJan1 + 4'000'000, 0);
  EXPECT_TRUE(r->spent);
  EXPECT_EQ(r->credits.remaining, 0);
  // An exhausted balance refuses even a cost of 0 (a probe).
  EXPECT_FALSE(s->SpendCredits("key_1", 0, kJan1 + 4'000'000, 0)->spent);
  EXPECT_FALSE(s->SpendCredits("key_1", 1, kJan1 + 4'000'000, 0)->spent);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
}

// Credits taken beyond the cost, for the caller to reserve: as many as the balance holds, in the
// same durable write; none when the spend is refused.
TEST_P(StoreContract, ASpendTakesItsExtraInTheSameWrite) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 10)).ok());
  auto r = s->SpendCredits("key_1", 2, kJan1 + 4'000'000, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spent);
  EXPECT_EQ(r->extra, 5);
  EXPECT_EQ(r->credits.remaining, 3);
  r = s->SpendCredits("key_1", 1, kJan1 + 4'000'000, 100);  // only 2 left beyond the cost
  EXPECT_TRUE(r->spent);
  EXPECT_EQ(r->extra, 2);
  EXPECT_EQ(r->credits.remaining, 0);
  r = s->SpendCredits("key_1", 1, kJan1 + 4'000'000, 100);
  EXPECT_FALSE(r->spent);
  EXPECT_EQ(r->extra, 0);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
  EXPECT_EQ(s->SpendCredits("key_1", 0, kJan1, -1).status().code(), StatusCode::kInvalidArgument);
}

// Reserved credits go back only to the balance they were taken from.
TEST_P(StoreContract, GiveBackAddsToTheSameBalanceAndForfeitsElsewhere) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 10)).ok());
  ASSERT_TRUE(Put(*s, CreditKey("key_set", 2, 10)).ok());
  ASSERT_TRUE(Put(*s, CreditKey("key_free", 3, std::nullopt)).ok());
  ASSERT_TRUE(Put(*s, CreditKey("key_daily", 4, 10, 100)).ok());
  const int64_t at = kJan1 + 3'600'000;
  auto r = s->GiveBackCredits({{"key_1", 5, at},
                               {"key_set", 5, at + 1},  // its balance was set since
                               {"key_free", 5, at},
                               {"key_gone", 5, at},
                               {"key_daily", 5, at}},  // a refill is due by then
                              kJan1 + kDayMs + 1);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 5u);
  ASSERT_TRUE((*r)[0].has_value());
  EXPECT_EQ((*r)[0]->remaining, 15);
  for (size_t i = 1; i < 5; ++i) EXPECT_FALSE((*r)[i].has_value()) << i;
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 15);
  EXPECT_EQ(Stored(*s, "key_set").remaining, 10);
  EXPECT_EQ(Stored(*s, "key_daily").remaining, 10);
}

TEST_P(StoreContract, SpendOverTheBalanceIsRefusedAndChangesNothing) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 3)).ok());
  auto r = s->SpendCredits("key_1", 4, kJan1 + 4'000'000, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->spent);
  EXPECT_EQ(r->credits.remaining, 3);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 3);
  EXPECT_EQ(Stored(*s, "key_1").last_refill_at, kJan1 + 3'600'000);
}

TEST_P(StoreContract, UnlimitedKeysAlwaysSpendAndKeepNoBalance) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, std::nullopt)).ok());
  auto r = s->SpendCredits("key_1", kMaxCredits, kJan1, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spent);
  EXPECT_FALSE(r->credits.remaining.has_value());
  EXPECT_FALSE(Stored(*s, "key_1").remaining.has_value());
  EXPECT_EQ(s->AdjustCredits("key_1", 5, kJan1).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, CreditsOfMissingOrDeletedKeysAreNotFound) {
  auto s = Open();
  KeyRecord soft = CreditKey("key_soft", 1, 5);
  soft.deleted_at = kJan1;
  ASSERT_TRUE(Put(*s, soft).ok());
  ASSERT_TRUE(Put(*s, CreditKey("key_hard", 2, 5)).ok());
  WriteBatch del;
  del.delete_keys.push_back("key_hard");
  ASSERT_TRUE(s->Apply(del).ok());
  for (const char* id : {"key_missing", "key_soft", "key_hard"}) {
    EXPECT_EQ(s->SpendCredits(id, 1, kJan1, 0).status().code(), StatusCode::kNotFound) << id;
    EXPECT_EQ(s->AdjustCredits(id, 1, kJan1).status().code(), StatusCode::kNotFound) << id;
  }
}

TEST_P(StoreContract, CostsAndDeltasOutOfRangeAreRefused) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 5)).ok());
  EXPECT_EQ(s->SpendCredits("key_1", -1, kJan1, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->SpendCredits("key_1", kMaxCredits + 1, kJan1, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(s->AdjustCredits("key_1", kMaxCredits + 1, kJan1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(s->AdjustCredits("key_1", -kMaxCredits - 1, kJan1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Stored(*s, "key_1").remaining, 5);
}

TEST_P(StoreContract, RefillIsAppliedAsOfTheTimeGiven) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 0, /*daily_refill=*/10)).ok());
  // 23:59 on the day of the last refill: no refill is due.
  EXPECT_FALSE(s->SpendCredits("key_1", 1, kJan1 + kDayMs - 60'000, 0)->spent);
  // Midnight: the balance is refilled, then spent.
  auto r = s->SpendCredits("key_1", 1, kJan1 + kDayMs, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->spent);
  EXPECT_EQ(r->credits.remaining, 9);
  EXPECT_EQ(r->credits.last_refill_at, kJan1 + kDayMs);
  // A clock behind the last refill (another node's) is not a new day.
  r = s->SpendCredits("key_1", 1, kJan1 + kDayMs - 1, 0);
  EXPECT_EQ(r->credits.remaining, 8);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 8);
  EXPECT_EQ(Stored(*s, "key_1").last_refill_at, kJan1 + kDayMs);
}

TEST_P(StoreContract, ARefusedSpendDoesNotStoreItsRefill) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 0, /*daily_refill=*/2)).ok());
  auto r = s->SpendCredits("key_1", 3, kJan1 + kDayMs, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->spent);
  EXPECT_EQ(r->credits.remaining, 2);  // what the caller would have had
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
  EXPECT_EQ(Stored(*s, "key_1").last_refill_at, kJan1 + 3'600'000);
  // The refill is applied again by the next call, to the same effect.
  EXPECT_TRUE(s->SpendCredits("key_1", 2, kJan1 + kDayMs + 1, 0)->spent);
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
}

TEST_P(StoreContract, ConcurrentSpendsNeverSpendMoreThanTheBalance) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 1000)).ok());
  constexpr int kThreads = 8;
  constexpr int kSpendsPerThread = 500;
  std::atomic<int> spent{0}, refused{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kSpendsPerThread; ++i) {
        auto r = s->SpendCredits("key_1", 1, kJan1 + 4'000'000, 0);
        if (!r.ok()) {
          failed++;
        } else if (r->spent) {
          spent++;
        } else {
          refused++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(spent.load(), 1000);
  EXPECT_EQ(refused.load(), 3000);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
  EXPECT_EQ(*s->LatestChangeSeq(), 1001u);  // the put, then one change per spend
}

// Concurrent spends are committed together: a batch mixes keys, spends of a key that does not
// exist and spends refused for their balance, and each caller still gets its own answer.
TEST_P(StoreContract, SpendsCommittedTogetherEachGetTheirOwnAnswer) {
  auto s = Open();
  for (int k = 0; k < 4; ++k) {
    ASSERT_TRUE(Put(*s, CreditKey("key_" + std::to_string(k), k + 1, 300)).ok());
  }
  constexpr int kThreads = 16;
  constexpr int kSpendsPerThread = 100;
  std::atomic<int> spent[4] = {}, refused{0}, missing{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSpendsPerThread; ++i) {
        if (t == 0 && i % 10 == 0) {
          auto r = s->SpendCredits("key_missing", 1, kJan1, 0);
          (r.status().code() == StatusCode::kNotFound ? missing : failed)++;
          continue;
        }
        const int k = (t + i) % 4;
        auto r = s->SpendCredits("key_" + std::to_string(k), 1, kJan1 + 4'000'000, 0);
        if (!r.ok()) {
          failed++;
        } else if (r->spent) {
          spent[k]++;
          EXPECT_GE(*r->credits.remaining, 0);
        } else {
          refused++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(missing.load(), 10);
  s = Open();
  for (int k = 0; k < 4; ++k) {
    const int by_key = spent[k].load();
    EXPECT_EQ(by_key, 300) << "key_" << k;
    EXPECT_EQ(Stored(*s, "key_" + std::to_string(k)).remaining, 0) << "key_" << k;
  }
  EXPECT_EQ(refused.load(), kThreads * kSpendsPerThread - 10 - 4 * 300);
}

TEST_P(StoreContract, AdjustStaysWithinZeroAndTheMaximum) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 10)).ok());
  EXPECT_EQ(s->AdjustCredits("key_1", 5, kJan1)->remaining, 15);
  EXPECT_EQ(s->AdjustCredits("key_1", -100, kJan1)->remaining, 0);
  EXPECT_EQ(s->AdjustCredits("key_1", kMaxCredits, kJan1)->remaining, kMaxCredits);
  auto over = s->AdjustCredits("key_1", 1, kJan1);
  EXPECT_EQ(over.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(over.status().message(), "the balance would exceed 1e15");
  EXPECT_EQ(Stored(*s, "key_1").remaining, kMaxCredits);
  EXPECT_EQ(s->AdjustCredits("key_1", -kMaxCredits, kJan1)->remaining, 0);
  s = Open();
  EXPECT_EQ(Stored(*s, "key_1").remaining, 0);
}

TEST_P(StoreContract, AdjustAppliesADueRefillFirst) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 2, /*daily_refill=*/10)).ok());
  auto r = s->AdjustCredits("key_1", 1, kJan1 + kDayMs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->remaining, 11);
  EXPECT_EQ(r->last_refill_at, kJan1 + kDayMs);
  EXPECT_EQ(Stored(*s, "key_1").remaining, 11);
}

// --- change feed -----------------------------------------------------------------------------

using Feed = std::vector<std::tuple<ChangeKind, std::string, ChangeOp>>;

// The changes after `after_seq`, checking that their seqs strictly increase.
Feed ChangesAfter(Store& s, uint64_t after_seq) {
  auto changes = s.ChangesSince(after_seq, kMaxChangesPage);
  EXPECT_TRUE(changes.ok()) << changes.status().message();
  Feed feed;
  uint64_t last = after_seq;
  for (const Change& c : *changes) {
    EXPECT_GT(c.seq, last);
    last = c.seq;
    feed.emplace_back(c.kind, c.id, c.op);
  }
  return feed;
}

uint64_t Latest(Store& s) {
  auto seq = s.LatestChangeSeq();
  EXPECT_TRUE(seq.ok());
  return seq.ok() ? *seq : 0;
}

TEST_P(StoreContract, EveryWriteIsInTheChangeFeed) {
  auto s = Open();
  EXPECT_EQ(Latest(*s), 0u);
  EXPECT_TRUE(ChangesAfter(*s, 0).empty());
  WriteBatch b;
  b.put_apis.push_back({"api_1", "helpdesk", "", 32, {}, 5, std::nullopt});
  b.put_identities.push_back({"id_1", "user-1", "", {}, 6});
  b.put_permissions.push_back({"perm_1", "read", "documents.read", "", 7});
  b.put_roles.push_back({"role_1", "reader", "", {"perm_1"}, 8});
  b.put_keys.push_back(CreditKey("key_1", 1, 10));
  b.put_keys.push_back(CreditKey("key_2", 2, 10));
  ASSERT_TRUE(s->Apply(b).ok());
  WriteBatch changes;
  ApiRecord gone_api = b.put_apis[0];
  gone_api.deleted_at = 9;
  changes.put_apis.push_back(gone_api);
  KeyRecord soft = b.put_keys[1];
  soft.deleted_at = 9;
  changes.put_keys.push_back(soft);
  changes.credits.push_back({"key_1", CreditsState{20, std::nullopt, 9}});
  changes.delete_keys.push_back("key_2");
  changes.delete_roles.push_back("role_1");
  changes.delete_permissions.push_back("perm_1");
  changes.delete_identities.push_back("id_1");
  ASSERT_TRUE(s->Apply(changes).ok());
  ASSERT_TRUE(s->SpendCredits("key_1", 1, kJan1, 0)->spent);
  ASSERT_TRUE(s->AdjustCredits("key_1", 5, kJan1).ok());
  // Writes that record nothing: refused and no-op spends, last-used times, failed writes.
  ASSERT_FALSE(s->SpendCredits("key_1", 1000, kJan1, 0)->spent);
  ASSERT_TRUE(s->SpendCredits("key_1", 0, kJan1, 0)->spent);
  ASSERT_TRUE(s->TouchLastUsed({{"key_1", kJan1}}).ok());
  WriteBatch conflict;
  conflict.put_keys.push_back(CreditKey("key_3", 1, 1));  // key_1's hash
  ASSERT_EQ(s->Apply(conflict).code(), StatusCode::kAlreadyExists);
  ASSERT_EQ(s->SpendCredits("key_missing", 1, kJan1, 0).status().code(), StatusCode::kNotFound);

  using K = ChangeKind;
  using O = ChangeOp;
  Feed want = {
      {K::kApi, "api_1", O::kPut},         {K::kIdentity, "id_1", O::kPut},
      {K::kPermission, "perm_1", O::kPut}, {K::kRole, "role_1", O::kPut},
      {K::kKey, "key_1", O::kPut},         {K::kKey, "key_2", O::kPut},
      {K::kApi, "api_1", O::kDelete},      {K::kKey, "key_2", O::kDelete},
      {K::kCredits, "key_1", O::kPut},     {K::kKey, "key_2", O::kDelete},
      {K::kRole, "role_1", O::kDelete},    {K::kPermission, "perm_1", O::kDelete},
      {K::kIdentity, "id_1", O::kDelete},  {K::kCredits, "key_1", O::kPut},
      {K::kCredits, "key_1", O::kPut},
  };
  EXPECT_EQ(ChangesAfter(*s, 0), want);
  auto all = s->ChangesSince(0, kMaxChangesPage);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Latest(*s), all->back().seq);
}

TEST_P(StoreContract, TheChangeFeedCarriesOnAfterAReopen) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 10)).ok());
  ASSERT_TRUE(s->SpendCredits("key_1", 1, kJan1, 0)->spent);
  uint64_t before = Latest(*s);
  EXPECT_GE(before, 2u);
  s = Open();
  EXPECT_EQ(Latest(*s), before);
  auto snap = s->LoadAll();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->change_seq, before);  // a reader follows on from the snapshot
  ASSERT_TRUE(Put(*s, CreditKey("key_2", 2, 10)).ok());
  EXPECT_GT(Latest(*s), before);
  EXPECT_EQ(ChangesAfter(*s, before), (Feed{{ChangeKind::kKey, "key_2", ChangeOp::kPut}}));
  EXPECT_EQ(ChangesAfter(*s, 0).size(), 3u);
}

TEST_P(StoreContract, ChangesPageWithoutGapsOrRepeats) {
  auto s = Open();
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(Put(*s, CreditKey("key_" + std::to_string(i), static_cast<uint8_t>(i), 1)).ok());
  }
  std::vector<Change> paged;
  uint64_t cursor = 0;
  for (;;) {
    auto page = s->ChangesSince(cursor, 7);
    ASSERT_TRUE(page.ok());
    ASSERT_LE(page->size(), 7u);
    if (page->empty()) break;
    cursor = page->back().seq;
    paged.insert(paged.end(), page->begin(), page->end());
  }
  ASSERT_EQ(paged.size(), 25u);
  for (int i = 0; i < 25; ++i)
    EXPECT_EQ(paged[static_cast<size_t>(i)].id, "key_" + std::to_string(i));
  EXPECT_EQ(cursor, Latest(*s));
  EXPECT_EQ(s->ChangesSince(0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->ChangesSince(0, kMaxChangesPage + 1).status().code(), StatusCode::kInvalidArgument);
  auto ahead = s->ChangesSince(cursor + 1, 10);
  EXPECT_EQ(ahead.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ahead.status().reason(), "data/changes_ahead");
}

TEST_P(StoreContract, ConcurrentWritersGetDistinctOrderedSeqs) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, CreditKey("key_shared", 200, 1'000'000)).ok());
  constexpr int kThreads = 4;
  constexpr int kWritesPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        int n = t * kWritesPerThread + i;
        if (!Put(*s, CreditKey("key_" + std::to_string(n), static_cast<uint8_t>(n), 1)).ok()) {
          failed++;
        }
        auto r = s->SpendCredits("key_shared", 1, kJan1, 0);
        if (!r.ok() || !r->spent) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  Feed feed = ChangesAfter(*s, 0);  // checks the seqs strictly increase
  ASSERT_EQ(feed.size(), 1u + 2 * kThreads * kWritesPerThread);
  std::set<std::string> keys;
  int spends = 0;
  for (const auto& [kind, id, op] : feed) {
    if (kind == ChangeKind::kKey) keys.insert(id);
    if (kind == ChangeKind::kCredits) spends++;
  }
  EXPECT_EQ(keys.size(), 1u + kThreads * kWritesPerThread);
  EXPECT_EQ(spends, kThreads * kWritesPerThread);
}

TEST_P(StoreContract, AReaderTooFarBehindIsToldToReload) {
  auto s = Open({.change_retention = 10});
  ASSERT_TRUE(Put(*s, CreditKey("key_1", 1, 1000)).ok());
  for (int i = 0; i < 49; ++i) ASSERT_TRUE(s->SpendCredits("key_1", 1, kJan1, 0)->spent);
  uint64_t latest = Latest(*s);
  EXPECT_EQ(latest, 50u);
  auto stale = s->ChangesSince(0, 100);
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.status().reason(), "data/changes_pruned");
  // The newest `change_retention` changes are always kept.
  auto recent = s->ChangesSince(latest - 10, 100);
  ASSERT_TRUE(recent.ok()) << recent.status().message();
  EXPECT_EQ(recent->size(), 10u);
  s = Open({.change_retention = 10});
  EXPECT_EQ(s->ChangesSince(0, 100).status().reason(), "data/changes_pruned");
  EXPECT_EQ(s->ChangesSince(latest - 10, 100)->size(), 10u);

  // A batch larger than the retention: its newest changes are kept, in order.
  WriteBatch bulk;
  for (int i = 0; i < 25; ++i) {
    bulk.put_keys.push_back(
        CreditKey("key_b" + std::to_string(100 + i), static_cast<uint8_t>(i + 2), 1));
  }
  ASSERT_TRUE(s->Apply(bulk).ok());
  EXPECT_EQ(Latest(*s), latest + 25);
  EXPECT_EQ(s->ChangesSince(latest + 14, 100).status().reason(), "data/changes_pruned");
  auto newest = s->ChangesSince(latest + 15, 100);
  ASSERT_TRUE(newest.ok());
  ASSERT_EQ(newest->size(), 10u);
  EXPECT_EQ(newest->front().id, "key_b115");
  EXPECT_EQ(newest->front().seq, latest + 16);
  EXPECT_EQ(newest->back().id, "key_b124");
}

// --- audit log -------------------------------------------------------------------------------

audit::AuditEntry Event(const std::string& action, const std::string& target,
                        const std::string& actor = "key_root", int64_t time_ms = 1000) {
  audit::AuditEntry e;
  e.time_ms = time_ms;
  e.actor = actor;
  e.action = action;
  e.target = target;
  e.outcome = "success";
  e.client_ip = "203.0.113.7";
  e.request_id = "req_1";
  e.details_json = R"({"after":{"name":"n"}})";
  e.seq = 999;  // ignored: the store numbers entries
  return e;
}

std::vector<audit::AuditEntry> WholeLog(Store& s) {
  auto all = s.ReadAudit(0, kMaxAuditPage);
  EXPECT_TRUE(all.ok()) << all.status().message();
  return all.ok() ? *all : std::vector<audit::AuditEntry>{};
}

TEST_P(StoreContract, AuditEntriesFormOneChainWithTheirWrites) {
  auto s = Open();
  auto tail = s->ReadAuditTail();
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->seq, 0);
  EXPECT_EQ(tail->hash, audit::kGenesis);

  WriteBatch b;
  b.put_keys.push_back(CreditKey("key_1", 1, 10));
  b.audit = {Event("key.create", "key_1"), Event("permission.create", "perm_1")};
  ASSERT_TRUE(s->Apply(b).ok());
  audit::AuditEntry credits = Event("key.update_credits", "key_1");
  ASSERT_TRUE(s->AdjustCredits("key_1", 5, kJan1, &credits).ok());
  WriteBatch only_audit;  // an event that changes nothing else
  only_audit.audit = {Event("secret.read", "secret/mail")};
  ASSERT_TRUE(s->Apply(only_audit).ok());

  // Failed writes append nothing: a uniqueness conflict, a refused adjustment.
  WriteBatch conflict;
  conflict.put_keys.push_back(CreditKey("key_2", 1, 10));  // key_1's hash
  conflict.audit = {Event("key.create", "key_2")};
  ASSERT_EQ(s->Apply(conflict).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(Put(*s, CreditKey("key_3", 3, std::nullopt)).ok());
  audit::AuditEntry refused = Event("key.update_credits", "key_3");
  ASSERT_EQ(s->AdjustCredits("key_3", 1, kJan1, &refused).status().code(),
            StatusCode::kInvalidArgument);

  s = Open();  // durable, and the chain carries on after a reopen
  WriteBatch later;
  later.audit = {Event("key.delete", "key_1")};
  ASSERT_TRUE(s->Apply(later).ok());

  std::vector<audit::AuditEntry> log = WholeLog(*s);
  ASSERT_EQ(log.size(), 5u);
  std::vector<std::string> actions;
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(log[i].seq, static_cast<int64_t>(i + 1));
    actions.push_back(log[i].action);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"key.create", "permission.create",
                                               "key.update_credits", "secret.read", "key.delete"}));
  EXPECT_EQ(log[0].client_ip, "203.0.113.7");
  EXPECT_EQ(log[0].details_json, R"({"after":{"name":"n"}})");
  EXPECT_FALSE(audit::VerifyChain(log, audit::kGenesis, 1).has_value());
  tail = s->ReadAuditTail();
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->seq, 5);
  EXPECT_EQ(tail->hash, log.back().hash);

  // Reading on from any point, in pages.
  auto page = s->ReadAudit(2, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].seq, 3);
  EXPECT_EQ(s->ReadAudit(0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->ReadAudit(0, kMaxAuditPage + 1).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, ConcurrentAuditWritersKeepOneChain) {
  auto s = Open();
  constexpr int kThreads = 4;
  constexpr int kWrites = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        WriteBatch b;
        b.audit = {Event("api.create", "api_" + std::to_string(t * kWrites + i))};
        if (!s->Apply(b).ok()) failed++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  std::vector<audit::AuditEntry> log = WholeLog(*s);
  EXPECT_EQ(log.size(), static_cast<size_t>(kThreads * kWrites));
  EXPECT_FALSE(audit::VerifyChain(log, audit::kGenesis, 1).has_value());
}

TEST_P(StoreContract, AuditQueriesFilterAndPageNewestFirst) {
  auto s = Open();
  WriteBatch b;
  b.audit = {Event("key.create", "key_1", "key_rootA", 1000),
             Event("key.update", "key_1", "key_rootA", 2000),
             Event("api.create", "api_1", "key_rootB", 3000),
             Event("key.delete", "key_2", "key_rootB", 4000),
             Event("keyring.rotate", "k", "key_rootB", 5000)};
  ASSERT_TRUE(s->Apply(b).ok());
  auto seqs = [&](AuditQuery q) {
    auto r = s->QueryAudit(q);
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<int64_t> out;
    if (r.ok()) {
      for (const auto& e : *r) out.push_back(e.seq);
    }
    return out;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(seqs({}), (V{5, 4, 3, 2, 1}));
  EXPECT_EQ(seqs({.actor = "key_rootA"}), (V{2, 1}));
  EXPECT_EQ(seqs({.action = "key.create"}), (V{1}));
  EXPECT_EQ(seqs({.action = "key.*"}), (V{4, 2, 1}));  // not "keyring.rotate"
  EXPECT_EQ(seqs({.target = "key_1"}), (V{2, 1}));
  EXPECT_EQ(seqs({.since_ms = 2000, .until_ms = 4000}), (V{3, 2}));
  EXPECT_EQ(seqs({.actor = "key_rootB", .action = "key.*"}), (V{4}));
  EXPECT_EQ(seqs({.limit = 2}), (V{5, 4}));
  EXPECT_EQ(seqs({.before_seq = 4, .limit = 2}), (V{3, 2}));
  EXPECT_EQ(seqs({.before_seq = 2, .limit = 2}), (V{1}));
  EXPECT_EQ(seqs({.actor = "nobody"}), V{});
  EXPECT_EQ(s->QueryAudit({.limit = 0}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, TheAuditSaltIsMadeOnceAndKept) {
  auto s = Open();
  auto salt = s->AuditSalt();
  ASSERT_TRUE(salt.ok()) << salt.status().message();
  EXPECT_EQ(salt->size(), 32u);
  EXPECT_NE(*salt, std::vector<uint8_t>(32, 0));
  s = Open();
  EXPECT_EQ(*s->AuditSalt(), *salt);
}

TEST_P(StoreContract, CheckpointsRoundTripInSeqOrder) {
  auto s = Open();
  auto signer = audit::CheckpointSigner::FromMasterKey(std::vector<uint8_t>(32, 4));
  ASSERT_TRUE(signer.ok());
  audit::ChainHash h{};
  h.fill(9);
  audit::Checkpoint later = signer->Sign(20, h, 2000);
  audit::Checkpoint first = signer->Sign(10, h, 1000);
  ASSERT_TRUE(s->PutAuditCheckpoint(later).ok());
  ASSERT_TRUE(s->PutAuditCheckpoint(first).ok());
  s = Open();
  auto cps = s->ListAuditCheckpoints(0, 100);
  ASSERT_TRUE(cps.ok()) << cps.status().message();
  ASSERT_EQ(cps->size(), 2u);
  EXPECT_EQ((*cps)[0].seq, 10);
  EXPECT_EQ((*cps)[1].seq, 20);
  EXPECT_EQ((*cps)[1].signature, later.signature);
  EXPECT_TRUE(audit::VerifySignature((*cps)[1]));
  EXPECT_EQ(s->ListAuditCheckpoints(10, 100)->size(), 1u);
}

// --- usage -----------------------------------------------------------------------------------

TEST_P(StoreContract, UsageJournalKeepsRowsUntilTheirMinuteIsClosed) {
  auto s = Open();
  const int64_t m0 = kJan1 + 10 * 3'600'000;
  const int64_t m1 = m0 + 60'000;
  // Route and tags are callers' text: kept as given, invalid UTF-8 replaced.
  ASSERT_TRUE(s->JournalUsage({{m0, "key_a", "id_1", "api_1", "VALID", "10.0.0.1", "GET /t\xff",
                                R"(["x"])", 3},
                               {m1, "key_b", "", "api_1", "DISABLED", "10.0.0.2",
                                std::string("q\"\\\x01\0z", 6), "", 1}})
                  .ok());
  ASSERT_TRUE(
      s->JournalUsage({{m0, "key_a", "id_1", "api_1", "VALID", "10.0.0.1", "", "", 2}}).ok());
  EXPECT_EQ(s->JournalUsage({{m0 + 1'000, "key_a", "", "", "VALID", "", "", "", 1}}).code(),
            StatusCode::kInvalidArgument);
  auto journal = s->ReadUsageJournal();
  ASSERT_TRUE(journal.ok());
  EXPECT_EQ(journal->unreadable, 0u);
  ASSERT_EQ(journal->rows.size(), 3u);
  EXPECT_EQ(journal->rows[0].second_ms, m0);
  EXPECT_EQ(journal->rows[0].route, "GET /t\xef\xbf\xbd");
  EXPECT_EQ(journal->rows[0].tags_json, R"(["x"])");
  EXPECT_EQ(journal->rows[0].count, 3);
  EXPECT_EQ(journal->rows[1].key_id, "key_b");
  EXPECT_EQ(journal->rows[1].route, std::string("q\"\\\x01\0z", 6)) << "quotes, controls, NUL";
  EXPECT_EQ(journal->rows[2].count, 2);

  // Closing minute m0 writes its rows and removes only its entries, in one transaction.
  ASSERT_TRUE(
      s->CloseUsage(m1, {{m0, "key_a", "id_1", "api_1", "VALID", "10.0.0.1", "", "", 5}}).ok());
  journal = s->ReadUsageJournal();
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->rows.size(), 1u);
  EXPECT_EQ(journal->rows[0].key_id, "key_b");
  auto written = s->ReadUsage("key_a", 0, INT64_MAX, 10);
  ASSERT_TRUE(written.ok());
  ASSERT_EQ(written->size(), 1u);
  EXPECT_EQ((*written)[0].count, 5);
  auto total = s->QueryUsage(
      {.granularity = UsageGranularity::kDay, .since_ms = kJan1, .until_ms = kJan1 + 86'400'000});
  ASSERT_TRUE(total.ok());
  ASSERT_EQ(total->size(), 1u);
  EXPECT_EQ((*total)[0].count, 5);
  EXPECT_EQ(s->CloseUsage(INT64_MAX, {{m1, "key_b", "", "", "VALID", "", "", "", -1}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(s->ReadUsageJournal()->rows.size(), 1u) << "a refused close removes nothing";
}

TEST_P(StoreContract, UsageRowsRollUpAndQueryByAnyGrouping) {
  auto s = Open();
  constexpr int64_t kMin = 60'000;
  // 10:00:05 and 10:00:40 (one minute), 10:01:10 (the next), all on 2026-01-01.
  int64_t t0 = kJan1 + 10 * 3'600'000 + 5'000;
  std::vector<UsageRow> rows = {
      {t0, "key_a", "id_1", "api_1", "VALID", "10.0.0.1", "", "", 3},
      {t0 + 35'000, "key_a", "id_1", "api_1", "VALID", "10.0.0.2", "", R"(["x"])", 2},
      {t0 + 65'000, "key_b", "", "api_1", "DISABLED", "10.0.0.1", "GET /t", "", 1},
      {t0 + 65'000, "", "", "", "NOT_FOUND", "10.0.0.9", "", "", 4},
  };
  ASSERT_TRUE(s->RecordUsage(rows).ok());
  ASSERT_TRUE(
      s->RecordUsage({{t0, "key_a", "id_1", "api_1", "VALID", "10.0.0.1", "", "", 1}}).ok());
  EXPECT_EQ(s->RecordUsage({{t0, "key_a", "", "", "VALID", "", "", "", -1}}).code(),
            StatusCode::kInvalidArgument);

  auto query = [&](UsageQuery q) {
    q.since_ms = kJan1;
    q.until_ms = kJan1 + 86'400'000;
    auto r = s->QueryUsage(q);
    EXPECT_TRUE(r.ok()) << r.status().message();
    std::vector<std::tuple<int64_t, std::string, std::string, int64_t>> out;
    if (r.ok()) {
      for (const auto& c : *r) out.emplace_back(c.bucket_ms, c.key_id, c.outcome, c.count);
    }
    return out;
  };
  using T = std::tuple<int64_t, std::string, std::string, int64_t>;
  using V = std::vector<T>;
  int64_t m0 = t0 - 5'000;
  EXPECT_EQ(query({.granularity = UsageGranularity::kMinute, .by_time = true, .by_key = true}),
            (V{T{m0, "key_a", "", 6}, T{m0 + kMin, "", "", 4}, T{m0 + kMin, "key_b", "", 1}}));
  EXPECT_EQ(query({.granularity = UsageGranularity::kDay, .by_outcome = true}),
            (V{T{0, "", "DISABLED", 1}, T{0, "", "NOT_FOUND", 4}, T{0, "", "VALID", 6}}));
  EXPECT_EQ(
      query(
          {.granularity = UsageGranularity::kHour, .key_ids = {"key_a", "key_b"}, .by_key = true}),
      (V{T{0, "key_a", "", 6}, T{0, "key_b", "", 1}}));
  EXPECT_EQ(query({.granularity = UsageGranularity::kHour, .outcomes = {"NOT_FOUND"}}),
            (V{T{0, "", "", 4}}));
  EXPECT_EQ(query({.granularity = UsageGranularity::kHour, .api_ids = {"api_2"}}), V{});

  auto raw = s->ReadUsage("key_a", kJan1, kJan1 + 86'400'000, 10);
  ASSERT_TRUE(raw.ok());
  ASSERT_EQ(raw->size(), 3u);
  EXPECT_EQ((*raw)[0].client_ip, "10.0.0.2");
  EXPECT_EQ((*raw)[0].tags_json, R"(["x"])");

  // Pruning: rows and minute rollups before the horizon go; hour and day rollups stay.
  ASSERT_TRUE(s->PruneUsage(t0 + 55'000, kJan1, kJan1).ok());
  EXPECT_EQ(s->ReadUsage("", kJan1, kJan1 + 86'400'000, 10)->size(), 2u);
  EXPECT_EQ(query({.granularity = UsageGranularity::kMinute, .by_key = true}),
            (V{T{0, "", "", 4}, T{0, "key_b", "", 1}}));
  EXPECT_EQ(query({.granularity = UsageGranularity::kDay}), (V{T{0, "", "", 11}}));
  EXPECT_EQ(s->QueryUsage({.since_ms = 5, .until_ms = 5}).status().code(),
            StatusCode::kInvalidArgument);
}

// --- rotation and revocation ---------------------------------------------------------------

TEST_P(StoreContract, KeepsLineageRevocationAndCreator) {
  auto s = Open();
  WriteBatch b;
  KeyRecord fresh = MakeKey("key_b", "api_1", 2);
  fresh.rerolled_from = "key_a";
  fresh.created_by = "key_root";
  fresh.permission_ids = {};
  KeyRecord old = MakeKey("key_a", "api_1", 1);
  old.rerolled_to = "key_b";
  old.rerolled_at = 500;
  old.credits = {};
  old.credits_key_id = "key_b";
  old.created_by = "key_root";
  b.put_keys = {fresh, old};
  ASSERT_TRUE(s->Apply(b).ok());
  auto snap = s->LoadAll();
  ASSERT_EQ(snap->keys.size(), 2u);
  EXPECT_EQ(snap->keys[0].rerolled_to, "key_b");
  EXPECT_EQ(snap->keys[0].rerolled_at, 500);
  EXPECT_EQ(snap->keys[0].credits_key_id, "key_b");
  EXPECT_FALSE(snap->keys[0].credits.remaining.has_value());
  EXPECT_EQ(snap->keys[1].rerolled_from, "key_a");

  // Revoked: gone from the live state, kept with its reason; the creator never changes.
  KeyRecord revoked = snap->keys[0];
  revoked.deleted_at = 900;
  revoked.revoked_reason = "found in a public repository";
  revoked.created_by = "";
  WriteBatch r;
  r.put_keys = {revoked};
  ASSERT_TRUE(s->Apply(r).ok());
  EXPECT_EQ(s->LoadAll()->keys.size(), 1u);
  auto read = s->GetKeyRecord("key_a");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->deleted_at, 900);
  EXPECT_EQ(read->revoked_reason, "found in a public repository");
  EXPECT_EQ(read->created_by, "key_root");
  EXPECT_EQ(read->ratelimits.size(), 1u);
  EXPECT_EQ(s->GetKeyRecord("key_none").status().code(), StatusCode::kNotFound);

  using Ids = std::vector<std::string>;
  EXPECT_EQ(*s->QueryKeyIds({.api_id = "api_1"}), Ids{"key_b"});
  EXPECT_EQ(*s->QueryKeyIds({.api_id = "api_1", .include_revoked = true}), (Ids{"key_a", "key_b"}));
  EXPECT_EQ(*s->QueryKeyIds({.created_by = "key_root"}), Ids{"key_b"});
  EXPECT_EQ(*s->QueryKeyIds({.created_by = "key_other"}), Ids{});
  EXPECT_EQ(*s->QueryKeyIds({.created_since_ms = 1000, .created_until_ms = 1001}), Ids{"key_b"});
  EXPECT_EQ(*s->QueryKeyIds({.created_since_ms = 1001}), Ids{});
  EXPECT_EQ(s->QueryKeyIds({.limit = 0}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreContract, KeepsAnApisLeakResponseAndRotationPolicy) {
  auto s = Open();
  ApiRecord a{"api_1", "helpdesk", "hd", 24, {}, 5, std::nullopt};
  a.on_leak = LeakResponse::kDisable;
  a.max_key_age_ms = 90LL * 86'400'000;
  a.overdue_grace_ms = 86'400'000;
  WriteBatch b;
  b.put_apis.push_back(a);
  b.put_apis.push_back({"api_2", "mail", "", 32, {}, 6, std::nullopt});
  ASSERT_TRUE(s->Apply(b).ok());
  auto snap = s->LoadAll();
  ASSERT_EQ(snap->apis.size(), 2u);
  EXPECT_EQ(snap->apis[0].on_leak, LeakResponse::kDisable);
  EXPECT_EQ(snap->apis[0].max_key_age_ms, 90LL * 86'400'000);
  EXPECT_EQ(snap->apis[0].overdue_grace_ms, 86'400'000);
  EXPECT_EQ(snap->apis[1].on_leak, LeakResponse::kRevoke);
  EXPECT_FALSE(snap->apis[1].max_key_age_ms.has_value());
}

INSTANTIATE_TEST_SUITE_P(AllStores, StoreContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
