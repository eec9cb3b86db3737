// SqliteStore: opening, migrating and reading. Writes are in sqlite_writes.cc.
#include "store/sqlite/sqlite_store.h"

#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/changes.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::EngineError;
using sqlite::Exec;
using sqlite::InTransaction;
using sqlite::Stmt;

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                         const SqliteOptions& options) {
  // The newest row carries the sequence, and pruning computes in signed 64-bit SQL integers.
  if (options.change_retention < 1 ||
      options.change_retention > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("change_retention must be at least 1 and fit in 63 bits");
  }
  sqlite3* db = nullptr;
  int flags = options.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX,
                           options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    std::string text = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Unavailable("the store could not be opened", "application/store_unavailable")
        .WithLogDetail("open " + path + ": " + text);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db, options));
  sqlite3_busy_timeout(db, 5000);
  if (options.read_only) {
    int version = store->SchemaVersion();
    if (version != static_cast<int>(SqliteMigrations().size())) {
      return FailedPrecondition("the database at " + path + " is at schema version " +
                                std::to_string(version) + ", this keyhold reads version " +
                                std::to_string(SqliteMigrations().size()) +
                                " (start the server once to migrate it)");
    }
    return store;
  }
  KH_RETURN_IF_ERROR(Exec(db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                          "PRAGMA foreign_keys=ON;",
                          Access::kWrite));
  KH_RETURN_IF_ERROR(store->Migrate());
  {
    std::lock_guard lock(store->mu_);
    KH_RETURN_IF_ERROR(store->PruneLocked());  // the retention may be shorter than last time
  }
  // Secret reads get connections of their own where another connection sees the same
  // database: a file, not an in-memory or URI-named database.
  if (!path.empty() && path != ":memory:" && !path.starts_with("file:")) {
    store->OpenReaders(path);
    store->StartCheckpointer(path);
    if (options.sole_writer) store->WatchSecretTables();
  }
  return store;
}

Status SqliteStore::TurnOffMemoryStatistics() {
  const int rc = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  if (rc == SQLITE_OK) return OkStatus();
  std::string why = rc == SQLITE_MISUSE ? "SQLite was already initialized" : sqlite3_errstr(rc);
  return FailedPrecondition("SQLite's memory statistics stay on (slower, not wrong): " + why);
}

SqliteStore::SqliteStore(sqlite3* db, const SqliteOptions& options)
    : db_(db), stmts_(std::make_unique<sqlite::StmtCache>(db)), options_(options) {}

SqliteStore::~SqliteStore() {
  {
    std::lock_guard lock(read_audit_mu_);
    read_audit_stopping_ = true;
    read_audit_wake_.notify_one();
  }
  // The commit thread commits what is queued (every caller gets its answer), then ends.
  if (read_audit_thread_.joinable()) read_audit_thread_.join();
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_stopping_ = true;
    checkpoint_wake_.notify_one();
  }
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
  sqlite3_close(checkpoint_db_);  // before db_: the last connection to close checkpoints all
  for (Reader& r : readers_) {
    r.stmts.reset();
    sqlite3_close(r.db);
  }
  stmts_.reset();  // a connection with statements left does not close
  sqlite3_close(db_);
}

int SqliteStore::SchemaVersion() {
  std::lock_guard lock(mu_);
  return SchemaVersionLocked();
}

int SqliteStore::SchemaVersionLocked() {
  Stmt s(db_, "PRAGMA user_version");
  if (!s.ok() || s.Step() != SQLITE_ROW) return -1;
  return static_cast<int>(s.Int(0));
}

Status SqliteStore::Migrate() {
  std::lock_guard lock(mu_);
  const auto& migrations = SqliteMigrations();
  int version = SchemaVersionLocked();
  if (version < 0) return EngineError(db_, Access::kRead, "read the schema version");
  if (version > static_cast<int>(migrations.size())) {
    return FailedPrecondition("the database was written by a newer keyhold (schema " +
                              std::to_string(version) + ")");
  }
  for (size_t v = static_cast<size_t>(version); v < migrations.size(); ++v) {
    std::string sql(migrations[v]);
    sql += "\nPRAGMA user_version = " + std::to_string(v + 1) + ";";
    KH_RETURN_IF_ERROR(
        InTransaction(db_, Access::kWrite, [&] { return Exec(db_, sql.c_str(), Access::kWrite); }));
  }
  return OkStatus();
}

namespace {

Status LoadApis(sqlite3* db, Snapshot& snap) {
  Stmt s(
      db,
      "SELECT id, name, default_prefix, default_byte_length, ip_allowlist, created_at, "
      "on_leak, max_key_age_ms, overdue_grace_ms FROM apis WHERE deleted_at IS NULL ORDER BY id");
  return s.ForEachRow(Access::kRead, "read apis", [&] {
    snap.apis.push_back({s.Text(0), s.Text(1), s.Text(2), static_cast<int32_t>(s.Int(3)),
                         sqlite::StringsFromJson(s.View(4)), s.Int(5), std::nullopt});
    ApiRecord& a = snap.apis.back();
    a.on_leak = s.Int(6) == 1 ? LeakResponse::kDisable : LeakResponse::kRevoke;
    a.max_key_age_ms = s.OptInt(7);
    a.overdue_grace_ms = s.OptInt(8);
    return OkStatus();
  });
}

Status LoadIdentities(sqlite3* db, Snapshot& snap) {
  Stmt s(db, "SELECT id, external_id, meta, ratelimits, created_at FROM identities ORDER BY id");
  return s.ForEachRow(Access::kRead, "read identities", [&] {
    snap.identities.push_back(
        {s.Text(0), s.Text(1), s.Text(2), sqlite::RatelimitsFromJson(s.View(3)), s.Int(4)});
    return OkStatus();
  });
}

Status LoadPermissions(sqlite3* db, Snapshot& snap) {
  Stmt s(db, "SELECT id, name, slug, description, created_at FROM permissions ORDER BY id");
  return s.ForEachRow(Access::kRead, "read permissions", [&] {
    snap.permissions.push_back({s.Text(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4)});
    return OkStatus();
  });
}

Status LoadRoles(sqlite3* db, Snapshot& snap) {
  std::unordered_map<std::string, size_t> role_at;
  Stmt s(db, "SELECT id, name, description, created_at FROM roles ORDER BY id");
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read roles", [&] {
    role_at[s.Text(0)] = snap.roles.size();
    snap.roles.push_back({s.Text(0), s.Text(1), s.Text(2), {}, s.Int(3)});
    return OkStatus();
  }));
  Stmt rp(db, "SELECT role_id, permission_id FROM role_permissions ORDER BY permission_id");
  return rp.ForEachRow(Access::kRead, "read role permissions", [&] {
    auto it = role_at.find(rp.Text(0));
    if (it != role_at.end()) snap.roles[it->second].permission_ids.push_back(rp.Text(1));
    return OkStatus();
  });
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

// The columns ReadKey reads, in its order.
std::string KeyColumns() {
  return std::string(
             "SELECT id, kind, api_id, hash, start, name, meta, identity_id, created_at, "
             "updated_at, last_used_at, expires, enabled, ") +
         sqlite::kCreditColumns +
         ", ratelimits, rerolled_from, rerolled_to, rerolled_at, credits_key_id, revoked_reason, "
         "created_by, deleted_at, imported, ip_allowlist";
}

// Columns that tell ReadKey which others hold nothing but their defaults, so that the load of a
// million keys, most of them plain, makes a dozen fewer column calls for each. Each is 1 only if
// reading the columns it covers would give exactly the defaults that ReadKey sets in their place.
constexpr const char* kPlainKeyFlags =
    ", (name IS NULL AND meta = '' AND identity_id = '' AND ratelimits IN ('', '[]') AND "
    "rerolled_from = '' AND rerolled_to = '' AND rerolled_at IS NULL AND credits_key_id = '' AND "
    "revoked_reason IS NULL AND ip_allowlist IN ('', '[]')), "
    "(credits_remaining IS NULL AND refill_interval IS NULL AND last_refill_at = 0)";
constexpr int kPlainDetailsColumn = 28;
constexpr int kPlainCreditsColumn = 29;

// Whether the row has kPlainKeyFlags after the key's columns.
enum class PlainFlags { kNotSelected, kSelected };

// Sets every field of `k` but its links from the row. The strings are assigned in place, so that
// a record read into again and again (a load of every key) keeps its buffers rather than
// allocating new ones for each row.
Status ReadKey(const Stmt& s, KeyRecord& k, PlainFlags flags = PlainFlags::kNotSelected) {
  bool plain_details = flags == PlainFlags::kSelected && s.Int(kPlainDetailsColumn) != 0;
  bool plain_credits = flags == PlainFlags::kSelected && s.Int(kPlainCreditsColumn) != 0;
  auto text = [&](int c, std::string& out) { out.assign(s.View(c)); };
  auto opt_text = [&](int c, std::optional<std::string>& out) {
    if (s.IsNull(c)) {
      out.reset();
    } else if (out) {
      out->assign(s.View(c));
    } else {
      out.emplace(s.View(c));
    }
  };
  text(0, k.id);
  k.kind = static_cast<KeyKind>(s.Int(1));
  text(2, k.api_id);
  int size = 0;
  const void* blob = s.Blob(3, &size);
  if (size != static_cast<int>(k.hash.size())) {
    return Internal("a key in the store is corrupt").WithLogDetail("key " + k.id + ": hash size");
  }
  std::memcpy(k.hash.data(), blob, k.hash.size());
  text(4, k.start);
  k.created_at = s.Int(8);
  k.updated_at = s.Int(9);
  k.last_used_at = s.Int(10);
  k.expires = s.OptInt(11);
  k.enabled = s.Int(12) != 0;
  k.credits = plain_credits ? CreditsState{} : sqlite::ReadCredits(s, 13);
  text(24, k.created_by);
  k.deleted_at = s.OptInt(25);
  k.imported = s.Int(26) != 0;
  if (plain_details) {
    k.name.reset();
    k.meta_json.clear();
    k.identity_id.clear();
    k.ratelimits.clear();
    k.rerolled_from.clear();
    k.rerolled_to.clear();
    k.rerolled_at.reset();
    k.credits_key_id.clear();
    k.revoked_reason.reset();
    k.ip_allowlist.clear();
  } else {
    opt_text(5, k.name);
    text(6, k.meta_json);
    text(7, k.identity_id);
    k.ratelimits = sqlite::RatelimitsFromJson(s.View(18));
    text(19, k.rerolled_from);
    text(20, k.rerolled_to);
    k.rerolled_at = s.OptInt(21);
    text(22, k.credits_key_id);
    opt_text(23, k.revoked_reason);
    k.ip_allowlist = sqlite::StringsFromJson(s.View(27));
  }
  k.permission_ids.clear();
  k.role_ids.clear();
  k.root_permissions.clear();
  return OkStatus();
}

// At least the number of rows of keys, deleted or not, read without walking a table: the
// largest rowid (keyhold never inserts a key with a rowid of its own, so every rowid is positive
// and unique). Counting the rows took a walk of an index, tens of MB for a million keys.
StatusOr<uint64_t> CountKeyRows(sqlite3* db) {
  Stmt s(db, "SELECT max(rowid) FROM keys");
  uint64_t n = 0;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "count keys", [&] {
    n = static_cast<uint64_t>(std::max<int64_t>(s.Int(0), 0));
    return OkStatus();
  }));
  return n;
}

// The three kinds of links a key has, in KeyRecord's order.
using KeyLinks = std::array<std::vector<std::string>, 3>;
constexpr std::array<std::vector<std::string> KeyRecord::*, 3> kLinkFields = {
    &KeyRecord::permission_ids, &KeyRecord::role_ids, &KeyRecord::root_permissions};
// The link tables, in kLinkFields' order, each listing (key, value) in key_id order and, within a
// key, in value order.
constexpr std::array<const char*, 3> kLinkQueries = {
    "SELECT key_id, permission_id FROM key_permissions ORDER BY key_id, permission_id",
    "SELECT key_id, role_id FROM key_roles ORDER BY key_id, role_id",
    "SELECT key_id, permission FROM root_key_permissions ORDER BY key_id, permission"};

// Reads every row of the link tables into `links` (by key id), unless there are more than `most`:
// then false, and `links` is left empty. Bounded by `most` either way.
StatusOr<bool> HoldLinks(sqlite3* db, size_t most,
                         std::unordered_map<std::string, KeyLinks>& links) {
  size_t held = 0;
  for (size_t t = 0; t < kLinkQueries.size(); ++t) {
    std::string sql = std::string(kLinkQueries[t]) + " LIMIT ?";
    Stmt s(db, sql.c_str());
    if (!s.ok()) return EngineError(db, Access::kRead, "prepare key links");
    // One row past what may be held tells whether there are more. Saturated: `most` may be as
    // large as SIZE_MAX (no bound), where one more would wrap to a limit of none at all.
    const size_t room = most - held;
    constexpr auto kNoLimit = static_cast<size_t>(std::numeric_limits<int64_t>::max());
    s.Bind(1, static_cast<int64_t>(room >= kNoLimit ? kNoLimit : room + 1));
    KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read key links", [&] {
      ++held;
      links[s.Text(0)][t].push_back(s.Text(1));
      return OkStatus();
    }));
    if (held > most) {
      links.clear();
      return false;
    }
  }
  return true;
}

// Keys stream in the table's own order (the cheapest walk: no index, no lookup of each row), each
// given its links from `links`.
Status LoadKeysInTableOrder(sqlite3* db, const std::unordered_map<std::string, KeyLinks>& links,
                            const Store::KeyVisitor& on_key) {
  std::string sql = KeyColumns() + kPlainKeyFlags + " FROM keys WHERE deleted_at IS NULL";
  Stmt s(db, sql.c_str());
  KeyRecord k;  // read into again for each row: see ReadKey
  return s.ForEachRow(Access::kRead, "read keys", [&] {
    KH_RETURN_IF_ERROR(ReadKey(s, k, PlainFlags::kSelected));
    if (!links.empty()) {
      if (auto it = links.find(k.id); it != links.end()) {
        for (size_t t = 0; t < kLinkFields.size(); ++t) k.*kLinkFields[t] = it->second[t];
      }
    }
    return on_key(std::move(k));
  });
}

// Keys stream in id order, each joined with its links by cursors walking the link tables in
// key_id order beside it, so loading holds one key record at a time, however many links there are.
Status LoadKeysInIdOrder(sqlite3* db, const Store::KeyVisitor& on_key) {
  LinkCursor perms(db, kLinkQueries[0]);
  LinkCursor roles(db, kLinkQueries[1]);
  LinkCursor root_perms(db, kLinkQueries[2]);
  std::string sql =
      KeyColumns() + kPlainKeyFlags + " FROM keys WHERE deleted_at IS NULL ORDER BY id";
  Stmt s(db, sql.c_str());
  if (!perms.ok() || !roles.ok() || !root_perms.ok()) {
    return EngineError(db, Access::kRead, "prepare key links");
  }
  KeyRecord k;  // read into again for each row: see ReadKey
  auto on_row = [&] {
    KH_RETURN_IF_ERROR(ReadKey(s, k, PlainFlags::kSelected));
    perms.Collect(k.id, k.permission_ids);
    roles.Collect(k.id, k.role_ids);
    root_perms.Collect(k.id, k.root_permissions);
    return on_key(std::move(k));
  };
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read keys", on_row));
  if (!perms.healthy() || !roles.healthy() || !root_perms.healthy()) {
    return EngineError(db, Access::kRead, "read key links");
  }
  return OkStatus();
}

// A store with few links (most keys have none) holds them all and reads the keys in table order;
// walking the keys in id order instead, to join the links as they stream, costs a lookup of each
// row through the id index: about twice the time for a million keys.
Status LoadKeys(sqlite3* db, size_t most_links_held, const Store::KeyVisitor& on_key) {
  std::unordered_map<std::string, KeyLinks> links;
  KH_ASSIGN_OR_RETURN(bool held, HoldLinks(db, most_links_held, links));
  if (held) return LoadKeysInTableOrder(db, links, on_key);
  return LoadKeysInIdOrder(db, on_key);
}

}  // namespace

Status SqliteStore::Load(Snapshot& snap, const KeyVisitor& on_key) {
  std::lock_guard lock(mu_);
  // Each sqlite3_column_* call takes the connection's recursive mutex, and a million keys are
  // read 28 columns each: held once around the load, every one of those is a cheap re-entry.
  sqlite3_mutex* db_mu = sqlite3_db_mutex(db_);
  sqlite3_mutex_enter(db_mu);
  struct Leave {
    sqlite3_mutex* mu;
    ~Leave() { sqlite3_mutex_leave(mu); }
  } leave{db_mu};
  // One read transaction: every table is read as of the same commit.
  return InTransaction(db_, Access::kRead, [&] {
    KH_ASSIGN_OR_RETURN(snap.change_seq, sqlite::LatestSeq(db_, Access::kRead));
    KH_RETURN_IF_ERROR(LoadApis(db_, snap));
    KH_RETURN_IF_ERROR(LoadIdentities(db_, snap));
    KH_RETURN_IF_ERROR(LoadPermissions(db_, snap));
    KH_RETURN_IF_ERROR(LoadRoles(db_, snap));
    KH_ASSIGN_OR_RETURN(snap.key_rows, CountKeyRows(db_));
    return LoadKeys(db_, options_.most_links_held, on_key);
  });
}

StatusOr<std::vector<std::string>> SqliteStore::ListKeyIds(const std::string& api_id,
                                                           const std::string& after_id,
                                                           const std::string& identity_id,
                                                           int limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id FROM keys WHERE api_id = ? AND id > ? AND deleted_at IS NULL "
         "AND (? = '' OR identity_id = ?) ORDER BY id LIMIT ?");
  s.Bind(1, api_id);
  s.Bind(2, after_id);
  s.Bind(3, identity_id);
  s.Bind(4, identity_id);
  s.Bind(5, int64_t{limit});
  std::vector<std::string> ids;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list keys", [&] {
    ids.push_back(s.Text(0));
    return OkStatus();
  }));
  return ids;
}

StatusOr<std::vector<Change>> SqliteStore::ChangesSince(uint64_t after_seq, int limit) {
  if (limit < 1 || limit > kMaxChangesPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxChangesPage));
  }
  std::vector<Change> out;
  auto read = [&]() -> Status {
    KH_ASSIGN_OR_RETURN(out, sqlite::ReadChanges(db_, after_seq, limit));
    return OkStatus();
  };
  std::lock_guard lock(mu_);
  KH_RETURN_IF_ERROR(InTransaction(db_, Access::kRead, read));
  return out;
}

StatusOr<uint64_t> SqliteStore::LatestChangeSeq() {
  std::lock_guard lock(mu_);
  return sqlite::LatestSeq(db_, Access::kRead);
}

// --- the audit log ---------------------------------------------------------------------------

namespace {

Status CheckAuditLimit(int limit) {
  if (limit < 1 || limit > kMaxAuditPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxAuditPage));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<audit::AuditEntry>> SqliteStore::ReadAudit(int64_t after_seq, int limit) {
  KH_RETURN_IF_ERROR(CheckAuditLimit(limit));
  std::lock_guard lock(mu_);
  return sqlite::ReadAuditRange(db_, after_seq, limit);
}

StatusOr<std::vector<audit::AuditEntry>> SqliteStore::QueryAudit(const AuditQuery& q) {
  KH_RETURN_IF_ERROR(CheckAuditLimit(q.limit));
  std::lock_guard lock(mu_);
  return sqlite::RunAuditQuery(db_, q);
}

StatusOr<AuditTail> SqliteStore::ReadAuditTail() {
  std::lock_guard lock(mu_);
  return sqlite::ReadTail(db_, Access::kRead);
}

StatusOr<std::vector<uint8_t>> SqliteStore::AuditSalt() {
  std::lock_guard lock(mu_);
  return sqlite::ReadAuditSalt(db_);
}

Status SqliteStore::PutAuditCheckpoint(const audit::Checkpoint& cp) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&] { return sqlite::WriteCheckpoint(db_, cp); });
}

StatusOr<std::vector<audit::Checkpoint>> SqliteStore::ListAuditCheckpoints(int64_t after_seq,
                                                                           int limit) {
  KH_RETURN_IF_ERROR(CheckAuditLimit(limit));
  std::lock_guard lock(mu_);
  return sqlite::ReadCheckpoints(db_, after_seq, limit);
}

}  // namespace keyhold::store

namespace keyhold::store {

// --- rotation and revocation ----------------------------------------------------------------

StatusOr<KeyRecord> SqliteStore::GetKeyRecord(const std::string& key_id) {
  std::lock_guard lock(mu_);
  KeyRecord k;
  bool found = false;
  auto read = [&]() -> Status {
    std::string sql = KeyColumns() + " FROM keys WHERE id = ?";
    Stmt s(db_, sql.c_str());
    s.Bind(1, key_id);
    KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read key", [&] {
      found = true;
      return ReadKey(s, k);
    }));
    if (!found) return OkStatus();
    struct Link {
      const char* sql;
      std::vector<std::string> KeyRecord::*values;
    };
    for (const Link& l :
         {Link{"SELECT permission_id FROM key_permissions WHERE key_id = ? ORDER BY 1",
               &KeyRecord::permission_ids},
          Link{"SELECT role_id FROM key_roles WHERE key_id = ? ORDER BY 1", &KeyRecord::role_ids},
          Link{"SELECT permission FROM root_key_permissions WHERE key_id = ? ORDER BY 1",
               &KeyRecord::root_permissions}}) {
      Stmt ls(db_, l.sql);
      ls.Bind(1, key_id);
      KH_RETURN_IF_ERROR(ls.ForEachRow(Access::kRead, "read key links", [&] {
        (k.*(l.values)).push_back(ls.Text(0));
        return OkStatus();
      }));
    }
    return OkStatus();
  };
  KH_RETURN_IF_ERROR(InTransaction(db_, Access::kRead, read));
  if (!found) return NotFound("key '" + key_id + "' was not found", "data/key_not_found");
  return k;
}

StatusOr<std::vector<std::string>> SqliteStore::QueryKeyIds(const KeyQuery& q) {
  if (q.limit < 1 || q.limit > kMaxKeyQuery) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxKeyQuery));
  }
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id FROM keys WHERE kind = 0 AND id > ?1 "
         "AND (deleted_at IS NULL OR (?2 AND revoked_reason IS NOT NULL)) "
         "AND (?3 = '' OR api_id = ?3) AND (?4 = '' OR identity_id = ?4) "
         "AND (?5 = '' OR created_by = ?5) AND (?6 IS NULL OR created_at >= ?6) "
         "AND (?7 IS NULL OR created_at < ?7) ORDER BY id LIMIT ?8");
  s.Bind(1, q.after_id);
  s.Bind(2, int64_t{q.include_revoked ? 1 : 0});
  s.Bind(3, q.api_id);
  s.Bind(4, q.identity_id);
  s.Bind(5, q.created_by);
  s.Bind(6, q.created_since_ms);
  s.Bind(7, q.created_until_ms);
  s.Bind(8, int64_t{q.limit});
  std::vector<std::string> ids;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "query keys", [&] {
    ids.push_back(s.Text(0));
    return OkStatus();
  }));
  return ids;
}

void SqliteStore::StartCheckpointer(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           options_.vfs.empty() ? nullptr : options_.vfs.c_str());
  // FULL: the log is synced before it is copied and the database after, as by the writer.
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_close(db);
    return;  // SQLite's own checkpoints on db_ go on
  }
  checkpoint_db_ = db;
  checkpoint_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "kh-checkpoint");
    CheckpointUntilStopped();
  });
  std::lock_guard lock(mu_);
  sqlite3_wal_hook(db_, &OnCommitted, this);  // replaces SQLite's checkpoint on commit
}

void SqliteStore::CheckpointUntilStopped() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mu_);
      checkpoint_wake_.wait(lock, [&] { return checkpoint_due_ || checkpoint_stopping_; });
      if (checkpoint_stopping_) return;
      checkpoint_due_ = false;
    }
    // PASSIVE: copies what no reader still needs, waiting for no one; writers go on meanwhile.
    // A failure (an I/O error) is retried at the next wake: the log keeps every page till then.
    sqlite3_wal_checkpoint_v2(checkpoint_db_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
}

// Called by SQLite on db_ after each commit, under mu_.
int SqliteStore::OnCommitted(void* self, sqlite3* db, const char* name, int wal_pages) {
  auto* store = static_cast<SqliteStore*>(self);
  if (wal_pages < store->checkpoint_asked_at_) store->checkpoint_asked_at_ = 0;  // started over
  if (wal_pages >= kInlineCheckpointPages) {
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (wal_pages >= kCheckpointPages &&
             wal_pages >= store->checkpoint_asked_at_ + kCheckpointStepPages) {
    store->checkpoint_asked_at_ = wal_pages;
    std::lock_guard lock(store->checkpoint_mu_);
    store->checkpoint_due_ = true;
    store->checkpoint_wake_.notify_one();
  }
  return SQLITE_OK;
}

}  // namespace keyhold::store
