#include "audit/syslog.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "audit/json.h"
#include "crypto/crypto.h"

namespace keyhold::audit {
namespace {

// An RFC 5424 header field: printable US-ASCII but space, at most `max` characters; "-" (the
// nil value) if nothing is left.
std::string HeaderField(std::string_view text, size_t max) {
  std::string out;
  for (char c : text) {
    if (out.size() == max) break;
    if (c > ' ' && c < 0x7f) out += c;
  }
  return out.empty() ? "-" : out;
}

Status SystemError(const std::string& what) {
  return Unavailable(what + ": " + std::strerror(errno));
}

// The stub of an entry whose whole line is `full_bytes` long: what a SIEM needs to see that the
// event happened and to fetch it whole, without its details.
nlohmann::json StubJson(const AuditEntry& e, size_t full_bytes) {
  return {{"type", "event"},           {"seq", e.seq},
          {"time", e.time_ms},         {"actor", e.actor},
          {"action", e.action},        {"target", e.target},
          {"outcome", e.outcome},      {"clientIp", e.client_ip},
          {"requestId", e.request_id}, {"hash", crypto::HexEncode(e.hash)},
          {"truncated", true},         {"fullBytes", full_bytes}};
}

// Shortens `text` to at most `max` bytes without splitting a UTF-8 sequence: continuation bytes
// (10xxxxxx) at the cut are dropped with the lead byte they belong to.
void CutAtCharBoundary(std::string& text, size_t max) {
  if (text.size() <= max) return;
  while (max > 0 && (static_cast<unsigned char>(text[max]) & 0xC0) == 0x80) --max;
  text.resize(max);
}

}  // namespace

StatusOr<SyslogAddress> ParseSyslogAddress(std::string_view text) {
  SyslogAddress a;
  if (text.starts_with("unix:")) text.remove_prefix(5);
  if (text.starts_with("/")) {
    if (text.size() >= sizeof(sockaddr_un::sun_path)) {
      return InvalidArgument("syslog socket path too long: at most " +
                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    }
    a.path = std::string(text);
    return a;
  }
  if (!text.starts_with("udp:")) {
    return InvalidArgument("syslog address: use unix:/PATH or udp:HOST:PORT");
  }
  text.remove_prefix(4);
  a.udp = true;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return InvalidArgument("syslog address: udp:HOST:PORT needs a host and a port");
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.starts_with("[") && host.ends_with("]")) {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string_view::npos) {
    // "udp:fe80::1" would otherwise be host "fe80:" and port 1.
    return InvalidArgument("syslog address: write an IPv6 host in brackets, udp:[::1]:514");
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return InvalidArgument("syslog address: the port must be a number from 1 to 65535");
  }
  if (host.empty()) return InvalidArgument("syslog address: udp:HOST:PORT needs a host");
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(value);
  return a;
}

std::string SyslogMessage(int facility, int severity, int64_t time_ms, std::string_view hostname,
                          std::string_view app_name, int64_t pid, std::string_view msgid,
                          std::string_view msg) {
  std::string out = "<" + std::to_string(facility * 8 + severity) + ">1 " + Iso8601(time_ms);
  out += ' ';
  out += HeaderField(hostname, 255);
  out += ' ';
  out += HeaderField(app_name, 48);
  out += ' ';
  out += std::to_string(pid);
  out += ' ';
  out += HeaderField(msgid, 32);
  out += " - ";  // no structured data
  out += msg;
  return out;
}

std::string FitEntryLine(const AuditEntry& entry, size_t max_bytes) {
  std::string line = EntryLine(entry);
  if (line.size() <= max_bytes) return line;
  AuditEntry stub = entry;
  // Cut the longest text first: a long target or actor is rarer than long details, but a stub
  // must fit whatever the entry holds.
  std::array<std::string*, 5> cuttable = {&stub.target, &stub.actor, &stub.request_id, &stub.action,
                                          &stub.client_ip};
  for (;;) {
    std::string out = DumpLenient(StubJson(stub, line.size()));
    std::string* longest = *std::max_element(
        cuttable.begin(), cuttable.end(),
        [](const std::string* a, const std::string* b) { return a->size() < b->size(); });
    if (out.size() <= max_bytes || longest->empty()) return out;
    size_t over = out.size() - max_bytes;
    CutAtCharBoundary(*longest, longest->size() > over ? longest->size() - over : 0);
  }
}

size_t LocalSyslogMsgBudget(size_t max_bytes, std::string_view ident, int64_t pid) {
  // glibc's header: "<PRI>" (at most 5), the 15-character BSD timestamp and a space, then
  // "IDENT[PID]: ".
  size_t header = 5 + 16 + ident.size() + 1 + std::to_string(pid).size() + 3;
  return header < max_bytes ? max_bytes - header : 0;
}

namespace {

int ConnectUnix(const std::string& path, Status& error) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    error = InvalidArgument("syslog socket path too long");
    return -1;
  }
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = SystemError("syslog socket");
    return -1;
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) == 0) return fd;
  if (errno == EPROTOTYPE) {
    // A datagram socket cannot connect to a stream one; say which kind is wanted.
    error = FailedPrecondition("syslog socket " + path +
                               " is a stream socket: a unix datagram socket is needed (such as "
                               "rsyslog's imuxsock or syslog-ng's unix-dgram source)");
  } else {
    error = SystemError("cannot reach syslog socket " + path);
  }
  ::close(fd);
  return -1;
}

int ConnectUdp(const std::string& host, uint16_t port_number, Status& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(port_number);
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) {
    error = Unavailable("cannot resolve syslog host " + host + ": " + gai_strerror(rc));
    return -1;
  }
  error = Unavailable("cannot reach syslog host " + host);
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      error = SystemError("cannot reach syslog host " + host);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

StatusOr<std::unique_ptr<SyslogSender>> SyslogSender::Connect(const SyslogAddress& address,
                                                              std::string app_name,
                                                              SyslogOptions options) {
  if (options.max_bytes < kMinSyslogMaxBytes || options.max_bytes > kMaxSyslogMaxBytes) {
    return InvalidArgument("syslog message size must be from " +
                           std::to_string(kMinSyslogMaxBytes) + " to " +
                           std::to_string(kMaxSyslogMaxBytes) + " bytes");
  }
  if (options.send_timeout_ms <= 0) {
    return InvalidArgument("syslog send timeout must be positive");
  }
  Status error;
  int fd = address.udp ? ConnectUdp(address.host, address.port, error)
                       : ConnectUnix(address.path, error);
  if (fd < 0) return error;
  // A unix datagram send blocks while the reader's queue is full; a reader that stopped must
  // not hang the export.
  timeval tv{.tv_sec = options.send_timeout_ms / 1000,
             .tv_usec = static_cast<suseconds_t>(options.send_timeout_ms % 1000) * 1000};
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    Status st = SystemError("syslog socket timeout");
    ::close(fd);
    return st;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::unique_ptr<SyslogSender>(
      new SyslogSender(fd, address.udp, std::move(app_name), host, options));
}

SyslogSender::SyslogSender(int fd, bool udp, std::string app_name, std::string hostname,
                           SyslogOptions options)
    : fd_(fd),
      udp_(udp),
      app_name_(std::move(app_name)),
      hostname_(std::move(hostname)),
      options_(options) {}

SyslogSender::~SyslogSender() { ::close(fd_); }

size_t SyslogSender::MsgBudget(std::string_view msgid) const {
  // The timestamp has a fixed width, so any time gives the header's length.
  size_t header =
      SyslogMessage(kSyslogAuthpriv, kSyslogInfo, 0, hostname_, app_name_, ::getpid(), msgid, "")
          .size();
  return header < options_.max_bytes ? options_.max_bytes - header : 0;
}

Status SyslogSender::Send(int severity, std::string_view msgid, std::string_view msg,
                          int64_t time_ms) {
  std::string m = SyslogMessage(kSyslogAuthpriv, severity, time_ms, hostname_, app_name_,
                                ::getpid(), msgid, msg);
  if (m.size() > options_.max_bytes) {
    return InvalidArgument("syslog message of " + std::to_string(m.size()) +
                           " bytes is over the limit of " + std::to_string(options_.max_bytes));
  }
  previous_refused_ = false;
  ssize_t sent = 0;
  do {
    sent = ::send(fd_, m.data(), m.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0 && udp_ && errno == ECONNREFUSED) {
    // The kernel keeps an ICMP port unreachable for a connected UDP socket and fails the next
    // send with it, without sending: the refused message is one sent before this one.
    previous_refused_ = true;
    return Unavailable("syslog host refused an earlier message (port unreachable): " +
                       std::string(std::strerror(ECONNREFUSED)));
  }
  if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    return Unavailable("syslog socket did not take the message within " +
                       std::to_string(options_.send_timeout_ms) +
                       " ms (is its reader keeping up?)");
  }
  if (sent < 0) return SystemError("syslog message of " + std::to_string(m.size()) + " bytes");
  if (static_cast<size_t>(sent) != m.size()) return Unavailable("syslog message cut short");
  return OkStatus();
}

Status SyslogSender::Settle(int wait_ms) {
  if (!udp_) return OkStatus();
  pollfd p{.fd = fd_, .events = 0, .revents = 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, wait_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0 || (p.revents & POLLERR) == 0) return OkStatus();
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error == 0) return OkStatus();
  return Unavailable("syslog host refused the message (port unreachable): " +
                     std::string(std::strerror(error)));
}

}  // namespace keyhold::audit
