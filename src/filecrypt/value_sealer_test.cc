#include "filecrypt/value_sealer.h"

#include <gtest/gtest.h>

#include "fakes/fake_env.h"

namespace keyhold::filecrypt {
namespace {

TEST(FileKey, Base64RoundTripAndBadInput) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  auto back = FileKey::FromBase64("  " + key.ToBase64() + "\n");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->Id(), key.Id());
  EXPECT_EQ(key.Id().size(), 16u);
  EXPECT_EQ(FileKey::FromBase64("c2hvcnQ=").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FileKey::FromBase64("not base64!").status().code(), StatusCode::kInvalidArgument);
}

TEST(ValueSealer, SealsAndOpensAtTheSamePath) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  std::string token = sealer.Seal("db.password", ValueType::kString, "hunter2", env);
  EXPECT_TRUE(token.starts_with("ENC[AES256_GCM,data:"));
  EXPECT_TRUE(token.ends_with(",type:str]"));
  EXPECT_EQ(token.find("hunter2"), std::string::npos);
  auto opened = sealer.Open("db.password", token);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->plaintext, "hunter2");
  EXPECT_EQ(opened->type, ValueType::kString);
  EXPECT_NE(sealer.Seal("db.password", ValueType::kString, "hunter2", env), token);
}

TEST(ValueSealer, AValueMovedToAnotherPathDoesNotOpen) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  std::string token = sealer.Seal("servers[1].token", ValueType::kString, "t1", env);
  auto moved = sealer.Open("servers[0].token", token);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().reason(), kReasonIntegrity);
  EXPECT_EQ(moved.status().message().find("t1"), std::string::npos);
}

TEST(ValueSealer, AChangedTypeDoesNotOpen) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  std::string token = sealer.Seal("port", ValueType::kString, "5432", env);
  std::string as_int = token.substr(0, token.size() - 4) + "int]";
  EXPECT_EQ(sealer.Open("port", as_int).status().reason(), kReasonIntegrity);
  EXPECT_EQ(sealer.Open("port", "ENC[AES256_GCM,data:,iv:,tag:,type:str]").status().reason(),
            kReasonIntegrity);
}

TEST(ValueSealer, AnotherKeyIsRefusedByItsId) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  FileKey other = FileKey::Generate(env);
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  FileHeader header = sealer.Header("json", {});
  auto wrong = ValueSealer::ForFile(other, header);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().reason(), kReasonWrongKey);
  EXPECT_TRUE(IsVerificationFailure(wrong.status()));
  // Forging the key id does not help: the MAC key differs.
  header.key_id = other.Id();
  auto forged = ValueSealer::ForFile(other, header);
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->VerifyMac("json", {}, header.mac).reason(), kReasonIntegrity);
}

TEST(ValueSealer, MacCoversEveryPathTokenAndTheOrder) {
  testing::FakeEnv env;
  FileKey key = FileKey::Generate(env);
  ValueSealer sealer = ValueSealer::ForNewFile(key, env);
  std::vector<SealedEntry> entries = {{"a", "ENC[1]"}, {"b", "ENC[2]"}};
  FileHeader header = sealer.Header("env", entries);
  auto reopened = ValueSealer::ForFile(key, header);
  ASSERT_TRUE(reopened.ok());
  EXPECT_TRUE(reopened->VerifyMac("env", entries, header.mac).ok());
  EXPECT_FALSE(reopened->VerifyMac("json", entries, header.mac).ok());
  EXPECT_FALSE(reopened->VerifyMac("env", {{"b", "ENC[2]"}, {"a", "ENC[1]"}}, header.mac).ok());
  EXPECT_FALSE(reopened->VerifyMac("env", {{"a", "ENC[1]"}}, header.mac).ok());
  EXPECT_FALSE(reopened->VerifyMac("env", {{"a", "ENC[1]b"}, {"", "ENC[2]"}}, header.mac).ok());
}

TEST(ValueSealer, PathsDoNotCollide) {
  EXPECT_EQ(ChildPath("", "db"), "db");
  EXPECT_EQ(ChildPath("db", "password"), "db.password");
  EXPECT_EQ(IndexPath(ChildPath("", "servers"), 1) + ".token", "servers[1].token");
  EXPECT_EQ(ChildPath("db", "a.b"), "db[\"a.b\"]");
  EXPECT_EQ(ChildPath("", ""), "[\"\"]");
  EXPECT_NE(ChildPath(ChildPath("", "a"), "b"), ChildPath("", "a.b"));
  EXPECT_NE(ChildPath("", "x[0]"), IndexPath("x", 0));
}

}  // namespace
}  // namespace keyhold::filecrypt
