#include "scan/relaxed_regex.h"

#include <gtest/gtest.h>

#include <random>

#include "scan/rules.h"

namespace keyhold::scan {
namespace {

TEST(RelaxPattern, BoundedRepetitionsOfOneCharacterBecomeGroups) {
  auto p = RelaxPattern(R"((?i)a[b-c]{0,3}(x{2,5})\s{1,2}(?P<n>[^]x]{4})y{3,})");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pattern, R"((?i)a((?:[b-c]){0,})(((?:x){2,}))((?:\s){1,})(?P<n>[^]x]{4})y{3,})");
  EXPECT_EQ(p->group, (std::vector<int>{0, 2, 5}));
  ASSERT_EQ(p->bounds.size(), 3u);
  EXPECT_EQ(p->bounds[0].group, 1);
  EXPECT_EQ(p->bounds[0].max, 3);
  EXPECT_EQ(p->bounds[1].group, 3);
  EXPECT_EQ(p->bounds[1].max, 5);
  EXPECT_EQ(p->bounds[2].group, 4);
  EXPECT_EQ(p->bounds[2].max, 2);
}

TEST(RelaxPattern, LeavesWhatItCannotCheck) {
  // Inside a repetition a group holds only the last turn: not relaxed.
  auto p = RelaxPattern("(?:ab{1,3})+(a{1,3}|b)*c{2,4}");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pattern, "(?:ab{1,3})+(a{1,3}|b)*((?:c){2,})");
  EXPECT_EQ(p->group, (std::vector<int>{0, 1}));
  // Lazy, unbounded or exact repetitions, and syntax not followed.
  EXPECT_FALSE(RelaxPattern("a{1,3}?b+c{4}").has_value());
  EXPECT_FALSE(RelaxPattern(R"(\Qa{1,2}\E)").has_value());
  EXPECT_FALSE(RelaxPattern(R"((a)\1{1,2})").has_value());
  EXPECT_FALSE(RelaxPattern("(a{1,2}").has_value());
  EXPECT_FALSE(RelaxPattern("a**{1,2}").has_value());
}

// For every built-in rule that has a relaxed form, on lines shaped like assignments (values
// inside and beyond the bounds, ASCII and not), the groups are exactly RE2's.
TEST(RelaxedRegex, GivesRe2sGroupsForTheBuiltinRules) {
  const std::vector<std::string> names = {"token",
                                          "API_KEY",
                                          "db_password",
                                          "client-secret",
                                          "x.apikey",
                                          "PRIVATE_KEY",
                                          "auth.key",
                                          "pwd",
                                          "secret2",
                                          "AccessKey",
                                          "Secret",
                                          "api-key",
                                          std::string(40, 'a') + "_token",
                                          "my.very.long.name.with.many.parts_password_and_more_x"};
  const std::vector<std::string> ops = {"=", " = ", ":", ": ", ":=", " => ", "=\"", ": '", "=`"};
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-+/=~!@#$%^&*\"' \t";
  const std::vector<std::string> odd = {"\xc5\xbf", "\xe2\x84\xaa", "\xc3\xa9", "\xff"};
  std::mt19937 rng(2026);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> lines;
  for (int i = 0; i < 4000; ++i) {
    std::string line = pick(4) == 0 ? "x " : "";
    line += names[pick(names.size())] + ops[pick(ops.size())];
    const size_t len = pick(5) == 0 ? 180 + pick(60) : pick(40);
    for (size_t k = 0; k < len; ++k) {
      line +=
          pick(60) == 0 ? odd[pick(odd.size())] : std::string(1, alphabet[pick(alphabet.size())]);
    }
    if (pick(3) == 0) line += "\"";
    lines.push_back(line + "\n");
  }
  size_t relaxed_rules = 0, answered = 0, matches = 0;
  for (const Rule& rule : BuiltinRules().rules) {
    if (!rule.regex) continue;
    const RE2& re = rule.regex->get();
    auto relaxed = RelaxedRegex::For(rule.regex_text, re);
    if (!relaxed) continue;
    ++relaxed_rules;
    const int n = re.NumberOfCapturingGroups() + 1;
    for (const std::string& line : lines) {
      re2::StringPiece text(line);
      size_t pos = 0;
      std::vector<re2::StringPiece> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      while (pos < text.size() &&
             re.Match(text, pos, text.size(), RE2::UNANCHORED, want.data(), n)) {
        ++matches;
        got[0] = want[0];
        if (relaxed->Groups(text, got[0], got.data(), n)) {
          ++answered;
          for (int g = 1; g < n; ++g) {
            EXPECT_EQ(got[g].data(), want[g].data()) << rule.id << " group " << g << ": " << line;
            EXPECT_EQ(got[g].size(), want[g].size()) << rule.id << " group " << g << ": " << line;
          }
        }
        const size_t end = static_cast<size_t>(want[0].data() - text.data()) + want[0].size();
        pos = end > pos ? end : pos + 1;
      }
    }
  }
  EXPECT_GT(relaxed_rules, 0u);
  EXPECT_GT(answered, 1000u) << matches << " matches";
  EXPECT_LT(answered, matches);  // some values are beyond a bound, or not ASCII: RE2 answers
}

}  // namespace
}  // namespace keyhold::scan
