#include "store/sqlite/audit_log.h"

#include <cstring>

namespace keyhold::store::sqlite {
namespace {

constexpr char kColumns[] =
    "seq, time_ms, actor, action, target, outcome, client_ip, request_id, details, hash";

template <size_t N>
Status ReadFixedBlob(const Stmt& s, int column, std::array<uint8_t, N>& out, const char* what) {
  int size = 0;
  const void* blob = s.Blob(column, &size);
  if (size != static_cast<int>(N)) {
    return Internal("the audit log in the store is corrupt").WithLogDetail(what);
  }
  std::memcpy(out.data(), blob, N);
  return OkStatus();
}

Status ReadEntry(const Stmt& s, audit::AuditEntry& e) {
  e.seq = s.Int(0);
  e.time_ms = s.Int(1);
  e.actor = s.Text(2);
  e.action = s.Text(3);
  e.target = s.Text(4);
  e.outcome = s.Text(5);
  e.client_ip = s.Text(6);
  e.request_id = s.Text(7);
  e.details_json = s.Text(8);
  return ReadFixedBlob(s, 9, e.hash, "audit entry hash size");
}

Status CollectEntries(Stmt& s, Access access, std::vector<audit::AuditEntry>& out) {
  return s.ForEachRow(access, "read audit log", [&] {
    audit::AuditEntry e;
    KH_RETURN_IF_ERROR(ReadEntry(s, e));
    out.push_back(std::move(e));
    return OkStatus();
  });
}

}  // namespace

StatusOr<AuditTail> ReadTail(sqlite3* db, Access access, StmtCache* stmts) {
  Stmt s(db, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", stmts);
  if (!s.ok()) return EngineError(db, access, "prepare read audit tail");
  AuditTail tail;
  int rc = s.Step();
  if (rc == SQLITE_DONE) return tail;
  if (rc != SQLITE_ROW) return EngineError(db, access, "read audit tail");
  tail.seq = s.Int(0);
  KH_RETURN_IF_ERROR(ReadFixedBlob(s, 1, tail.hash, "audit tail hash size"));
  return tail;
}

Status AppendAudit(sqlite3* db, const std::vector<audit::AuditEntry>& entries, StmtCache* stmts) {
  if (entries.empty()) return OkStatus();
  KH_ASSIGN_OR_RETURN(AuditTail tail, ReadTail(db, Access::kWrite, stmts));
  Stmt s(db,
         "INSERT INTO audit_log (seq, time_ms, actor, action, target, outcome, client_ip, "
         "request_id, details, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
         stmts);
  for (audit::AuditEntry e : entries) {
    e.seq = tail.seq + 1;
    e.hash = audit::LinkHash(tail.hash, e);
    s.Bind(1, e.seq);
    s.Bind(2, e.time_ms);
    s.Bind(3, e.actor);
    s.Bind(4, e.action);
    s.Bind(5, e.target);
    s.Bind(6, e.outcome);
    s.Bind(7, e.client_ip);
    s.Bind(8, e.request_id);
    s.Bind(9, e.details_json);
    s.Bind(10, std::span<const uint8_t>(e.hash));
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "append audit entry"));
    tail = {e.seq, e.hash};
  }
  return OkStatus();
}

StatusOr<std::vector<audit::AuditEntry>> ReadAuditRange(sqlite3* db, int64_t after_seq, int limit) {
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?";
  Stmt s(db, sql.c_str());
  s.Bind(1, after_seq);
  s.Bind(2, int64_t{limit});
  std::vector<audit::AuditEntry> out;
  KH_RETURN_IF_ERROR(CollectEntries(s, Access::kRead, out));
  return out;
}

StatusOr<std::vector<audit::AuditEntry>> RunAuditQuery(sqlite3* db, const AuditQuery& q) {
  // A family "key.*" is the range of actions starting "key.": ['key.', 'key/'), as '/' follows
  // '.' in every collation SQLite uses for TEXT here (BINARY).
  std::string action_lo, action_hi;
  bool family = q.action.size() >= 2 && q.action.ends_with(".*");
  if (family) {
    action_lo = q.action.substr(0, q.action.size() - 1);
    action_hi = action_lo;
    action_hi.back() = '/';
  }
  std::string sql = std::string("SELECT ") + kColumns +
                    " FROM audit_log WHERE (? = 0 OR seq < ?) AND (? = '' OR actor = ?) "
                    "AND (? = '' OR target = ?) AND (? IS NULL OR time_ms >= ?) "
                    "AND (? IS NULL OR time_ms < ?) ";
  if (family) {
    sql += "AND action >= ? AND action < ? ";
  } else {
    sql += "AND (? = '' OR action = ?) ";
  }
  sql += "ORDER BY seq DESC LIMIT ?";
  Stmt s(db, sql.c_str());
  s.Bind(1, q.before_seq);
  s.Bind(2, q.before_seq);
  s.Bind(3, q.actor);
  s.Bind(4, q.actor);
  s.Bind(5, q.target);
  s.Bind(6, q.target);
  s.Bind(7, q.since_ms);
  s.Bind(8, q.since_ms);
  s.Bind(9, q.until_ms);
  s.Bind(10, q.until_ms);
  s.Bind(11, family ? action_lo : q.action);
  s.Bind(12, family ? action_hi : q.action);
  s.Bind(13, int64_t{q.limit});
  std::vector<audit::AuditEntry> out;
  KH_RETURN_IF_ERROR(CollectEntries(s, Access::kRead, out));
  return out;
}

StatusOr<std::vector<uint8_t>> ReadAuditSalt(sqlite3* db) {
  Stmt s(db, "SELECT value FROM installation WHERE name = 'audit_salt'");
  if (!s.ok() || s.Step() != SQLITE_ROW) return EngineError(db, Access::kRead, "read audit salt");
  int size = 0;
  const void* blob = s.Blob(0, &size);
  if (size < 16) {
    return Internal("the audit salt in the store is corrupt").WithLogDetail("audit salt size");
  }
  const auto* bytes = static_cast<const uint8_t*>(blob);
  return std::vector<uint8_t>(bytes, bytes + size);
}

Status WriteCheckpoint(sqlite3* db, const audit::Checkpoint& cp) {
  Stmt s(db,
         "INSERT OR REPLACE INTO audit_checkpoints (seq, hash, time_ms, public_key, signature) "
         "VALUES (?,?,?,?,?)");
  s.Bind(1, cp.seq);
  s.Bind(2, std::span<const uint8_t>(cp.hash));
  s.Bind(3, cp.time_ms);
  s.Bind(4, std::span<const uint8_t>(cp.public_key));
  s.Bind(5, std::span<const uint8_t>(cp.signature));
  return s.Run(Access::kWrite, "put audit checkpoint");
}

StatusOr<std::vector<audit::Checkpoint>> ReadCheckpoints(sqlite3* db, int64_t after_seq,
                                                         int limit) {
  Stmt s(db,
         "SELECT seq, hash, time_ms, public_key, signature FROM audit_checkpoints WHERE seq > ? "
         "ORDER BY seq LIMIT ?");
  s.Bind(1, after_seq);
  s.Bind(2, int64_t{limit});
  std::vector<audit::Checkpoint> out;
  auto on_row = [&] {
    audit::Checkpoint cp;
    cp.seq = s.Int(0);
    cp.time_ms = s.Int(2);
    KH_RETURN_IF_ERROR(ReadFixedBlob(s, 1, cp.hash, "checkpoint hash size"));
    KH_RETURN_IF_ERROR(ReadFixedBlob(s, 3, cp.public_key, "checkpoint key size"));
    KH_RETURN_IF_ERROR(ReadFixedBlob(s, 4, cp.signature, "checkpoint signature size"));
    out.push_back(cp);
    return OkStatus();
  };
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read audit checkpoints", on_row));
  return out;
}

}  // namespace keyhold::store::sqlite
