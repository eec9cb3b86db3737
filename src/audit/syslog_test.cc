#include "audit/syslog.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>

#include "audit/json.h"
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
                          "keyhold-audit", 42, "key.create", R"({"seq":1})"),
            R"(<86>1 2026-01-01T00:00:00.123Z siem-host keyhold-audit 42 key.create - {"seq":1})");
  EXPECT_EQ(SyslogMessage(kSyslogAuthpriv, 3, 0, "bad host\n", "", 1, "", "x"),
            "<83>1 1970-01-01T00:00:00.000Z badhost - 1 - - x")
      << "header fields hold no spaces or controls; an empty one is the nil value";
}

// A datagram socket bound where the sender is pointed; reads what arrives.
// A UDP socket bound to a free loopback port (`*port`), or -1.
int BindLoopbackUdp(int* port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sin;
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&sin), sizeof sin) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(sin.sin_port);
  return fd;
}

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
  auto sender = SyslogSender::Connect(*address, "keyhold-audit", {});
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.create", "first", 0).ok());
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "", "second", 0).ok());
  const std::string pid = std::to_string(getpid());
  EXPECT_TRUE(receiver.Read().ends_with(" keyhold-audit " + pid + " key.create - first"));
  std::string second = receiver.Read();
  EXPECT_TRUE(second.starts_with("<86>1 1970-01-01T00:00:00.000Z ")) << second;
  EXPECT_TRUE(second.ends_with(" - - second")) << second;

  auto nobody = ParseSyslogAddress("unix:" + dir.path() + "/nobody.sock");
  EXPECT_EQ(SyslogSender::Connect(*nobody, "keyhold-audit", {}).status().code(),
            StatusCode::kUnavailable);
}

TEST(SyslogSender, SendsOverUdpAndRefusesADatagramTooLongToSend) {
  int port = 0;
  int fd = BindLoopbackUdp(&port);
  ASSERT_GE(fd, 0);
  Receiver receiver(fd);

  auto address = ParseSyslogAddress("udp:127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(address.ok());
  auto sender = SyslogSender::Connect(*address, "keyhold-audit", {});
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.delete", R"({"seq":7})", 1'767'225'600'000).ok());
  std::string got = receiver.Read();
  EXPECT_TRUE(got.starts_with("<86>1 2026-01-01T00:00:00.000Z ")) << got;
  EXPECT_TRUE(got.ends_with(R"( key.delete - {"seq":7})")) << got;
  Status too_long = (*sender)->Send(kSyslogInfo, "", std::string(kDefaultSyslogMaxBytes, 'x'), 0);
  EXPECT_EQ(too_long.code(), StatusCode::kInvalidArgument) << "not cut: the caller is told";
  EXPECT_NE(too_long.message().find("over the limit of 8192"), std::string::npos)
      << too_long.message();
  const std::string fits((*sender)->MsgBudget("key.create"), 'y');
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.create", fits, 0).ok());
  std::string longest = receiver.Read();
  EXPECT_EQ(longest.size(), kDefaultSyslogMaxBytes) << "the budget is what the header leaves";
  EXPECT_TRUE(longest.ends_with(" key.create - " + fits));
}

TEST(SyslogMessage, MsgIdIsPrintableAsciiWithoutSpacesAtMost32) {
  auto msgid = [](std::string_view id) {
    std::string m = SyslogMessage(kSyslogAuthpriv, kSyslogInfo, 0, "h", "a", 1, id, "x");
    std::string_view rest = std::string_view(m).substr(std::string_view(m).find(" a 1 ") + 5);
    return std::string(rest.substr(0, rest.find(' ')));
  };
  EXPECT_EQ(msgid("key.create"), "key.create");
  EXPECT_EQ(msgid("secret read\t\xc3\xa9"), "secretread") << "no spaces, controls or non-ASCII";
  EXPECT_EQ(msgid(std::string(40, 'a')), std::string(32, 'a'));
  EXPECT_EQ(msgid(" \xe2\x82\xac"), "-") << "nothing left: the nil value";
}

AuditEntry BigEntry() {
  AuditEntry e;
  e.seq = 41;
  e.time_ms = 1'767'225'600'000;
  e.actor = "key_root";
  e.action = "key.update";
  e.target = "key_abc";
  e.outcome = "success";
  e.client_ip = "203.0.113.7";
  e.request_id = "req_1";
  e.details_json = R"({"after":{"name":")" + std::string(64 * 1024, 'n') + R"("}})";
  e.hash.fill(0xab);
  return e;
}

TEST(FitEntryLine, AWholeLineWhenItFitsElseAStubNamingTheEntry) {
  AuditEntry small = BigEntry();
  small.details_json = R"({"after":{"name":"n"}})";
  auto whole = nlohmann::json::parse(FitEntryLine(small, 8000));
  EXPECT_EQ(whole["details"]["after"]["name"], "n");
  EXPECT_EQ(whole["type"], "event");
  EXPECT_FALSE(whole.contains("truncated"));

  AuditEntry big = BigEntry();
  const size_t full = FitEntryLine(big, SIZE_MAX).size();
  std::string line = FitEntryLine(big, 8000);
  ASSERT_LE(line.size(), 8000U);
  auto stub = nlohmann::json::parse(line);
  EXPECT_EQ(stub["type"], "event");
  EXPECT_EQ(stub["seq"], 41);
  EXPECT_EQ(stub["time"], 1'767'225'600'000);
  EXPECT_EQ(stub["actor"], "key_root");
  EXPECT_EQ(stub["action"], "key.update");
  EXPECT_EQ(stub["target"], "key_abc");
  EXPECT_EQ(stub["outcome"], "success");
  EXPECT_EQ(stub["clientIp"], "203.0.113.7");
  EXPECT_EQ(stub["requestId"], "req_1");
  std::string hash;
  for (int i = 0; i < 32; ++i) hash += "ab";
  EXPECT_EQ(stub["hash"], hash);
  EXPECT_EQ(stub["truncated"], true);
  EXPECT_EQ(stub["fullBytes"], full);
  EXPECT_FALSE(stub.contains("details"));
}

TEST(FitEntryLine, ShortensLongFieldsWithoutSplittingACharacterOrAnEscape) {
  AuditEntry e = BigEntry();
  // Two-, three- and four-byte characters, and characters JSON escapes as \" \\ and \u0001.
  std::string target;
  for (int i = 0; i < 400; ++i) target += "\xc3\xa9\xe2\x82\xac\xf0\x9f\x94\x91\"\\\x01x";
  e.target = target;
  e.actor = "key_" + std::string(3000, 'r');
  for (size_t max = 300; max < 4000; max += 53) {
    std::string line = FitEntryLine(e, max);
    ASSERT_LE(line.size(), max);
    auto stub = nlohmann::json::parse(line);  // throws on a split character or escape
    const std::string got = stub["target"];
    EXPECT_TRUE(target.starts_with(got)) << max;
    EXPECT_TRUE(e.actor.starts_with(std::string(stub["actor"]))) << max;
    EXPECT_EQ(stub["seq"], 41);
    EXPECT_EQ(stub["truncated"], true);
  }
}

TEST(SyslogSender, OverUdpARefusalIsOfTheMessageBeforeTheSendThatReportsIt) {
  // A port bound and then closed: nothing listens, and the loopback refuses with ICMP.
  int port = 0;
  int fd = BindLoopbackUdp(&port);
  ASSERT_GE(fd, 0);
  close(fd);
  auto address = ParseSyslogAddress("udp:127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(address.ok());
  auto sender = SyslogSender::Connect(*address, "keyhold-audit", {});
  ASSERT_TRUE(sender.ok()) << sender.status().message();

  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.create", R"({"seq":1})", 0).ok())
      << "the kernel takes the datagram; the refusal comes later";
  EXPECT_FALSE((*sender)->PreviousRefused());
  Status next = (*sender)->Send(kSyslogInfo, "key.create", R"({"seq":2})", 0);
  EXPECT_EQ(next.code(), StatusCode::kUnavailable);
  EXPECT_TRUE((*sender)->PreviousRefused()) << next.message();

  // With no next send, Settle is told instead.
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.create", R"({"seq":2})", 0).ok());
  EXPECT_FALSE((*sender)->PreviousRefused());
  Status settled = (*sender)->Settle(1000);
  EXPECT_EQ(settled.code(), StatusCode::kUnavailable);
  EXPECT_NE(settled.message().find("refused"), std::string::npos) << settled.message();
  EXPECT_TRUE((*sender)->Settle(10).ok()) << "told once";
}

TEST(SyslogSender, SettleIsOkWhenNothingWasRefused) {
  int port = 0;
  int fd = BindLoopbackUdp(&port);
  ASSERT_GE(fd, 0);
  Receiver receiver(fd);
  auto address = ParseSyslogAddress("udp:127.0.0.1:" + std::to_string(port));
  auto sender = SyslogSender::Connect(*address, "keyhold-audit", {});
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  ASSERT_TRUE((*sender)->Send(kSyslogInfo, "key.create", R"({"seq":1})", 0).ok());
  EXPECT_TRUE((*sender)->Settle(50).ok());
  EXPECT_FALSE(receiver.Read().empty());
}

TEST(LocalSyslogMsgBudget, LeavesRoomForGlibcsHeaderSoAnEntryFitsTheLimit) {
  // glibc's longest header for this identity: "<86>Dec 31 23:59:59 keyhold-audit[4194304]: ".
  const std::string header = "<86>Dec 31 23:59:59 keyhold-audit[4194304]: ";
  const size_t budget = LocalSyslogMsgBudget(kMinSyslogMaxBytes, "keyhold-audit", 4194304);
  EXPECT_LE(header.size() + budget, kMinSyslogMaxBytes);
  EXPECT_GE(header.size() + budget + 1, kMinSyslogMaxBytes) << "a 3-digit PRI is counted";
  std::string line = FitEntryLine(BigEntry(), budget);
  EXPECT_LE(header.size() + line.size(), kMinSyslogMaxBytes);
  EXPECT_EQ(nlohmann::json::parse(line)["truncated"], true);
  EXPECT_EQ(LocalSyslogMsgBudget(10, "keyhold-audit", 1), 0U);
}

TEST(EntryLine, ABadUtf8ByteIsReplacedNotThrownOn) {
  AuditEntry e = BigEntry();
  e.target = "key_\xff\xfe";
  e.actor = "key_\xc3";  // a lead byte with nothing after it
  // Not UTF-8, so kept as a string.
  e.details_json = "{\"name\":\"" + std::string(2000, 'n') + "\xe2\x82\"}";
  std::string line;
  ASSERT_NO_THROW(line = EntryLine(e));
  auto j = nlohmann::json::parse(line);
  EXPECT_EQ(j["type"], "event");
  EXPECT_EQ(j["seq"], 41);
  EXPECT_EQ(j["target"], "key_\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(j["actor"], "key_\xef\xbf\xbd");
  EXPECT_TRUE(j["details"].is_string());
  // The syslog form of the same entry, whole or as a stub.
  ASSERT_NO_THROW(line = FitEntryLine(e, 100000));
  EXPECT_EQ(nlohmann::json::parse(line)["target"], "key_\xef\xbf\xbd\xef\xbf\xbd");
  ASSERT_NO_THROW(line = FitEntryLine(e, 400));
  EXPECT_EQ(nlohmann::json::parse(line)["truncated"], true);
}

TEST(SyslogSender, RefusesBadOptions) {
  auto address = ParseSyslogAddress("udp:127.0.0.1:514");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(
      SyslogSender::Connect(*address, "a", {.max_bytes = kMinSyslogMaxBytes - 1}).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(
      SyslogSender::Connect(*address, "a", {.max_bytes = kMaxSyslogMaxBytes + 1}).status().code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(SyslogSender::Connect(*address, "a", {.send_timeout_ms = 0}).status().code(),
            StatusCode::kInvalidArgument);
}

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  return sun;
}

TEST(SyslogSender, SaysAStreamSocketIsNotADatagramSocket) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/stream.sock";
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sun = UnixAddress(path);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  auto sender = SyslogSender::Connect(*ParseSyslogAddress("unix:" + path), "keyhold-audit", {});
  close(fd);
  EXPECT_EQ(sender.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(sender.status().message().find("is a stream socket: a unix datagram socket is needed"),
            std::string::npos)
      << sender.status().message();
}

TEST(SyslogSender, GivesUpOnAUnixSocketWhoseReaderStopped) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/stuck.sock";
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un sun = UnixAddress(path);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun), 0);
  Receiver never_read(fd);
  auto sender = SyslogSender::Connect(*ParseSyslogAddress("unix:" + path), "keyhold-audit",
                                      {.send_timeout_ms = 50});
  ASSERT_TRUE(sender.ok()) << sender.status().message();
  Status st;
  int sent = 0;
  for (; sent < 100'000 && st.ok(); ++sent) {
    st = (*sender)->Send(kSyslogInfo, "key.create", std::string(1000, 'x'), 0);
  }
  EXPECT_EQ(st.code(), StatusCode::kUnavailable) << "after " << sent << " messages";
  EXPECT_NE(st.message().find("did not take the message within 50 ms"), std::string::npos)
      << st.message();
}

}  // namespace
}  // namespace keyhold::audit
