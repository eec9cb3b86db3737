#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include <sstream>

#include "crypto/secret.h"
#include "crypto/secure_bytes.h"

namespace keyhold::crypto {
namespace {

TEST(Crypto, Sha256KnownVector) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Crypto, HmacKnownVector) {
  std::string key = "key";
  auto mac = HmacSha256({reinterpret_cast<const uint8_t*>(key.data()), key.size()},
                        "The quick brown fox jumps over the lazy dog");
  EXPECT_EQ(HexEncode(mac), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(Crypto, ConstantTimeEqual) {
  Sha256Digest a = Sha256("x"), b = Sha256("x"), c = Sha256("y");
  EXPECT_TRUE(ConstantTimeEqual(a, b));
  EXPECT_FALSE(ConstantTimeEqual(a, c));
  EXPECT_FALSE(ConstantTimeEqual(std::span<const uint8_t>(a).first(3), b));
}

TEST(Crypto, HexRoundTrip) {
  std::string out;
  ASSERT_TRUE(HexDecode("00ffA0", &out));
  EXPECT_EQ(out, std::string("\x00\xff\xa0", 3));
  EXPECT_FALSE(HexDecode("abc", &out));
  EXPECT_FALSE(HexDecode("zz", &out));
}

TEST(Secret, PrintsRedactedAndWipesOnMove) {
  Secret s(std::string("hunter2-very-secret"));
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  Secret moved(std::move(s));
  EXPECT_TRUE(s.empty());  // NOLINT: checking the moved-from state is the point
  EXPECT_EQ(moved.Reveal(), "hunter2-very-secret");
  EXPECT_TRUE(moved.Equals(Secret(std::string("hunter2-very-secret"))));
  EXPECT_FALSE(moved.Equals(Secret(std::string("hunter2"))));
}

TEST(Crypto, RandomBytesDiffer) {
  std::array<uint8_t, 32> a{}, b{};
  RandomBytes(a);
  RandomBytes(b);
  EXPECT_NE(a, b);
}

TEST(SecureBytes, DecodesHexIntoLockedMemoryAndNeverQuotesIt) {
  ASSERT_TRUE(InitSecureHeap());  // tests run where memory can be locked
  std::string hex(64, 'a');
  hex[0] = 'F';
  auto key = SecureBytes::FromHex(" " + hex + "\n", 32);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->size(), 32u);
  EXPECT_EQ(key->view()[0], 0xFA);
  EXPECT_EQ(key->view()[31], 0xAA);
  EXPECT_TRUE(key->Locked());
  std::ostringstream os;
  os << *key;
  EXPECT_EQ(os.str(), "[redacted]");
  SecureBytes moved = std::move(key).value();
  EXPECT_TRUE(moved.Locked());
  std::string bad = hex;
  bad[10] = 'g';
  auto refused = SecureBytes::FromHex(bad, 32);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().find(bad.substr(0, 8)), std::string::npos);
  EXPECT_FALSE(SecureBytes::FromHex(hex.substr(2), 32).ok());
}

}  // namespace
}  // namespace keyhold::crypto
