#include "core/ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace keyhold {
namespace {

// Parses an address into 16 bytes; IPv4 (and IPv4-mapped IPv6) into the first 4. Returns the
// family: 4, 6, or 0 if unparsable.
int ParseAddress(std::string_view text, std::array<uint8_t, 16>* out) {
  // inet_pton reads a C string: text after a NUL would be ignored, not refused.
  if (text.find('\0') != std::string_view::npos) return 0;
  std::string s(text);
  out->fill(0);
  if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) return 4;
  std::array<uint8_t, 16> v6{};
  if (inet_pton(AF_INET6, s.c_str(), v6.data()) != 1) return 0;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(v6.data(), kMapped, 12) == 0) {
    std::memcpy(out->data(), v6.data() + 12, 4);
    return 4;
  }
  *out = v6;
  return 6;
}

}  // namespace

StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  if (text.size() > 64) return InvalidArgument("IP network is too long");
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  Cidr c;
  int family = ParseAddress(addr, &c.bytes_);
  if (family == 0) return InvalidArgument("'" + std::string(addr) + "' is not an IP address");
  c.v6_ = family == 6;
  int max = c.v6_ ? 128 : 32;
  c.prefix_ = max;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3) return InvalidArgument("bad prefix length in IP network");
    int n = 0;
    for (char ch : bits) {
      if (ch < '0' || ch > '9') return InvalidArgument("bad prefix length in IP network");
      n = n * 10 + (ch - '0');
    }
    if (n > max) return InvalidArgument("prefix length out of range in IP network");
    c.prefix_ = n;
  }
  return c;
}

bool Cidr::Contains(std::string_view address) const {
  std::array<uint8_t, 16> a{};
  int family = ParseAddress(address, &a);
  if (family == 0 || (family == 6) != v6_) return false;
  int full = prefix_ / 8;
  if (std::memcmp(a.data(), bytes_.data(), static_cast<size_t>(full)) != 0) return false;
  int rest = prefix_ % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[static_cast<size_t>(full)] & mask) == (bytes_[static_cast<size_t>(full)] & mask);
}

bool IsLoopback(std::string_view address) {
  static const Cidr kV4 = Cidr::Parse("127.0.0.0/8").value();
  static const Cidr kV6 = Cidr::Parse("::1").value();
  return kV4.Contains(address) || kV6.Contains(address);
}

std::string CanonicalAddress(std::string_view text) {
  if (text.size() > 64) return "";
  if (text.starts_with('[')) {  // [v6] or [v6]:port
    size_t close = text.find(']');
    if (close == std::string_view::npos) return "";
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest[0] != ':' || rest.size() > 6)) return "";
    text = text.substr(1, close - 1);
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos &&
                                            text.find(':', colon + 1) == std::string_view::npos) {
    text = text.substr(0, colon);  // a.b.c.d:port (an IPv6 address has more than one colon)
  }
  std::array<uint8_t, 16> bytes{};
  int family = ParseAddress(text, &bytes);
  if (family == 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

std::string NetworkOf(std::string_view address, int v4_prefix, int v6_prefix) {
  if (address.size() > 64) return "";
  std::array<uint8_t, 16> bytes{};
  int family = ParseAddress(address, &bytes);
  if (family == 0) return "";
  int width = family == 4 ? 32 : 128;
  int prefix = std::clamp(family == 4 ? v4_prefix : v6_prefix, 0, width);
  for (int bit = prefix; bit < width; ++bit) {
    bytes[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

StatusOr<TrustedProxies> TrustedProxies::Parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.empty()) continue;
    auto net = Cidr::Parse(item);
    if (!net.ok()) {
      return InvalidArgument("trusted proxy '" + std::string(item.substr(0, 64)) +
                             "' is not an IP address or network");
    }
    out.nets_.push_back(*net);
  }
  return out;
}

bool TrustedProxies::Trusts(std::string_view address) const {
  for (const Cidr& net : nets_) {
    if (net.Contains(address)) return true;
  }
  return false;
}

std::string TrustedProxies::ClientAddress(std::string_view peer,
                                          std::string_view forwarded_for) const {
  std::string client(peer);
  // At most 32 hops are looked at: a longer chain is an attacker padding it.
  for (int hops = 0; hops < 32 && Trusts(client) && !forwarded_for.empty(); ++hops) {
    size_t comma = forwarded_for.rfind(',');
    std::string_view entry =
        comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1);
    forwarded_for =
        comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    while (!entry.empty() && (entry.front() == ' ' || entry.front() == '\t'))
      entry.remove_prefix(1);
    while (!entry.empty() && (entry.back() == ' ' || entry.back() == '\t')) entry.remove_suffix(1);
    std::string next = CanonicalAddress(entry);
    if (next.empty()) break;
    client = std::move(next);
  }
  return client;
}

}  // namespace keyhold
