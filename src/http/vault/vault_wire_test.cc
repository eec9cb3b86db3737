#include "http/vault/vault_wire.h"

#include <gtest/gtest.h>

namespace keyhold::http::vault {
namespace {

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
}

TEST(VaultWire, QueryParameters) {
  EXPECT_EQ(QueryParam("/v1/s/data/x?version=3", "version"), "3");
  EXPECT_EQ(QueryParam("/v1/s/metadata/x?a=1&list=true", "list"), "true");
  EXPECT_EQ(QueryParam("/v1/s/metadata/x?list", "list"), "");
  EXPECT_FALSE(QueryParam("/v1/s/data/x", "version"));
  EXPECT_FALSE(QueryParam("/v1/s/data/x?versions=1", "version"));
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
