#include "audit/syslog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "fakes/temp_dir.h"

namespace keyhold::audit {
namespace {

TEST(SyslogAddress, UnixPathsAndUdpHostsWithTheirPorts) {
  auto a = ParseSyslogAddress("unix:/run/siem.sock");
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->udp);
  EXPECT_EQ(a->path, "/run/siem.sock");
  EXPECT_EQ(ParseSyslogAddress("/dev/log")->path, "/dev/log");
  a = ParseSyslogAddress("udp:127.0.0.1:5514");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->udp);
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5514);
  a = ParseSyslogAddress("udp:[::1]:514");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->port, 514);
  EXPECT_EQ(ParseSyslogAddress("udp:siem.example:514")->host, "siem.example");
  for (const char* bad :
       {"", "tcp:127.0.0.1:514", "udp:127.0.0.1", "udp:127.0.0.1:0", "udp:127.0.0.1:65536",
        "udp::514", "udp:host:5x", "relative/path", "unix:relative", "udp:fe80::1", "udp:::1:514",
        "udp:[::1:514", "udp:::1]:514"}) {
    EXPECT_EQ(ParseSyslogAddress(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ParseSyslogAddress("unix:/" + std::string(200, 'a')).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(SyslogMessage, Rfc5424HeaderThenTheLine) {
  EXPECT_EQ(SyslogMessage(kSyslogAuthpriv, kSyslogInfo, 1'767'225'600'123, "siem-host",
                          "keyhold-audit", 42, R"({"seq":1})"),
            R"(<86>1 2026-01-01T00:00:00.123Z siem-host keyhold-audit 42 - - {"seq":1})");
  EXPECT_EQ(SyslogMessage(kSyslogAuthpriv, 3, 0, "bad host\n", "", 1, "x"),
            "<83>1 1970-01-01T00:00:00.000Z badhost - 1 - - x")
      << "header fields hold no spaces or controls; an empty one is the nil value";
}

// A datagram socket bound where the sender is pointed; reads what arrives.
class Receiver {
 public:
  explicit Receiver(int fd) : fd_(fd) {
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Receiver() { close(fd_); }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  std::string Read() {
    char buf[65536];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_;
};

TEST(SyslogSender, SendsOneDatagramPerLineOverAUnixSocket) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/log.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  Receiver receiver(fd);

  auto address = ParseSyslogAddress("unix:" + path);
  ASSERT_TRUE(address.ok());
  auto sender = SyslogSender::Connect(*address, "keyhold-audit");
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "first", 0).ok());
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "second", 0).ok());
  const std::string pid = std::to_string(getpid());
  EXPECT_TRUE(receiver.Read().ends_with(" keyhold-audit " + pid + " - - first"));
  std::string second = receiver.Read();
  EXPECT_TRUE(second.starts_with("<86>1 1970-01-01T00:00:00.000Z ")) << second;
  EXPECT_TRUE(second.ends_with(" - - second")) << second;

  auto nobody = ParseSyslogAddress("unix:" + dir.path() + "/nobody.sock");
  EXPECT_EQ(SyslogSender::Connect(*nobody, "keyhold-audit").status().code(),
            StatusCode::kUnavailable);
}

TEST(SyslogSender, SendsOverUdpAndRefusesADatagramTooLongToSend) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
  socklen_t len = sizeof sin;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len), 0);
  Receiver receiver(fd);

  auto address = ParseSyslogAddress("udp:127.0.0.1:" + std::to_string(ntohs(sin.sin_port)));
  ASSERT_TRUE(address.ok());
  auto sender = SyslogSender::Connect(*address, "keyhold-audit");
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, R"({"seq":7})", 1'767'225'600'000).ok());
  std::string got = receiver.Read();
  EXPECT_TRUE(got.starts_with("<86>1 2026-01-01T00:00:00.000Z ")) << got;
  EXPECT_TRUE(got.ends_with(R"( - - {"seq":7})")) << got;
  EXPECT_EQ((*sender)->Send(kSyslogInfo, std::string(70'000, 'x'), 0).code(),
            StatusCode::kUnavailable)
      << "not cut: the caller is told";
}

}  // namespace
}  // namespace keyhold::audit
