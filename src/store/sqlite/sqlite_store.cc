#include "store/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "store/sqlite/migrations.h"

namespace keyhold::store {
namespace {

using nlohmann::json;

// A prepared statement that finalizes itself. Bind indexes are 1-based, columns 0-based.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  void Bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void Bind(int i, std::span<const uint8_t> v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, const std::optional<int64_t>& v) {
    if (v) {
      Bind(i, *v);
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  void BindOpt(int i, const std::optional<std::string>& v) {
    if (v) {
      Bind(i, std::string_view(*v));
    } else {
      sqlite3_bind_null(stmt_, i);
    }
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string Text(int c) const {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::string();
  }
  // Valid until the next Step() or Reset().
  std::string_view View(int c) const {
    const unsigned char* t = sqlite3_column_text(stmt_, c);
    return t ? std::string_view(reinterpret_cast<const char*>(t),
                                static_cast<size_t>(sqlite3_column_bytes(stmt_, c)))
             : std::string_view();
  }
  int64_t Int(int c) const { return sqlite3_column_int64(stmt_, c); }
  bool IsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::optional<int64_t> OptInt(int c) const {
    return IsNull(c) ? std::nullopt : std::optional<int64_t>(Int(c));
  }
  const void* Blob(int c, int* size) const {
    *size = sqlite3_column_bytes(stmt_, c);
    return sqlite3_column_blob(stmt_, c);
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

Status ErrorFrom(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return AlreadyExists(std::move(msg));
  return Unavailable("the store could not be written (" + msg + ")",
                     "application/store_unavailable");
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Unavailable("store statement failed: " + msg, "application/store_unavailable");
  }
  return OkStatus();
}

std::string RatelimitsToJson(const std::vector<RatelimitConfig>& rls) {
  json arr = json::array();
  for (const auto& r : rls) {
    arr.push_back({{"id", r.id},
                   {"name", r.name},
                   {"limit", r.limit},
                   {"duration", r.duration_ms},
                   {"autoApply", r.auto_apply}});
  }
  return arr.dump();
}

std::vector<RatelimitConfig> RatelimitsFromJson(std::string_view text) {
  std::vector<RatelimitConfig> out;
  if (text.empty() || text == "[]") return out;  // the common case; loading must stay fast
  json arr = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!arr.is_array()) return out;
  for (const auto& r : arr) {
    out.push_back({r.value("id", ""), r.value("name", ""), r.value("limit", int64_t{0}),
                   r.value("duration", int64_t{0}), r.value("autoApply", false)});
  }
  return out;
}

std::string StringsToJson(const std::vector<std::string>& v) { return json(v).dump(); }
std::vector<std::string> StringsFromJson(const std::string& text) {
  json arr = json::parse(text, nullptr, false);
  std::vector<std::string> out;
  if (arr.is_array()) {
    for (const auto& s : arr) {
      if (s.is_string()) out.push_back(s.get<std::string>());
    }
  }
  return out;
}

const char* IntervalName(RefillInterval i) {
  return i == RefillInterval::kDaily ? "daily" : "monthly";
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Unavailable("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  sqlite3_busy_timeout(db, 5000);
  KH_RETURN_IF_ERROR(Exec(db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA foreign_keys=ON;"));
  KH_RETURN_IF_ERROR(store->Migrate());
  return store;
}

SqliteStore::~SqliteStore() { sqlite3_close(db_); }

int SqliteStore::SchemaVersion() {
  Stmt s(db_, "PRAGMA user_version");
  if (!s.ok() || s.Step() != SQLITE_ROW) return -1;
  return static_cast<int>(s.Int(0));
}

Status SqliteStore::Migrate() {
  std::lock_guard lock(mu_);
  const auto& migrations = SqliteMigrations();
  int version = SchemaVersion();
  if (version < 0) return Unavailable("cannot read the database's schema version");
  if (version > static_cast<int>(migrations.size())) {
    return FailedPrecondition("the database was written by a newer keyhold (schema " +
                              std::to_string(version) + ")");
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    KH_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
    std::string sql(migrations[v]);
    sql += "\nPRAGMA user_version = " + std::to_string(v + 1) + ";";
    Status st = Exec(db_, sql.c_str());
    if (!st.ok()) {
      Exec(db_, "ROLLBACK").IgnoreError();
      return st;
    }
    KH_RETURN_IF_ERROR(Exec(db_, "COMMIT"));
  }
  return OkStatus();
}

// Walks a (key_id, value) link table in key_id order, beside the keys walked in id order.
class LinkCursor {
 public:
  LinkCursor(sqlite3* db, const char* sql) : s_(db, sql) {
    if (s_.ok()) Advance();
  }
  bool ok() const { return s_.ok(); }
  // False if reading the table failed (rather than reaching its end).
  bool healthy() const { return rc_ == SQLITE_ROW || rc_ == SQLITE_DONE; }
  // Appends the values linked to `key_id`, skipping those of keys before it (deleted keys).
  void Collect(std::string_view key_id, std::vector<std::string>& out) {
    while (rc_ == SQLITE_ROW && s_.View(0) < key_id) Advance();
    while (rc_ == SQLITE_ROW && s_.View(0) == key_id) {
      out.push_back(s_.Text(1));
      Advance();
    }
  }

 private:
  void Advance() { rc_ = s_.Step(); }
  Stmt s_;
  int rc_ = SQLITE_DONE;
};

Status SqliteStore::Load(Snapshot& snap, const KeyVisitor& on_key) {
  std::lock_guard lock(mu_);
  {
    Stmt s(db_,
           "SELECT id, name, default_prefix, default_byte_length, ip_allowlist, created_at "
           "FROM apis WHERE deleted_at IS NULL ORDER BY id");
    while (s.Step() == SQLITE_ROW) {
      snap.apis.push_back({s.Text(0), s.Text(1), s.Text(2), static_cast<int32_t>(s.Int(3)),
                           StringsFromJson(s.Text(4)), s.Int(5), std::nullopt});
    }
  }
  {
    Stmt s(db_, "SELECT id, external_id, meta, ratelimits, created_at FROM identities ORDER BY id");
    while (s.Step() == SQLITE_ROW) {
      snap.identities.push_back(
          {s.Text(0), s.Text(1), s.Text(2), RatelimitsFromJson(s.Text(3)), s.Int(4)});
    }
  }
  {
    Stmt s(db_, "SELECT id, name, slug, description, created_at FROM permissions ORDER BY id");
    while (s.Step() == SQLITE_ROW) {
      snap.permissions.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)});
    }
  }
  std::unordered_map<std::string, size_t> role_at;
  {
    Stmt s(db_, "SELECT id, name, description, created_at FROM roles ORDER BY id");
    while (s.Step() == SQLITE_ROW) {
      role_at[s.Text(0)] = snap.roles.size();
      snap.roles.push_back({s.Text(0), s.Text(1), s.Text(2), {}, s.Int(3)});
    }
    Stmt rp(db_, "SELECT role_id, permission_id FROM role_permissions ORDER BY permission_id");
    while (rp.Step() == SQLITE_ROW) {
      auto it = role_at.find(rp.Text(0));
      if (it != role_at.end()) snap.roles[it->second].permission_ids.push_back(rp.Text(1));
    }
  }
  // Keys stream in id order, each joined with its links by cursors walking the link tables in
  // key_id order beside it, so loading holds one key record at a time.
  LinkCursor perms(
      db_, "SELECT key_id, permission_id FROM key_permissions ORDER BY key_id, permission_id");
  LinkCursor roles(db_, "SELECT key_id, role_id FROM key_roles ORDER BY key_id, role_id");
  LinkCursor root_perms(db_,
                        "SELECT key_id, permission FROM root_key_permissions "
                        "ORDER BY key_id, permission");
  Stmt s(db_,
         "SELECT id, kind, api_id, hash, start, name, meta, identity_id, created_at, "
         "updated_at, last_used_at, expires, enabled, credits_remaining, refill_interval, "
         "refill_amount, refill_day, last_refill_at, ratelimits FROM keys "
         "WHERE deleted_at IS NULL ORDER BY id");
  if (!s.ok() || !perms.ok() || !roles.ok() || !root_perms.ok()) {
    return Internal("cannot read keys from the store");
  }
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    KeyRecord k;
    k.id = s.Text(0);
    k.kind = static_cast<KeyKind>(s.Int(1));
    k.api_id = s.Text(2);
    int size = 0;
    const void* blob = s.Blob(3, &size);
    if (size != static_cast<int>(k.hash.size())) return Internal("corrupt key hash in store");
    std::memcpy(k.hash.data(), blob, k.hash.size());
    k.start = s.Text(4);
    if (!s.IsNull(5)) k.name = s.Text(5);
    k.meta_json = s.Text(6);
    k.identity_id = s.Text(7);
    k.created_at = s.Int(8);
    k.updated_at = s.Int(9);
    k.last_used_at = s.Int(10);
    k.expires = s.OptInt(11);
    k.enabled = s.Int(12) != 0;
    k.credits.remaining = s.OptInt(13);
    if (!s.IsNull(14)) {
      RefillRule r;
      r.interval = s.View(14) == "daily" ? RefillInterval::kDaily : RefillInterval::kMonthly;
      r.amount = s.Int(15);
      r.refill_day = static_cast<int>(s.Int(16));
      k.credits.refill = r;
    }
    k.credits.last_refill_at = s.Int(17);
    k.ratelimits = RatelimitsFromJson(s.View(18));
    perms.Collect(k.id, k.permission_ids);
    roles.Collect(k.id, k.role_ids);
    root_perms.Collect(k.id, k.root_permissions);
    KH_RETURN_IF_ERROR(on_key(std::move(k)));
  }
  if (rc != SQLITE_DONE || !perms.healthy() || !roles.healthy() || !root_perms.healthy()) {
    return ErrorFrom(db_, rc, "read keys");
  }
  return OkStatus();
}

Status SqliteStore::Apply(const WriteBatch& batch) {
  if (batch.empty()) return OkStatus();
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Status st = ApplyLocked(batch);
  if (!st.ok()) {
    Exec(db_, "ROLLBACK").IgnoreError();
    return st;
  }
  return Exec(db_, "COMMIT");
}

Status SqliteStore::ApplyLocked(const WriteBatch& batch) {
  auto run = [&](Stmt& s, const char* what) -> Status {
    if (!s.ok()) return Internal(std::string("cannot prepare ") + what);
    int rc = s.Step();
    s.Reset();
    if (rc != SQLITE_DONE) return ErrorFrom(db_, rc, what);
    return OkStatus();
  };
  for (const ApiRecord& a : batch.put_apis) {
    Stmt s(db_,
           "INSERT OR REPLACE INTO apis (id, name, default_prefix, default_byte_length, "
           "ip_allowlist, created_at, deleted_at) VALUES (?,?,?,?,?,?,?)");
    s.Bind(1, a.id);
    s.Bind(2, a.name);
    s.Bind(3, a.default_prefix);
    s.Bind(4, int64_t{a.default_byte_length});
    s.Bind(5, StringsToJson(a.ip_allowlist));
    s.Bind(6, a.created_at);
    s.Bind(7, a.deleted_at);
    KH_RETURN_IF_ERROR(run(s, "put api"));
  }
  for (const IdentityRecord& i : batch.put_identities) {
    Stmt s(db_,
           "INSERT INTO identities (id, external_id, meta, ratelimits, created_at) "
           "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET external_id=excluded.external_id, "
           "meta=excluded.meta, ratelimits=excluded.ratelimits");
    s.Bind(1, i.id);
    s.Bind(2, i.external_id);
    s.Bind(3, i.meta_json);
    s.Bind(4, RatelimitsToJson(i.ratelimits));
    s.Bind(5, i.created_at);
    KH_RETURN_IF_ERROR(run(s, "put identity"));
  }
  for (const PermissionRecord& p : batch.put_permissions) {
    Stmt s(db_,
           "INSERT INTO permissions (id, name, slug, description, created_at) "
           "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
           "slug=excluded.slug, description=excluded.description");
    s.Bind(1, p.id);
    s.Bind(2, p.name);
    s.Bind(3, p.slug);
    s.Bind(4, p.description);
    s.Bind(5, p.created_at);
    KH_RETURN_IF_ERROR(run(s, "put permission"));
  }
  for (const RoleRecord& r : batch.put_roles) {
    Stmt s(db_,
           "INSERT INTO roles (id, name, description, created_at) VALUES (?,?,?,?) "
           "ON CONFLICT(id) DO UPDATE SET name=excluded.name, description=excluded.description");
    s.Bind(1, r.id);
    s.Bind(2, r.name);
    s.Bind(3, r.description);
    s.Bind(4, r.created_at);
    KH_RETURN_IF_ERROR(run(s, "put role"));
    Stmt del(db_, "DELETE FROM role_permissions WHERE role_id = ?");
    del.Bind(1, r.id);
    KH_RETURN_IF_ERROR(run(del, "clear role permissions"));
    Stmt link(db_, "INSERT INTO role_permissions (role_id, permission_id) VALUES (?,?)");
    for (const std::string& pid : r.permission_ids) {
      link.Bind(1, r.id);
      link.Bind(2, pid);
      KH_RETURN_IF_ERROR(run(link, "link role permission"));
    }
  }
  Stmt put_key(
      db_,
      "INSERT INTO keys (id, kind, api_id, hash, start, name, meta, identity_id, "
      "created_at, updated_at, last_used_at, expires, enabled, credits_remaining, "
      "refill_interval, refill_amount, refill_day, last_refill_at, ratelimits, deleted_at) "
      "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
      "name=excluded.name, meta=excluded.meta, identity_id=excluded.identity_id, "
      "updated_at=excluded.updated_at, expires=excluded.expires, enabled=excluded.enabled, "
      "credits_remaining=excluded.credits_remaining, refill_interval=excluded.refill_interval, "
      "refill_amount=excluded.refill_amount, refill_day=excluded.refill_day, "
      "last_refill_at=excluded.last_refill_at, ratelimits=excluded.ratelimits, "
      "deleted_at=excluded.deleted_at");
  // Prepared once per batch: a bulk load of a million keys must not prepare millions of times.
  struct LinkStatements {
    Stmt clear;
    Stmt insert;
    std::vector<std::string> KeyRecord::*values;
  };
  LinkStatements links[] = {
      {Stmt(db_, "DELETE FROM key_permissions WHERE key_id = ?"),
       Stmt(db_, "INSERT INTO key_permissions (key_id, permission_id) VALUES (?,?)"),
       &KeyRecord::permission_ids},
      {Stmt(db_, "DELETE FROM key_roles WHERE key_id = ?"),
       Stmt(db_, "INSERT INTO key_roles (key_id, role_id) VALUES (?,?)"), &KeyRecord::role_ids},
      {Stmt(db_, "DELETE FROM root_key_permissions WHERE key_id = ?"),
       Stmt(db_, "INSERT INTO root_key_permissions (key_id, permission) VALUES (?,?)"),
       &KeyRecord::root_permissions},
  };
  for (const KeyRecord& k : batch.put_keys) {
    put_key.Bind(1, k.id);
    put_key.Bind(2, int64_t{static_cast<int32_t>(k.kind)});
    put_key.Bind(3, k.api_id);
    put_key.Bind(4, std::span<const uint8_t>(k.hash));
    put_key.Bind(5, k.start);
    put_key.BindOpt(6, k.name);
    put_key.Bind(7, k.meta_json);
    put_key.Bind(8, k.identity_id);
    put_key.Bind(9, k.created_at);
    put_key.Bind(10, k.updated_at);
    put_key.Bind(11, k.last_used_at);
    put_key.Bind(12, k.expires);
    put_key.Bind(13, int64_t{k.enabled ? 1 : 0});
    put_key.Bind(14, k.credits.remaining);
    if (k.credits.refill) {
      put_key.Bind(15, std::string_view(IntervalName(k.credits.refill->interval)));
      put_key.Bind(16, k.credits.refill->amount);
      put_key.Bind(17, int64_t{k.credits.refill->refill_day});
    }
    put_key.Bind(18, k.credits.last_refill_at);
    put_key.Bind(19, RatelimitsToJson(k.ratelimits));
    put_key.Bind(20, k.deleted_at);
    KH_RETURN_IF_ERROR(run(put_key, "put key"));
    for (LinkStatements& l : links) {
      l.clear.Bind(1, k.id);
      KH_RETURN_IF_ERROR(run(l.clear, "clear key links"));
      for (const std::string& v : k.*(l.values)) {
        l.insert.Bind(1, k.id);
        l.insert.Bind(2, v);
        KH_RETURN_IF_ERROR(run(l.insert, "link key"));
      }
    }
  }
  for (const CreditsUpdate& c : batch.credits) {
    Stmt s(db_, "UPDATE keys SET credits_remaining = ?, last_refill_at = ? WHERE id = ?");
    s.Bind(1, c.credits.remaining);
    s.Bind(2, c.credits.last_refill_at);
    s.Bind(3, c.key_id);
    KH_RETURN_IF_ERROR(run(s, "update credits"));
  }
  auto delete_all = [&](const std::vector<std::string>& ids, const char* sql) -> Status {
    for (const std::string& id : ids) {
      Stmt s(db_, sql);
      s.Bind(1, id);
      KH_RETURN_IF_ERROR(run(s, "delete"));
    }
    return OkStatus();
  };
  KH_RETURN_IF_ERROR(delete_all(batch.delete_keys, "DELETE FROM keys WHERE id = ?"));
  KH_RETURN_IF_ERROR(delete_all(batch.delete_roles, "DELETE FROM roles WHERE id = ?"));
  KH_RETURN_IF_ERROR(delete_all(batch.delete_permissions, "DELETE FROM permissions WHERE id = ?"));
  KH_RETURN_IF_ERROR(delete_all(batch.delete_identities, "DELETE FROM identities WHERE id = ?"));
  return OkStatus();
}

Status SqliteStore::TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) {
  if (key_times.empty()) return OkStatus();
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(Exec(db_, "BEGIN IMMEDIATE"));
  Stmt s(db_, "UPDATE keys SET last_used_at = MAX(last_used_at, ?) WHERE id = ?");
  for (const auto& [id, t] : key_times) {
    s.Bind(1, t);
    s.Bind(2, id);
    s.Step();
    s.Reset();
  }
  return Exec(db_, "COMMIT");
}

StatusOr<std::vector<std::string>> SqliteStore::ListKeyIds(const std::string& api_id,
                                                           const std::string& after_id,
                                                           const std::string& identity_id,
                                                           int limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id FROM keys WHERE api_id = ? AND id > ? AND deleted_at IS NULL "
         "AND (? = '' OR identity_id = ?) ORDER BY id LIMIT ?");
  if (!s.ok()) return Internal("cannot prepare key listing");
  s.Bind(1, api_id);
  s.Bind(2, after_id);
  s.Bind(3, identity_id);
  s.Bind(4, identity_id);
  s.Bind(5, int64_t{limit});
  std::vector<std::string> ids;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) ids.push_back(s.Text(0));
  if (rc != SQLITE_DONE)
    return Unavailable("the store could not be read", "application/store_unavailable");
  return ids;
}

}  // namespace keyhold::store
