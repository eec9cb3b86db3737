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

}  // namespace
}  // namespace keyhold
