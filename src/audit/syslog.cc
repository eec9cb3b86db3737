#include "audit/syslog.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "audit/json.h"

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
                          std::string_view app_name, int64_t pid, std::string_view msg) {
  std::string out = "<" + std::to_string(facility * 8 + severity) + ">1 " + Iso8601(time_ms);
  out += ' ';
  out += HeaderField(hostname, 255);
  out += ' ';
  out += HeaderField(app_name, 48);
  out += ' ';
  out += std::to_string(pid);
  out += " - - ";  // no message id, no structured data
  out += msg;
  return out;
}

StatusOr<std::unique_ptr<SyslogSender>> SyslogSender::Connect(const SyslogAddress& address,
                                                              std::string app_name) {
  int fd = -1;
  if (!address.udp) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (address.path.size() >= sizeof sun.sun_path) {
      return InvalidArgument("syslog socket path too long");
    }
    std::memcpy(sun.sun_path, address.path.c_str(), address.path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return SystemError("syslog socket");
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&sun), sizeof sun) != 0) {
      Status st = SystemError("cannot reach syslog socket " + address.path);
      ::close(fd);
      return st;
    }
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(address.port);
    int rc = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0) {
      return Unavailable("cannot resolve syslog host " + address.host + ": " + gai_strerror(rc));
    }
    Status st = Unavailable("cannot reach syslog host " + address.host);
    for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
      fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        st = SystemError("cannot reach syslog host " + address.host);
        ::close(fd);
        fd = -1;
      }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return st;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::unique_ptr<SyslogSender>(new SyslogSender(fd, std::move(app_name), host));
}

SyslogSender::SyslogSender(int fd, std::string app_name, std::string hostname)
    : fd_(fd), app_name_(std::move(app_name)), hostname_(std::move(hostname)) {}

SyslogSender::~SyslogSender() { ::close(fd_); }

Status SyslogSender::Send(int severity, std::string_view msg, int64_t time_ms) {
  std::string m =
      SyslogMessage(kSyslogAuthpriv, severity, time_ms, hostname_, app_name_, ::getpid(), msg);
  ssize_t sent = 0;
  do {
    sent = ::send(fd_, m.data(), m.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return SystemError("syslog message of " + std::to_string(m.size()) + " bytes");
  if (static_cast<size_t>(sent) != m.size()) return Unavailable("syslog message cut short");
  return OkStatus();
}

}  // namespace keyhold::audit
