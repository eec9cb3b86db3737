// `keyhold audit`: checking and exporting the audit log.
//
//   keyhold audit verify --data-dir DIR [--checkpoints FILE] [--public-key HEX]   (offline)
//   keyhold audit verify                                  (asks the server: audit.verifyChain)
//   keyhold audit export --data-dir DIR [--output FILE] [--after SEQ [--from-checkpoint]]
//                        [--checkpoints] [--follow] [--syslog [--syslog-max-bytes N]]
//                        [--syslog-addr unix:/PATH|udp:HOST:PORT [--syslog-max-bytes N]
//                         [--syslog-timeout MS]]
//   keyhold audit events [--actor ID] [--action A] [--target ID] [--since MS] [--until MS]
//
// The offline commands open the database read-only, so they run beside a running server (or
// on a copy of the data directory) and never change it. Exit codes: 0 whole (or done), 1 the log
// does not verify (or the server answered with an error), 2 bad usage, 3 cannot read the
// database or reach the server (or, for export, a line was not sent or not written).
#include <syslog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "audit/json.h"
#include "audit/syslog.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "crypto/crypto.h"
#include "service/audit_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitBroken = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;

StatusOr<std::unique_ptr<store::SqliteStore>> OpenReadOnly(const std::string& data_dir) {
  store::SqliteOptions options;
  options.read_only = true;
  return store::SqliteStore::Open(data_dir + "/keyhold.db", options);
}

// Checkpoints kept elsewhere: JSON lines as the server logs them or `export --checkpoints`
// writes them. Lines that are not checkpoints (events, other log text) are skipped; a line that
// says it is one but does not parse is an error.
StatusOr<std::vector<audit::Checkpoint>> ReadCheckpointFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("cannot read " + path);
  std::vector<audit::Checkpoint> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    size_t start = line.find('{');
    size_t end = line.rfind('}');
    if (line.find("\"type\":\"checkpoint\"") == std::string::npos || start == std::string::npos ||
        end < start) {
      continue;
    }
    auto cp = audit::ParseCheckpoint(std::string_view(line).substr(start, end - start + 1));
    if (!cp.ok()) {
      return InvalidArgument(path + ", line " + std::to_string(n) + ": " + cp.status().message());
    }
    out.push_back(*cp);
  }
  return out;
}

void PrintReport(const audit::ChainReport& r) {
  if (!r.first_bad) {
    std::printf("audit log is whole: %lld entries, %lld checkpoints checked\n",
                static_cast<long long>(r.entries), static_cast<long long>(r.checkpoints));
  } else {
    std::printf("audit log does NOT verify: entry %lld: %s\n",
                static_cast<long long>(r.first_bad->seq), r.first_bad->reason.c_str());
  }
  std::printf("head: %s\n", crypto::HexEncode(r.head).c_str());
  if (r.signer) std::printf("checkpoints signed by: %s\n", crypto::HexEncode(*r.signer).c_str());
}

struct VerifyFlags {
  std::string data_dir;
  std::string checkpoints;
  std::string public_key;
  bool json_output = false;
};

int VerifyOffline(const VerifyFlags& f) {
  std::vector<audit::Checkpoint> external;
  if (!f.checkpoints.empty()) {
    auto read = ReadCheckpointFile(f.checkpoints);
    if (!read.ok()) {
      std::fprintf(stderr, "error: %s\n", read.status().message().c_str());
      return kExitUsage;
    }
    external = std::move(read).value();
  }
  std::optional<audit::PublicKey> pinned;
  if (!f.public_key.empty()) {
    std::string bytes;
    if (!crypto::HexDecode(f.public_key, &bytes) || bytes.size() != 32) {
      std::fprintf(stderr, "error: --public-key must be 64 hex digits\n");
      return kExitUsage;
    }
    pinned.emplace();
    std::copy(bytes.begin(), bytes.end(), pinned->begin());
  }
  auto store = OpenReadOnly(f.data_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().message().c_str());
    return kExitUnavailable;
  }
  auto report = service::VerifyStoredChain(**store, external, pinned);
  if (!report.ok()) {
    std::fprintf(stderr, "error: %s\n", report.status().message().c_str());
    return kExitUnavailable;
  }
  if (f.json_output) {
    std::printf("%s\n", audit::ReportJson(*report).dump(2).c_str());
  } else {
    PrintReport(*report);
  }
  return report->first_bad ? kExitBroken : 0;
}

int VerifyOnline(bool json_output) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto result = client->Call("audit.verifyChain", json::object());
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return kExitUnavailable;
  }
  if (result->http_status != 200) {
    std::fprintf(stderr, "error: %s\n", result->body.dump().c_str());
    return kExitBroken;
  }
  const json& data = result->body["data"];
  if (json_output) {
    std::printf("%s\n", data.dump(2).c_str());
  } else if (data.value("valid", false)) {
    std::printf("audit log is whole: %lld entries, %lld checkpoints checked\n",
                data.value("entries", 0LL), data.value("checkpoints", 0LL));
  } else {
    std::printf("audit log does NOT verify: entry %lld: %s\n", data["firstBad"].value("seq", 0LL),
                data["firstBad"].value("reason", "").c_str());
  }
  return data.value("valid", false) ? 0 : kExitBroken;
}

struct ExportFlags {
  std::string data_dir;
  std::string output;
  int64_t after = 0;
  bool from_checkpoint = false;
  bool checkpoints = false;
  bool follow = false;
  bool syslog = false;
  std::string syslog_addr;
  size_t syslog_max_bytes = audit::kDefaultSyslogMaxBytes;
  bool syslog_max_bytes_given = false;
  int syslog_timeout_ms = audit::kDefaultSyslogSendTimeoutMs;
  int poll_ms = 1000;
};

// One line of the export: its text, what an error calls it and the flags that resume at it.
struct ExportLine {
  std::string text;
  std::string what;    // "entry 7", "checkpoint at entry 7"
  std::string resume;  // "--after 6", "--after 7 --from-checkpoint"
};

// How long the export waits, before it stops or sleeps, for a syslog host to refuse the last
// datagram: a refusal comes back as ICMP within a round trip, or never.
constexpr int kUdpSettleMs = 200;

// Where the export's lines go. A line goes to the syslog address first and to the output only
// once it has been sent, so that after a failure both have the same lines and one resume
// position serves both. Over UDP a refusal is only seen on the next send, so the output gets a
// line only once the send after it (or Settle) has not reported it refused.
class ExportSink {
 public:
  // Returns the exit code to stop with, or 0 when ready.
  int Open(const ExportFlags& f) {
    if (!f.syslog_addr.empty()) {
      auto address = audit::ParseSyslogAddress(f.syslog_addr);
      if (!address.ok()) {
        std::fprintf(stderr, "error: --syslog-addr: %s\n", address.status().message().c_str());
        return kExitUsage;
      }
      auto connected = audit::SyslogSender::Connect(
          *address, "keyhold-audit",
          {.max_bytes = f.syslog_max_bytes, .send_timeout_ms = f.syslog_timeout_ms});
      if (!connected.ok()) {
        std::fprintf(stderr, "error: --syslog-addr: %s\n", connected.status().message().c_str());
        return connected.status().code() == StatusCode::kUnavailable ? kExitUnavailable
                                                                     : kExitUsage;
      }
      sender_ = std::move(connected).value();
      udp_ = address->udp;
    }
    const bool to_syslog = f.syslog || sender_ != nullptr;
    if (!f.output.empty()) {
      out_ = std::fopen(f.output.c_str(), "a");
      if (out_ == nullptr) {
        std::fprintf(stderr, "error: cannot open %s for appending\n", f.output.c_str());
        return kExitUsage;
      }
      out_name_ = f.output;
    } else if (!to_syslog) {
      out_ = stdout;
      out_name_ = "stdout";
    }
    libc_syslog_ = to_syslog && sender_ == nullptr;
    if (libc_syslog_) {
      openlog("keyhold-audit", LOG_PID, LOG_AUTHPRIV);
      local_budget_ = audit::LocalSyslogMsgBudget(f.syslog_max_bytes, "keyhold-audit", ::getpid());
    }
    return 0;
  }

  ~ExportSink() {
    if (out_ != nullptr && out_ != stdout) std::fclose(out_);
    if (libc_syslog_) closelog();
  }

  // A datagram is stamped with the time of what it carries, so a backfill keeps its times.
  Status EmitEntry(const audit::AuditEntry& e, ExportLine line) {
    // An entry too long for one message goes as a stub naming it, rather than stopping here
    // for good: the whole entry stays in the log for `audit export` to fetch.
    std::string fitted;
    if (sender_ != nullptr) {
      fitted = audit::FitEntryLine(e, sender_->MsgBudget(e.action));
    } else if (libc_syslog_) {
      fitted = audit::FitEntryLine(e, local_budget_);
    }
    return Emit(std::move(line), e.action, fitted, e.time_ms);
  }

  Status EmitCheckpoint(const audit::Checkpoint& cp, ExportLine line) {
    std::string msg = line.text;
    return Emit(std::move(line), "checkpoint", msg, cp.time_ms);
  }

  // Confirms the line held back for a UDP refusal (waiting a little for one) and writes it out.
  // Errors: that line's, not sent or not written.
  Status Settle() {
    if (!held_) return OkStatus();
    ExportLine line = std::move(*held_);
    held_.reset();
    if (Status st = sender_->Settle(kUdpSettleMs); !st.ok()) return NotSent(line, st);
    return WriteOut(line);
  }

 private:
  Status Emit(ExportLine line, std::string_view msgid, const std::string& msg, int64_t time_ms) {
    if (sender_ == nullptr) {
      if (libc_syslog_) syslog(LOG_INFO, "%s", msg.c_str());
      return WriteOut(line);
    }
    if (Status st = sender_->Send(audit::kSyslogInfo, msgid, msg, time_ms); !st.ok()) {
      if (held_ && sender_->PreviousRefused()) {
        // The refusal is of the line sent before; this one was not sent either.
        ExportLine lost = std::move(*held_);
        held_.reset();
        return NotSent(lost, Unavailable("syslog host refused it (port unreachable, reported "
                                         "on the next send)"));
      }
      KH_RETURN_IF_ERROR(WriteHeld());
      return NotSent(line, st);
    }
    KH_RETURN_IF_ERROR(WriteHeld());
    if (!udp_) return WriteOut(line);
    held_ = std::move(line);
    return OkStatus();
  }

  Status WriteHeld() {
    if (!held_) return OkStatus();
    ExportLine line = std::move(*held_);
    held_.reset();
    return WriteOut(line);
  }

  // Writes and flushes the whole line, or nothing: a line cut short (a full disk) is taken off
  // again, so that a resumed export appends whole lines.
  Status WriteOut(const ExportLine& line) {
    if (out_ == nullptr) return OkStatus();
    const off_t before = out_ == stdout ? -1 : ::lseek(::fileno(out_), 0, SEEK_END);
    errno = 0;
    if (std::fprintf(out_, "%s\n", line.text.c_str()) >= 0 && std::fflush(out_) == 0) {
      return OkStatus();
    }
    const int error = errno;
    std::clearerr(out_);
    if (before >= 0) (void)::ftruncate(::fileno(out_), before);
    std::string sent = sender_ != nullptr ? " (it was sent to syslog, and will be again)" : "";
    return Unavailable(line.what + " not written to " + out_name_ + ": " +
                       (error != 0 ? std::strerror(error) : "write failed") + sent +
                       "; resume with " + line.resume);
  }

  static Status NotSent(const ExportLine& line, const Status& st) {
    return Status(st.code(), st.reason(),
                  line.what + " not sent: " + st.message() + "; resume with " + line.resume);
  }

  std::unique_ptr<audit::SyslogSender> sender_;
  bool udp_ = false;
  std::optional<ExportLine> held_;  // sent over UDP, not yet known not to be refused
  FILE* out_ = nullptr;
  std::string out_name_;
  bool libc_syslog_ = false;
  size_t local_budget_ = 0;
};

// The stored checkpoints with after_seq < seq <= up_to, oldest first.
StatusOr<std::vector<audit::Checkpoint>> CheckpointsIn(store::SqliteStore& store, int64_t after_seq,
                                                       int64_t up_to) {
  std::vector<audit::Checkpoint> out;
  while (after_seq < up_to) {
    KH_ASSIGN_OR_RETURN(auto page, store.ListAuditCheckpoints(after_seq, store::kMaxAuditPage));
    for (const auto& cp : page) {
      if (cp.seq > up_to) return out;
      out.push_back(cp);
    }
    if (static_cast<int>(page.size()) < store::kMaxAuditPage) break;
    after_seq = page.back().seq;
  }
  return out;
}

// Where an export stands: every line up to entry `entry_seq` is out, and the checkpoints up to
// `checkpoint_seq` (which is entry_seq, or less while one is still to go).
struct ExportPosition {
  int64_t entry_seq = 0;
  int64_t checkpoint_seq = 0;
};

// One page of lines after `pos`, in the order of a straight export: each entry, then the
// checkpoint at its seq. Returns the number of entries read; errors: the store's, or the sink's
// for a line not sent or not written, naming that line and the flags that resume exactly at it.
StatusOr<int> ExportPage(store::SqliteStore& store, bool with_checkpoints, ExportSink& sink,
                         ExportPosition& pos) {
  KH_ASSIGN_OR_RETURN(auto entries, store.ReadAudit(pos.entry_seq, store::kMaxAuditPage));
  std::vector<audit::Checkpoint> cps;
  if (with_checkpoints) {
    int64_t up_to = entries.empty() ? pos.entry_seq : entries.back().seq;
    KH_ASSIGN_OR_RETURN(cps, CheckpointsIn(store, pos.checkpoint_seq, up_to));
  }
  size_t next_cp = 0;
  auto emit_checkpoints_up_to = [&](int64_t seq) -> Status {
    for (; next_cp < cps.size() && cps[next_cp].seq <= seq; ++next_cp) {
      const audit::Checkpoint& cp = cps[next_cp];
      const std::string at = std::to_string(cp.seq);
      KH_RETURN_IF_ERROR(
          sink.EmitCheckpoint(cp, {.text = audit::ToJson(cp),
                                   .what = "checkpoint at entry " + at,
                                   .resume = "--after " + at + " --from-checkpoint"}));
      pos.checkpoint_seq = cp.seq;
    }
    return OkStatus();
  };
  // Checkpoints of entries already out (signed after they were read) come first.
  KH_RETURN_IF_ERROR(emit_checkpoints_up_to(pos.entry_seq));
  pos.checkpoint_seq = pos.entry_seq;
  for (const audit::AuditEntry& e : entries) {
    KH_RETURN_IF_ERROR(sink.EmitEntry(e, {.text = audit::EntryLine(e),
                                          .what = "entry " + std::to_string(e.seq),
                                          .resume = "--after " + std::to_string(pos.entry_seq)}));
    pos.entry_seq = e.seq;
    KH_RETURN_IF_ERROR(emit_checkpoints_up_to(e.seq));
    pos.checkpoint_seq = e.seq;
  }
  return static_cast<int>(entries.size());
}

// Writes every entry after `f.after` (then, with --follow, each new one as it is committed) as
// JSON lines, to the output and/or syslog (facility authpriv, identity "keyhold-audit"): libc's
// syslog(), or RFC 5424 datagrams to --syslog-addr. With --checkpoints, each signed checkpoint
// follows the entry it covers. A line the address does not take stops the export (exit 3) after
// saying which line it was and the flags that resume there: the resumed export writes exactly
// the lines a straight export would have written after it.
int Export(const ExportFlags& f) {
  if (f.from_checkpoint && !f.checkpoints) {
    std::fprintf(stderr, "error: --from-checkpoint needs --checkpoints\n");
    return kExitUsage;
  }
  if (f.syslog_max_bytes_given && !f.syslog && f.syslog_addr.empty()) {
    std::fprintf(stderr, "error: --syslog-max-bytes needs --syslog or --syslog-addr\n");
    return kExitUsage;
  }
  ExportSink sink;
  if (int code = sink.Open(f); code != 0) return code;
  auto store = OpenReadOnly(f.data_dir);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.status().message().c_str());
    return kExitUnavailable;
  }
  ExportPosition pos{.entry_seq = f.after,
                     .checkpoint_seq = f.from_checkpoint ? f.after - 1 : f.after};
  for (;;) {
    auto read = ExportPage(**store, f.checkpoints, sink, pos);
    if (!read.ok()) {
      std::fprintf(stderr, "error: %s\n", read.status().message().c_str());
      return kExitUnavailable;
    }
    if (*read == store::kMaxAuditPage) continue;
    if (Status st = sink.Settle(); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.message().c_str());
      return kExitUnavailable;
    }
    if (!f.follow) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(f.poll_ms));
  }
}

struct EventFlags {
  std::string actor, action, target, cursor;
  std::optional<int64_t> since, until;
  int limit = 50;
  bool json_output = false;
};

int Events(const EventFlags& f) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  json body = {{"limit", f.limit}};
  if (!f.actor.empty()) body["actor"] = f.actor;
  if (!f.action.empty()) body["action"] = f.action;
  if (!f.target.empty()) body["target"] = f.target;
  if (!f.cursor.empty()) body["cursor"] = f.cursor;
  if (f.since) body["since"] = *f.since;
  if (f.until) body["until"] = *f.until;
  auto result = client->Call("audit.listEvents", body);
  if (!result.ok()) {
    std::fprintf(stderr, "error: %s\n", result.status().message().c_str());
    return kExitUnavailable;
  }
  if (result->http_status != 200) {
    std::fprintf(stderr, "error: %s\n", result->body.dump().c_str());
    return kExitBroken;
  }
  const json& data = result->body["data"];
  if (f.json_output) {
    std::printf("%s\n", result->body.dump(2).c_str());
    return 0;
  }
  if (data.empty()) std::printf("no events\n");
  for (const json& e : data) {
    std::printf("%6lld  %lld  %-20s %-24s %s  %s\n", e.value("seq", 0LL), e.value("time", 0LL),
                e.value("action", "").c_str(), e.value("target", "").c_str(),
                e.value("actor", "").empty() ? "(server)" : e.value("actor", "").c_str(),
                e.value("clientIp", "").c_str());
  }
  const json& pagination = result->body["pagination"];
  if (pagination.value("hasMore", false)) {
    std::printf("more: --cursor %s\n", pagination.value("cursor", "").c_str());
  }
  return 0;
}

}  // namespace

void AddAudit(CLI::App& app, int& code) {
  auto* audit = app.add_subcommand("audit", "check, export and search the audit log");
  audit->require_subcommand(1);

  static VerifyFlags verify_flags;
  auto* verify = audit->add_subcommand(
      "verify", "check the audit log's hash chain and signed checkpoints; exit 1 if broken");
  verify->add_option("--data-dir", verify_flags.data_dir,
                     "check the database in DIR directly (read-only; the server may be "
                     "running); without it, the server checks its own");
  verify->add_option("--checkpoints", verify_flags.checkpoints,
                     "FILE of signed checkpoints kept elsewhere (server log lines or `audit "
                     "export --checkpoints` output): catches a truncated or rewritten log");
  verify->add_option("--public-key", verify_flags.public_key,
                     "the checkpoint signing key (64 hex digits) every checkpoint must be "
                     "signed by");
  verify->add_flag("--json", verify_flags.json_output, "print the report as JSON");
  verify->callback([&code] {
    if (verify_flags.data_dir.empty()) {
      if (!verify_flags.checkpoints.empty() || !verify_flags.public_key.empty()) {
        std::fprintf(stderr, "error: --checkpoints and --public-key need --data-dir\n");
        code = kExitUsage;
        return;
      }
      code = VerifyOnline(verify_flags.json_output);
    } else {
      code = VerifyOffline(verify_flags);
    }
  });

  static ExportFlags export_flags;
  auto* exp = audit->add_subcommand("export", "write the audit log as JSON lines, for a SIEM");
  exp->add_option("--data-dir", export_flags.data_dir, "the data directory (read-only)")
      ->required();
  exp->add_option("--output,-o", export_flags.output,
                  "append to FILE instead of stdout (with --syslog-addr, each line once it is "
                  "sent); a line not written (a full disk) stops the export with exit 3, naming "
                  "it and how to resume");
  exp->add_option("--after", export_flags.after,
                  "only what follows entry SEQ: later entries and, with --checkpoints, the "
                  "checkpoints after SEQ's (to resume where a stopped export says)");
  exp->add_flag("--from-checkpoint", export_flags.from_checkpoint,
                "with --after SEQ --checkpoints: start at the checkpoint at SEQ (to resume a "
                "checkpoint not sent)");
  exp->add_flag("--checkpoints", export_flags.checkpoints,
                "also write the signed checkpoints, each after the entry it covers");
  exp->add_flag("--follow,-f", export_flags.follow, "keep writing new entries as they commit");
  exp->add_flag("--syslog", export_flags.syslog,
                "send each line to syslog (authpriv.info, ident keyhold-audit); stdout only if "
                "--output is not given either");
  auto* syslog_addr = exp->add_option(
      "--syslog-addr", export_flags.syslog_addr,
      "send to syslog as RFC 5424 datagrams at unix:/PATH (a datagram socket) or "
      "udp:HOST:PORT instead of the local syslog (implies --syslog; a host name is "
      "resolved once, at start); MSGID is the entry's action; a line not sent stops "
      "the export with exit 3, naming it and how to resume (over UDP, the refused line, "
      "though the send after it is the one told)");
  // An empty address (an unset variable) must not quietly export to stdout instead.
  syslog_addr->check(
      [](const std::string& v) {
        return v.empty() ? std::string("an address is needed: unix:/PATH or udp:HOST:PORT")
                         : std::string();
      },
      "ADDRESS");
  exp->add_option("--syslog-max-bytes", export_flags.syslog_max_bytes,
                  "with --syslog or --syslog-addr: longest message, header included "
                  "(1024-65507, default 8192); a longer entry is sent as a stub with its seq, "
                  "hash and \"truncated\":true, and stays whole in the log and --output")
      ->check(CLI::Range(audit::kMinSyslogMaxBytes, audit::kMaxSyslogMaxBytes))
      ->each([](const std::string&) { export_flags.syslog_max_bytes_given = true; });
  exp->add_option("--syslog-timeout", export_flags.syslog_timeout_ms,
                  "with --syslog-addr: ms a send may wait for a unix socket's reader (default "
                  "5000)")
      ->check(CLI::Range(10, 600000))
      ->needs(syslog_addr);
  exp->add_option("--poll", export_flags.poll_ms, "with --follow: ms between looks (default 1000)")
      ->check(CLI::Range(10, 60000));
  exp->callback([&code] { code = Export(export_flags); });

  static EventFlags event_flags;
  auto* events = audit->add_subcommand("events", "list audit events, newest first (server)");
  events->add_option("--actor", event_flags.actor, "root key id");
  events->add_option("--action", event_flags.action, "an action, or a family such as key.*");
  events->add_option("--target", event_flags.target, "e.g. a key id");
  events->add_option("--since", event_flags.since, "from this time (ms since the epoch)");
  events->add_option("--until", event_flags.until, "before this time (ms since the epoch)");
  events->add_option("--limit", event_flags.limit, "events per page (1-1000, default 50)")
      ->check(CLI::Range(1, 1000));
  events->add_option("--cursor", event_flags.cursor, "continue from a previous page");
  events->add_flag("--json", event_flags.json_output, "print the server's answer as JSON");
  events->callback([&code] { code = Events(event_flags); });
}

}  // namespace keyhold::cli
