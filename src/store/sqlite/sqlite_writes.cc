// SqliteStore: writing. Every method here is one transaction (statement.h's InTransaction).
#include <sqlite3.h>

#include <algorithm>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/changes.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::InTransaction;
using sqlite::Stmt;

namespace {

constexpr Access kWrite = Access::kWrite;

// Each step returns at once when it has nothing to do: preparing a statement costs more than
// most single-record writes.

Status PutApis(sqlite3* db, const std::vector<ApiRecord>& apis) {
  if (apis.empty()) return OkStatus();
  Stmt s(db,
         "INSERT OR REPLACE INTO apis (id, name, default_prefix, default_byte_length, "
         "ip_allowlist, created_at, deleted_at, on_leak, max_key_age_ms, overdue_grace_ms) "
         "VALUES (?,?,?,?,?,?,?,?,?,?)");
  for (const ApiRecord& a : apis) {
    s.Bind(1, a.id);
    s.Bind(2, a.name);
    s.Bind(3, a.default_prefix);
    s.Bind(4, int64_t{a.default_byte_length});
    s.Bind(5, sqlite::StringsToJson(a.ip_allowlist));
    s.Bind(6, a.created_at);
    s.Bind(7, a.deleted_at);
    s.Bind(8, int64_t{static_cast<int32_t>(a.on_leak)});
    s.Bind(9, a.max_key_age_ms);
    s.Bind(10, a.overdue_grace_ms);
    KH_RETURN_IF_ERROR(s.Run(kWrite, "put api"));
  }
  return OkStatus();
}

Status PutIdentities(sqlite3* db, const std::vector<IdentityRecord>& identities) {
  if (identities.empty()) return OkStatus();
  Stmt s(db,
         "INSERT INTO identities (id, external_id, meta, ratelimits, created_at) "
         "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET external_id=excluded.external_id, "
         "meta=excluded.meta, ratelimits=excluded.ratelimits");
  for (const IdentityRecord& i : identities) {
    s.Bind(1, i.id);
    s.Bind(2, i.external_id);
    s.Bind(3, i.meta_json);
    s.Bind(4, sqlite::RatelimitsToJson(i.ratelimits));
    s.Bind(5, i.created_at);
    KH_RETURN_IF_ERROR(s.Run(kWrite, "put identity"));
  }
  return OkStatus();
}

Status PutPermissions(sqlite3* db, const std::vector<PermissionRecord>& permissions) {
  if (permissions.empty()) return OkStatus();
  Stmt s(db,
         "INSERT INTO permissions (id, name, slug, description, created_at) "
         "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
         "slug=excluded.slug, description=excluded.description");
  for (const PermissionRecord& p : permissions) {
    s.Bind(1, p.id);
    s.Bind(2, p.name);
    s.Bind(3, p.slug);
    s.Bind(4, p.description);
    s.Bind(5, p.created_at);
    KH_RETURN_IF_ERROR(s.Run(kWrite, "put permission"));
  }
  return OkStatus();
}

Status PutRoles(sqlite3* db, const std::vector<RoleRecord>& roles) {
  if (roles.empty()) return OkStatus();
  Stmt put(db,
           "INSERT INTO roles (id, name, description, created_at) VALUES (?,?,?,?) "
           "ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description");
  Stmt clear(db, "DELETE FROM role_permissions WHERE role_id = ?");
  Stmt link(db, "INSERT INTO role_permissions (role_id, permission_id) VALUES (?,?)");
  for (const RoleRecord& r : roles) {
    put.Bind(1, r.id);
    put.Bind(2, r.name);
    put.Bind(3, r.description);
    put.Bind(4, r.created_at);
    KH_RETURN_IF_ERROR(put.Run(kWrite, "put role"));
    clear.Bind(1, r.id);
    KH_RETURN_IF_ERROR(clear.Run(kWrite, "clear role permissions"));
    for (const std::string& pid : r.permission_ids) {
      link.Bind(1, r.id);
      link.Bind(2, pid);
      KH_RETURN_IF_ERROR(link.Run(kWrite, "link role permission"));
    }
  }
  return OkStatus();
}

// A key's link table: cleared and refilled on every put of the key.
struct KeyLinks {
  Stmt clear;
  Stmt insert;
  std::vector<std::string> KeyRecord::*values;
};

Status BindAndPutKey(Stmt& s, const KeyRecord& k) {
  s.Bind(1, k.id);
  s.Bind(2, int64_t{static_cast<int32_t>(k.kind)});
  s.Bind(3, k.api_id);
  s.Bind(4, std::span<const uint8_t>(k.hash));
  s.Bind(5, k.start);
  s.BindOpt(6, k.name);
  s.Bind(7, k.meta_json);
  s.Bind(8, k.identity_id);
  s.Bind(9, k.created_at);
  s.Bind(10, k.updated_at);
  s.Bind(11, k.last_used_at);
  s.Bind(12, k.expires);
  s.Bind(13, int64_t{k.enabled ? 1 : 0});
  sqlite::BindCredits(s, 14, k.credits);
  s.Bind(19, sqlite::RatelimitsToJson(k.ratelimits));
  s.Bind(20, k.deleted_at);
  s.Bind(21, k.rerolled_from);
  s.Bind(22, k.rerolled_to);
  s.Bind(23, k.rerolled_at);
  s.Bind(24, k.credits_key_id);
  s.BindOpt(25, k.revoked_reason);
  s.Bind(26, k.created_by);
  s.Bind(27, int64_t{k.imported ? 1 : 0});
  s.Bind(28, sqlite::StringsToJson(k.ip_allowlist));
  return s.Run(kWrite, "put key");
}

Status PutKeys(sqlite3* db, const std::vector<KeyRecord>& keys) {
  if (keys.empty()) return OkStatus();
  // Prepared once per batch: a bulk load of a million keys must not prepare millions of times.
  Stmt put(
      db,
      "INSERT INTO keys (id, kind, api_id, hash, start, name, meta, identity_id, "
      "created_at, updated_at, last_used_at, expires, enabled, credits_remaining, "
      "refill_interval, refill_amount, refill_day, last_refill_at, ratelimits, deleted_at, "
      "rerolled_from, rerolled_to, rerolled_at, credits_key_id, revoked_reason, created_by, "
      "imported, ip_allowlist) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(id) DO UPDATE SET "
      "name=excluded.name, meta=excluded.meta, identity_id=excluded.identity_id, "
      "updated_at=excluded.updated_at, expires=excluded.expires, enabled=excluded.enabled, "
      "credits_remaining=excluded.credits_remaining, "
      "refill_interval=excluded.refill_interval, refill_amount=excluded.refill_amount, "
      "refill_day=excluded.refill_day, last_refill_at=excluded.last_refill_at, "
      "ratelimits=excluded.ratelimits, deleted_at=excluded.deleted_at, "
      "rerolled_from=excluded.rerolled_from, rerolled_to=excluded.rerolled_to, "
      "rerolled_at=excluded.rerolled_at, credits_key_id=excluded.credits_key_id, "
      "revoked_reason=excluded.revoked_reason, ip_allowlist=excluded.ip_allowlist");  // created_by
                                                                                      // is never
                                                                                      // changed
  KeyLinks links[] = {
      {Stmt(db, "DELETE FROM key_permissions WHERE key_id = ?"),
       Stmt(db, "INSERT INTO key_permissions (key_id, permission_id) VALUES (?,?)"),
       &KeyRecord::permission_ids},
      {Stmt(db, "DELETE FROM key_roles WHERE key_id = ?"),
       Stmt(db, "INSERT INTO key_roles (key_id, role_id) VALUES (?,?)"), &KeyRecord::role_ids},
      {Stmt(db, "DELETE FROM root_key_permissions WHERE key_id = ?"),
       Stmt(db, "INSERT INTO root_key_permissions (key_id, permission) VALUES (?,?)"),
       &KeyRecord::root_permissions},
  };
  for (const KeyRecord& k : keys) {
    KH_RETURN_IF_ERROR(BindAndPutKey(put, k));
    for (KeyLinks& l : links) {
      l.clear.Bind(1, k.id);
      KH_RETURN_IF_ERROR(l.clear.Run(kWrite, "clear key links"));
      for (const std::string& v : k.*(l.values)) {
        l.insert.Bind(1, k.id);
        l.insert.Bind(2, v);
        KH_RETURN_IF_ERROR(l.insert.Run(kWrite, "link key"));
      }
    }
  }
  return OkStatus();
}

Status PutCredits(sqlite3* db, const std::vector<CreditsUpdate>& credits) {
  if (credits.empty()) return OkStatus();
  Stmt s(db,
         "UPDATE keys SET credits_remaining = ?, refill_interval = ?, refill_amount = ?, "
         "refill_day = ?, last_refill_at = ? WHERE id = ?");
  for (const CreditsUpdate& c : credits) {
    sqlite::BindCredits(s, 1, c.credits);
    s.Bind(6, c.key_id);
    KH_RETURN_IF_ERROR(s.Run(kWrite, "update credits"));
  }
  return OkStatus();
}

Status DeleteAll(sqlite3* db, const std::vector<std::string>& ids, const char* sql) {
  if (ids.empty()) return OkStatus();
  Stmt s(db, sql);
  for (const std::string& id : ids) {
    s.Bind(1, id);
    KH_RETURN_IF_ERROR(s.Run(kWrite, sql));
  }
  return OkStatus();
}

}  // namespace

Status SqliteStore::Apply(const WriteBatch& batch) {
  if (batch.empty()) return OkStatus();
  // The order the WriteBatch contract gives: puts, then credit updates, then deletes.
  auto apply = [&](sqlite::ChangeLog& log) -> Status {
    KH_RETURN_IF_ERROR(PutApis(db_, batch.put_apis));
    KH_RETURN_IF_ERROR(PutIdentities(db_, batch.put_identities));
    KH_RETURN_IF_ERROR(PutPermissions(db_, batch.put_permissions));
    KH_RETURN_IF_ERROR(PutRoles(db_, batch.put_roles));
    KH_RETURN_IF_ERROR(PutKeys(db_, batch.put_keys));
    KH_RETURN_IF_ERROR(PutCredits(db_, batch.credits));
    KH_RETURN_IF_ERROR(DeleteAll(db_, batch.delete_keys, "DELETE FROM keys WHERE id = ?"));
    KH_RETURN_IF_ERROR(DeleteAll(db_, batch.delete_roles, "DELETE FROM roles WHERE id = ?"));
    KH_RETURN_IF_ERROR(
        DeleteAll(db_, batch.delete_permissions, "DELETE FROM permissions WHERE id = ?"));
    KH_RETURN_IF_ERROR(
        DeleteAll(db_, batch.delete_identities, "DELETE FROM identities WHERE id = ?"));
    KH_RETURN_IF_ERROR(sqlite::AppendAudit(db_, batch.audit));
    return log.RecordBatch(batch);
  };
  std::lock_guard lock(mu_);
  return WriteLocked(apply);
}

Status SqliteStore::TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) {
  if (key_times.empty()) return OkStatus();
  std::lock_guard lock(mu_);
  return InTransaction(db_, kWrite, [&] {
    Stmt s(db_, "UPDATE keys SET last_used_at = MAX(last_used_at, ?) WHERE id = ?");
    for (const auto& [id, t] : key_times) {
      s.Bind(1, t);
      s.Bind(2, id);
      KH_RETURN_IF_ERROR(s.Run(kWrite, "touch last used"));
    }
    return OkStatus();
  });
}

namespace {

// Pruning deletes a run of old rows at once rather than one row per change: the write that
// prunes pays for up to this many deletions, the others for none.
constexpr uint64_t kPruneEvery = 1024;

}  // namespace

Status SqliteStore::WriteLocked(const std::function<Status(sqlite::ChangeLog&)>& body) {
  uint64_t recorded = 0;
  bool prune = false;
  auto write = [&]() -> Status {
    sqlite::ChangeLog log(db_, options_.change_retention);
    KH_RETURN_IF_ERROR(body(log));
    recorded = log.recorded();
    prune = recorded_since_prune_ + recorded >= std::min(kPruneEvery, options_.change_retention);
    return prune ? sqlite::PruneChanges(db_, options_.change_retention) : OkStatus();
  };
  KH_RETURN_IF_ERROR(InTransaction(db_, kWrite, write));
  recorded_since_prune_ = prune ? 0 : recorded_since_prune_ + recorded;
  return OkStatus();
}

Status SqliteStore::PruneLocked() {
  KH_RETURN_IF_ERROR(InTransaction(
      db_, kWrite, [&] { return sqlite::PruneChanges(db_, options_.change_retention); }));
  recorded_since_prune_ = 0;
  return OkStatus();
}

}  // namespace keyhold::store
