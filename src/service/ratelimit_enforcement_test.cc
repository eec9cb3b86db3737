// Rate limits in keys.verifyKey: which limits apply, all or nothing, and their order with credits.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "service/brute_force.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

constexpr int64_t kMinute = 60'000;

class RatelimitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/r.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto svc = KeyService::Open(*store_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    auto root = svc_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    auto p = svc_->Authenticate(root->key.Reveal());
    ASSERT_TRUE(p.ok());
    root_ = {.request_id = "req_test", .client_ip = "127.0.0.1", .actor = *p, .may_block = true};
    auto api = svc_->CreateApi(root_, {.name = "helpdesk"});
    ASSERT_TRUE(api.ok());
    api_ = api->id;
  }

  std::string NewKey(std::vector<Ratelimit> limits, std::optional<int64_t> credits = {},
                     std::optional<std::string> external_id = {}) {
    CreateKeyRequest req{.api_id = api_, .external_id = external_id, .ratelimits = limits};
    if (credits) req.credits = CreditsState{.remaining = credits};
    auto k = svc_->CreateKey(root_, std::move(req));
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::string(k->key.Reveal());
  }

  VerifyResult Verify(const std::string& key, std::vector<RatelimitRequest> limits = {}) {
    auto r = svc_->Verify(root_, {.key = key, .ratelimits = std::move(limits)});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : VerifyResult{};
  }

  static Ratelimit Limit(std::string name, int64_t limit, int64_t duration,
                         bool auto_apply = true) {
    return {
        .name = std::move(name), .limit = limit, .duration_ms = duration, .auto_apply = auto_apply};
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<KeyService> svc_;
  RequestContext root_;
  std::string api_;
};

TEST_F(RatelimitTest, AnAutoAppliedLimitRefusesPastItAndRefills) {
  std::string key = NewKey({Limit("requests", 3, kMinute)});
  for (int64_t left = 2; left >= 0; --left) {
    VerifyResult r = Verify(key);
    ASSERT_EQ(r.code, VerifyCode::kValid);
    ASSERT_EQ(r.ratelimits.size(), 1u);
    EXPECT_EQ(r.ratelimits[0].name, "requests");
    EXPECT_EQ(r.ratelimits[0].remaining, left);
    EXPECT_FALSE(r.ratelimits[0].exceeded);
    EXPECT_TRUE(r.ratelimits[0].auto_apply);
    EXPECT_FALSE(r.ratelimits[0].id.empty());
  }
  VerifyResult limited = Verify(key);
  EXPECT_EQ(limited.code, VerifyCode::kRateLimited);
  EXPECT_TRUE(limited.ratelimits[0].exceeded);
  EXPECT_EQ(limited.ratelimits[0].reset_ms, kMinute);
  EXPECT_EQ(limited.retry_after_ms, 20'000);
  env_.Advance(20'000);
  EXPECT_EQ(Verify(key).code, VerifyCode::kValid);
  EXPECT_EQ(Verify(key).code, VerifyCode::kRateLimited);
}

TEST_F(RatelimitTest, ARefusedLimitSpendsNoCreditsAndMissingCreditsCountNoLimit) {
  std::string key = NewKey({Limit("requests", 2, kMinute)}, /*credits=*/10);
  EXPECT_EQ(Verify(key).code, VerifyCode::kValid);
  EXPECT_EQ(Verify(key).code, VerifyCode::kValid);
  VerifyResult limited = Verify(key);
  EXPECT_EQ(limited.code, VerifyCode::kRateLimited);
  EXPECT_EQ(*limited.key->credits().remaining, 8) << "no credit spent on a refused request";

  std::string poor = NewKey({Limit("requests", 5, kMinute)}, /*credits=*/1);
  EXPECT_EQ(Verify(poor).code, VerifyCode::kValid);
  for (int i = 0; i < 10; ++i) {
    VerifyResult r = Verify(poor);
    ASSERT_EQ(r.code, VerifyCode::kUsageExceeded);
    EXPECT_EQ(r.ratelimits[0].remaining, 4) << "not counted against the limit";
  }
}

TEST_F(RatelimitTest, SeveralLimitsAreAllOrNothing) {
  std::string key = NewKey({Limit("burst", 1, kMinute), Limit("hourly", 5, 60 * kMinute)});
  EXPECT_EQ(Verify(key).code, VerifyCode::kValid);
  VerifyResult r = Verify(key);
  EXPECT_EQ(r.code, VerifyCode::kRateLimited);
  ASSERT_EQ(r.ratelimits.size(), 2u);
  EXPECT_TRUE(r.ratelimits[0].exceeded);
  EXPECT_FALSE(r.ratelimits[1].exceeded);
  EXPECT_EQ(r.ratelimits[1].remaining, 4) << "the hourly limit took nothing for a refused request";
}

TEST_F(RatelimitTest, IdentityLimitsAreSharedAndAKeysLimitOfTheSameNameWins) {
  auto identity = svc_->CreateIdentity(
      root_, {.external_id = "acme", .ratelimits = {Limit("requests", 2, kMinute)}});
  ASSERT_TRUE(identity.ok()) << identity.status().message();
  std::string a = NewKey({}, {}, "acme");
  std::string b = NewKey({}, {}, "acme");
  EXPECT_EQ(Verify(a).code, VerifyCode::kValid);
  EXPECT_EQ(Verify(b).code, VerifyCode::kValid);
  EXPECT_EQ(Verify(a).code, VerifyCode::kRateLimited) << "two verifications of acme's keys";
  EXPECT_EQ(Verify(b).code, VerifyCode::kRateLimited);

  std::string own = NewKey({Limit("requests", 5, kMinute)}, {}, "acme");
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Verify(own).code, VerifyCode::kValid) << i;
  EXPECT_EQ(Verify(own).code, VerifyCode::kRateLimited);
}

TEST_F(RatelimitTest, NamedLimitsWithCostsAndOverrides) {
  std::string key = NewKey({Limit("tokens", 100, kMinute, /*auto_apply=*/false)});
  EXPECT_TRUE(Verify(key).ratelimits.empty()) << "not applied unless named";
  VerifyResult r = Verify(key, {{.name = "tokens", .cost = 60}});
  EXPECT_EQ(r.code, VerifyCode::kValid);
  EXPECT_EQ(r.ratelimits[0].remaining, 40);
  EXPECT_FALSE(r.ratelimits[0].auto_apply);
  EXPECT_EQ(Verify(key, {{.name = "tokens", .cost = 60}}).code, VerifyCode::kRateLimited);
  r = Verify(key, {{.name = "tokens", .cost = 0}});
  EXPECT_EQ(r.code, VerifyCode::kValid) << "cost 0 reads the limit";
  EXPECT_EQ(r.ratelimits[0].remaining, 40);
  r = Verify(key, {{.name = "tokens", .cost = 60, .limit = 1000}});
  EXPECT_EQ(r.code, VerifyCode::kValid) << "an override of the limit";
  EXPECT_EQ(r.ratelimits[0].limit, 1000);

  auto unknown = svc_->Verify(root_, {.key = key, .ratelimits = {{.name = "nope"}}});
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  auto twice =
      svc_->Verify(root_, {.key = key, .ratelimits = {{.name = "tokens"}, {.name = "tokens"}}});
  EXPECT_EQ(twice.status().code(), StatusCode::kInvalidArgument);
  r = Verify(key, {{.name = "search", .limit = 1, .duration_ms = kMinute}});
  EXPECT_EQ(r.code, VerifyCode::kValid) << "a limit given whole in the request";
  EXPECT_TRUE(r.ratelimits[0].id.empty());
  EXPECT_EQ(Verify(key, {{.name = "search", .limit = 1, .duration_ms = kMinute}}).code,
            VerifyCode::kRateLimited);
  EXPECT_EQ(Verify(key, {{.name = "blocked", .limit = 0, .duration_ms = kMinute}}).code,
            VerifyCode::kRateLimited)
      << "a limit of zero admits nothing";
}

TEST_F(RatelimitTest, DeniedRequestsCountNoLimit) {
  std::string key = NewKey({Limit("requests", 1, kMinute)});
  auto denied = svc_->Verify(root_, {.key = key, .permissions_query = "admin"});
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->code, VerifyCode::kInsufficientPermissions);
  EXPECT_EQ(Verify(key).code, VerifyCode::kValid);
}

TEST_F(RatelimitTest, ConcurrentVerificationsAdmitExactlyTheLimitAndTheCredits) {
  struct Counts {
    std::atomic<int> valid{0}, limited{0}, exhausted{0};
  };
  auto hammer = [&](const std::string& key, Counts& n) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 100; ++i) {
          auto r = svc_->Verify(root_, {.key = key});
          ASSERT_TRUE(r.ok());
          if (r->code == VerifyCode::kValid) ++n.valid;
          if (r->code == VerifyCode::kRateLimited) ++n.limited;
          if (r->code == VerifyCode::kUsageExceeded) ++n.exhausted;
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  Counts rich;
  hammer(NewKey({Limit("requests", 500, kMinute)}, /*credits=*/1000), rich);
  EXPECT_EQ(rich.valid.load(), 500);
  EXPECT_EQ(rich.limited.load(), 300);
  Counts poor;
  hammer(NewKey({Limit("requests", 500, kMinute)}, /*credits=*/400), poor);
  EXPECT_EQ(poor.valid.load(), 400) << "every credit, never more";
  EXPECT_EQ(poor.exhausted.load(), 400) << "refused for credits: not counted against the limit";
  EXPECT_EQ(poor.limited.load(), 0);
}

TEST_F(RatelimitTest, AnEndUserAddressThatKeepsFailingIsRefusedForAWhile) {
  BruteForceGuard guard({.threshold = 3, .window_ms = kMinute, .cooldown_ms = 5 * kMinute});
  std::vector<std::string> blocked;
  svc_->SetBruteForceGuard(
      &guard, [&](const std::string& address, int64_t, int64_t) { blocked.push_back(address); });
  std::string key = NewKey({});
  RequestContext user = root_;
  user.peer_ip = "10.0.0.1";  // a trusted proxy
  user.client_ip = "198.51.100.7";
  for (int i = 0; i < 3; ++i) {
    auto r = svc_->Verify(user, {.key = "hd_guess" + std::to_string(i)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->code, VerifyCode::kNotFound);
  }
  EXPECT_EQ(blocked, std::vector<std::string>{"198.51.100.7"});
  auto r = svc_->Verify(user, {.key = key});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->code, VerifyCode::kRateLimited) << "even a valid key, from that address";
  EXPECT_FALSE(r->key.has_value());
  EXPECT_EQ(r->retry_after_ms, 5 * kMinute);
  RequestContext other = user;
  other.client_ip = "198.51.100.8";
  EXPECT_EQ(svc_->Verify(other, {.key = key})->code, VerifyCode::kValid);
  // The application's own address (not forwarded) is never blocked.
  RequestContext app = root_;
  app.client_ip = app.peer_ip = "10.0.0.1";
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(svc_->Verify(app, {.key = "hd_guess" + std::to_string(i)})->code,
              VerifyCode::kNotFound);
  }
  EXPECT_EQ(svc_->Verify(app, {.key = key})->code, VerifyCode::kValid);
  env_.Advance(5 * kMinute);
  EXPECT_EQ(svc_->Verify(user, {.key = key})->code, VerifyCode::kValid);
  svc_->SetBruteForceGuard(nullptr, {});
}

// Failed token checks (the /v1 surface's) and failed verifications are one count per address.
TEST_F(RatelimitTest, FailedTokenChecksCountIntoTheSameGuard) {
  BruteForceGuard guard({.threshold = 3, .window_ms = kMinute, .cooldown_ms = 5 * kMinute});
  std::vector<std::string> blocked;
  svc_->SetBruteForceGuard(
      &guard, [&](const std::string& address, int64_t, int64_t) { blocked.push_back(address); });
  RequestContext user = root_;
  user.peer_ip = "10.0.0.1";  // a trusted proxy
  user.client_ip = "198.51.100.7";
  EXPECT_EQ(svc_->AuthenticateFrom(user, "hvs.guess").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(svc_->AuthenticateFrom(user, "khr_guess").status().code(),
            StatusCode::kUnauthenticated);
  EXPECT_EQ(svc_->AuthenticationBlockedForMs(user), 0);
  EXPECT_EQ(svc_->Verify(user, {.key = "hd_guess"})->code, VerifyCode::kNotFound);
  EXPECT_EQ(blocked, std::vector<std::string>{"198.51.100.7"});
  EXPECT_EQ(svc_->AuthenticationBlockedForMs(user), 5 * kMinute);
  EXPECT_EQ(svc_->Verify(user, {.key = NewKey({})})->code, VerifyCode::kRateLimited);
  // The application's own address is never counted nor blocked.
  RequestContext app = root_;
  app.client_ip = app.peer_ip = "10.0.0.1";
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(svc_->AuthenticateFrom(app, "hvs.guess").ok());
  EXPECT_EQ(svc_->AuthenticationBlockedForMs(app), 0);
  env_.Advance(5 * kMinute);
  EXPECT_EQ(svc_->AuthenticationBlockedForMs(user), 0);
  svc_->SetBruteForceGuard(nullptr, {});
  EXPECT_FALSE(svc_->AuthenticateFrom(user, "hvs.guess").ok());
  EXPECT_EQ(svc_->AuthenticationBlockedForMs(user), 0) << "no guard, no block";
}

TEST_F(RatelimitTest, StandaloneLimitsByNamespaceAndIdentifier) {
  bool passed = false;
  std::vector<LimitCheck> sms = {{.namespace_name = "sms.sign_up",
                                  .identifier = "+15550100",
                                  .limit = 2,
                                  .duration_ms = kMinute}};
  for (int64_t left = 1; left >= 0; --left) {
    auto r = svc_->Limit(root_, sms, &passed);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(passed);
    EXPECT_EQ((*r)[0].remaining, left);
    EXPECT_EQ((*r)[0].limit, 2);
  }
  auto r = svc_->Limit(root_, sms, &passed);
  EXPECT_FALSE(passed);
  EXPECT_FALSE((*r)[0].passed);
  EXPECT_EQ((*r)[0].reset_at_ms, env_.NowMillis() + kMinute);
  std::vector<LimitCheck> other = sms;
  other[0].identifier = "+15550101";
  ASSERT_TRUE(svc_->Limit(root_, other, &passed).ok());
  EXPECT_TRUE(passed) << "another identifier";

  // Several at once: all or nothing.
  std::vector<LimitCheck> both = {other[0],
                                  {.namespace_name = "email",
                                   .identifier = "a@b",
                                   .limit = 1,
                                   .duration_ms = kMinute,
                                   .cost = 2}};
  r = svc_->Limit(root_, both, &passed);
  EXPECT_FALSE(passed);
  EXPECT_TRUE((*r)[0].passed);
  EXPECT_EQ((*r)[0].remaining, 1) << "not taken: the other limit refused";
  EXPECT_FALSE((*r)[1].passed);

  // Least privilege, and bad input.
  auto scoped = svc_->CreateRootKey(root_, "sms", {"ratelimit.sms.sign_up.limit"});
  ASSERT_TRUE(scoped.ok()) << scoped.status().message();
  RequestContext sms_only = root_;
  sms_only.actor = *svc_->Authenticate(scoped->key.Reveal());
  EXPECT_TRUE(svc_->Limit(sms_only, other, &passed).ok());
  EXPECT_EQ(svc_->Limit(sms_only, both, &passed).status().code(), StatusCode::kPermissionDenied);
  std::vector<LimitCheck> bad = sms;
  bad[0].identifier = "a\nb";
  EXPECT_EQ(svc_->Limit(root_, bad, &passed).status().code(), StatusCode::kInvalidArgument);
  bad = sms;
  bad[0].duration_ms = 10;
  EXPECT_EQ(svc_->Limit(root_, bad, &passed).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->Limit(root_, {}, &passed).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyhold::service
