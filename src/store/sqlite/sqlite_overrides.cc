// SqliteStore: rate-limit overrides (store/store.h "rate-limit overrides"). A put of an
// identifier that already has an override updates that row in place, so its id, which callers
// hold, never changes.
#include <sqlite3.h>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/changes.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::Stmt;

namespace {

constexpr char kOverrideColumns[] =
    "id, namespace, identifier, ratelimit, duration, created_at, updated_at";

RatelimitOverrideRecord ReadOverride(const Stmt& s) {
  return {s.Text(0), s.Text(1), s.Text(2), s.Int(3), s.Int(4), s.Int(5), s.Int(6)};
}

// The override of (namespace, identifier), if any. REQUIRES: a transaction on `db`.
StatusOr<std::optional<RatelimitOverrideRecord>> FindOverride(sqlite3* db,
                                                              const std::string& namespace_name,
                                                              const std::string& identifier,
                                                              Access access) {
  std::string sql = std::string("SELECT ") + kOverrideColumns +
                    " FROM ratelimit_overrides WHERE namespace = ? AND identifier = ?";
  Stmt s(db, sql.c_str());
  s.Bind(1, namespace_name);
  s.Bind(2, identifier);
  std::optional<RatelimitOverrideRecord> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(access, "read ratelimit override", [&] {
    found = ReadOverride(s);
    return OkStatus();
  }));
  return found;
}

}  // namespace

StatusOr<RatelimitOverrideRecord> SqliteStore::PutRatelimitOverride(
    const RatelimitOverrideRecord& o, const audit::AuditEntry* audit) {
  RatelimitOverrideRecord stored = o;
  auto put = [&](sqlite::ChangeLog& log) -> Status {
    KH_ASSIGN_OR_RETURN(auto existing,
                        FindOverride(db_, o.namespace_name, o.identifier, Access::kWrite));
    if (existing) {
      stored.id = existing->id;
      stored.created_at_ms = existing->created_at_ms;
    }
    Stmt s(db_,
           "INSERT INTO ratelimit_overrides (id, namespace, identifier, ratelimit, duration, "
           "created_at, updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
           "ratelimit = excluded.ratelimit, duration = excluded.duration, "
           "updated_at = excluded.updated_at");
    s.Bind(1, stored.id);
    s.Bind(2, stored.namespace_name);
    s.Bind(3, stored.identifier);
    s.Bind(4, stored.limit);
    s.Bind(5, stored.duration_ms);
    s.Bind(6, stored.created_at_ms);
    s.Bind(7, stored.updated_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "write ratelimit override"));
    if (audit) KH_RETURN_IF_ERROR(sqlite::AppendAudit(db_, {*audit}));
    return log.Record(ChangeKind::kRatelimitOverride, stored.id, ChangeOp::kPut);
  };
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(WriteLocked(put));
  return stored;
}

StatusOr<RatelimitOverrideRecord> SqliteStore::DeleteRatelimitOverride(
    const std::string& namespace_name, const std::string& identifier,
    const audit::AuditEntry* audit) {
  RatelimitOverrideRecord removed;
  auto remove = [&](sqlite::ChangeLog& log) -> Status {
    KH_ASSIGN_OR_RETURN(auto existing,
                        FindOverride(db_, namespace_name, identifier, Access::kWrite));
    if (!existing) {
      return NotFound("no override for this identifier in this namespace",
                      "data/ratelimit_override_not_found");
    }
    removed = *existing;
    Stmt s(db_, "DELETE FROM ratelimit_overrides WHERE id = ?");
    s.Bind(1, removed.id);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "delete ratelimit override"));
    if (audit) KH_RETURN_IF_ERROR(sqlite::AppendAudit(db_, {*audit}));
    return log.Record(ChangeKind::kRatelimitOverride, removed.id, ChangeOp::kDelete);
  };
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(WriteLocked(remove));
  return removed;
}

StatusOr<std::vector<RatelimitOverrideRecord>> SqliteStore::ListRatelimitOverrides(
    const std::string& namespace_name, const std::string& after_id, int limit) {
  if (limit < 1 || limit > kMaxOverridesPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxOverridesPage));
  }
  std::string sql = std::string("SELECT ") + kOverrideColumns +
                    " FROM ratelimit_overrides WHERE (? = '' OR namespace = ?) AND id > ? "
                    "ORDER BY id LIMIT ?";
  std::lock_guard lock(mu_);
  Stmt s(db_, sql.c_str());
  s.Bind(1, namespace_name);
  s.Bind(2, namespace_name);
  s.Bind(3, after_id);
  s.Bind(4, int64_t{limit});
  std::vector<RatelimitOverrideRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list ratelimit overrides", [&] {
    out.push_back(ReadOverride(s));
    return OkStatus();
  }));
  return out;
}

}  // namespace keyhold::store
