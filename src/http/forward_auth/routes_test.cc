// Route rules: path patterns and first-match-wins.
#include "http/forward_auth/routes.h"

#include <gtest/gtest.h>

namespace keyhold::http::forward_auth {
namespace {

TEST(PathPatternTest, Segments) {
  EXPECT_TRUE(PathMatches("/tickets", "/tickets"));
  EXPECT_TRUE(PathMatches("/tickets", "/tickets/"));
  EXPECT_FALSE(PathMatches("/tickets", "/tickets/7"));
  EXPECT_FALSE(PathMatches("/tickets", "/ticketsx"));
  EXPECT_TRUE(PathMatches("/tickets/*", "/tickets/7"));
  EXPECT_FALSE(PathMatches("/tickets/*", "/tickets"));
  EXPECT_FALSE(PathMatches("/tickets/*", "/tickets/7/replies"));
  EXPECT_TRUE(PathMatches("/tickets/*/replies", "/tickets/7/replies"));
  EXPECT_TRUE(PathMatches("/tickets/**", "/tickets"));
  EXPECT_TRUE(PathMatches("/tickets/**", "/tickets/7/replies/2"));
  EXPECT_FALSE(PathMatches("/tickets/**", "/ticketsx/7"));
  EXPECT_TRUE(PathMatches("/**", "/"));
  EXPECT_TRUE(PathMatches("/**", "/anything/at/all"));
  EXPECT_TRUE(PathMatches("/", "/"));
  EXPECT_FALSE(PathMatches("/", "/a"));
  EXPECT_FALSE(PathMatches("/Tickets", "/tickets"));
}

TEST(PathPatternTest, CheckRefusesWhatWouldNotMatchAsWritten) {
  EXPECT_TRUE(CheckPathPattern("/tickets/*/replies/**").ok());
  EXPECT_FALSE(CheckPathPattern("tickets").ok());
  EXPECT_FALSE(CheckPathPattern("/a/**/b").ok());
  EXPECT_FALSE(CheckPathPattern("/files/*.txt").ok());
  EXPECT_FALSE(CheckPathPattern("/a/../b").ok());
  EXPECT_FALSE(CheckPathPattern("/a%2Fb").ok());
  EXPECT_FALSE(CheckPathPattern("/a?b=1").ok());
}

TEST(RouteTableTest, FirstMatchWinsThenTheDefault) {
  RouteRule reads{.methods = {"GET", "HEAD"}, .path = "/tickets/**", .permissions = "t.read"};
  RouteRule deletes{.methods = {"DELETE"}, .path = "/tickets/*", .permissions = "t.delete"};
  RouteRule any_tickets{.path = "/tickets/**", .permissions = "t.write"};
  RouteRule admin_host{.path = "/**", .host = "admin.example.com", .permissions = "admin"};
  RouteRule fallback{.cost = 5};
  RouteTable table({reads, deletes, any_tickets, admin_host}, fallback);
  auto match = [&](std::string method, std::string path, std::string host = "") {
    return table.Match({.method = method, .path = path, .host = host}).permissions.value_or("-");
  };
  EXPECT_EQ(match("GET", "/tickets/7"), "t.read");
  EXPECT_EQ(match("HEAD", "/tickets"), "t.read");
  EXPECT_EQ(match("DELETE", "/tickets/7"), "t.delete");
  EXPECT_EQ(match("DELETE", "/tickets/7/replies/1"), "t.write");
  EXPECT_EQ(match("POST", "/tickets"), "t.write");
  EXPECT_EQ(match("GET", "/users", "admin.example.com"), "admin");
  EXPECT_EQ(match("GET", "/users", "admin.example.com:8443"), "admin");
  EXPECT_EQ(match("GET", "/users", "www.example.com"), "-");
  EXPECT_EQ(table.Match({.method = "GET", .path = "/users"}).cost, 5);
}

}  // namespace
}  // namespace keyhold::http::forward_auth
