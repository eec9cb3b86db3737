// Syslog over the network: lines sent as RFC 5424 messages, one a datagram, to a unix datagram
// socket (RFC 5424 framing, as syslog-ng and rsyslog read it) or a UDP address (RFC 5426), the
// transports SIEM collectors listen on. `keyhold audit export --syslog-addr` uses it; without that
// flag the export goes through libc's syslog() to the local /dev/log.
//
//   auto address = audit::ParseSyslogAddress("udp:127.0.0.1:514");
//   auto sender = audit::SyslogSender::Connect(*address, "keyhold-audit");
//   Status st = (*sender)->Send(audit::kSyslogInfo, line, env.NowMillis());
//
// A message is "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - MSG", PRI = facility * 8 + severity,
// the facility authpriv (10): audit entries are security records.
//
// Thread-safety: a SyslogSender is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keyhold::audit {

inline constexpr int kSyslogAuthpriv = 10;  // facility
inline constexpr int kSyslogInfo = 6;       // severity

struct SyslogAddress {
  bool udp = false;
  std::string path;  // unix: the socket's path
  std::string host;  // udp: a name or address (IPv6 without its brackets)
  uint16_t port = 0;
};

// "unix:/PATH" (or just "/PATH"), or "udp:HOST:PORT" ("udp:[::1]:514" for IPv6). Errors:
// kInvalidArgument saying what is wrong.
StatusOr<SyslogAddress> ParseSyslogAddress(std::string_view text);

// The RFC 5424 message of `msg` (one line) sent at `time_ms`. A hostname or app name is cut to
// what the format allows (printable ASCII without spaces; "-" if nothing is left).
std::string SyslogMessage(int facility, int severity, int64_t time_ms, std::string_view hostname,
                          std::string_view app_name, int64_t pid, std::string_view msg);

class SyslogSender {
 public:
  // Opens a datagram socket to `address`. Errors: kUnavailable if the name does not resolve or
  // the socket cannot be connected (a unix socket no one listens on).
  static StatusOr<std::unique_ptr<SyslogSender>> Connect(const SyslogAddress& address,
                                                         std::string app_name);
  ~SyslogSender();
  SyslogSender(const SyslogSender&) = delete;
  SyslogSender& operator=(const SyslogSender&) = delete;

  // Sends `msg` as one message with facility authpriv. Errors: kUnavailable if the datagram is
  // not sent whole (too long for the transport, or refused), with the system's reason.
  Status Send(int severity, std::string_view msg, int64_t time_ms);

 private:
  SyslogSender(int fd, std::string app_name, std::string hostname);
  int fd_;
  std::string app_name_;
  std::string hostname_;
};

}  // namespace keyhold::audit
