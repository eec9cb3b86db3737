#include "audit/webhook.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace keyhold::audit {
namespace {

constexpr std::string_view kSecretKeyLabel = "keyhold webhook signing secret encryption key v1";

// Whether `a` (4 bytes) lies in a range no webhook may reach by default.
bool ForbiddenV4(const uint8_t* a) {
  struct Range {
    std::array<uint8_t, 4> net;
    int prefix;
  };
  static constexpr Range kRanges[] = {
      {{0, 0, 0, 0}, 8},       // "this" network
      {{10, 0, 0, 0}, 8},      // private
      {{100, 64, 0, 0}, 10},   // carrier-grade NAT
      {{127, 0, 0, 0}, 8},     // loopback
      {{169, 254, 0, 0}, 16},  // link-local, cloud metadata (169.254.169.254)
      {{172, 16, 0, 0}, 12},   // private
      {{192, 0, 0, 0}, 24},    // IETF protocol assignments
      {{192, 168, 0, 0}, 16},  // private
      {{198, 18, 0, 0}, 15},   // benchmarking
      {{224, 0, 0, 0}, 4},     // multicast
      {{240, 0, 0, 0}, 4},     // reserved, broadcast
  };
  uint32_t addr = (uint32_t{a[0]} << 24) | (uint32_t{a[1]} << 16) | (uint32_t{a[2]} << 8) | a[3];
  for (const Range& r : kRanges) {
    uint32_t net = (uint32_t{r.net[0]} << 24) | (uint32_t{r.net[1]} << 16) |
                   (uint32_t{r.net[2]} << 8) | r.net[3];
    uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    if ((addr & mask) == net) return true;
  }
  return false;
}

bool ForbiddenV6(const std::array<uint8_t, 16>& a) {
  static constexpr std::array<uint8_t, 12> kMapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr std::array<uint8_t, 12> kNat64 = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (std::equal(kMapped.begin(), kMapped.end(), a.begin()) ||
      std::equal(kNat64.begin(), kNat64.end(), a.begin())) {
    return ForbiddenV4(a.data() + 12);  // the IPv4 address it stands for
  }
  bool zero_head = std::all_of(a.begin(), a.begin() + 15, [](uint8_t b) { return b == 0; });
  if (zero_head && (a[15] == 0 || a[15] == 1)) return true;  // :: and ::1
  if (std::all_of(a.begin(), a.begin() + 12, [](uint8_t b) { return b == 0; })) {
    return true;  // deprecated IPv4-compatible ::a.b.c.d
  }
  if ((a[0] & 0xfe) == 0xfc) return true;                  // fc00::/7 unique local
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return true;  // fe80::/10 link-local
  if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return true;  // fec0::/10 site-local
  if (a[0] == 0xff) return true;                           // multicast
  if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return true;  // documentation
  return false;
}

}  // namespace

WebhookSecret NewWebhookSecret(Env& env) {
  WebhookSecret s;
  s.key.resize(kWebhookSecretBytes);
  env.RandomBytes(s.key);
  s.text = std::string(kWebhookSecretPrefix) + crypto::Base64Encode(s.key);
  return s;
}

bool ParseWebhookSecret(std::string_view text, std::vector<uint8_t>* key) {
  if (text.starts_with(kWebhookSecretPrefix)) text.remove_prefix(kWebhookSecretPrefix.size());
  return crypto::Base64Decode(text, key) && key->size() >= 16;
}

std::string SignWebhook(std::span<const uint8_t> key, std::string_view msg_id, int64_t timestamp_s,
                        std::string_view body) {
  std::string content;
  content.reserve(msg_id.size() + body.size() + 24);
  content.append(msg_id).append(".").append(std::to_string(timestamp_s)).append(".").append(body);
  crypto::Sha256Digest mac = crypto::HmacSha256(key, content);
  return "v1," + crypto::Base64Encode(mac);
}

crypto::Sha256Digest WebhookSecretKey(std::span<const uint8_t> master_key) {
  return crypto::HmacSha256(master_key, kSecretKeyLabel);
}

std::vector<uint8_t> SealWebhookSecret(std::span<const uint8_t> storage_key, Env& env,
                                       std::string_view endpoint_id,
                                       std::span<const uint8_t> secret_key) {
  std::array<uint8_t, 12> nonce{};
  env.RandomBytes(nonce);
  std::string_view plain(reinterpret_cast<const char*>(secret_key.data()), secret_key.size());
  return crypto::Aes256GcmSeal(storage_key, nonce, plain, endpoint_id);
}

bool OpenWebhookSecret(std::span<const uint8_t> storage_key, std::span<const uint8_t> sealed,
                       std::string_view endpoint_id, std::vector<uint8_t>* secret_key) {
  return crypto::Aes256GcmOpen(storage_key, sealed, endpoint_id, secret_key);
}

StatusOr<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  auto bad = [](const std::string& why) { return InvalidArgument("url " + why); };
  if (url.size() > 2048) return bad("is longer than 2048 bytes");
  WebhookUrl out;
  if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return bad("must start with http:// or https://");
  }
  if (url.find('#') != std::string_view::npos) return bad("must not have a fragment");
  size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return bad("must not hold user information");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("must not hold spaces");
  }
  std::string_view host = authority, port;
  if (authority.starts_with("[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("has an unclosed [");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(":")) return bad("has text after its address");
    port = rest.empty() ? "" : rest.substr(1);
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("has no host");
  if (port.empty()) port = out.tls ? "443" : "80";
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
    return bad("has a port that is not 1 to 65535");
  }
  out.host = std::string(host);
  out.port = std::string(port);
  return out;
}

int64_t BackoffDelayMs(int attempt, int64_t base_ms, int64_t cap_ms, double random_fraction) {
  // Doubling stops once it passes the cap, so no shift overflows whatever `attempt` is.
  int64_t ceiling = std::max<int64_t>(base_ms, 0);
  for (int i = 1; i < attempt && ceiling < cap_ms; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap_ms);
  double f = std::clamp(random_fraction, 0.0, 1.0);
  return std::min(static_cast<int64_t>(std::floor(f * static_cast<double>(ceiling))), ceiling);
}

bool IsForbiddenWebhookAddress(std::string_view address) {
  std::string text(address);
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (size_t zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  std::array<uint8_t, 16> v6{};
  std::array<uint8_t, 4> v4{};
  if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) return ForbiddenV4(v4.data());
  if (inet_pton(AF_INET6, text.c_str(), v6.data()) == 1) return ForbiddenV6(v6);
  return true;
}

}  // namespace keyhold::audit
