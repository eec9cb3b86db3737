#include "crypto/keyring.h"

#include <gtest/gtest.h>

#include "crypto/crypto.h"

namespace keyhold::crypto {
namespace {

std::vector<uint8_t> Key(uint8_t fill) { return std::vector<uint8_t>(32, fill); }

std::unique_ptr<Keyring> RingWithOneTerm(const std::vector<uint8_t>& master,
                                         std::vector<SealedTerm>* stored = nullptr) {
  auto ring = Keyring::Open(master, {});
  EXPECT_TRUE(ring.ok());
  SealedTerm t = (*ring)->MakeTerm(1000);
  EXPECT_TRUE((*ring)->AddTerm(t).ok());
  if (stored) stored->push_back(t);
  return std::move(*ring);
}

TEST(Keyring, SealsAndOpensUnderTheSameAad) {
  auto ring = RingWithOneTerm(Key(1));
  Envelope e = ring->Seal("secret|app/smtp|1", "hunter2-value");
  EXPECT_EQ(e.term, 1);
  auto opened = ring->Open("secret|app/smtp|1", e);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  EXPECT_EQ(opened->Reveal(), "hunter2-value");
}

TEST(Keyring, CiphertextDoesNotContainThePlaintext) {
  auto ring = RingWithOneTerm(Key(1));
  Envelope e = ring->Seal("a", "plain-text-marker");
  std::string blob(e.ciphertext.begin(), e.ciphertext.end());
  EXPECT_EQ(blob.find("plain-text-marker"), std::string::npos);
}

TEST(Keyring, EachSealUsesAFreshDataKeyAndNonce) {
  auto ring = RingWithOneTerm(Key(1));
  Envelope a = ring->Seal("x", "same");
  Envelope b = ring->Seal("x", "same");
  EXPECT_NE(a.ciphertext, b.ciphertext);
  EXPECT_NE(a.wrapped_key, b.wrapped_key);
}

TEST(Keyring, AMovedRowDoesNotOpen) {
  auto ring = RingWithOneTerm(Key(1));
  Envelope e = ring->Seal("secret|app/smtp|1", "v");
  auto moved = ring->Open("secret|app/smtp|2", e);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kInternal);
  EXPECT_EQ(moved.status().reason(), "crypto/tampered");
}

TEST(Keyring, AnyChangedByteIsDetected) {
  auto ring = RingWithOneTerm(Key(1));
  Envelope e = ring->Seal("aad", "value");
  for (size_t i = 0; i < e.ciphertext.size(); ++i) {
    Envelope bad = e;
    bad.ciphertext[i] ^= 0x01;
    EXPECT_FALSE(ring->Open("aad", bad).ok()) << i;
  }
  for (size_t i = 0; i < e.wrapped_key.size(); ++i) {
    Envelope bad = e;
    bad.wrapped_key[i] ^= 0x80;
    EXPECT_FALSE(ring->Open("aad", bad).ok()) << i;
  }
  Envelope truncated = e;
  truncated.ciphertext.resize(5);
  EXPECT_FALSE(ring->Open("aad", truncated).ok());
}

TEST(Keyring, ReopensFromStoredTermsWithTheSameMasterKey) {
  std::vector<SealedTerm> stored;
  Envelope e = RingWithOneTerm(Key(7), &stored)->Seal("aad", "kept");
  auto again = Keyring::Open(Key(7), stored);
  ASSERT_TRUE(again.ok());
  auto opened = (*again)->Open("aad", e);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->Reveal(), "kept");
}

TEST(Keyring, AWrongMasterKeyIsRefusedAtOpen) {
  std::vector<SealedTerm> stored;
  RingWithOneTerm(Key(7), &stored);
  auto wrong = Keyring::Open(Key(8), stored);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.status().reason(), "crypto/wrong_master_key");
  EXPECT_FALSE(Keyring::Open(std::vector<uint8_t>(16, 7), stored).ok());
}

TEST(Keyring, RotationKeepsOldValuesReadableAndRewrapsThem) {
  std::vector<SealedTerm> stored;
  auto ring = RingWithOneTerm(Key(3), &stored);
  Envelope old = ring->Seal("aad", "before rotation");
  SealedTerm t2 = ring->MakeTerm(2000);
  EXPECT_EQ(t2.term, 2);
  ASSERT_TRUE(ring->AddTerm(t2).ok());
  stored.push_back(t2);
  EXPECT_EQ(ring->CurrentTerm(), 2);
  EXPECT_EQ(ring->Seal("b", "new").term, 2);
  ASSERT_TRUE(ring->Open("aad", old).ok());

  auto re = ring->Rewrap("aad", old);
  ASSERT_TRUE(re.ok());
  EXPECT_EQ(re->term, 2);
  Envelope moved = old;
  moved.term = re->term;
  moved.wrapped_key = re->wrapped_key;
  auto reopened = Keyring::Open(Key(3), {stored[1]});  // only term 2 left
  ASSERT_TRUE(reopened.ok());
  auto v = (*reopened)->Open("aad", moved);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->Reveal(), "before rotation");
  auto gone = (*reopened)->Open("aad", old);
  EXPECT_EQ(gone.status().reason(), "crypto/unknown_term");
}

TEST(Keyring, ATermSealedUnderAnotherNumberDoesNotOpen) {
  auto ring = RingWithOneTerm(Key(1));
  SealedTerm t = ring->MakeTerm(0);
  t.term = 5;  // renumbered in the store
  EXPECT_FALSE(ring->AddTerm(t).ok());
}

}  // namespace
}  // namespace keyhold::crypto
