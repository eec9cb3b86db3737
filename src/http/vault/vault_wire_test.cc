#include "http/vault/vault_wire.h"

#include <gtest/gtest.h>

#include "http/vault/vault_api.h"
#include "service/secrets.h"

namespace keyhold::http::vault {
namespace {

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

// A read refused because too many wait for their audit entries is Vault's 503, and says when to
// retry; a 503 for an audit entry that could not be written does not promise a time.
TEST(VaultWire, BackloggedReadsAre503WithRetryAfter) {
  HttpResponse busy = ErrorOf(Unavailable("too many secret reads are waiting",
                                          std::string(service::kReadsBackloggedReason)));
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.body, R"({"errors":["too many secret reads are waiting"]})");
  EXPECT_EQ(HeaderOf(busy, "Retry-After"), "1");
  HttpResponse failing = ErrorOf(Unavailable("the store could not be written"));
  EXPECT_EQ(failing.status, 503);
  EXPECT_EQ(HeaderOf(failing, "Retry-After"), "");
}

TEST(VaultWire, SplitsKvPaths) {
  auto r = ParseKvPath("secret/data/helpdesk/smtp");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mount, "secret");
  EXPECT_EQ(r->kind, "data");
  EXPECT_EQ(r->path, "helpdesk/smtp");
  auto config = ParseKvPath("secret/config");
  ASSERT_TRUE(config);
  EXPECT_EQ(config->kind, "config");
  EXPECT_EQ(config->path, "");
  EXPECT_EQ(ParseKvPath("secret/metadata/dir/")->path, "dir/");
  EXPECT_EQ(ParseKvPath("secret/data/a%2Fb")->path, "a/b");
  EXPECT_FALSE(ParseKvPath("secret"));
  EXPECT_TRUE(ParseKvPath("secret/data/a%2")->malformed);
  EXPECT_TRUE(ParseKvPath("secret/data/a%00b")->malformed);
  EXPECT_FALSE(ParseKvPath("secret/data/a%2Fb")->malformed);
  // The mount and kind decode as the path does, with the same refusals.
  auto encoded = ParseKvPath("sec%72et/d%61ta/a");
  ASSERT_TRUE(encoded);
  EXPECT_FALSE(encoded->malformed);
  EXPECT_EQ(encoded->mount, "secret");
  EXPECT_EQ(encoded->kind, "data");
  EXPECT_TRUE(ParseKvPath("sec%zzret/data/a")->malformed);
  EXPECT_TRUE(ParseKvPath("secret%00/data/a")->malformed);
  EXPECT_TRUE(ParseKvPath("secret%/data/a")->malformed);
  EXPECT_TRUE(ParseKvPath("secret/dat%0/a")->malformed);
}

// The value of a parameter that was found and decoded.
std::optional<std::string> Found(std::string_view target, std::string_view name) {
  auto v = QueryParam(target, name);
  EXPECT_TRUE(v.ok()) << target << ": " << v.status().message();
  return v.ok() ? *v : std::nullopt;
}

TEST(VaultWire, QueryParameters) {
  EXPECT_EQ(Found("/v1/s/data/x?version=3", "version"), "3");
  EXPECT_EQ(Found("/v1/s/metadata/x?a=1&list=true", "list"), "true");
  EXPECT_EQ(Found("/v1/s/metadata/x?list", "list"), "");
  EXPECT_FALSE(Found("/v1/s/data/x", "version"));
  EXPECT_FALSE(Found("/v1/s/data/x?versions=1", "version"));
  EXPECT_EQ(Found("/v1/s/data/x?version=1&version=2", "version"), "1");  // the first, as Go
  EXPECT_EQ(Found("/v1/s/data/x?&&version=4&", "version"), "4");
}

TEST(VaultWire, QueryNamesAndValuesDecodeAsGoDoes) {
  EXPECT_EQ(Found("/v1/s/data/x?ver%73ion=1", "version"), "1");
  EXPECT_EQ(Found("/v1/s/data/x?%76%65%72%73%69%6F%6E=%32", "version"), "2");
  EXPECT_EQ(Found("/v1/s/data/x?a+b=c+d%2B", "a b"), "c d+");
  EXPECT_EQ(QueryUnescape("a+b%20c"), "a b c");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");  // a path keeps its '+'
}

TEST(VaultWire, SystemPathsDecodeAsKvPathsDo) {
  EXPECT_EQ(ParseSystemPath("sys/health")->path, "sys/health");
  EXPECT_EQ(ParseSystemPath("%73ys/health")->path, "sys/health");
  EXPECT_EQ(ParseSystemPath("sys/%68ealth")->path, "sys/health");
  EXPECT_EQ(ParseSystemPath("sys%2Fhealth")->path, "sys/health");
  EXPECT_EQ(ParseSystemPath("auth/token/lookup%2Dself")->path, "auth/token/lookup-self");
  EXPECT_EQ(ParseSystemPath("sys/mounts/a%2Bb")->path, "sys/mounts/a+b");
  EXPECT_EQ(ParseSystemPath("sys/mounts/a%252F")->path, "sys/mounts/a%2F");  // decoded once
  for (const char* bad : {"sys/health%00", "%73ys/x%zz", "auth/token/%4", "sys/a/%"}) {
    auto p = ParseSystemPath(bad);
    ASSERT_TRUE(p.has_value()) << bad;
    EXPECT_TRUE(p->malformed) << bad;
  }
  for (const char* other : {"secret/data/sys", "sys", "%zz/sys/health", "system/data/x", ""}) {
    EXPECT_FALSE(ParseSystemPath(other).has_value()) << other;
  }
}

TEST(VaultWire, MalformedQueryIsAnErrorNotAbsence) {
  for (const char* target : {"/v1/s/data/x?version=1%00", "/v1/s/data/x?version=%zz",
                             "/v1/s/data/x?version=1%", "/v1/s/data/x?version=%4"}) {
    auto v = QueryParam(target, "version");
    ASSERT_FALSE(v.ok()) << target;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("\"version\""), std::string::npos) << v.status().message();
    EXPECT_NE(QueryProblem(target), std::nullopt);
  }
  // A name that does not decode might have been the one asked for.
  EXPECT_FALSE(QueryParam("/v1/s/data/x?ver%zzsion=1", "version").ok());
  EXPECT_FALSE(QueryParam("/v1/s/data/x?version%00=1", "version").ok());
  // Another parameter's bad value leaves this one readable; the query as a whole is not.
  EXPECT_EQ(Found("/v1/s/data/x?after=x%00&version=2", "version"), "2");
  EXPECT_NE(QueryProblem("/v1/s/data/x?after=x%00&version=2")->find("\"after\""),
            std::string::npos);
  EXPECT_EQ(QueryProblem("/v1/s/data/x?version=1&list=%74rue"), std::nullopt);
  EXPECT_EQ(QueryProblem("/v1/s/data/x"), std::nullopt);
}

TEST(VaultWire, GoBoolAndInt) {
  for (const char* t : {"1", "t", "T", "TRUE", "true", "True"}) EXPECT_EQ(ParseGoBool(t), true);
  for (const char* f : {"0", "f", "F", "FALSE", "false", "False"}) EXPECT_EQ(ParseGoBool(f), false);
  for (const char* bad : {"", "yes", "2", "tRUE", " true", "true "}) {
    EXPECT_EQ(ParseGoBool(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(ParseGoInt("0000000001", 1, 10000), 1);
  EXPECT_EQ(ParseGoInt("10000", 1, 10000), 10000);
  EXPECT_EQ(ParseGoInt("000000000000000000000000010000", 1, 10000), 10000);
  for (const char* bad :
       {"", "0", "10001", "+1", "-1", "1.0", "1e3", " 1", "x", "99999999999999999999"}) {
    EXPECT_EQ(ParseGoInt(bad, 1, 10000), std::nullopt) << bad;
  }
}

TEST(VaultWire, TimesAsGoPrintsThem) {
  EXPECT_EQ(VaultTime(1'767'225'600'123), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(VaultTime(0), "1970-01-01T00:00:00.000Z");
}

TEST(VaultWire, DurationsAsGoPrintsThem) {
  EXPECT_EQ(GoDuration(0), "0s");
  EXPECT_EQ(GoDuration(90'000), "1m30s");
  EXPECT_EQ(GoDuration(3'600'000), "1h0m0s");
  EXPECT_EQ(GoDuration(1'500), "1.5s");
  EXPECT_EQ(GoDuration(250), "250ms");
  EXPECT_EQ(GoDuration(12'319'000), "3h25m19s");
}

TEST(VaultWire, ParsesDurationsAsVaultAcceptsThem) {
  EXPECT_EQ(ParseGoDuration("3600"), 3'600'000);
  EXPECT_EQ(ParseGoDuration("1h30m"), 5'400'000);
  EXPECT_EQ(ParseGoDuration("1.5h"), 5'400'000);
  EXPECT_EQ(ParseGoDuration("45s"), 45'000);
  EXPECT_EQ(ParseGoDuration("100ms"), 100);
  EXPECT_EQ(ParseGoDuration("0s"), 0);
  for (const char* bad : {"", "h", "1x", "-1h", "1..5h", "99999999999999999999h", ".h"}) {
    EXPECT_FALSE(ParseGoDuration(bad)) << bad;
  }
}

}  // namespace
}  // namespace keyhold::http::vault
