// IP address allowlists: CIDR parsing and membership, IPv4 and IPv6.
//
//   auto net = Cidr::Parse("10.0.0.0/8");
//   net->Contains("10.1.2.3") == true
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keyhold {

class Cidr {
 public:
  // Accepts "a.b.c.d/n", "x::y/n", or a bare address (a /32 or /128).
  static StatusOr<Cidr> Parse(std::string_view text);
  // False for an unparsable address or one of the other family. IPv4-mapped IPv6 addresses
  // (::ffff:a.b.c.d) are matched as IPv4.
  bool Contains(std::string_view address) const;

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
  int prefix_ = 0;
};

// True if `address` is a loopback address: 127.0.0.0/8, ::1, or 127.x.y.z mapped into IPv6
// (::ffff:127.0.0.1). False for anything unparsable.
bool IsLoopback(std::string_view address);

// The proxies whose X-Forwarded-For a server believes: an empty list believes nobody.
class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Parses a comma-separated list of CIDRs or addresses ("10.0.0.0/8, ::1"); blanks are skipped.
  // Errors: kInvalidArgument naming the first entry that is not one.
  static StatusOr<TrustedProxies> Parse(std::string_view list);

  bool empty() const { return nets_.empty(); }
  bool Trusts(std::string_view address) const;

  // The address a request is attributed to. The socket `peer` unless it is trusted; then the
  // `forwarded_for` chain (X-Forwarded-For, every header joined with ',' in order received) is
  // walked from the right, each trusted hop handing over to the address it reports, and the first
  // address that is not trusted is the client. An entry that is not an IP address (optionally with
  // a port) stops the walk: the client is the hop that reported it, as nothing before it can be
  // believed. Nothing an untrusted peer sends can change the result.
  std::string ClientAddress(std::string_view peer, std::string_view forwarded_for) const;

 private:
  std::vector<Cidr> nets_;
};

// The address in `text` in canonical form ("::FFFF:1.2.3.4" -> "1.2.3.4", "[::1]:80" -> "::1",
// "1.2.3.4:5678" -> "1.2.3.4"), or empty if it is not an IP address.
std::string CanonicalAddress(std::string_view text);

// The network `address` belongs to, as canonical CIDR text: its first `v4_prefix` bits for an
// IPv4 (or IPv4-mapped) address, `v6_prefix` bits for IPv6 ("203.0.113.9", 24, 48 ->
// "203.0.113.0/24"). Empty if `address` is not an IP address. Prefixes are clamped to the family's
// width.
std::string NetworkOf(std::string_view address, int v4_prefix, int v6_prefix);

}  // namespace keyhold
