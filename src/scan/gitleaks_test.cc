#include "scan/gitleaks.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

namespace keyhold::scan {
namespace {

// Findings refer to their rule, which outlives them: these live until the tests end.
const Rule& RuleNamed(const std::string& id, const std::string& description = "") {
  static std::map<std::pair<std::string, std::string>, Rule> rules;
  Rule& r = rules[{id, description}];
  r.id = id;
  r.description = description;
  return r;
}

Finding Make(std::string path, const std::string& rule, int64_t line, std::string commit = "") {
  Finding f;
  f.path = std::move(path);
  f.rule = &RuleNamed(rule);
  f.line = line;
  f.end_line = line;
  f.column = 7;
  f.commit = std::move(commit);
  f.secret = "not-printed";
  return f;
}

TEST(GitleaksIgnore, BothFingerprintFormsAndGitleaksRuleNames) {
  std::vector<std::string> warnings;
  GitleaksIgnore ignore = GitleaksIgnore::Parse(
      "# accepted\n"
      "\n"
      "config/app.env:stripe-secret-key:3\n"
      "5c2f1a8e7d3b9c4f6a0e2d8b1c7f3a9e5d4b2c10:deploy/keys.py:generic-secret:12\r\n"
      "./src/aws.py:aws-access-token:1\n",
      ".gitleaksignore", warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(ignore.Ignores(Make("config/app.env", "stripe-secret-key", 3)));
  EXPECT_TRUE(ignore.Ignores(Make("./config/app.env", "stripe-secret-key", 3)));
  EXPECT_FALSE(ignore.Ignores(Make("config/app.env", "stripe-secret-key", 4)));
  EXPECT_TRUE(ignore.Ignores(
      Make("deploy/keys.py", "generic-secret", 12, "5c2f1a8e7d3b9c4f6a0e2d8b1c7f3a9e5d4b2c10")));
  EXPECT_FALSE(ignore.Ignores(Make("deploy/keys.py", "generic-secret", 12, "0000")));
  EXPECT_FALSE(ignore.Ignores(Make("deploy/keys.py", "generic-secret", 12)));
  // gitleaks calls the AWS key id rule aws-access-token.
  EXPECT_TRUE(ignore.Ignores(Make("src/aws.py", "aws-access-key-id", 1)));
  std::vector<Finding> found = {Make("config/app.env", "stripe-secret-key", 3),
                                Make("config/app.env", "stripe-secret-key", 9)};
  EXPECT_EQ(ignore.Apply(found), 1u);
  EXPECT_EQ(found.size(), 1u);
}

TEST(GitleaksIgnore, MalformedLinesAreSkippedWithAWarningNamingFileAndLine) {
  std::vector<std::string> warnings;
  GitleaksIgnore ignore = GitleaksIgnore::Parse(
      "just-a-word\nfile:rule:notanumber\nfile:rule:0\n::rule:3\na:b:c:d:5\nok.py:rule:2\n",
      "repo/.gitleaksignore", warnings);
  ASSERT_EQ(warnings.size(), 5u);
  EXPECT_EQ(warnings[0].rfind("repo/.gitleaksignore, line 1: ", 0), 0u) << warnings[0];
  EXPECT_NE(warnings[4].find("line 5"), std::string::npos);
  EXPECT_EQ(ignore.size(), 1u);
}

TEST(GitleaksReport, HasGitleaksFieldsAndNoSecret) {
  Finding f = Make("src/app.py", "github-pat", 4, "abc123");
  f.rule = &RuleNamed("github-pat", "GitHub personal access token");
  f.author = "Ann";
  auto j = nlohmann::json::parse(RenderGitleaksJson({f}));
  ASSERT_EQ(j.size(), 1u);
  for (const char* key : {"RuleID", "Description", "StartLine", "EndLine", "StartColumn",
                          "EndColumn", "Match", "Secret", "File", "SymlinkFile", "Commit",
                          "Entropy", "Author", "Email", "Date", "Message", "Tags", "Fingerprint"}) {
    EXPECT_TRUE(j[0].contains(key)) << key;
  }
  EXPECT_EQ(j[0]["Secret"], "REDACTED");
  EXPECT_EQ(j[0]["Fingerprint"], "abc123:src/app.py:github-pat:4");
  EXPECT_EQ(RenderGitleaksJson({f}).find("not-printed"), std::string::npos);
}

}  // namespace
}  // namespace keyhold::scan
