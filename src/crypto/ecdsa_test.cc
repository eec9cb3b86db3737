#include "crypto/ecdsa.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes/ecdsa_signer.h"

namespace keyhold::crypto {
namespace {

using testing::EcdsaSigner;

TEST(EcdsaP256, VerifiesItsOwnSignatureOnly) {
  EcdsaSigner signer, other;
  auto key = EcdsaP256PublicKey::FromPem(signer.PublicPem());
  ASSERT_TRUE(key.ok()) << key.status().message();
  const std::string body = R"([{"token":"x","type":"keyhold_key"}])";
  std::vector<uint8_t> sig = signer.Sign(body);
  EXPECT_TRUE(key->Verify(body, sig));
  EXPECT_FALSE(key->Verify(body + " ", sig));         // another message
  EXPECT_FALSE(key->Verify(body, other.Sign(body)));  // another key's signature
  std::vector<uint8_t> flipped = sig;
  flipped[flipped.size() / 2] ^= 1;
  EXPECT_FALSE(key->Verify(body, flipped));
  EXPECT_FALSE(key->Verify(body, {}));
  EXPECT_FALSE(key->Verify(body, std::vector<uint8_t>(sig.begin(), sig.end() - 1)));
  EXPECT_FALSE(key->Verify(body, std::vector<uint8_t>(4096, 0x30)));
}

TEST(EcdsaP256, RefusesWhatIsNotAP256PublicKey) {
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem("").ok());
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem("not pem at all").ok());
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem(EcdsaSigner("EC", "P-384").PublicPem()).ok());
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem(EcdsaSigner("ED25519", nullptr).PublicPem()).ok());
  std::string pem = EcdsaSigner().PublicPem();
  EXPECT_FALSE(EcdsaP256PublicKey::FromPem(pem.substr(0, pem.size() / 2)).ok());
}

}  // namespace
}  // namespace keyhold::crypto
