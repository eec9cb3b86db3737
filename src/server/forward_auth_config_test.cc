// The /forward-auth rules file: what it accepts, and that every problem is named with its line.
#include "server/forward_auth_config.h"

#include <gtest/gtest.h>

namespace keyhold::server {
namespace {

TEST(ForwardAuthRulesTest, ReadsRoutesAndTheDefault) {
  auto t = ParseForwardAuthRules(R"(
[default]
cost = 2
permissions = "api.use"

[[route]]
methods = ["get", "HEAD"]
path = "/tickets/**"
host = "API.example.com"
permissions = "tickets.read OR admin"
cost = 0
ratelimits = [{ name = "reads", limit = 100, duration = "1m", cost = 2 },
              { name = "daily", limit = 5000, duration = 86400000 }]

[[route]]
method = "*"
path = "/health"
anonymous = true
)",
                                 "rules.toml");
  ASSERT_TRUE(t.ok()) << t.status().message();
  ASSERT_EQ(t->routes().size(), 2u);
  const auto& reads = t->routes()[0];
  EXPECT_EQ(reads.methods, (std::vector<std::string>{"GET", "HEAD"}));
  EXPECT_EQ(reads.host, "api.example.com");
  EXPECT_EQ(reads.line, 6);
  ASSERT_EQ(reads.ratelimits.size(), 2u);
  EXPECT_EQ(reads.ratelimits[0].duration_ms, 60'000);
  EXPECT_EQ(reads.ratelimits[0].cost, 2);
  EXPECT_EQ(reads.ratelimits[1].duration_ms, 86'400'000);
  EXPECT_EQ(reads.ratelimits[1].cost, 1);
  EXPECT_TRUE(t->routes()[1].methods.empty());
  EXPECT_TRUE(t->routes()[1].anonymous);
  EXPECT_EQ(t->fallback().cost, 2);
  EXPECT_EQ(t->fallback().permissions, "api.use");
}

TEST(ForwardAuthRulesTest, AnEmptyFileIsTheBuiltInDefault) {
  auto t = ParseForwardAuthRules("", "rules.toml");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->routes().empty());
  EXPECT_EQ(t->fallback().cost, 1);
  EXPECT_FALSE(t->fallback().permissions);
}

TEST(ForwardAuthRulesTest, EveryProblemIsNamedWithItsLine) {
  auto t = ParseForwardAuthRules(R"([[route]]
path = "tickets"
permissions = "a AND (b"
cost = -1
colour = "red"

[[route]]
path = "/a/**/b"
ratelimits = [{ name = "x", limit = 0, duration = "1m" }, { name = "y", limit = 5, duration = "soon" },
              { name = "z", limit = 2, duration = "1s", cost = 3 }, { name = "w", limit = 1 }]

[default]
path = "/x"

[[route]]
path = "/p"
anonymous = true
permissions = "a"
)",
                                 "rules.toml");
  ASSERT_FALSE(t.ok());
  const std::string& m = t.status().message();
  EXPECT_NE(m.find("rules.toml, line 2: a path pattern starts with '/'"), std::string::npos) << m;
  EXPECT_NE(m.find("rules.toml, line 3: permissions:"), std::string::npos) << m;
  EXPECT_NE(m.find("rules.toml, line 4: cost must be"), std::string::npos) << m;
  EXPECT_NE(m.find("rules.toml, line 5: unknown field 'colour'"), std::string::npos) << m;
  EXPECT_NE(m.find("rules.toml, line 8: '**' may only be the last"), std::string::npos) << m;
  EXPECT_NE(m.find("line 9: limit must be"), std::string::npos) << m;
  EXPECT_NE(m.find("line 9: duration must be"), std::string::npos) << m;
  EXPECT_NE(m.find("line 10: a rate limit's cost cannot be more than its limit"), std::string::npos)
      << m;
  EXPECT_NE(m.find("line 10: a rate limit needs name, limit and duration"), std::string::npos) << m;
  EXPECT_NE(m.find("line 13: the default rule matches every request"), std::string::npos) << m;
  EXPECT_NE(m.find("an anonymous rule checks no key"), std::string::npos) << m;
}

TEST(ForwardAuthRulesTest, MalformedTomlNamesItsLine) {
  auto t = ParseForwardAuthRules("[[route]]\npath = \"/a\n", "rules.toml");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("rules.toml, line 2"), std::string::npos)
      << t.status().message();
  auto u = ParseForwardAuthRules("[routes]\npath = \"/a\"\n", "rules.toml");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("line 1: unknown section 'routes'"), std::string::npos)
      << u.status().message();
}

TEST(ForwardAuthRulesTest, AProblemIsOneLineWhateverTheFileHolds) {
  auto t = ParseForwardAuthRules("[[route]]\n\"a\\nb\" = 1\nanonymous = tr\n", "rules.toml");
  ASSERT_FALSE(t.ok());
  const std::string& m = t.status().message();
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  EXPECT_NE(m.find("rules.toml, line 3"), std::string::npos) << m;
  auto u = ParseForwardAuthRules("[[route]]\n\"a\\nb\" = 1\n", "rules.toml");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("unknown field 'a\\x0ab'"), std::string::npos)
      << u.status().message();
}

}  // namespace
}  // namespace keyhold::server
