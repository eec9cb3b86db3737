// IP address allowlists: CIDR parsing and membership, IPv4 and IPv6.
//
//   auto net = Cidr::Parse("10.0.0.0/8");
//   net->Contains("10.1.2.3") == true
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace keyhold
