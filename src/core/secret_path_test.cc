#include "core/secret_path.h"

#include <gtest/gtest.h>

#include "core/permissions.h"

namespace keyhold {
namespace {

TEST(SecretPath, AcceptsOrdinaryPaths) {
  EXPECT_TRUE(IsValidSecretPath("smtp"));
  EXPECT_TRUE(IsValidSecretPath("helpdesk/mail/smtp-password"));
  EXPECT_TRUE(IsValidSecretPath("crm/stripe.live_key@eu=1,~:x"));
}

TEST(SecretPath, RefusesTraversalEmptySegmentsAndOddCharacters) {
  for (const char* bad : {"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", "a b", "a\\b", "a*",
                          "a+", "a%2Fb", "a?b", "a#b", "caf\xc3\xa9"}) {
    EXPECT_FALSE(IsValidSecretPath(bad)) << bad;
  }
  EXPECT_FALSE(IsValidSecretPath(std::string(kMaxSecretPathLength + 1, 'a')));
  EXPECT_TRUE(IsValidSecretPath(std::string(kMaxSecretPathLength, 'a')));
}

TEST(SecretPath, ProblemsAreNamed) {
  EXPECT_EQ(SecretPathProblem("helpdesk/smtp"), "");
  EXPECT_EQ(SecretPathProblem(".."), "the segment '..' is not allowed");
  EXPECT_EQ(SecretPathProblem("a/./b"), "the segment '.' is not allowed");
  EXPECT_EQ(SecretPathProblem(""), "the path is empty");
  EXPECT_EQ(SecretPathProblem("a//b"), "a segment is empty (a leading, trailing or doubled '/')");
  EXPECT_EQ(SecretPathProblem("a b").find("the character ' ' is not allowed"), 0u);
  EXPECT_EQ(SecretPathProblem("caf\xc3\xa9").find("a control or non-ASCII character"), 0u);
  EXPECT_EQ(SecretPathProblem(std::string(kMaxSecretPathLength + 1, 'a')),
            "the path is over 512 characters");
  // Every path refused is given a reason.
  for (const char* bad : {"/a", "a/", ".", "a\\b", "a*", "a+", "a%2Fb", "a?b", "a#b"}) {
    EXPECT_NE(SecretPathProblem(bad), "") << bad;
  }
}

TEST(SecretPath, MountNames) {
  EXPECT_TRUE(IsValidMountName("secret"));
  EXPECT_TRUE(IsValidMountName("team-a_kv2"));
  for (const char* bad :
       {"", "sys", "SYS", "Auth", "identity", "cubbyhole", "v1", "a/b", "a.b", "a b"}) {
    EXPECT_FALSE(IsValidMountName(bad)) << bad;
  }
}

TEST(SecretGlob, Validity) {
  for (const char* good :
       {"*", "secret/*", "secret/+/smtp", "secret/mail-*", "+", "+/x/+", "secret/app"}) {
    EXPECT_TRUE(IsValidSecretGlob(good)) << good;
  }
  for (const char* bad : {"", "a*b", "a/*/b", "a+/b", "a/++", "a//b", "a/../*", "**"}) {
    EXPECT_FALSE(IsValidSecretGlob(bad)) << bad;
  }
}

TEST(SecretGlob, StarMatchesAnySuffixSlashesIncluded) {
  EXPECT_TRUE(SecretGlobMatches("secret/*", "secret/a"));
  EXPECT_TRUE(SecretGlobMatches("secret/*", "secret/a/b/c"));
  EXPECT_TRUE(SecretGlobMatches("secret/mail-*", "secret/mail-smtp"));
  EXPECT_TRUE(SecretGlobMatches("secret/mail-*", "secret/mail-"));
  EXPECT_FALSE(SecretGlobMatches("secret/mail-*", "secret/mail"));
  EXPECT_FALSE(SecretGlobMatches("secret/*", "other/a"));
  EXPECT_FALSE(SecretGlobMatches("secret/*", "secretx/a"));
  EXPECT_TRUE(SecretGlobMatches("*", "anything/at/all"));
}

TEST(SecretGlob, PlusMatchesExactlyOneSegment) {
  EXPECT_TRUE(SecretGlobMatches("secret/+/smtp", "secret/helpdesk/smtp"));
  EXPECT_FALSE(SecretGlobMatches("secret/+/smtp", "secret/a/b/smtp"));
  EXPECT_FALSE(SecretGlobMatches("secret/+/smtp", "secret/smtp"));
  EXPECT_TRUE(SecretGlobMatches("+/x", "secret/x"));
  EXPECT_TRUE(SecretGlobMatches("secret/+", "secret/a"));
  EXPECT_FALSE(SecretGlobMatches("secret/+", "secret/a/b"));
  EXPECT_TRUE(SecretGlobMatches("secret/+/*", "secret/a/b/c"));
}

TEST(SecretGlob, ExactGlobMatchesOnlyItself) {
  EXPECT_TRUE(SecretGlobMatches("secret/app", "secret/app"));
  EXPECT_FALSE(SecretGlobMatches("secret/app", "secret/app/x"));
  EXPECT_FALSE(SecretGlobMatches("secret/app", "secret/ap"));
}

TEST(SecretGlob, ReachesUnderFolder) {
  EXPECT_TRUE(SecretGlobReachesUnder("secret/app/*", "secret/"));
  EXPECT_TRUE(SecretGlobReachesUnder("secret/app/*", "secret/app/"));
  EXPECT_TRUE(SecretGlobReachesUnder("secret/app/*", "secret/app/deep/"));
  EXPECT_FALSE(SecretGlobReachesUnder("secret/app/*", "secret/other/"));
  EXPECT_TRUE(SecretGlobReachesUnder("secret/+/smtp", "secret/x/"));
  EXPECT_FALSE(SecretGlobReachesUnder("secret/+/smtp", "secret/x/y/"));
  EXPECT_FALSE(SecretGlobReachesUnder("other/*", "secret/"));
}

TEST(SecretGlob, Covers) {
  EXPECT_TRUE(SecretGlobCovers("secret/*", "secret/app/*"));
  EXPECT_TRUE(SecretGlobCovers("secret/*", "secret/+/x"));
  EXPECT_TRUE(SecretGlobCovers("secret/+/x", "secret/a/x"));
  EXPECT_TRUE(SecretGlobCovers("secret/+/x", "secret/+/x"));
  EXPECT_FALSE(SecretGlobCovers("secret/+/x", "secret/a*"));
  EXPECT_FALSE(SecretGlobCovers("secret/a/x", "secret/+/x"));
  EXPECT_FALSE(SecretGlobCovers("secret/app/*", "secret/*"));
  EXPECT_FALSE(SecretGlobCovers("secret/app", "secret/app*"));
}

TEST(SecretPermission, FormAndValidity) {
  std::string_view cap;
  std::string_view glob;
  ASSERT_TRUE(SplitSecretPermission("secret.read:secret/app/*", &cap, &glob));
  EXPECT_EQ(cap, "read");
  EXPECT_EQ(glob, "secret/app/*");
  EXPECT_TRUE(IsValidSecretPermission("secret.*:secret/*"));
  EXPECT_TRUE(IsValidSecretPermission("secret.destroy:secret/+/old"));
  EXPECT_FALSE(IsValidSecretPermission("secret.steal:secret/*"));
  EXPECT_FALSE(IsValidSecretPermission("secret.read:secret/../x"));
  EXPECT_FALSE(IsValidSecretPermission("secret.read"));
  EXPECT_FALSE(IsValidSecretPermission("api.*.read_key"));
}

TEST(SecretPermission, DenyByDefault) {
  EXPECT_FALSE(SecretAccessGranted({}, "read", "secret/a"));
  EXPECT_FALSE(SecretAccessGranted({"api.*.read_key", "audit.read"}, "read", "secret/a"));
}

TEST(SecretPermission, CapabilityAndGlobMustBothMatch) {
  std::vector<std::string> held = {"secret.read:secret/helpdesk/*", "secret.list:secret/*"};
  EXPECT_TRUE(SecretAccessGranted(held, "read", "secret/helpdesk/smtp"));
  EXPECT_FALSE(SecretAccessGranted(held, "read", "secret/crm/stripe"));
  EXPECT_FALSE(SecretAccessGranted(held, "update", "secret/helpdesk/smtp"));
  EXPECT_TRUE(SecretAccessGranted(held, "list", "secret/crm/"));
}

TEST(SecretPermission, PlainPatternsGrantEverywhere) {
  EXPECT_TRUE(SecretAccessGranted({"*"}, "destroy", "x/y"));
  EXPECT_TRUE(SecretAccessGranted({"secret.*"}, "read", "x/y"));
  EXPECT_TRUE(SecretAccessGranted({"secret.read"}, "read", "x/y"));
  EXPECT_FALSE(SecretAccessGranted({"secret.read"}, "update", "x/y"));
  EXPECT_TRUE(SecretAccessGranted({"secret.*:x/*"}, "rotate", "x/y"));
}

TEST(SecretPermission, ListReach) {
  std::vector<std::string> held = {"secret.list:secret/helpdesk/*"};
  EXPECT_TRUE(SecretListReaches(held, "secret/"));
  EXPECT_TRUE(SecretListReaches(held, "secret/helpdesk/"));
  EXPECT_FALSE(SecretListReaches(held, "secret/crm/"));
  EXPECT_FALSE(SecretListReaches({"secret.read:secret/*"}, "secret/"));
}

TEST(SecretPermission, APlusGlobDoesNotNameEveryFolderItPassesThrough) {
  std::vector<std::string> plus = {"secret.list:secret/+/db"};
  EXPECT_TRUE(SecretListReaches(plus, "secret/"));
  EXPECT_FALSE(SecretListNamesFolder(plus, "secret/zzz/"));
  EXPECT_TRUE(SecretListReaches(plus, "secret/zzz/"));
  std::vector<std::string> prefix = {"secret.list:secret/helpdesk/*", "secret.list:secret/app*"};
  EXPECT_TRUE(SecretListNamesFolder(prefix, "secret/helpdesk/"));
  EXPECT_TRUE(SecretListNamesFolder(prefix, "secret/app-old/"));
  EXPECT_FALSE(SecretListNamesFolder(prefix, "secret/crm/"));
  EXPECT_TRUE(SecretListNamesFolder({"*"}, "secret/x/"));
}

TEST(SecretPermission, AnyAccessReachesAMount) {
  EXPECT_TRUE(SecretAnyAccessReaches({"secret.read:secret/app/*"}, "secret/"));
  EXPECT_FALSE(SecretAnyAccessReaches({"secret.read:secret/app/*"}, "team/"));
  EXPECT_FALSE(SecretAnyAccessReaches({"api.*.read_key"}, "secret/"));
  EXPECT_TRUE(SecretAnyAccessReaches({"secret.*"}, "team/"));
  EXPECT_TRUE(SecretAnyAccessReaches({"*"}, "team/"));
}

TEST(SecretPermission, CoversForDelegation) {
  EXPECT_TRUE(PermissionCovers("*", "secret.read:secret/a/*"));
  EXPECT_TRUE(PermissionCovers("secret.*", "secret.read:secret/a/*"));
  EXPECT_TRUE(PermissionCovers("secret.read", "secret.read:secret/a/*"));
  EXPECT_FALSE(PermissionCovers("secret.read", "secret.update:secret/a/*"));
  EXPECT_TRUE(PermissionCovers("secret.*:secret/*", "secret.read:secret/a/*"));
  EXPECT_FALSE(PermissionCovers("secret.read:secret/a/*", "secret.read:secret/*"));
  EXPECT_FALSE(PermissionCovers("secret.read:secret/a/*", "secret.*:secret/a/*"));
  EXPECT_FALSE(PermissionCovers("secret.read:secret/*", "secret.read"));
  EXPECT_FALSE(PermissionCovers("secret.read:secret/*", "api.*.read_key"));
}

TEST(SecretPermission, SecretFormNeverMatchesOtherPermissionsBySegments) {
  EXPECT_FALSE(PermissionMatches("secret.read:a.*", "secret.read:a.b"));
  EXPECT_FALSE(PermissionMatches("secret.read:*", "secret.read"));
}

}  // namespace
}  // namespace keyhold
