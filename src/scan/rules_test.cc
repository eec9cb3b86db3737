#include "scan/rules.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace keyhold::scan {
namespace {

TEST(Rules, ParsesTheGitleaksSchema) {
  auto set = ParseRules(R"(
[[rules]]
id = "acme"
description = "Acme token"
regex = '''acme_([a-z0-9]{16})'''
secretGroup = 1
entropy = 2.5
keywords = ["ACME_"]
path = '''\.env$'''
[[rules.allowlists]]
regexTarget = "line"
regexes = ['''fixture''']
stopwords = ["Example"]
condition = "AND"

[allowlist]
paths = ['''^vendor/''']
)",
                        "mine.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->rules.size(), 1u);
  const Rule& r = set->rules[0];
  EXPECT_EQ(r.id, "acme");
  EXPECT_EQ(r.secret_group, 1);
  EXPECT_DOUBLE_EQ(r.entropy, 2.5);
  EXPECT_EQ(r.keywords, std::vector<std::string>{"acme_"});
  ASSERT_TRUE(r.path);
  ASSERT_EQ(r.allowlists.size(), 1u);
  EXPECT_EQ(r.allowlists[0].regex_target, Allowlist::Target::kLine);
  EXPECT_EQ(r.allowlists[0].condition, Allowlist::Condition::kAnd);
  EXPECT_EQ(r.allowlists[0].stopwords, std::vector<std::string>{"example"});
  ASSERT_EQ(set->allowlists.size(), 1u);
}

TEST(Rules, SyntaxErrorNamesTheLine) {
  auto set = ParseRules("[[rules]]\nid = \"a\"\nregex = '''x'''\nkeywords = [\"a\"\n", "bad.toml");
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(set.status().message().find("bad.toml, line "), std::string::npos)
      << set.status().message();
}

TEST(Rules, UncompilableRegexNamesTheRuleAndLine) {
  auto set = ParseRules("\n\n[[rules]]\nid = \"broken\"\nregex = '''([a-z'''\n", "r.toml");
  ASSERT_FALSE(set.ok());
  const std::string& m = set.status().message();
  EXPECT_NE(m.find("rule 'broken'"), std::string::npos) << m;
  EXPECT_NE(m.find("line 3"), std::string::npos) << m;
  EXPECT_NE(m.find("cannot be compiled"), std::string::npos) << m;
}

TEST(Rules, MissingFieldsAndBadValuesAreNamed) {
  EXPECT_NE(
      ParseRules("[[rules]]\nregex = '''x'''\n", "r").status().message().find("needs an 'id'"),
      std::string::npos);
  EXPECT_NE(ParseRules("[[rules]]\nid = \"a\"\n", "r").status().message().find("needs a 'regex'"),
            std::string::npos);
  EXPECT_NE(ParseRules("[[rules]]\nid = \"a\"\nregex = '''(x)'''\nsecretGroup = 2\n", "r")
                .status()
                .message()
                .find("secretGroup"),
            std::string::npos);
  EXPECT_NE(
      ParseRules("[[rules]]\nid = \"a\"\nregex = '''x'''\n[[rules]]\nid = \"a\"\nregex = '''y'''\n",
                 "r")
          .status()
          .message()
          .find("used twice"),
      std::string::npos);
}

// `nan` compares false with everything: it passed a range check written as "< 0 || > 8" and
// switched the rule's entropy threshold off instead of being refused.
TEST(Rules, EntropyOutsideZeroToEightIsRefusedNanIncluded) {
  for (const char* value : {"nan", "-nan", "inf", "-0.5", "8.5"}) {
    auto set = ParseRules(
        std::string("[[rules]]\nid = \"e\"\nregex = '''abc'''\nentropy = ") + value + "\n", "r");
    ASSERT_FALSE(set.ok()) << value;
    EXPECT_NE(set.status().message().find("entropy must be a number from 0 to 8"),
              std::string::npos)
        << value;
  }
  EXPECT_TRUE(ParseRules("[[rules]]\nid = \"e\"\nregex = '''abc'''\nentropy = 8.0\n", "r").ok());
}

TEST(Rules, SeverityAndRevokeLink) {
  auto set = ParseRules(
      "[[rules]]\nid = \"a\"\nregex = '''a'''\nseverity = \"Critical\"\n"
      "revoke = \"https://acme.test/keys\"\n[[rules]]\nid = \"b\"\nregex = '''b'''\n"
      "[[rules]]\nid = \"generic-c\"\nregex = '''c'''\n",
      "r");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->rules[0].severity, "critical");
  EXPECT_EQ(set->rules[0].revoke_url, "https://acme.test/keys");
  EXPECT_EQ(set->rules[1].severity, "high");
  EXPECT_EQ(set->rules[2].severity, "medium");
  EXPECT_NE(ParseRules("[[rules]]\nid = \"a\"\nregex = '''a'''\nseverity = \"urgent\"\n", "r")
                .status()
                .message()
                .find("severity must be"),
            std::string::npos);
  EXPECT_NE(ParseRules("[[rules]]\nid = \"a\"\nregex = '''a'''\nrevoke = \"javascript:x\"\n", "r")
                .status()
                .message()
                .find("revoke must be an https:// URL"),
            std::string::npos);
}

TEST(Rules, AKeywordOutsideTheRegexIsAWarningNamingFileLineAndRule) {
  auto set = ParseRules(
      "\n[[rules]]\nid = \"acme\"\nregex = '''acme\\.key_[0-9]{8}'''\n"
      "keywords = [\"ACME.KEY_\", \"acme-key\"]\n",
      "team.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set->warnings.size(), 1u);
  EXPECT_NE(set->warnings[0].find("team.toml, line 2 (rule 'acme'): keyword 'acme-key'"),
            std::string::npos)
      << set->warnings[0];
}

// A thousand rules load; nothing in the loader is quadratic in them.
TEST(Rules, AThousandRules) {
  std::string toml;
  for (int i = 0; i < 1000; ++i) {
    toml += "[[rules]]\nid = \"r" + std::to_string(i) + "\"\nregex = '''tok" + std::to_string(i) +
            "_[a-z]{8}'''\nkeywords = [\"tok" + std::to_string(i) + "_\"]\n";
  }
  auto set = ParseRules(toml, "big.toml");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->rules.size(), 1000u);
  EXPECT_TRUE(set->warnings.empty());
}

TEST(Rules, PathRulesNeedNoRegex) {
  auto set = ParseRules("[[rules]]\nid = \"keystore\"\npath = '''\\.p12$'''\n", "r");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->rules[0].regex, nullptr);
  EXPECT_NE(ParseRules("[[rules]]\nid = \"k\"\npath = '''x'''\nsecretGroup = 1\n", "r")
                .status()
                .message()
                .find("needs a 'regex'"),
            std::string::npos);
}

// The built-in rules' regexes (and their allowlists' and paths') are compiled on first use, so
// they are compiled here, all of them.
TEST(Rules, BuiltinRulesLoadAndEveryRegexCompiles) {
  const RuleSet& b = BuiltinRules();
  EXPECT_GE(b.rules.size(), 200u);
  auto allowlists_compile = [](const std::vector<Allowlist>& lists, const std::string& of) {
    for (const Allowlist& a : lists) {
      for (const auto* res : {&a.regexes, &a.paths}) {
        for (const auto& re : *res) EXPECT_TRUE(re->get().ok()) << of << ": " << re->pattern();
      }
    }
  };
  allowlists_compile(b.allowlists, "global allowlist");
  for (const Rule& r : b.rules) {
    EXPECT_FALSE(r.description.empty()) << r.id;
    allowlists_compile(r.allowlists, r.id);
    if (r.path) {
      EXPECT_TRUE(r.path->get().ok()) << r.id << ": " << r.path->pattern();
    }
    if (!r.regex) continue;
    EXPECT_TRUE(r.regex->get().ok()) << r.id << ": " << r.regex->get().error();
    EXPECT_LE(r.secret_group, r.regex->get().NumberOfCapturingGroups()) << r.id;
  }
}

TEST(Rules, EntropyInBitsPerCharacter) {
  EXPECT_DOUBLE_EQ(ShannonEntropy("aaaa"), 0);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abab"), 1);
  EXPECT_DOUBLE_EQ(ShannonEntropy("abcd"), 2);
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

TEST(Rules, PrefilterIsAStringAndNotEmpty) {
  auto ok = ParseRules("[[rules]]\nid = \"a\"\nregex = '''a[0-9]+'''\nprefilter = '''a[0-9]'''\n",
                       "r.toml");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->rules[0].prefilter, "a[0-9]");
  for (const char* bad : {"prefilter = ''", "prefilter = 3"}) {
    auto r =
        ParseRules(std::string("[[rules]]\nid = \"a\"\nregex = '''a'''\n") + bad + "\n", "r.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("prefilter must be a non-empty string"), std::string::npos)
        << r.status().message();
  }
}

// A NUL cannot be in a pattern: the database compiler would stop at it, and the text after it
// would go unchecked.
TEST(Rules, PatternsWithANulAreRefused) {
  for (const char* bad : {"regex = \"a\\u0000b\"\n", "regex = 'a'\nprefilter = \"a\\u0000b\"\n"}) {
    auto r = ParseRules(std::string("[[rules]]\nid = \"a\"\n") + bad, "r.toml");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("must not contain a NUL character"), std::string::npos)
        << r.status().message();
  }
}

}  // namespace
}  // namespace keyhold::scan

namespace keyhold::scan {
namespace {

void ExpectSameAllowlist(const Allowlist& table, const Allowlist& parsed, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(table.description, parsed.description);
  EXPECT_EQ(table.condition, parsed.condition);
  EXPECT_EQ(table.regex_target, parsed.regex_target);
  auto patterns = [](const std::vector<std::shared_ptr<const LazyRegex>>& v) {
    std::vector<std::string> out;
    for (const auto& re : v) {
      EXPECT_NE(re, nullptr);
      if (re) out.push_back(re->pattern());
    }
    return out;
  };
  EXPECT_EQ(patterns(table.regexes), patterns(parsed.regexes));
  EXPECT_EQ(patterns(table.paths), patterns(parsed.paths));
  EXPECT_EQ(table.stopwords, parsed.stopwords);
  EXPECT_EQ(table.commits, parsed.commits);
}

void ExpectSameRules(const RuleSet& table, const RuleSet& parsed) {
  ASSERT_EQ(table.rules.size(), parsed.rules.size());
  for (size_t i = 0; i < table.rules.size(); ++i) {
    const Rule& t = table.rules[i];
    const Rule& p = parsed.rules[i];
    SCOPED_TRACE("rule " + p.id);
    EXPECT_EQ(t.id, p.id);
    EXPECT_EQ(t.description, p.description);
    EXPECT_EQ(t.regex_text, p.regex_text);
    ASSERT_EQ(t.regex == nullptr, p.regex == nullptr);
    if (t.regex) {
      EXPECT_EQ(t.regex->pattern(), p.regex->pattern());
      EXPECT_EQ(t.regex->pattern(), t.regex_text);
    }
    EXPECT_EQ(t.secret_group, p.secret_group);
    EXPECT_EQ(t.entropy, p.entropy);  // exactly: the table writes every digit
    EXPECT_EQ(t.keywords, p.keywords);
    EXPECT_EQ(t.prefilter, p.prefilter);
    ASSERT_EQ(t.path == nullptr, p.path == nullptr);
    if (t.path) {
      EXPECT_EQ(t.path->pattern(), p.path->pattern());
    }
    ASSERT_EQ(t.allowlists.size(), p.allowlists.size());
    for (size_t a = 0; a < t.allowlists.size(); ++a) {
      ExpectSameAllowlist(t.allowlists[a], p.allowlists[a], "allowlist " + std::to_string(a));
    }
    EXPECT_EQ(t.validator, p.validator);
    EXPECT_EQ(t.severity, p.severity);
    EXPECT_EQ(t.revoke_url, p.revoke_url);
    EXPECT_EQ(t.multiline, p.multiline);
  }
  ASSERT_EQ(table.allowlists.size(), parsed.allowlists.size());
  for (size_t a = 0; a < table.allowlists.size(); ++a) {
    ExpectSameAllowlist(table.allowlists[a], parsed.allowlists[a],
                        "global allowlist " + std::to_string(a));
  }
}

// The built-in rules come from a table generated at build time from builtin_rules.toml; it must
// hold exactly what parsing that file yields, field by field.
TEST(BuiltinRuleTable, EqualsTheParsedToml) {
  auto parsed = ParseRules(BuiltinRulesToml(), "built-in rules");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_GT(parsed->rules.size(), 300u);
  ASSERT_FALSE(parsed->allowlists.empty());
  // The table must cover every kind of field the file uses, or the comparison proves little.
  auto some = [&](auto pred) {
    return std::any_of(parsed->rules.begin(), parsed->rules.end(), pred);
  };
  EXPECT_TRUE(some([](const Rule& r) { return !r.regex; }));  // path rules
  EXPECT_TRUE(some([](const Rule& r) { return r.path && r.regex; }));
  EXPECT_TRUE(some([](const Rule& r) { return !r.prefilter.empty(); }));
  EXPECT_TRUE(some([](const Rule& r) { return r.validator != Validator::kNone; }));
  EXPECT_TRUE(some([](const Rule& r) { return r.multiline; }));
  EXPECT_TRUE(some([](const Rule& r) { return !r.revoke_url.empty(); }));
  EXPECT_TRUE(some([](const Rule& r) { return r.severity != "high"; }));
  auto some_allowlist = [&](auto pred) {
    return some(
        [&](const Rule& r) { return std::any_of(r.allowlists.begin(), r.allowlists.end(), pred); });
  };
  EXPECT_TRUE(some_allowlist(
      [](const Allowlist& a) { return a.regex_target != Allowlist::Target::kSecret; }));
  EXPECT_TRUE(some_allowlist(
      [](const Allowlist& a) { return !a.stopwords.empty() && !a.regexes.empty(); }));
  EXPECT_TRUE(some_allowlist([](const Allowlist& a) { return !a.description.empty(); }));
  EXPECT_FALSE(parsed->allowlists[0].paths.empty());
  ExpectSameRules(BuiltinRules(), *parsed);
  auto loaded = LoadRules(std::nullopt);  // what a scan without a rules file gets
  ASSERT_TRUE(loaded.ok());
  ExpectSameRules(*loaded, *parsed);
}

}  // namespace
}  // namespace keyhold::scan
