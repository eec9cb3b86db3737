// Rebuilding the proxied request and finding its key, for each proxy's way of describing it.
#include "http/forward_auth/original_request.h"

#include <gtest/gtest.h>

namespace keyhold::http::forward_auth {
namespace {

HttpRequest Req(std::string method, std::string target,
                std::vector<std::pair<std::string, std::string>> headers) {
  return {.method = std::move(method), .target = std::move(target), .headers = std::move(headers)};
}

TEST(OriginalRequestTest, NginxHeaders) {
  auto o = RebuildOriginal(Req("GET", "/forward-auth",
                               {{"x-original-uri", "/tickets/7?x=1"},
                                {"x-original-method", "delete"},
                                {"host", "API.example.com"}}),
                           "/forward-auth");
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_EQ(o->method, "DELETE");
  EXPECT_EQ(o->path, "/tickets/7");
  EXPECT_EQ(o->query, "x=1");
  EXPECT_EQ(o->host, "api.example.com");
}

TEST(OriginalRequestTest, TraefikAndCaddyHeaders) {
  auto o = RebuildOriginal(Req("GET", "/forward-auth",
                               {{"x-forwarded-method", "POST"},
                                {"x-forwarded-uri", "/tickets"},
                                {"x-forwarded-host", "app.example.com"},
                                {"host", "keyhold:8080"}}),
                           "/forward-auth");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->method, "POST");
  EXPECT_EQ(o->path, "/tickets");
  EXPECT_EQ(o->host, "app.example.com");
}

TEST(OriginalRequestTest, EnvoyPathAfterThePrefix) {
  auto o =
      RebuildOriginal(Req("PATCH", "/forward-auth/tickets/9?api_key=abc", {}), "/forward-auth");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->method, "PATCH");
  EXPECT_EQ(o->path, "/tickets/9");
  EXPECT_EQ(o->query, "api_key=abc");
}

TEST(OriginalRequestTest, NothingNamesTheUri) {
  auto o = RebuildOriginal(Req("GET", "/forward-auth", {}), "/forward-auth");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().reason(), "forward_auth/no_original_uri");
  EXPECT_FALSE(RebuildOriginal(Req("GET", "/forward-auth?x=1", {}), "/forward-auth").ok());
}

TEST(OriginalRequestTest, TwoSourcesThatDisagreeAreRefused) {
  // Behind Traefik a client can add X-Original-URI; Traefik sets X-Forwarded-Uri itself.
  auto o = RebuildOriginal(
      Req("GET", "/forward-auth", {{"x-original-uri", "/public"}, {"x-forwarded-uri", "/admin"}}),
      "/forward-auth");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().reason(), "forward_auth/conflicting_original");
  auto m = RebuildOriginal(Req("GET", "/forward-auth",
                               {{"x-original-uri", "/a"},
                                {"x-original-method", "GET"},
                                {"x-forwarded-method", "DELETE"}}),
                           "/forward-auth");
  EXPECT_EQ(m.status().reason(), "forward_auth/conflicting_original");
  auto same = RebuildOriginal(
      Req("GET", "/forward-auth", {{"x-original-uri", "/a"}, {"x-forwarded-uri", "/a"}}),
      "/forward-auth");
  EXPECT_TRUE(same.ok());
}

// Behind Envoy the path and method are the proxy's own; a client that adds nginx's or Traefik's
// headers must not choose another route's rule with them.
TEST(OriginalRequestTest, HeadersThatContradictEnvoysPathOrMethodAreRefused) {
  for (const char* header : {"x-original-uri", "x-forwarded-uri"}) {
    auto o = RebuildOriginal(Req("GET", "/forward-auth/admin/x", {{header, "/status"}}),
                             "/forward-auth");
    ASSERT_FALSE(o.ok()) << header;
    EXPECT_EQ(o.status().reason(), "forward_auth/conflicting_original");
  }
  for (const char* header : {"x-original-method", "x-forwarded-method"}) {
    auto o =
        RebuildOriginal(Req("DELETE", "/forward-auth/x/1", {{header, "GET"}}), "/forward-auth");
    ASSERT_FALSE(o.ok()) << header;
    EXPECT_EQ(o.status().reason(), "forward_auth/conflicting_original");
  }
  // The same request described both ways is that request.
  auto same =
      RebuildOriginal(Req("DELETE", "/forward-auth/x/./1?a=b",
                          {{"x-forwarded-uri", "/x/1?a=b"}, {"x-forwarded-method", "delete"}}),
                      "/forward-auth");
  ASSERT_TRUE(same.ok()) << same.status().message();
  EXPECT_EQ(same->method, "DELETE");
  EXPECT_EQ(same->path, "/x/1");
}

TEST(OriginalRequestTest, NamingTheProxyIgnoresEveryOtherHeader) {
  HttpRequest req = Req("GET", "/forward-auth/envoy/path",
                        {{"x-original-uri", "/public"},
                         {"x-original-method", "GET"},
                         {"x-forwarded-uri", "/admin"},
                         {"x-forwarded-method", "DELETE"},
                         {"x-forwarded-host", "forged.example.com"},
                         {"host", "app.example.com"}});
  auto nginx = RebuildOriginal(req, "/forward-auth", OriginalSource::kXOriginal);
  ASSERT_TRUE(nginx.ok());
  EXPECT_EQ(nginx->path, "/public");
  EXPECT_EQ(nginx->host, "app.example.com");
  auto traefik = RebuildOriginal(req, "/forward-auth", OriginalSource::kXForwarded);
  ASSERT_TRUE(traefik.ok());
  EXPECT_EQ(traefik->path, "/admin");
  EXPECT_EQ(traefik->method, "DELETE");
  EXPECT_EQ(traefik->host, "forged.example.com");
  auto envoy = RebuildOriginal(req, "/forward-auth", OriginalSource::kPath);
  ASSERT_TRUE(envoy.ok());
  EXPECT_EQ(envoy->path, "/envoy/path");
  EXPECT_EQ(envoy->method, "GET");
  EXPECT_EQ(RebuildOriginal(req, "/forward-auth").status().reason(),
            "forward_auth/conflicting_original");
  // nginx named, but only Traefik's header sent: nothing names the URI.
  auto missing = RebuildOriginal(Req("GET", "/forward-auth", {{"x-forwarded-uri", "/a"}}),
                                 "/forward-auth", OriginalSource::kXOriginal);
  EXPECT_EQ(missing.status().reason(), "forward_auth/no_original_uri");
}

TEST(OriginalRequestTest, BadMethodIsRefused) {
  auto o = RebuildOriginal(
      Req("GET", "/forward-auth", {{"x-original-uri", "/a"}, {"x-original-method", "GE T"}}),
      "/forward-auth");
  EXPECT_EQ(o.status().reason(), "forward_auth/bad_original_uri");
}

TEST(NormalizePathTest, DecodesAndResolvesSegments) {
  EXPECT_EQ(*NormalizePath("/a//b/./c/../d%2Fe"), "/a/b/d/e");
  EXPECT_EQ(*NormalizePath("/public/..%2Fadmin"), "/admin");
  EXPECT_EQ(*NormalizePath("/tickets/"), "/tickets/");
  EXPECT_EQ(*NormalizePath("/"), "/");
  EXPECT_EQ(*NormalizePath("/a/.."), "/");
  EXPECT_EQ(*NormalizePath("http://host:81/x/y"), "/x/y");
  EXPECT_EQ(*NormalizePath("/%7Euser"), "/~user");
}

TEST(NormalizePathTest, RefusesWhatCannotBeMatchedSafely) {
  EXPECT_FALSE(NormalizePath("tickets").ok());
  EXPECT_FALSE(NormalizePath("/a/%zz").ok());
  EXPECT_FALSE(NormalizePath("/a/%4").ok());
  EXPECT_FALSE(NormalizePath("/a%00b").ok());
  EXPECT_FALSE(NormalizePath("/a%0d%0aX: y").ok());
  EXPECT_FALSE(NormalizePath("/../etc/passwd").ok());
  EXPECT_FALSE(NormalizePath("/a/../../b").ok());
  EXPECT_FALSE(NormalizePath("/" + std::string(9000, 'a')).ok());
}

OriginalRequest WithQuery(std::string q) { return {.method = "GET", .path = "/", .query = q}; }

// A backend that reads ';' as path parameters would serve /admin/x for "/admin;/x": refused.
TEST(NormalizePathTest, PathParametersAreRefused) {
  for (const char* uri : {"/admin;/x", "/admin;jsessionid=1/x", "/a/b%3Bc"}) {
    auto p = NormalizePath(uri);
    ASSERT_FALSE(p.ok()) << uri;
    EXPECT_EQ(p.status().reason(), "forward_auth/bad_original_uri");
  }
}

TEST(ExtractKeyTest, BearerHeaderOrQuery) {
  KeySources src{.header = "x-api-key", .query_param = "api_key"};
  EXPECT_EQ(*ExtractKey(Req("GET", "/", {{"authorization", "Bearer hd_abc"}}), WithQuery(""), src),
            "hd_abc");
  EXPECT_EQ(
      *ExtractKey(Req("GET", "/", {{"authorization", "bearer   hd_abc "}}), WithQuery(""), src),
      "hd_abc");
  EXPECT_EQ(*ExtractKey(Req("GET", "/", {{"x-api-key", "hd_abc"}}), WithQuery(""), src), "hd_abc");
  EXPECT_EQ(*ExtractKey(Req("GET", "/", {}), WithQuery("a=1&api_key=hd%5Fabc"), src), "hd_abc");
  EXPECT_EQ(
      *ExtractKey(Req("GET", "/", {{"authorization", "Basic dXNlcjpwdw=="}}), WithQuery(""), src),
      "");
  EXPECT_EQ(*ExtractKey(Req("GET", "/", {}),
                        WithQuery("api_keyx=1"
                                  "&xapi_key=2"),
                        src),
            "");
}

TEST(ExtractKeyTest, SourcesNotConfiguredAreNotRead) {
  KeySources bearer_only;
  EXPECT_EQ(*ExtractKey(Req("GET", "/", {{"x-api-key", "hd_abc"}}), WithQuery("api_key=hd_abc"),
                        bearer_only),
            "");
}

TEST(ExtractKeyTest, TheSameKeyTwiceIsOneKey) {
  KeySources src{.header = "x-api-key", .query_param = "api_key"};
  auto k =
      ExtractKey(Req("GET", "/", {{"authorization", "Bearer hd_abc"}, {"x-api-key", "hd_abc"}}),
                 WithQuery("api_key=hd_abc"), src);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(*k, "hd_abc");
}

TEST(ExtractKeyTest, TwoDifferentKeysAreRefused) {
  KeySources src{.header = "x-api-key", .query_param = "api_key"};
  for (auto [req, q] : std::vector<std::pair<HttpRequest, std::string>>{
           {Req("GET", "/", {{"authorization", "Bearer hd_a"}, {"x-api-key", "hd_b"}}), ""},
           {Req("GET", "/", {{"authorization", "Bearer hd_a"}}), "api_key=hd_b"},
           {Req("GET", "/", {}), "api_key=hd_a&api_key=hd_b"},
           {Req("GET", "/", {{"authorization", "Bearer hd_a"}, {"authorization", "Bearer hd_b"}}),
            ""},
       }) {
    auto k = ExtractKey(req, WithQuery(q), src);
    ASSERT_FALSE(k.ok());
    EXPECT_EQ(k.status().code(), StatusCode::kUnauthenticated);
    EXPECT_EQ(k.status().reason(), "authentication/conflicting_keys");
  }
}

}  // namespace
}  // namespace keyhold::http::forward_auth
