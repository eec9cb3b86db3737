#include "core/ip.h"

#include <gtest/gtest.h>

namespace keyhold {
namespace {

TEST(Cidr, Ipv4) {
  auto net = Cidr::Parse("10.0.0.0/8");
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Contains("10.200.3.4"));
  EXPECT_FALSE(net->Contains("11.0.0.1"));
  EXPECT_TRUE(net->Contains("::ffff:10.1.1.1"));
  auto one = Cidr::Parse("192.168.1.7");
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(one->Contains("192.168.1.7"));
  EXPECT_FALSE(one->Contains("192.168.1.8"));
  auto odd = Cidr::Parse("172.16.0.0/12");
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd->Contains("172.31.255.255"));
  EXPECT_FALSE(odd->Contains("172.32.0.0"));
}

TEST(Cidr, Ipv6) {
  auto net = Cidr::Parse("2001:db8::/32");
  ASSERT_TRUE(net.ok());
  EXPECT_TRUE(net->Contains("2001:db8:1::5"));
  EXPECT_FALSE(net->Contains("2001:db9::1"));
  EXPECT_FALSE(net->Contains("10.0.0.1"));
}

TEST(Cidr, RejectsJunk) {
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(Cidr::Parse("hello").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/").ok());
  EXPECT_FALSE(Cidr::Parse("10.0.0.0/x").ok());
  EXPECT_FALSE(Cidr::Parse("::/129").ok());
}

TEST(IsLoopback, OnlyLoopbackAddresses) {
  EXPECT_TRUE(IsLoopback("127.0.0.1"));
  EXPECT_TRUE(IsLoopback("127.255.0.9"));
  EXPECT_TRUE(IsLoopback("::1"));
  EXPECT_TRUE(IsLoopback("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopback("10.0.0.1"));
  EXPECT_FALSE(IsLoopback("128.0.0.1"));
  EXPECT_FALSE(IsLoopback("::2"));
  EXPECT_FALSE(IsLoopback("::ffff:10.0.0.1"));
  EXPECT_FALSE(IsLoopback("localhost"));
  EXPECT_FALSE(IsLoopback(""));
}

TEST(TrustedProxies, UntrustedPeerIsTheClientWhateverItForwards) {
  auto none = TrustedProxies::Parse("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->ClientAddress("198.51.100.9", "1.2.3.4"), "198.51.100.9");
  auto lb = TrustedProxies::Parse("10.0.0.0/8, ::1");
  ASSERT_TRUE(lb.ok());
  EXPECT_EQ(lb->ClientAddress("198.51.100.9", "1.2.3.4"), "198.51.100.9");
}

TEST(TrustedProxies, WalksTrustedHopsFromTheRight) {
  auto lb = TrustedProxies::Parse("10.0.0.0/8,::1");
  ASSERT_TRUE(lb.ok());
  // The client forged its own X-Forwarded-For; the proxy appended the real address.
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "6.6.6.6, 203.0.113.7"), "203.0.113.7");
  // Two trusted proxies in a row.
  EXPECT_EQ(lb->ClientAddress("::1", "203.0.113.7, 10.1.1.1"), "203.0.113.7");
  // Every hop trusted: the leftmost address.
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "10.9.9.9,10.1.1.1"), "10.9.9.9");
  // No header: the proxy itself.
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", ""), "10.0.0.2");
  // Ports and brackets are dropped, IPv4-mapped IPv6 is IPv4.
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "203.0.113.7:4711"), "203.0.113.7");
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "::ffff:203.0.113.7"), "203.0.113.7");
}

TEST(TrustedProxies, GarbageStopsAtTheHopThatReportedIt) {
  auto lb = TrustedProxies::Parse("10.0.0.0/8");
  ASSERT_TRUE(lb.ok());
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "unknown"), "10.0.0.2");
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "203.0.113.7, 10.0.0.3, bogus"), "10.0.0.2");
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", "bogus, 10.0.0.3"), "10.0.0.3");
  std::string padded;
  for (int i = 0; i < 1000; ++i) padded += "10.0.0.1,";
  EXPECT_EQ(lb->ClientAddress("10.0.0.2", padded + "10.0.0.1"), "10.0.0.1");
}

TEST(TrustedProxies, RejectsWhatIsNoNetwork) {
  EXPECT_EQ(TrustedProxies::Parse("10.0.0.0/8, nginx").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(TrustedProxies::Parse("10.0.0.0/33").status().code(), StatusCode::kInvalidArgument);
}

TEST(NetworkOf, MasksToThePrefixOfTheFamily) {
  EXPECT_EQ(NetworkOf("203.0.113.9", 24, 48), "203.0.113.0/24");
  EXPECT_EQ(NetworkOf("::ffff:203.0.113.9", 24, 48), "203.0.113.0/24");
  EXPECT_EQ(NetworkOf("2001:db8:abcd:12:1::7", 24, 48), "2001:db8:abcd::/48");
  EXPECT_EQ(NetworkOf("10.1.2.3", 20, 48), "10.1.0.0/20");
  EXPECT_EQ(NetworkOf("10.1.2.3", 99, 48), "10.1.2.3/32");
  EXPECT_EQ(NetworkOf("2001:db8::1", 24, -3), "::/0");
  EXPECT_EQ(NetworkOf("not-an-address", 24, 48), "");
  EXPECT_EQ(NetworkOf("", 24, 48), "");
}

}  // namespace
}  // namespace keyhold

namespace keyhold {
namespace {

// An address is read whole: a NUL byte does not end it early ("1.2.3.4\0/8" is not 1.2.3.4/8).
TEST(Cidr, ANulByteIsRefusedNotTruncated) {
  EXPECT_FALSE(Cidr::Parse(std::string_view("1.2.3.4\0/8", 10)).ok());
  EXPECT_FALSE(Cidr::Parse(std::string_view("1.2.3.4\0garbage", 15)).ok());
  EXPECT_FALSE(Cidr::Parse(std::string_view("::1\0", 4)).ok());
  EXPECT_TRUE(Cidr::Parse("1.2.3.4/8").ok());
}

}  // namespace
}  // namespace keyhold
