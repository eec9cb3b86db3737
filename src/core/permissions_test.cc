#include "core/permissions.h"

#include <gtest/gtest.h>

namespace keyhold {
namespace {

TEST(Permissions, ExactAndWildcardMatching) {
  EXPECT_TRUE(PermissionMatches("documents.read", "documents.read"));
  EXPECT_FALSE(PermissionMatches("documents.read", "documents.write"));
  EXPECT_TRUE(PermissionMatches("documents.*", "documents.read"));
  EXPECT_TRUE(PermissionMatches("documents.*", "documents.read.all"));
  EXPECT_FALSE(PermissionMatches("documents.*", "documents"));
  EXPECT_FALSE(PermissionMatches("documents.*", "documentsX.read"));
  EXPECT_TRUE(PermissionMatches("*", "anything.at.all"));
  EXPECT_TRUE(PermissionMatches("api.*.verify_key", "api.api_1.verify_key"));
  EXPECT_FALSE(PermissionMatches("api.*.verify_key", "api.api_1.create_key"));
  EXPECT_FALSE(PermissionMatches("api.*.verify_key", "api.a.b.verify_key"));
  EXPECT_FALSE(PermissionMatches("api.a1.verify_key", "api.*.verify_key"));
}

TEST(Permissions, Covers) {
  EXPECT_TRUE(PermissionCovers("*", "api.*.create_key"));
  EXPECT_TRUE(PermissionCovers("api.*.read_key", "api.a1.read_key"));
  EXPECT_TRUE(PermissionCovers("api.*.read_key", "api.*.read_key"));
  EXPECT_FALSE(PermissionCovers("api.a1.read_key", "api.*.read_key"));
  EXPECT_FALSE(PermissionCovers("api.a1.*", "*"));
  EXPECT_TRUE(PermissionCovers("api.a1.*", "api.a1.read_key"));
  EXPECT_FALSE(PermissionCovers("api.*.read_key", "api.*.*"));
}

TEST(Permissions, Validity) {
  EXPECT_TRUE(IsValidPermission("a.b-c:d_e.*"));
  EXPECT_FALSE(IsValidPermission(""));
  EXPECT_FALSE(IsValidPermission("a..b"));
  EXPECT_FALSE(IsValidPermission(".a"));
  EXPECT_FALSE(IsValidPermission("a b"));
  EXPECT_FALSE(IsValidPermission(std::string(513, 'a')));
}

TEST(PermissionQuery, AndOrParentheses) {
  auto q = PermissionQuery::Parse("documents.read AND (documents.write OR admin)");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_TRUE(q->Evaluate({"documents.read", "admin"}));
  EXPECT_TRUE(q->Evaluate({"documents.*"}));
  EXPECT_FALSE(q->Evaluate({"documents.read"}));
  EXPECT_FALSE(q->Evaluate({"admin"}));
}

TEST(PermissionQuery, AndBindsTighterThanOr) {
  auto q = PermissionQuery::Parse("a OR b AND c");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->Evaluate({"a"}));
  EXPECT_FALSE(q->Evaluate({"b"}));
  EXPECT_TRUE(q->Evaluate({"b", "c"}));
  auto lower = PermissionQuery::Parse("a and b or c");
  ASSERT_TRUE(lower.ok());
  EXPECT_TRUE(lower->Evaluate({"c"}));
}

TEST(PermissionQuery, SingleName) {
  auto q = PermissionQuery::Parse("  x.read ");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(q->Evaluate({"x.read"}));
  EXPECT_FALSE(q->Evaluate({}));
}

TEST(PermissionQuery, SyntaxErrorsNamePosition) {
  for (const char* bad :
       {"", "a AND", "(a OR b", "a OR OR b", "a b", ")", "a AND ()", "a..b", "a & b"}) {
    auto q = PermissionQuery::Parse(bad);
    ASSERT_FALSE(q.ok()) << bad;
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(q.status().message().find("position"), std::string::npos) << bad;
  }
}

TEST(PermissionQuery, DeepNestingIsRejectedNotACrash) {
  std::string deep(1000, '(');
  deep += "a";
  deep += std::string(1000, ')');
  EXPECT_FALSE(PermissionQuery::Parse(deep).ok());
  EXPECT_FALSE(PermissionQuery::Parse(std::string(5000, 'a')).ok());
}

}  // namespace
}  // namespace keyhold
