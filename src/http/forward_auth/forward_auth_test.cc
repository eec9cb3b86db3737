// The /forward-auth surface against a real key service: what each decision answers.
#include "http/forward_auth/forward_auth.h"

#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::http::forward_auth {
namespace {

class ForwardAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/f.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto svc = service::KeyService::Open(*store_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    auto root = svc_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    root_ = {.request_id = "req_t",
             .client_ip = "127.0.0.1",
             .actor = *svc_->Authenticate(root->key.Reveal())};
    api_ = svc_->CreateApi(root_, {.name = "helpdesk"})->id;
    other_api_ = svc_->CreateApi(root_, {.name = "other"})->id;
  }

  std::string NewKey(std::string api, std::vector<std::string> perms = {},
                     std::optional<int64_t> credits = {}) {
    service::CreateKeyRequest req{.api_id = api,
                                  .name = "desk\xC3\xA9",
                                  .external_id = "cust_42",
                                  .meta_json = R"({"plan":"pro","city":"Z\u00fcrich"})",
                                  .permissions = perms};
    if (credits) req.credits = CreditsState{.remaining = credits};
    auto k = svc_->CreateKey(root_, std::move(req));
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::string(k->key.Reveal());
  }

  ForwardAuth Surface(std::vector<RouteRule> routes, bool nginx = false, int64_t threshold = 0) {
    ForwardAuthOptions o;
    o.api_ids = {api_};
    o.key_sources = {.header = "x-api-key", .query_param = "api_key"};
    o.routes = std::make_shared<const RouteTable>(std::move(routes), RouteRule{.cost = 0});
    o.nginx_mode = nginx;
    o.brute_force = {.threshold = threshold, .window_ms = 60'000, .cooldown_ms = 120'000};
    o.on_block = [this](const std::string&, int64_t, int64_t) { ++blocks_; };
    return ForwardAuth(*svc_, env_, std::move(o));
  }

  HttpResponse Ask(ForwardAuth& fa, std::vector<std::pair<std::string, std::string>> headers,
                   std::string client = "198.51.100.7") {
    HttpRequest req{.method = "GET", .target = "/forward-auth", .headers = std::move(headers)};
    RequestContext ctx{.request_id = "req_1", .client_ip = client, .peer_ip = "127.0.0.1"};
    ctx.may_block = false;
    HttpResponse r = fa.Handle(ctx, req);
    if (r.run_on_worker) {
      ctx.may_block = true;
      r = fa.Handle(ctx, req);
    }
    last_route_ = ctx.route;
    return r;
  }

  static std::string H(const HttpResponse& r, std::string_view name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "<absent>";
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<service::KeyService> svc_;
  RequestContext root_;
  std::string api_;
  std::string other_api_;
  std::string last_route_;
  int blocks_ = 0;
};

TEST_F(ForwardAuthTest, AllowedSendsEveryIdentityHeader) {
  ForwardAuth fa = Surface({});
  std::string key = NewKey(api_, {"tickets.read"}, 10);
  HttpResponse r =
      Ask(fa, {{"x-original-uri", "/tickets?api_key=" + key}, {"authorization", "Bearer " + key}});
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(H(r, "X-Keyhold-Api-Id"), api_);
  EXPECT_EQ(H(r, "X-Keyhold-Key-Id").substr(0, 4), "key_");
  EXPECT_EQ(H(r, "X-Keyhold-Identity"), "cust_42");
  EXPECT_EQ(H(r, "X-Keyhold-Permissions"), "tickets.read");
  EXPECT_EQ(H(r, "X-Keyhold-Roles"), "");
  EXPECT_EQ(H(r, "X-Keyhold-Key-Name"), "desk%C3%A9");
  EXPECT_EQ(H(r, "X-Keyhold-Meta"), R"({"city":"Z\u00fcrich","plan":"pro"})");
  EXPECT_EQ(H(r, "X-Keyhold-Credits-Remaining"), "10");  // the default rule here costs 0
  EXPECT_EQ(last_route_, "GET /tickets");
}

TEST_F(ForwardAuthTest, MissingAndUnknownKeysAre401WithAChallenge) {
  ForwardAuth fa = Surface({});
  HttpResponse none = Ask(fa, {{"x-original-uri", "/tickets"}});
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(H(none, "WWW-Authenticate"), R"(Bearer realm="keyhold")");
  EXPECT_EQ(H(none, "X-Keyhold-Code"), "MISSING_KEY");
  EXPECT_TRUE(none.body.empty());
  HttpResponse bad = Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", "hd_nothing"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(H(bad, "WWW-Authenticate"), R"(Bearer realm="keyhold", error="invalid_token")");
  EXPECT_EQ(H(bad, "X-Keyhold-Code"), "NOT_FOUND");
  EXPECT_EQ(H(bad, "X-Keyhold-Key-Id"), "<absent>");
  // A key of an API not accepted is as unknown as no key at all.
  HttpResponse other = Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", NewKey(other_api_)}});
  EXPECT_EQ(other.status, 401);
  EXPECT_EQ(H(other, "X-Keyhold-Code"), "NOT_FOUND");
}

TEST_F(ForwardAuthTest, TwoDifferentKeysAre401) {
  ForwardAuth fa = Surface({});
  std::string a = NewKey(api_);
  std::string b = NewKey(api_);
  HttpResponse r =
      Ask(fa, {{"x-original-uri", "/t?api_key=" + b}, {"authorization", "Bearer " + a}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(H(r, "X-Keyhold-Code"), "CONFLICTING_KEYS");
}

TEST_F(ForwardAuthTest, RouteRulesChoosePermissions) {
  ForwardAuth fa =
      Surface({{.methods = {"DELETE"}, .path = "/tickets/*", .permissions = "tickets.delete"},
               {.path = "/tickets/**", .permissions = "tickets.read"},
               {.path = "/health", .anonymous = true}});
  std::string key = NewKey(api_, {"tickets.read"});
  auto ask = [&](std::string method, std::string uri) {
    return Ask(fa, {{"x-forwarded-method", method}, {"x-forwarded-uri", uri}, {"x-api-key", key}});
  };
  EXPECT_EQ(ask("GET", "/tickets/7").status, 200);
  HttpResponse del = ask("DELETE", "/tickets/7");
  EXPECT_EQ(del.status, 403);
  EXPECT_EQ(H(del, "X-Keyhold-Code"), "INSUFFICIENT_PERMISSIONS");
  EXPECT_EQ(ask("DELETE", "/tickets/./x/../7").status, 403) << "normalized before matching";
  HttpResponse health = Ask(fa, {{"x-original-uri", "/health"}, {"x-keyhold-key-id", "forged"}});
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(H(health, "X-Keyhold-Key-Id"), "") << "sent empty, so a forged copy is replaced";
}

TEST_F(ForwardAuthTest, RateLimitedIs429WithRetryAfterAndIetfFields) {
  ForwardAuth fa = Surface(
      {{.path = "/**", .ratelimits = {{.name = "burst", .limit = 2, .duration_ms = 60'000}}}});
  std::string key = NewKey(api_);
  std::vector<std::pair<std::string, std::string>> h = {{"x-original-uri", "/t"},
                                                        {"x-api-key", key}};
  HttpResponse first = Ask(fa, h);
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(H(first, "RateLimit-Policy"), R"("burst";q=2;w=60)");
  EXPECT_EQ(H(first, "RateLimit"), R"("burst";r=1;t=30)");
  EXPECT_EQ(Ask(fa, h).status, 200);
  HttpResponse r = Ask(fa, h);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(H(r, "X-Keyhold-Code"), "RATE_LIMITED");
  EXPECT_EQ(H(r, "Retry-After"), "30");
  EXPECT_EQ(H(r, "RateLimit"), R"("burst";r=0;t=60)");
  EXPECT_EQ(H(r, "X-Keyhold-Status"), "<absent>");
}

TEST_F(ForwardAuthTest, NginxModeAnswers429As403) {
  ForwardAuth fa = Surface(
      {{.path = "/**", .ratelimits = {{.name = "one", .limit = 1, .duration_ms = 1000}}}}, true);
  std::string key = NewKey(api_);
  std::vector<std::pair<std::string, std::string>> h = {{"x-original-uri", "/t"},
                                                        {"x-api-key", key}};
  EXPECT_EQ(Ask(fa, h).status, 200);
  HttpResponse r = Ask(fa, h);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(H(r, "X-Keyhold-Status"), "429");
  EXPECT_EQ(H(r, "Retry-After"), "1");
  HttpResponse bad = Ask(fa, {{"x-api-key", key}});
  EXPECT_EQ(bad.status, 403);
  EXPECT_EQ(H(bad, "X-Keyhold-Status"), "400");
  EXPECT_EQ(H(bad, "X-Keyhold-Code"), "BAD_ORIGINAL_REQUEST");
  EXPECT_EQ(Ask(fa, {{"x-original-uri", "/t"}}).status, 401) << "nginx passes 401 itself";
}

TEST_F(ForwardAuthTest, CreditsAreSpentOnAWorker) {
  ForwardAuth fa = Surface({{.path = "/**", .cost = 3}});
  std::string key = NewKey(api_, {}, 5);
  std::vector<std::pair<std::string, std::string>> h = {{"x-original-uri", "/t"},
                                                        {"x-api-key", key}};
  HttpResponse r = Ask(fa, h);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(H(r, "X-Keyhold-Credits-Remaining"), "2");
  HttpResponse out = Ask(fa, h);
  EXPECT_EQ(out.status, 403);
  EXPECT_EQ(H(out, "X-Keyhold-Code"), "USAGE_EXCEEDED");
}

TEST_F(ForwardAuthTest, GuessingFromOneForwardedAddressIsBlocked) {
  ForwardAuth fa = Surface({}, false, 3);
  std::string key = NewKey(api_);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(
        Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", "hd_guess" + std::to_string(i)}}).status,
        401);
  }
  EXPECT_EQ(blocks_, 1);
  HttpResponse r = Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", key}});
  EXPECT_EQ(r.status, 429) << "even with a valid key, for the cool-down";
  EXPECT_EQ(H(r, "Retry-After"), "120");
  EXPECT_EQ(Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", key}}, "198.51.100.8").status, 200);
  // The proxy itself (no forwarded address) is never blocked: it speaks for every user.
  for (int i = 0; i < 5; ++i) {
    Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", "hd_guess"}}, "127.0.0.1");
  }
  EXPECT_EQ(Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", key}}, "127.0.0.1").status, 200);
  env_.Advance(120'001);
  EXPECT_EQ(Ask(fa, {{"x-original-uri", "/t"}, {"x-api-key", key}}).status, 200);
}

TEST_F(ForwardAuthTest, EnvoyPathsBelongToTheSurface) {
  ForwardAuth fa = Surface({});
  EXPECT_EQ(fa.RouteIndex("/forward-auth"), 0);
  EXPECT_EQ(fa.RouteIndex("/forward-auth/tickets/7"), 0);
  EXPECT_EQ(fa.RouteIndex("/forward-authx"), -1);
  std::string key = NewKey(api_);
  HttpRequest req{.method = "DELETE",
                  .target = "/forward-auth/tickets/7",
                  .headers = {{"authorization", "Bearer " + key}}};
  RequestContext ctx{.request_id = "req_1", .client_ip = "10.0.0.1", .peer_ip = "10.0.0.1"};
  EXPECT_EQ(fa.Handle(ctx, req).status, 200);
  EXPECT_EQ(ctx.route, "DELETE /tickets/7");
}

}  // namespace
}  // namespace keyhold::http::forward_auth
