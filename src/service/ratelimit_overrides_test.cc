// Rate-limit overrides (ratelimit.setOverride and the rest) as ratelimit.limit applies them, and
// keys' own IP allowlists in keys.verifyKey. Time moves only with the fake clock.
#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

constexpr int64_t kMinute = 60'000;

class OverridesTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    svc_.reset();
    faulty_.reset();
    store_.reset();
    auto s = store::SqliteStore::Open(dir_.path() + "/o.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*store_);
    auto svc = KeyService::Open(*faulty_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    if (root_key_.empty()) {
      auto root = svc_->Bootstrap("root");
      ASSERT_TRUE(root.ok());
      root_key_ = std::string(root->key.Reveal());
    }
    auto p = svc_->Authenticate(root_key_);
    ASSERT_TRUE(p.ok());
    root_ = {.request_id = "req_test", .client_ip = "127.0.0.1", .actor = *p, .may_block = true};
  }

  // One ratelimit.limit call of `identifier` in "sms" with 10 a minute asked for.
  LimitResult Limit(const std::string& identifier, bool* passed = nullptr) {
    bool ok = false;
    auto r = svc_->Limit(
        root_,
        {{.namespace_name = "sms", .identifier = identifier, .limit = 10, .duration_ms = kMinute}},
        &ok);
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (passed) *passed = ok;
    return r.ok() ? (*r)[0] : LimitResult{};
  }

  StatusOr<RatelimitOverrideInfo> Set(const std::string& identifier, int64_t limit,
                                      int64_t duration = kMinute) {
    return svc_->SetRatelimitOverride(root_, {.namespace_name = "sms",
                                              .identifier = identifier,
                                              .limit = limit,
                                              .duration_ms = duration});
  }

  RequestContext Scoped(std::vector<std::string> permissions) {
    auto k = svc_->CreateRootKey(root_, "scoped", permissions);
    EXPECT_TRUE(k.ok()) << k.status().message();
    RequestContext ctx = root_;
    ctx.actor = *svc_->Authenticate(k->key.Reveal());
    return ctx;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<KeyService> svc_;
  std::string root_key_;
  RequestContext root_;
};

TEST_F(OverridesTest, AnOverrideReplacesTheLimitAskedForAndIsNamed) {
  auto o = Set("alice", 2);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_TRUE(o->id.starts_with("rlo_"));
  bool passed = false;
  for (int64_t left = 1; left >= 0; --left) {
    LimitResult r = Limit("alice", &passed);
    EXPECT_TRUE(passed);
    EXPECT_EQ(r.limit, 2);
    EXPECT_EQ(r.remaining, left);
    EXPECT_EQ(r.override_id, o->id);
  }
  LimitResult refused = Limit("alice", &passed);
  EXPECT_FALSE(passed);
  EXPECT_EQ(refused.reset_at_ms, env_.NowMillis() + kMinute);
  LimitResult bob = Limit("bob", &passed);  // no override: the call's own limit
  EXPECT_TRUE(passed);
  EXPECT_EQ(bob.limit, 10);
  EXPECT_TRUE(bob.override_id.empty());
  env_.Advance(kMinute / 2);  // one token back at 2 per minute
  EXPECT_TRUE((Limit("alice", &passed), passed));
  EXPECT_FALSE((Limit("alice", &passed), passed));
}

TEST_F(OverridesTest, ExactBeatsWildcardAndTheMostSpecificWildcardWins) {
  ASSERT_TRUE(Set("*", 1).ok());
  ASSERT_TRUE(Set("premium_*", 100).ok());
  ASSERT_TRUE(Set("premium_eu_*", 50).ok());
  auto exact = Set("premium_eu_42", 7);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(Limit("premium_eu_42").limit, 7);
  EXPECT_EQ(Limit("premium_eu_43").limit, 50);
  EXPECT_EQ(Limit("premium_us_1").limit, 100);
  EXPECT_EQ(Limit("basic").limit, 1);
}

TEST_F(OverridesTest, ALimitOfZeroBlocksAndCostZeroStillReads) {
  ASSERT_TRUE(Set("banned_*", 0).ok());
  bool passed = true;
  LimitResult r = Limit("banned_1", &passed);
  EXPECT_FALSE(passed);
  EXPECT_EQ(r.limit, 0);
  EXPECT_EQ(r.remaining, 0);
  auto read = svc_->Limit(root_,
                          {{.namespace_name = "sms",
                            .identifier = "banned_1",
                            .limit = 10,
                            .duration_ms = kMinute,
                            .cost = 0}},
                          &passed);
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(passed);
}

TEST_F(OverridesTest, ChangesTakeEffectAtOnceAndSurviveARestart) {
  auto first = Set("alice", 1);
  ASSERT_TRUE(first.ok());
  bool passed = false;
  Limit("alice", &passed);
  EXPECT_FALSE((Limit("alice", &passed), passed));
  auto changed = Set("alice", 5);  // replaces it, keeping its id
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->id, first->id);
  // The bucket keeps the time it stands for (empty for another minute) but refills at the new
  // rate: a token every 12 s rather than every minute.
  EXPECT_FALSE((Limit("alice", &passed), passed));
  env_.Advance(kMinute / 5);
  EXPECT_TRUE((Limit("alice", &passed), passed));

  Reopen();  // loaded from the store
  auto got = svc_->GetRatelimitOverride(root_, "sms", "alice");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->limit, 5);
  EXPECT_EQ(Limit("alice").override_id, first->id);

  ASSERT_TRUE(svc_->DeleteRatelimitOverride(root_, "sms", "alice").ok());
  EXPECT_EQ(Limit("alice").limit, 10);
  auto gone = svc_->GetRatelimitOverride(root_, "sms", "alice");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(gone.status().reason(), "data/ratelimit_override_not_found");
  EXPECT_EQ(svc_->DeleteRatelimitOverride(root_, "sms", "alice").code(), StatusCode::kNotFound);
  Reopen();
  EXPECT_EQ(Limit("alice").limit, 10);
}

TEST_F(OverridesTest, GetMatchesNothingAndListPagesInCreationOrder) {
  ASSERT_TRUE(Set("user_*", 3).ok());
  EXPECT_EQ(svc_->GetRatelimitOverride(root_, "sms", "user_1").status().code(),
            StatusCode::kNotFound);
  EXPECT_TRUE(svc_->GetRatelimitOverride(root_, "sms", "user_*").ok());
  for (int i = 0; i < 4; ++i) {
    env_.Advance(1);
    ASSERT_TRUE(Set("u" + std::to_string(i), i).ok());
  }
  ASSERT_TRUE(
      svc_->SetRatelimitOverride(
              root_,
              {.namespace_name = "email", .identifier = "x", .limit = 1, .duration_ms = kMinute})
          .ok());
  auto page = svc_->ListRatelimitOverrides(root_, "sms", "", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].identifier, "user_*");
  EXPECT_TRUE(page->has_more);
  auto rest = svc_->ListRatelimitOverrides(root_, "sms", page->cursor, 100);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 3u);
  EXPECT_EQ(rest->items.back().identifier, "u3");
  EXPECT_FALSE(rest->has_more);
  EXPECT_TRUE(rest->cursor.empty());
}

TEST_F(OverridesTest, BadInputIsRefusedWithNothingSet) {
  EXPECT_EQ(Set("a\nb", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set("", 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set(std::string(256, 'a'), 1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set("a", -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set("a", 1'000'000'001).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set("a", 1, 999).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Set("a", 1, 31LL * 24 * 3600 * 1000).status().code(), StatusCode::kInvalidArgument);
  auto page = svc_->ListRatelimitOverrides(root_, "sms", "", 100);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

TEST_F(OverridesTest, EachOperationNeedsItsOwnPermissionForTheNamespace) {
  RequestContext reader = Scoped({"ratelimit.sms.read_override"});
  RequestContext setter = Scoped({"ratelimit.*.set_override"});
  ASSERT_TRUE(
      svc_->SetRatelimitOverride(
              setter,
              {.namespace_name = "sms", .identifier = "a", .limit = 1, .duration_ms = kMinute})
          .ok());
  auto denied = svc_->SetRatelimitOverride(
      reader, {.namespace_name = "sms", .identifier = "b", .limit = 1, .duration_ms = kMinute});
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("ratelimit.sms.set_override"), std::string::npos);
  EXPECT_TRUE(svc_->GetRatelimitOverride(reader, "sms", "a").ok());
  EXPECT_TRUE(svc_->ListRatelimitOverrides(reader, "sms", "", 10).ok());
  EXPECT_EQ(svc_->ListRatelimitOverrides(reader, "email", "", 10).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(svc_->GetRatelimitOverride(setter, "sms", "a").status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(svc_->DeleteRatelimitOverride(reader, "sms", "a").code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(
      svc_->DeleteRatelimitOverride(Scoped({"ratelimit.sms.delete_override"}), "sms", "a").ok());
}

TEST_F(OverridesTest, ChangesAreAuditedAndAFailedAuditChangesNothing) {
  auto o = Set("alice", 3);
  ASSERT_TRUE(o.ok());
  ASSERT_TRUE(Set("alice", 4).ok());
  auto entries = store_->QueryAudit({.action = "ratelimit.*"});
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].action, "ratelimit.set_override");
  EXPECT_EQ((*entries)[0].target, o->id);
  EXPECT_EQ((*entries)[0].actor, root_.actor.key_id);
  EXPECT_NE((*entries)[0].details_json.find(R"("before")"), std::string::npos);

  faulty_->FailAuditWrites(true);
  EXPECT_EQ(Set("bob", 1).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(svc_->DeleteRatelimitOverride(root_, "sms", "alice").code(), StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);
  EXPECT_EQ(svc_->GetRatelimitOverride(root_, "sms", "bob").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Limit("alice").limit, 4) << "the refused delete left it in force";
  ASSERT_TRUE(svc_->DeleteRatelimitOverride(root_, "sms", "alice").ok());
  entries = store_->QueryAudit({.action = "ratelimit.delete_override"});
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 1u);
}

// --- a key's own IP allowlist ------------------------------------------------------------------

class KeyIpAllowlistTest : public OverridesTest {
 protected:
  std::string NewKey(std::vector<std::string> key_cidrs, std::vector<std::string> api_cidrs = {}) {
    auto api = svc_->CreateApi(root_, {.name = "helpdesk", .ip_allowlist = api_cidrs});
    EXPECT_TRUE(api.ok()) << api.status().message();
    auto k = svc_->CreateKey(root_, {.api_id = api->id, .ip_allowlist = key_cidrs});
    EXPECT_TRUE(k.ok()) << k.status().message();
    key_id_ = k->key_id;
    return std::string(k->key.Reveal());
  }
  VerifyCode VerifyFrom(const std::string& key, const std::string& ip) {
    RequestContext ctx = root_;
    ctx.client_ip = ip;
    ctx.peer_ip = ip;
    auto r = svc_->Verify(ctx, {.key = key});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->code : VerifyCode::kNotFound;
  }
  std::string key_id_;
};

TEST_F(KeyIpAllowlistTest, IPv4BoundariesAreExact) {
  std::string key = NewKey({"203.0.113.64/26"});
  EXPECT_EQ(VerifyFrom(key, "203.0.113.63"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "203.0.113.64"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "203.0.113.127"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "203.0.113.128"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "::ffff:203.0.113.100"), VerifyCode::kValid) << "IPv4-mapped";
  EXPECT_EQ(VerifyFrom(key, "2001:db8::1"), VerifyCode::kForbidden) << "other family";
  EXPECT_EQ(VerifyFrom(key, ""), VerifyCode::kForbidden) << "no address";
}

TEST_F(KeyIpAllowlistTest, IPv6BoundariesAreExact) {
  std::string key = NewKey({"2001:db8:0:8::/61", "198.51.100.7"});
  EXPECT_EQ(VerifyFrom(key, "2001:db8:0:7:ffff:ffff:ffff:ffff"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "2001:db8:0:8::"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "2001:db8:0:f:ffff:ffff:ffff:ffff"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "2001:db8:0:10::"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "198.51.100.7"), VerifyCode::kValid) << "a bare address is a /32";
  EXPECT_EQ(VerifyFrom(key, "198.51.100.8"), VerifyCode::kForbidden);
}

TEST_F(KeyIpAllowlistTest, BothTheApisAndTheKeysListMustAdmit) {
  std::string key = NewKey({"10.1.0.0/16"}, {"10.0.0.0/8"});
  EXPECT_EQ(VerifyFrom(key, "10.1.2.3"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "10.2.2.3"), VerifyCode::kForbidden) << "the API admits, the key not";
  std::string wide = NewKey({"0.0.0.0/0"}, {"10.0.0.0/8"});
  EXPECT_EQ(VerifyFrom(wide, "192.0.2.1"), VerifyCode::kForbidden) << "the key admits, the API not";
}

TEST_F(KeyIpAllowlistTest, MalformedCidrsAreRefusedNamingTheEntry) {
  auto api = svc_->CreateApi(root_, {.name = "x"});
  ASSERT_TRUE(api.ok());
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "10.0.0/8", "10.0.0.0/", "/8",
                          "10.0.0.0/-1", "10.0.0.0/8/8", "example.com", "10.0.0.0 /8", ""}) {
    auto k = svc_->CreateKey(root_, {.api_id = api->id, .ip_allowlist = {"10.0.0.0/8", bad}});
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(k.status().message().find("ipAllowlist[1]"), std::string::npos)
        << k.status().message();
  }
  std::vector<std::string> many(101, "10.0.0.0/8");
  EXPECT_EQ(svc_->CreateKey(root_, {.api_id = api->id, .ip_allowlist = many}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(KeyIpAllowlistTest, UpdateSetsAndClearsItAndGetKeyShowsIt) {
  std::string key = NewKey({});
  EXPECT_EQ(VerifyFrom(key, "192.0.2.1"), VerifyCode::kValid);
  ASSERT_TRUE(svc_->UpdateKey(root_, {.key_id = key_id_,
                                      .ip_allowlist = std::vector<std::string>{"192.0.2.0/31"}})
                  .ok());
  EXPECT_EQ(VerifyFrom(key, "192.0.2.2"), VerifyCode::kForbidden);
  auto view = svc_->GetKey(root_, key_id_);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->ip_allowlist(), std::vector<std::string>{"192.0.2.0/31"});
  auto bad = svc_->UpdateKey(
      root_, {.key_id = key_id_, .ip_allowlist = std::vector<std::string>{"192.0.2.0/99"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  Reopen();  // stored
  EXPECT_EQ(VerifyFrom(key, "192.0.2.1"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "192.0.2.2"), VerifyCode::kForbidden);
  ASSERT_TRUE(
      svc_->UpdateKey(root_, {.key_id = key_id_, .ip_allowlist = std::vector<std::string>{}}).ok());
  EXPECT_EQ(VerifyFrom(key, "192.0.2.2"), VerifyCode::kValid);
  EXPECT_TRUE(svc_->GetKey(root_, key_id_)->ip_allowlist().empty());
  auto updates = store_->QueryAudit({.action = "key.update", .target = key_id_});
  ASSERT_TRUE(updates.ok());
  ASSERT_EQ(updates->size(), 2u);
  EXPECT_NE((*updates)[0].details_json.find(R"("after":{"ipAllowlist":[]})"), std::string::npos)
      << (*updates)[0].details_json;  // the clearing is recorded, newest first
}

TEST_F(KeyIpAllowlistTest, ARerolledKeyKeepsIt) {
  NewKey({"192.0.2.0/24"});
  auto fresh = svc_->RerollKey(root_, key_id_, 0);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  std::string key(fresh->key.Reveal());
  EXPECT_EQ(VerifyFrom(key, "192.0.2.9"), VerifyCode::kValid);
  EXPECT_EQ(VerifyFrom(key, "198.51.100.9"), VerifyCode::kForbidden);
}

TEST_F(KeyIpAllowlistTest, AForbiddenRequestSpendsNothingAndCountsNoLimit) {
  auto api = svc_->CreateApi(root_, {.name = "x"});
  ASSERT_TRUE(api.ok());
  auto k = svc_->CreateKey(
      root_, {.api_id = api->id,
              .credits = CreditsState{.remaining = 1},
              .ratelimits = {{.name = "r", .limit = 1, .duration_ms = kMinute, .auto_apply = true}},
              .ip_allowlist = {"192.0.2.0/24"}});
  ASSERT_TRUE(k.ok());
  std::string key(k->key.Reveal());
  EXPECT_EQ(VerifyFrom(key, "198.51.100.1"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "198.51.100.1"), VerifyCode::kForbidden);
  EXPECT_EQ(VerifyFrom(key, "192.0.2.1"), VerifyCode::kValid);
}

}  // namespace
}  // namespace keyhold::service
