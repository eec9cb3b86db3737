// Syslog over the network: lines sent as RFC 5424 messages, one a datagram, to a unix datagram
// socket (RFC 5424 framing, as syslog-ng and rsyslog read it) or a UDP address (RFC 5426), the
// transports SIEM collectors listen on. `keyhold audit export --syslog-addr` uses it; without that
// flag the export goes through libc's syslog() to the local /dev/log.
//
//   auto address = audit::ParseSyslogAddress("udp:127.0.0.1:514");
//   auto sender = audit::SyslogSender::Connect(*address, "keyhold-audit", {});
//   std::string line = audit::FitEntryLine(entry, (*sender)->MsgBudget(entry.action));
//   Status st = (*sender)->Send(audit::kSyslogInfo, entry.action, line, entry.time_ms);
//
// A message is "<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG", PRI = facility * 8 +
// severity, the facility authpriv (10): audit entries are security records. MSGID is the entry's
// action ("key.create"), so a collector can route on it without parsing MSG.
//
// A message is at most SyslogOptions::max_bytes long, header included (8 KiB by default: what
// rsyslog and syslog-ng take by default, and well inside a UDP datagram, RFC 5426 section 3.2).
// An entry whose line would be longer is sent as a stub (FitEntryLine) that names it; the whole
// entry stays in the log and in `audit export` without --syslog-addr.
//
// Over UDP a refused message (nothing listens: ICMP port unreachable) is only reported on the
// next send, or by Settle: Send then says the refusal was of the message before
// (PreviousRefused), so a caller can tell which message was lost. Where no ICMP comes back, a lost
// datagram goes unnoticed: UDP does not promise delivery.
//
// Thread-safety: a SyslogSender is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "audit/chain.h"
#include "core/status.h"

namespace keyhold::audit {

inline constexpr int kSyslogAuthpriv = 10;  // facility
inline constexpr int kSyslogInfo = 6;       // severity

// Bounds of SyslogOptions::max_bytes. The least leaves room for the largest header (a 255-byte
// hostname) and a stub; the most is the largest UDP payload over IPv4.
inline constexpr size_t kMinSyslogMaxBytes = 1024;
inline constexpr size_t kDefaultSyslogMaxBytes = 8192;
inline constexpr size_t kMaxSyslogMaxBytes = 65507;
inline constexpr int kDefaultSyslogSendTimeoutMs = 5000;

struct SyslogOptions {
  size_t max_bytes = kDefaultSyslogMaxBytes;  // a whole message, header included
  // How long a send may wait for a unix socket whose reader has fallen behind (its queue full).
  int send_timeout_ms = kDefaultSyslogSendTimeoutMs;
};

struct SyslogAddress {
  bool udp = false;
  std::string path;  // unix: the socket's path
  std::string host;  // udp: a name or address (IPv6 without its brackets)
  uint16_t port = 0;
};

// "unix:/PATH" (or just "/PATH"), or "udp:HOST:PORT" ("udp:[::1]:514" for IPv6). Errors:
// kInvalidArgument saying what is wrong.
StatusOr<SyslogAddress> ParseSyslogAddress(std::string_view text);

// The RFC 5424 message of `msg` (one line) sent at `time_ms`. A hostname, app name or message id
// is cut to what the format allows (printable US-ASCII without spaces, at most 255, 48 and 32
// characters; "-", the nil value, if nothing is left).
std::string SyslogMessage(int facility, int severity, int64_t time_ms, std::string_view hostname,
                          std::string_view app_name, int64_t pid, std::string_view msgid,
                          std::string_view msg);

// The export line of `entry` ({"type":"event",...} as `audit export` writes it) if it is at most
// `max_bytes` long; otherwise a stub that is still one JSON object: "type", "seq", "time",
// "actor", "action", "target", "outcome", "clientIp", "requestId" and "hash" of the entry, with
// "truncated":true and "fullBytes" (the whole line's length), but no "details". If even the stub
// is too long, its longest text fields are shortened, each at a UTF-8 character boundary before
// it is JSON-encoded (so no character or escape is split), until it fits or they are empty.
// Never throws: a byte that is not UTF-8 is written as U+FFFD.
std::string FitEntryLine(const AuditEntry& entry, size_t max_bytes);

// How long MSG may be in a message of `max_bytes` to the local syslog through libc's syslog(3)
// with identity `ident` and process id `pid`: what its header ("<PRI>Mmm dd hh:mm:ss
// IDENT[PID]: ") leaves. The export fits each entry to it (FitEntryLine), as it does for
// --syslog-addr.
size_t LocalSyslogMsgBudget(size_t max_bytes, std::string_view ident, int64_t pid);

class SyslogSender {
 public:
  // Opens a datagram socket to `address`; a host name is resolved here, once. Errors:
  // kInvalidArgument if options.max_bytes is outside [kMinSyslogMaxBytes, kMaxSyslogMaxBytes]
  // or options.send_timeout_ms is not positive; kFailedPrecondition if the unix socket is a
  // stream socket (only datagram sockets are spoken to); kUnavailable if the name does not
  // resolve or the socket cannot be connected (a unix socket no one listens on).
  static StatusOr<std::unique_ptr<SyslogSender>> Connect(const SyslogAddress& address,
                                                         std::string app_name,
                                                         SyslogOptions options);
  ~SyslogSender();
  SyslogSender(const SyslogSender&) = delete;
  SyslogSender& operator=(const SyslogSender&) = delete;

  // How long MSG may be in a message with `msgid` so that the whole message fits max_bytes.
  size_t MsgBudget(std::string_view msgid) const;

  // Sends `msg` as one message with facility authpriv and `msgid`. Errors: kInvalidArgument if
  // the message would be longer than max_bytes (nothing is sent); kUnavailable if the datagram
  // is not sent whole (refused, or a unix socket's reader did not take it within
  // send_timeout_ms), with the reason. Over UDP, kUnavailable may also mean that an earlier
  // message was refused (PreviousRefused); this one was then not sent either.
  Status Send(int severity, std::string_view msgid, std::string_view msg, int64_t time_ms);

  // After a Send error: true if it reports the refusal of a message sent before (UDP, ECONNREFUSED
  // from the kernel's ICMP), so that one is lost too; false after a success.
  bool PreviousRefused() const { return previous_refused_; }

  // Over UDP, waits up to `wait_ms` for a refusal of the messages sent so far. Ok if none came
  // (for a unix socket at once: a send there is accepted or fails); kUnavailable if one did: the
  // last message sent was refused (and possibly others, unnoticed, before it).
  Status Settle(int wait_ms);

 private:
  SyslogSender(int fd, bool udp, std::string app_name, std::string hostname, SyslogOptions options);
  int fd_;
  bool udp_;
  bool previous_refused_ = false;
  std::string app_name_;
  std::string hostname_;
  SyslogOptions options_;
};

}  // namespace keyhold::audit
