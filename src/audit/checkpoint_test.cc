#include "audit/checkpoint.h"

#include <gtest/gtest.h>

#include <vector>

namespace keyhold::audit {
namespace {

std::vector<uint8_t> MasterKey(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

ChainHash SomeHash(uint8_t fill) {
  ChainHash h;
  h.fill(fill);
  return h;
}

TEST(CheckpointTest, SignedCheckpointVerifiesAndSurvivesJson) {
  auto signer = CheckpointSigner::FromMasterKey(MasterKey(7));
  ASSERT_TRUE(signer.ok()) << signer.status().message();
  Checkpoint cp = signer->Sign(42, SomeHash(3), 1'700'000'000'000);
  EXPECT_TRUE(VerifySignature(cp));
  auto back = ParseCheckpoint(ToJson(cp));
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->seq, 42);
  EXPECT_EQ(back->hash, cp.hash);
  EXPECT_EQ(back->time_ms, cp.time_ms);
  EXPECT_EQ(back->public_key, signer->public_key());
  EXPECT_TRUE(VerifySignature(*back));
}

TEST(CheckpointTest, TheKeyIsDerivedFromTheMasterKeyAlone) {
  auto a = CheckpointSigner::FromMasterKey(MasterKey(1));
  auto b = CheckpointSigner::FromMasterKey(MasterKey(1));
  auto c = CheckpointSigner::FromMasterKey(MasterKey(2));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->public_key(), b->public_key());
  EXPECT_NE(a->public_key(), c->public_key());
  EXPECT_EQ(CheckpointSigner::FromMasterKey(std::vector<uint8_t>(31, 1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CheckpointTest, AnyChangedFieldBreaksTheSignature) {
  auto signer = CheckpointSigner::FromMasterKey(MasterKey(9));
  ASSERT_TRUE(signer.ok());
  const Checkpoint cp = signer->Sign(10, SomeHash(5), 1000);
  Checkpoint seq = cp;
  seq.seq = 9;  // a truncated log presented as whole
  Checkpoint hash = cp;
  hash.hash[31] ^= 1;
  Checkpoint time = cp;
  time.time_ms += 1;
  Checkpoint sig = cp;
  sig.signature[0] ^= 1;
  Checkpoint other_key = cp;
  other_key.public_key = CheckpointSigner::FromMasterKey(MasterKey(8))->public_key();
  for (const Checkpoint& bad : {seq, hash, time, sig, other_key}) {
    EXPECT_FALSE(VerifySignature(bad));
  }
}

TEST(CheckpointTest, MalformedLinesAreRefusedWithAReason) {
  for (const char* line : {"", "[]", "{\"seq\":1}", "{\"seq\":-1,\"time\":1}",
                           "{\"seq\":1,\"time\":1,\"hash\":\"zz\"}",
                           "{\"seq\":1,\"time\":1,\"hash\":\"00\",\"publicKey\":\"00\"}"}) {
    auto cp = ParseCheckpoint(line);
    EXPECT_EQ(cp.status().code(), StatusCode::kInvalidArgument) << line;
  }
}

TEST(SensitiveDigestTest, KeyedAndStable) {
  std::vector<uint8_t> salt_a(32, 1), salt_b(32, 2);
  std::string a1 = SensitiveDigest(salt_a, "kh_secret");
  EXPECT_EQ(a1, SensitiveDigest(salt_a, "kh_secret"));
  EXPECT_NE(a1, SensitiveDigest(salt_b, "kh_secret"));
  EXPECT_EQ(a1.rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(a1.size(), 12u + 64u);
  EXPECT_EQ(a1.find("kh_secret"), std::string::npos);
}

}  // namespace
}  // namespace keyhold::audit
