#include "crypto/shamir.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace keyhold::crypto::shamir {
namespace {

constexpr uint8_t kVersion = 1;
constexpr size_t kHeader = 7;  // version, set id, threshold, x
constexpr size_t kChecksum = 4;
constexpr std::string_view kKeyCheckLabel = "keyhold seal key check v1";

// Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1, in constant time (no tables, no
// branches on the operands).
uint8_t Mul(uint8_t a, uint8_t b) {
  uint8_t p = 0;
  for (int i = 0; i < 8; ++i) {
    p ^= static_cast<uint8_t>(a & static_cast<uint8_t>(-(b & 1)));
    auto high = static_cast<uint8_t>(-(a >> 7));
    a = static_cast<uint8_t>((a << 1) ^ (0x1b & high));
    b >>= 1;
  }
  return p;
}

// a^254 = a^-1 for a != 0 (and 0 for 0), by a fixed chain of squarings.
uint8_t Inverse(uint8_t a) {
  uint8_t result = 1;
  uint8_t power = a;
  for (int bit = 0; bit < 8; ++bit) {  // 254 = 0b11111110
    if (bit != 0) result = Mul(result, power);
    power = Mul(power, power);
  }
  return result;
}

// A SecureBytes' bytes as a string_view, for hashing.
std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

bool IsHex(std::string_view s) {
  return !s.empty() && s.size() % 2 == 0 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

StatusOr<std::vector<Share>> Split(std::span<const uint8_t> secret, int threshold, int shares) {
  if (secret.empty() || secret.size() > kMaxSecretSize) {
    return InvalidArgument("the secret to split must be 1 to " + std::to_string(kMaxSecretSize) +
                           " bytes");
  }
  if (shares < 1 || shares > kMaxShares) return InvalidArgument("shares must be from 1 to 255");
  if (threshold < 1 || threshold > shares) {
    return InvalidArgument("threshold must be from 1 to the number of shares");
  }
  const size_t len = secret.size();
  // coefficients[k * len + i]: the x^k coefficient of byte i's polynomial; x^0 is the secret.
  SecureBytes coefficients(static_cast<size_t>(threshold) * len);
  std::span<uint8_t> c = coefficients.mutable_view();
  std::copy(secret.begin(), secret.end(), c.begin());
  if (threshold > 1) RandomBytes(c.subspan(len));
  std::vector<Share> out;
  out.reserve(static_cast<size_t>(shares));
  for (int x = 1; x <= shares; ++x) {
    Share s{.x = static_cast<uint8_t>(x), .y = SecureBytes(len)};
    std::span<uint8_t> y = s.y.mutable_view();
    for (size_t i = 0; i < len; ++i) {
      uint8_t acc = 0;
      for (int k = threshold - 1; k >= 0; --k) {
        acc = static_cast<uint8_t>(Mul(acc, s.x) ^ c[static_cast<size_t>(k) * len + i]);
      }
      y[i] = acc;
    }
    out.push_back(std::move(s));
  }
  return out;
}

StatusOr<SecureBytes> Combine(std::span<const Share> shares) {
  if (shares.empty()) return InvalidArgument("no shares to combine");
  const size_t len = shares[0].y.size();
  for (size_t i = 0; i < shares.size(); ++i) {
    if (shares[i].x == 0) return InvalidArgument("a share has index 0");
    if (shares[i].y.size() != len || len == 0) {
      return InvalidArgument("the shares are not of one size");
    }
    for (size_t j = 0; j < i; ++j) {
      if (shares[j].x == shares[i].x) return InvalidArgument("a share is given twice");
    }
  }
  SecureBytes secret(len);
  std::span<uint8_t> out = secret.mutable_view();
  for (size_t i = 0; i < shares.size(); ++i) {
    // The Lagrange basis polynomial of share i at x = 0: prod x_j / (x_j - x_i), j != i.
    uint8_t numerator = 1;
    uint8_t denominator = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      numerator = Mul(numerator, shares[j].x);
      denominator = Mul(denominator, static_cast<uint8_t>(shares[j].x ^ shares[i].x));
    }
    uint8_t basis = Mul(numerator, Inverse(denominator));
    std::span<const uint8_t> y = shares[i].y.view();
    for (size_t b = 0; b < len; ++b) out[b] ^= Mul(basis, y[b]);
  }
  return secret;
}

std::string EncodeShare(const SetId& set_id, int threshold, const Share& share) {
  std::span<const uint8_t> y = share.y.view();
  SecureBytes bytes(kHeader + y.size() + kChecksum);
  std::span<uint8_t> b = bytes.mutable_view();
  b[0] = kVersion;
  std::copy(set_id.begin(), set_id.end(), b.begin() + 1);
  b[5] = static_cast<uint8_t>(threshold);
  b[6] = share.x;
  std::copy(y.begin(), y.end(), b.begin() + kHeader);
  Sha256Digest sum = Sha256(AsText(b.first(kHeader + y.size())));
  std::copy_n(sum.begin(), kChecksum, b.begin() + static_cast<ptrdiff_t>(kHeader + y.size()));
  return Base64Encode(bytes.view());
}

StatusOr<ParsedShare> ParseShare(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  constexpr size_t kMaxText = 2 * (kHeader + kMaxSecretSize + kChecksum);
  if (text.empty() || text.size() > kMaxText) {
    return InvalidArgument("not an unseal share: wrong length");
  }
  std::vector<uint8_t> raw;
  bool decoded = false;
  if (IsHex(text)) {
    std::string hex;
    decoded = HexDecode(text, &hex);
    raw.assign(hex.begin(), hex.end());
    OPENSSL_cleanse(hex.data(), hex.size());
  } else {
    decoded = Base64Decode(text, &raw);
  }
  SecureBytes bytes(raw.size());
  std::copy(raw.begin(), raw.end(), bytes.mutable_view().begin());
  OPENSSL_cleanse(raw.data(), raw.size());
  if (!decoded) return InvalidArgument("not an unseal share: neither base64 nor hex");
  std::span<const uint8_t> b = bytes.view();
  if (b.size() < kHeader + 1 + kChecksum || b.size() > kHeader + kMaxSecretSize + kChecksum) {
    return InvalidArgument("not an unseal share: wrong length");
  }
  if (b[0] != kVersion) return InvalidArgument("not an unseal share: unknown version");
  const size_t len = b.size() - kHeader - kChecksum;
  Sha256Digest sum = Sha256(AsText(b.first(kHeader + len)));
  if (!ConstantTimeEqual(std::span<const uint8_t>(sum).first(kChecksum),
                         b.subspan(kHeader + len))) {
    return InvalidArgument("the share's checksum does not match: it was mistyped or cut short");
  }
  if (b[5] == 0 || b[6] == 0) return InvalidArgument("not an unseal share: bad threshold or index");
  ParsedShare p;
  std::copy_n(b.begin() + 1, p.set_id.size(), p.set_id.begin());
  p.threshold = b[5];
  p.share.x = b[6];
  p.share.y = SecureBytes(len);
  std::span<const uint8_t> y = b.subspan(kHeader, len);
  std::copy(y.begin(), y.end(), p.share.y.mutable_view().begin());
  return p;
}

Sha256Digest KeyCheck(std::span<const uint8_t> key) { return HmacSha256(key, kKeyCheckLabel); }

}  // namespace keyhold::crypto::shamir
