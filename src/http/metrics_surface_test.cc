#include "http/metrics_surface.h"

#include <gtest/gtest.h>

#include <thread>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "http/health.h"
#include "http/http_metrics.h"
#include "http/vault/vault_api.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::http {
namespace {

Principal Holding(std::vector<std::string> permissions) {
  return {.key_id = "key_1", .permissions = std::move(permissions)};
}

TEST(MetricsAccess, ParsesTheThreeModes) {
  EXPECT_EQ(ParseMetricsAccess("loopback").value(), MetricsAccess::kLoopback);
  EXPECT_EQ(ParseMetricsAccess("open").value(), MetricsAccess::kOpen);
  EXPECT_EQ(ParseMetricsAccess("root-key").value(), MetricsAccess::kRootKey);
  EXPECT_EQ(ParseMetricsAccess("Open").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseMetricsAccess("").status().code(), StatusCode::kInvalidArgument);
}

TEST(MetricsAccess, LoopbackLooksAtTheSocketPeerOnly) {
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "127.0.0.1", {}), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "::1", {}), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "::ffff:127.0.0.1", {}), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "10.1.2.3", {}), 403);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "2001:db8::1", {}), 403);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "", {}), 403);
  // Not even a root key with every permission opens loopback-only metrics to another host.
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kLoopback, "10.1.2.3", Holding({"*"})), 403);
}

TEST(MetricsAccess, OpenLetsAnyoneIn) {
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kOpen, "203.0.113.9", {}), 0);
}

TEST(MetricsAccess, RootKeyNeedsTheMetricsPermission) {
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "127.0.0.1", {}), 401);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "10.0.0.1", Holding({"*"})), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "10.0.0.1", Holding({"metrics.*.read"})), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "10.0.0.1", Holding({"metrics.*"})), 0);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "10.0.0.1", Holding({"audit.read"})), 403);
  EXPECT_EQ(MetricsRefusal(MetricsAccess::kRootKey, "10.0.0.1", Holding({"metrics.a.read"})), 403);
}

// A real key service in a temporary store, for the root-key mode.
class MetricsSurfaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::Open(dir_.path() + "/m.db");
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auto keys = service::KeyService::Open(*store_, env_);
    ASSERT_TRUE(keys.ok());
    keys_ = std::move(keys).value();
    auto root = keys_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    root_ = std::string(root->key.Reveal());
    registry_.AddCounter("test_total", "T.").With({}).Inc();
  }

  HttpResponse Get(MetricsSurface& surface, const std::string& peer,
                   const std::string& authorization = "", const std::string& method = "GET") {
    RequestContext ctx{.request_id = "req_1", .client_ip = peer, .peer_ip = peer};
    HttpRequest req{.method = method, .target = "/metrics"};
    if (!authorization.empty()) req.headers.emplace_back("authorization", authorization);
    return surface.Handle(ctx, req);
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<service::KeyService> keys_;
  std::string root_;
  metrics::Registry registry_;
};

TEST_F(MetricsSurfaceTest, ServesTheExpositionToLoopbackPeers) {
  MetricsSurface surface(registry_, MetricsAccess::kLoopback, *keys_);
  HttpResponse ok = Get(surface, "127.0.0.1");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, registry_.Render());
  ASSERT_EQ(ok.headers.size(), 1u);
  EXPECT_EQ(ok.headers[0].second, "text/plain; version=0.0.4; charset=utf-8");
  HttpResponse refused = Get(surface, "192.0.2.1");
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("\"reason\":\"authorization/forbidden\""), std::string::npos);
  EXPECT_EQ(refused.body.find("test_total"), std::string::npos);
  EXPECT_EQ(Get(surface, "127.0.0.1", "", "POST").status, 405);
  EXPECT_EQ(Get(surface, "127.0.0.1", "", "HEAD").status, 200);
}

TEST_F(MetricsSurfaceTest, RootKeyModeAuthenticatesAndChecksThePermission) {
  MetricsSurface surface(registry_, MetricsAccess::kRootKey, *keys_);
  EXPECT_EQ(Get(surface, "127.0.0.1").status, 401);
  EXPECT_EQ(Get(surface, "127.0.0.1", "Bearer not-a-key").status, 401);
  EXPECT_EQ(Get(surface, "127.0.0.1", "Basic abc").status, 401);
  EXPECT_EQ(Get(surface, "192.0.2.1", "Bearer " + root_).status, 200);

  RequestContext admin{.request_id = "req_0"};
  admin.actor = keys_->Authenticate(root_).value();
  auto narrow = keys_->CreateRootKey(admin, "audit-reader", {"audit.read"});
  ASSERT_TRUE(narrow.ok());
  HttpResponse forbidden = Get(surface, "127.0.0.1", "Bearer " + std::string(narrow->key.Reveal()));
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_NE(forbidden.body.find("metrics.*.read"), std::string::npos);

  auto reader = keys_->CreateRootKey(admin, "scraper", {"metrics.*.read"});
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(Get(surface, "192.0.2.1", "Bearer " + std::string(reader->key.Reveal())).status, 200);
}

TEST(HttpMetrics, LabelsComeFromRouteTablesNeverFromThePath) {
  testing::FakeEnv env;
  HealthSurface health("1.0");
  vault::VaultApi vault({.version = "1.0"}, env);
  Router router;
  router.Mount("/v1/", vault);
  router.Mount("/health", health);
  metrics::Registry registry;
  HttpMetrics m(registry, router);
  auto record = [&](std::string target, int status) {
    HttpRequest req{.method = "GET", .target = std::move(target)};
    m.Record(req, status, std::chrono::microseconds(1500), 10);
  };
  record("/v1/sys/health", 200);
  record("/v1/sys/health?x=1", 200);
  record("/v1/secret/data/hd_SECRETLOOKING123?token=khr_abc", 404);
  record("/v1/secret/hd_SECRETLOOKING456/x", 404);
  record("/nowhere/khr_abcdef", 404);
  record("", 503);
  record("/health/khr_zzz", 404);
  std::string text = registry.Render();
  EXPECT_NE(text.find("keyhold_http_requests_total{surface=\"vault\",route=\"sys/health\","
                      "status=\"200\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "keyhold_http_requests_total{surface=\"vault\",route=\"unmatched\",status=\"404\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "keyhold_http_requests_total{surface=\"vault\",route=\"kv/data\",status=\"404\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "keyhold_http_requests_total{surface=\"none\",route=\"unmatched\",status=\"404\"} 1\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "keyhold_http_requests_total{surface=\"none\",route=\"unmatched\",status=\"503\"} 1\n"),
      std::string::npos);
  EXPECT_NE(text.find("keyhold_http_requests_total{surface=\"health\",route=\"unmatched\","
                      "status=\"404\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("keyhold_http_request_duration_seconds_bucket{surface=\"vault\",route=\"sys/"
                      "health\",le=\"0.0025\"} 2\n"),
            std::string::npos);
  for (const char* leaked : {"SECRET", "khr_", "token", "nowhere", "x=1"}) {
    EXPECT_EQ(text.find(leaked), std::string::npos) << leaked;
  }
}

// Threads meeting a route and status for the first time together share one child (TSan checks
// the lazy creation).
TEST(HttpMetrics, ConcurrentRecordsOfNewRoutesAreAllCounted) {
  testing::FakeEnv env;
  vault::VaultApi vault({.version = "1.0"}, env);
  Router router;
  router.Mount("/v1/", vault);
  metrics::Registry registry;
  HttpMetrics m(registry, router);
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      HttpRequest req{.method = "GET", .target = "/v1/sys/health"};
      for (int i = 0; i < kEach; ++i) m.Record(req, i % 2 ? 200 : 503, {}, 0);
    });
  }
  std::thread renderer([&] {
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(registry.Render().empty());
  });
  for (auto& t : threads) t.join();
  renderer.join();
  std::string text = registry.Render();
  for (const char* status : {"200", "503"}) {
    std::string series =
        "keyhold_http_requests_total{surface=\"vault\",route=\"sys/health\",status=\"" +
        std::string(status) + "\"} " + std::to_string(kThreads * kEach / 2) + "\n";
    EXPECT_NE(text.find(series), std::string::npos) << series << text;
  }
  EXPECT_NE(text.find("keyhold_http_request_duration_seconds_count{surface=\"vault\",route=\"sys/"
                      "health\"} " +
                      std::to_string(kThreads * kEach) + "\n"),
            std::string::npos);
}

}  // namespace
}  // namespace keyhold::http
