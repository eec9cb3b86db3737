#include "core/ratelimit_override.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/glob.h"

namespace keyhold {
namespace {

RatelimitOverride Make(std::string id, std::string identifier, int64_t limit) {
  return {std::move(id), "sms", std::move(identifier), limit, 60'000, 0, 0};
}

TEST(OverrideGlob, StarStandsForAnyRunIncludingNone) {
  EXPECT_TRUE(GlobMatch("premium_*", "premium_"));
  EXPECT_TRUE(GlobMatch("premium_*", "premium_42"));
  EXPECT_FALSE(GlobMatch("premium_*", "premium"));
  EXPECT_TRUE(GlobMatch("*@example.com", "bob@example.com"));
  EXPECT_FALSE(GlobMatch("*@example.com", "bob@example.com.evil"));
  EXPECT_TRUE(GlobMatch("*spam*", "spam"));
  EXPECT_TRUE(GlobMatch("*spam*", "xxspamyy"));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbZc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXbYbZ"));
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("**", "anything"));
  EXPECT_FALSE(GlobMatch("abc", "abcd"));  // no star: the whole text, literally
  EXPECT_TRUE(GlobMatch("a?c", "a?c"));    // only '*' is special
  EXPECT_FALSE(GlobMatch("a?c", "abc"));
}

TEST(OverrideGlob, AdversarialPatternsStayBounded) {
  std::string pattern(120, '*');
  pattern += "b";
  std::string text(255, 'a');
  EXPECT_FALSE(GlobMatch(pattern, text));  // returns, and quickly: no exponential backtracking
}

TEST(OverrideTable, ExactBeatsEveryPattern) {
  OverrideTable t;
  t.Put(Make("rlo_1", "*", 1));
  t.Put(Make("rlo_2", "user_*", 2));
  t.Put(Make("rlo_3", "user_42", 3));
  EXPECT_EQ(t.Find("sms", "user_42")->id, "rlo_3");
  EXPECT_EQ(t.Find("sms", "user_7")->id, "rlo_2");
  EXPECT_EQ(t.Find("sms", "other")->id, "rlo_1");
  EXPECT_EQ(t.Find("email", "user_42"), nullptr);  // another namespace has none
}

TEST(OverrideTable, TheMostSpecificPatternWinsWhateverTheOrderOfSetting) {
  for (bool reversed : {false, true}) {
    OverrideTable t;
    std::vector<RatelimitOverride> all = {Make("rlo_1", "premium_*", 1),
                                          Make("rlo_2", "premium_eu_*", 2),
                                          Make("rlo_3", "*_eu_*", 3)};
    if (reversed) std::reverse(all.begin(), all.end());
    for (auto& o : all) t.Put(o);
    EXPECT_EQ(t.Find("sms", "premium_eu_1")->id, "rlo_2");  // 11 literal characters beat 8
    EXPECT_EQ(t.Find("sms", "premium_us_1")->id, "rlo_1");
    EXPECT_EQ(t.Find("sms", "basic_eu_1")->id, "rlo_3");
  }
}

TEST(OverrideTable, TiesGoToFewerStarsThenByteOrder) {
  EXPECT_TRUE(MoreSpecificPattern("ab*", "a*b*"));  // both 2 literal characters: one star wins
  EXPECT_TRUE(MoreSpecificPattern("a*c", "b*c"));   // all equal: byte order
  EXPECT_FALSE(MoreSpecificPattern("b*c", "a*c"));
}

TEST(OverrideTable, APatternIsAlsoMatchedLiterally) {
  OverrideTable t;
  t.Put(Make("rlo_1", "a*", 1));
  t.Put(Make("rlo_2", "*", 2));
  EXPECT_EQ(t.Find("sms", "a*")->id, "rlo_1");
}

TEST(OverrideTable, PutReplacesAndRemoveForgets) {
  OverrideTable t;
  t.Put(Make("rlo_1", "user_*", 1));
  t.Put(Make("rlo_1", "user_*", 10));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Find("sms", "user_1")->limit, 10);
  EXPECT_EQ(t.Get("sms", "user_1"), nullptr);  // Get matches nothing
  EXPECT_EQ(t.Get("sms", "user_*")->limit, 10);
  EXPECT_TRUE(t.Remove("sms", "user_*"));
  EXPECT_FALSE(t.Remove("sms", "user_*"));
  EXPECT_EQ(t.Find("sms", "user_1"), nullptr);
  EXPECT_EQ(t.size(), 0u);
}

TEST(OverrideTable, ListsANamespaceInIdOrder) {
  OverrideTable t;
  t.Put(Make("rlo_3", "c", 1));
  t.Put(Make("rlo_1", "a*", 1));
  t.Put(Make("rlo_2", "b", 1));
  auto list = t.List("sms");
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]->id, "rlo_1");
  EXPECT_EQ(list[2]->id, "rlo_3");
  EXPECT_TRUE(t.List("none").empty());
}

}  // namespace
}  // namespace keyhold
