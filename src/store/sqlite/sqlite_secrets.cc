// SqliteStore: KV version 2 secrets. A version is written, and the versions beyond max_versions
// dropped, in the transaction that checks the caller's expected current version, so two writers
// never both become version N and a check-and-set write is exact (store/store.h "secrets").
#include <pthread.h>
#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <future>
#include <thread>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::InTransaction;
using sqlite::Stmt;

namespace {

constexpr int32_t kDefaultMaxVersions = 10;

constexpr char kSecretColumns[] =
    "mount, path, current_version, oldest_version, max_versions, cas_required, "
    "delete_version_after, custom_metadata, rotation_period, next_rotation_at, created_at, "
    "updated_at, pending_version, previous_version, rotation_step, rotation_failure";

std::vector<uint8_t> ReadBlob(const Stmt& s, int c) {
  int size = 0;
  const auto* p = static_cast<const uint8_t*>(s.Blob(c, &size));
  return p ? std::vector<uint8_t>(p, p + size) : std::vector<uint8_t>();
}

Status AppendOne(sqlite3* db, const audit::AuditEntry* audit) {
  if (!audit) return OkStatus();
  return sqlite::AppendAudit(db, {*audit});
}

Status CheckListLimit(int limit) {
  if (limit < 1 || limit > kMaxSecretListPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxSecretListPage));
  }
  return OkStatus();
}

Status SecretNotFound() { return NotFound("no such secret", "data/secret_not_found"); }

Status RotationPending() {
  return FailedPrecondition(
      "a rotation of this secret is under way: finish or cancel it before writing a new version",
      "data/rotation_pending");
}

Status NoPendingVersion() {
  return FailedPrecondition("no rotation of this secret is under way", "data/no_pending_version");
}

SecretRecord ReadSecretRow(const Stmt& s) {
  SecretRecord r;
  r.mount = s.Text(0);
  r.path = s.Text(1);
  r.current_version = s.Int(2);
  r.oldest_version = s.Int(3);
  r.max_versions = static_cast<int32_t>(s.Int(4));
  r.cas_required = s.Int(5) != 0;
  r.delete_version_after_ms = s.Int(6);
  r.custom_metadata_json = s.Text(7);
  r.rotation_period_ms = s.OptInt(8);
  r.next_rotation_at_ms = s.OptInt(9);
  r.created_at_ms = s.Int(10);
  r.updated_at_ms = s.Int(11);
  r.pending_version = s.OptInt(12);
  r.previous_version = s.OptInt(13);
  r.rotation_step = s.Text(14);
  r.rotation_failure = s.Text(15);
  return r;
}

// The secret's metadata row, if any. REQUIRES: a transaction on `db` (or a lone read).
// `cache`, if given, keeps the statement.
StatusOr<std::optional<SecretRecord>> FindSecret(sqlite3* db, Access access,
                                                 const std::string& mount, const std::string& path,
                                                 sqlite::StmtCache* cache = nullptr) {
  static const std::string sql =
      std::string("SELECT ") + kSecretColumns + " FROM secrets WHERE mount = ? AND path = ?";
  Stmt s(db, sql.c_str(), cache);
  s.Bind(1, mount);
  s.Bind(2, path);
  std::optional<SecretRecord> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(access, "read secret", [&] {
    found = ReadSecretRow(s);
    return OkStatus();
  }));
  return found;
}

// The mount's max_versions, or nullopt if there is no such mount.
StatusOr<std::optional<int32_t>> MountMaxVersions(sqlite3* db, const std::string& mount) {
  Stmt s(db, "SELECT max_versions FROM secret_mounts WHERE name = ?");
  s.Bind(1, mount);
  std::optional<int32_t> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kWrite, "read secret mount", [&] {
    found = static_cast<int32_t>(s.Int(0));
    return OkStatus();
  }));
  return found;
}

// Drops the oldest versions beyond `keep` and records the oldest kept. REQUIRES: a write
// transaction on `db`, the secret's row present.
Status DropOldVersions(sqlite3* db, const std::string& mount, const std::string& path,
                       int32_t keep) {
  Stmt drop(db,
            "DELETE FROM secret_versions WHERE mount = ?1 AND path = ?2 AND version <= "
            "(SELECT current_version FROM secrets WHERE mount = ?1 AND path = ?2) - ?3");
  drop.Bind(1, mount);
  drop.Bind(2, path);
  drop.Bind(3, int64_t{keep});
  KH_RETURN_IF_ERROR(drop.Run(Access::kWrite, "drop old secret versions"));
  Stmt oldest(db,
              "UPDATE secrets SET oldest_version = COALESCE((SELECT MIN(version) FROM "
              "secret_versions WHERE mount = ?1 AND path = ?2), 0) WHERE mount = ?1 AND path = ?2");
  oldest.Bind(1, mount);
  oldest.Bind(2, path);
  return oldest.Run(Access::kWrite, "record oldest secret version");
}

// The secret's max_versions within the mount's (the smaller where both are set, as Vault does).
int32_t EffectiveMaxVersions(int32_t secret_max, int32_t mount_max) {
  if (secret_max > 0 && mount_max > 0) return std::min(secret_max, mount_max);
  if (secret_max > 0) return secret_max;
  if (mount_max > 0) return mount_max;
  return kDefaultMaxVersions;
}

Status InsertVersion(sqlite3* db, const SecretVersionWrite& w) {
  Stmt s(db,
         "INSERT INTO secret_versions (mount, path, version, created_at, deleted_at, destroyed, "
         "kek_term, wrapped_key, ciphertext) VALUES (?,?,?,?,?,0,?,?,?)");
  s.Bind(1, w.mount);
  s.Bind(2, w.path);
  s.Bind(3, w.version.version);
  s.Bind(4, w.version.created_at_ms);
  s.Bind(5, w.version.deleted_at_ms);
  s.Bind(6, int64_t{w.version.kek_term});
  s.Bind(7, std::span<const uint8_t>(w.version.wrapped_key));
  s.Bind(8, std::span<const uint8_t>(w.version.ciphertext));
  return s.Run(Access::kWrite, "insert secret version");
}

}  // namespace

Status SqliteStore::RecordSecretRead(const audit::AuditEntry& entry) {
  std::promise<Status> outcome;
  std::future<Status> got = outcome.get_future();
  RecordSecretReadLater(entry, [&outcome](Status st) { outcome.set_value(std::move(st)); });
  return got.get();
}

void SqliteStore::RecordSecretReadLater(audit::AuditEntry entry, std::function<void(Status)> done) {
  {
    std::lock_guard lock(read_audit_mu_);
    if (!read_audit_stopping_) {
      if (!read_audit_thread_.joinable()) {
        read_audit_thread_ = std::thread([this] {
          pthread_setname_np(pthread_self(), "kh-read-audit");  // as top -H and perf show it
          CommitReadAuditsUntilStopped();
        });
      }
      read_audit_queue_.push_back({std::move(entry), std::move(done)});
      if (read_audit_queue_.size() == 1) read_audit_wake_.notify_one();
      return;
    }
  }
  done(Unavailable("the store is closing"));
}

// The commit thread: while reads queue up during one commit, the next commit takes them all, so
// the batch grows with the load and a read waits for at most two commits.
void SqliteStore::CommitReadAuditsUntilStopped() {
  std::vector<QueuedRead> batch;
  std::vector<audit::AuditEntry> entries;
  for (;;) {
    {
      std::unique_lock lock(read_audit_mu_);
      read_audit_wake_.wait(lock,
                            [&] { return read_audit_stopping_ || !read_audit_queue_.empty(); });
      if (read_audit_queue_.empty()) return;  // stopping, and nothing left to commit
      batch.swap(read_audit_queue_);
    }
    entries.clear();
    entries.reserve(batch.size());
    Status st = OkStatus();
    try {
      for (QueuedRead& q : batch) entries.push_back(std::move(q.entry));
      st = CommitReadAudits(entries);
    } catch (...) {  // e.g. no memory: nothing of the batch was committed
      st = Unavailable("the store could not be written");
    }
    for (QueuedRead& q : batch) {
      try {
        q.done(st);
      } catch (...) {  // that caller's answer is lost; every other one is still given
      }
    }
    batch.clear();
  }
}

// The batch's entries, in the order they came, appended to the one audit chain in one
// transaction under mu_ (so after, never among, any other writer's entries). If it fails, nothing
// of it is written and every read of the batch fails: none may return its value unaudited.
Status SqliteStore::CommitReadAudits(const std::vector<audit::AuditEntry>& entries) {
  std::lock_guard lock(mu_);
  // synchronous=NORMAL in WAL mode: the commit reaches the log file (a crash of the process loses
  // nothing) without an fsync of its own. Every other write keeps FULL.
  // Not kept prepared: SQLite applies this PRAGMA when it compiles it.
  KH_RETURN_IF_ERROR(sqlite::Exec(db_, "PRAGMA synchronous=NORMAL", Access::kWrite));
  // FULL again however the append ends, an exception included: every later write would
  // otherwise lose its durability silently.
  struct RestoreFull {
    sqlite3* db;
    ~RestoreFull() {
      if (!sqlite::Exec(db, "PRAGMA synchronous=FULL", Access::kWrite).ok()) std::abort();
    }
  } restore{db_};
  // BEGIN, COMMIT and the append's statements are kept in stmts_: compiling them cost more
  // than running them, per batch.
  return InTransaction(
      db_, Access::kWrite, [&] { return sqlite::AppendAudit(db_, entries, stmts_.get()); },
      stmts_.get());
}

void SqliteStore::OpenReaders(const std::string& path) {
  for (Reader& r : readers_) {
    sqlite3* db = nullptr;
    int flags = options_.read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    int rc = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX,
                             options_.vfs.empty() ? nullptr : options_.vfs.c_str());
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA query_only=1", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_close(db);
      for (Reader& opened : readers_) {  // all or none: reads go to db_ then
        opened.stmts.reset();
        sqlite3_close(opened.db);
        opened.db = nullptr;
      }
      return;
    }
    sqlite3_busy_timeout(db, 5000);
    r.db = db;
    r.stmts = std::make_unique<sqlite::StmtCache>(db);
  }
}

namespace {

// Where a thread starts looking for a free reader, so that threads tend to keep to their own.
size_t FirstReader(size_t readers) {
  // Thread ids are often aligned addresses: mix the bits before taking the remainder.
  uint64_t h = std::hash<std::thread::id>{}(std::this_thread::get_id());
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<size_t>(h % readers);
}

// A version's metadata from a row whose first columns are version, created_at, deleted_at,
// destroyed, kek_term.
SecretVersionRecord VersionOf(const Stmt& s) {
  SecretVersionRecord v;
  v.version = s.Int(0);
  v.created_at_ms = s.Int(1);
  v.deleted_at_ms = s.OptInt(2);
  v.destroyed = s.Int(3) != 0;
  v.kek_term = static_cast<int32_t>(s.Int(4));
  return v;
}

Status ReadSecretOn(sqlite3* db, sqlite::StmtCache* stmts, const std::string& mount,
                    const std::string& path, std::optional<SecretRecord>& found) {
  found.reset();
  KH_ASSIGN_OR_RETURN(found, FindSecret(db, Access::kRead, mount, path, stmts));
  if (!found) return OkStatus();
  Stmt s(db,
         "SELECT version, created_at, deleted_at, destroyed, kek_term FROM secret_versions "
         "WHERE mount = ? AND path = ? ORDER BY version",
         stmts);
  s.Bind(1, mount);
  s.Bind(2, path);
  return s.ForEachRow(Access::kRead, "read secret versions", [&] {
    found->versions.push_back(VersionOf(s));
    return OkStatus();
  });
}

Status ReadSecretVersionOn(sqlite3* db, sqlite::StmtCache* stmts, const std::string& mount,
                           const std::string& path, int64_t version,
                           std::optional<SecretVersionRecord>& found) {
  found.reset();
  Stmt s(db,
         "SELECT version, created_at, deleted_at, destroyed, kek_term, wrapped_key, ciphertext "
         "FROM secret_versions WHERE mount = ? AND path = ? AND version = ?",
         stmts);
  s.Bind(1, mount);
  s.Bind(2, path);
  s.Bind(3, version);
  return s.ForEachRow(Access::kRead, "read secret version", [&] {
    SecretVersionRecord v = VersionOf(s);
    v.wrapped_key = ReadBlob(s, 5);
    v.ciphertext = ReadBlob(s, 6);
    found = std::move(v);
    return OkStatus();
  });
}

}  // namespace

Status SqliteStore::WithSecretReader(
    const std::function<Status(sqlite3*, sqlite::StmtCache*)>& read) {
  if (readers_[0].db) {
    size_t first = FirstReader(kReaders);
    for (size_t i = 0; i < kReaders; ++i) {
      Reader& r = readers_[(first + i) % kReaders];
      std::unique_lock held(r.mu, std::try_to_lock);
      if (held.owns_lock()) return read(r.db, r.stmts.get());
    }
    Reader& r = readers_[first];
    std::lock_guard held(r.mu);
    return read(r.db, r.stmts.get());
  }
  std::lock_guard lock(mu_);
  return read(db_, stmts_.get());
}

// Without the triggers, reads are simply not kept: only slower.
void SqliteStore::WatchSecretTables() {
  if (!readers_[0].db) return;  // reads use db_ itself: nothing to keep
  std::lock_guard lock(mu_);
  // SQLITE_DIRECTONLY: callable from these temporary triggers, never from the schema in the file.
  if (sqlite3_create_function_v2(db_, "keyhold_secret_tables_changed", 0,
                                 SQLITE_UTF8 | SQLITE_DIRECTONLY, this, &OnSecretTablesChanged,
                                 nullptr, nullptr, nullptr) != SQLITE_OK) {
    return;
  }
  std::string sql;
  for (const char* table : {"secrets", "secret_versions"}) {
    for (const char* change : {"INSERT", "UPDATE", "DELETE"}) {
      sql += std::string("CREATE TEMP TRIGGER keyhold_watch_") + table + "_" + change + " AFTER " +
             change + " ON main." + table + " BEGIN SELECT keyhold_secret_tables_changed(); END;";
    }
  }
  read_cache_on_ = sqlite::Exec(db_, sql.c_str(), Access::kWrite).ok();
}

void SqliteStore::OnSecretTablesChanged(sqlite3_context* ctx, int /*argc*/,
                                        sqlite3_value** /*argv*/) {
  static_cast<SqliteStore*>(sqlite3_user_data(ctx))->secret_tables_changed_.store(true);
  sqlite3_result_null(ctx);
}

// Runs as db_'s mutex is released, after the transaction ended, before the writer returns. A
// read that loaded the generation before this point keeps what it read under the old one,
// which is never found again; no caller of the change can have been answered yet.
void SqliteStore::AfterWrites() {
  if (!secret_tables_changed_.exchange(false)) return;
  secrets_generation_.fetch_add(1, std::memory_order_release);
  read_cache_.Clear();  // nothing of a deleted or destroyed version stays in memory
}

std::optional<StatusOr<Store::SecretReadNow>> SqliteStore::TryReadSecretNow(
    const std::string& mount, const std::string& path, int64_t version) {
  if (!readers_[0].db) return std::nullopt;
  std::string key;
  uint64_t generation = 0;
  if (read_cache_on_) {
    // Read before the transaction begins: see OnCommitted.
    generation = secrets_generation_.load(std::memory_order_acquire);
    key = sqlite::SecretReadCache::KeyOf(mount, path, version);
    if (auto kept = read_cache_.Find(key, generation)) {
      return StatusOr<SecretReadNow>(*std::move(kept));
    }
  }
  size_t first = FirstReader(kReaders);
  for (size_t i = 0; i < kReaders; ++i) {
    Reader& r = readers_[(first + i) % kReaders];
    std::unique_lock held(r.mu, std::try_to_lock);
    if (!held.owns_lock()) continue;
    // A lock held elsewhere (a crashed writer's log being recovered, another process's
    // exclusive transaction) fails the read at once instead of waiting for it.
    sqlite3_busy_timeout(r.db, 0);
    std::optional<SecretRecord> secret;
    std::optional<SecretVersionRecord> kept;
    Status st = InTransaction(
        r.db, Access::kRead,
        [&]() -> Status {
          KH_RETURN_IF_ERROR(ReadSecretOn(r.db, r.stmts.get(), mount, path, secret));
          int64_t wanted = !secret ? 0 : version == 0 ? secret->current_version : version;
          if (wanted == 0) return OkStatus();
          return ReadSecretVersionOn(r.db, r.stmts.get(), mount, path, wanted, kept);
        },
        r.stmts.get());
    sqlite3_busy_timeout(r.db, 5000);
    if (!st.ok()) return std::nullopt;
    if (!secret) return StatusOr<SecretReadNow>(SecretNotFound());
    SecretReadNow found{*std::move(secret), std::move(kept)};
    if (read_cache_on_) read_cache_.Put(key, generation, found);
    return StatusOr<SecretReadNow>(std::move(found));
  }
  return std::nullopt;
}

StatusOr<std::vector<SecretMountRecord>> SqliteStore::ListSecretMounts() {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT name, max_versions, cas_required, delete_version_after, created_at, updated_at "
         "FROM secret_mounts ORDER BY name");
  std::vector<SecretMountRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list secret mounts", [&] {
    out.push_back(
        {s.Text(0), static_cast<int32_t>(s.Int(1)), s.Int(2) != 0, s.Int(3), s.Int(4), s.Int(5)});
    return OkStatus();
  }));
  return out;
}

Status SqliteStore::PutSecretMount(const SecretMountRecord& m, const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_,
           "INSERT INTO secret_mounts (name, max_versions, cas_required, delete_version_after, "
           "created_at, updated_at) VALUES (?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET "
           "max_versions = excluded.max_versions, cas_required = excluded.cas_required, "
           "delete_version_after = excluded.delete_version_after, updated_at = "
           "excluded.updated_at");
    s.Bind(1, m.name);
    s.Bind(2, int64_t{m.max_versions});
    s.Bind(3, int64_t{m.cas_required ? 1 : 0});
    s.Bind(4, m.delete_version_after_ms);
    s.Bind(5, m.created_at_ms);
    s.Bind(6, m.updated_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "write secret mount"));
    return AppendOne(db_, audit);
  });
}

StatusOr<std::vector<crypto::SealedTerm>> SqliteStore::ReadKeyring() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT term, sealed, created_at FROM secret_keyring ORDER BY term");
  std::vector<crypto::SealedTerm> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read keyring", [&] {
    out.push_back({static_cast<int32_t>(s.Int(0)), ReadBlob(s, 1), s.Int(2)});
    return OkStatus();
  }));
  return out;
}

Status SqliteStore::AddKeyringTerm(const crypto::SealedTerm& t, const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, "INSERT INTO secret_keyring (term, sealed, created_at) VALUES (?,?,?)");
    s.Bind(1, int64_t{t.term});
    s.Bind(2, std::span<const uint8_t>(t.sealed));
    s.Bind(3, t.created_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "add keyring term"));
    return AppendOne(db_, audit);
  });
}

StatusOr<SecretRecord> SqliteStore::ReadSecret(const std::string& mount, const std::string& path) {
  std::optional<SecretRecord> found;
  KH_RETURN_IF_ERROR(WithSecretReader([&](sqlite3* db, sqlite::StmtCache* stmts) {
    return InTransaction(db, Access::kRead,
                         [&] { return ReadSecretOn(db, stmts, mount, path, found); });
  }));
  if (!found) return SecretNotFound();
  return *std::move(found);
}

StatusOr<SecretVersionRecord> SqliteStore::ReadSecretVersion(const std::string& mount,
                                                             const std::string& path,
                                                             int64_t version) {
  std::optional<SecretVersionRecord> found;
  KH_RETURN_IF_ERROR(WithSecretReader([&](sqlite3* db, sqlite::StmtCache* stmts) {
    return ReadSecretVersionOn(db, stmts, mount, path, version, found);
  }));
  if (!found) return NotFound("no such secret version", "data/secret_not_found");
  return *std::move(found);
}

Status SqliteStore::WriteSecretVersion(const SecretVersionWrite& w,
                                       const audit::AuditEntry* audit) {
  if (w.version.version != w.expected_current + 1) {
    return InvalidArgument("a new version must follow the current one");
  }
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto mount_max, MountMaxVersions(db_, w.mount));
    if (!mount_max) return NotFound("no such secrets mount", "data/mount_not_found");
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, w.mount, w.path));
    int64_t current = secret ? secret->current_version : 0;
    if (current != w.expected_current) {
      return FailedPrecondition("the secret changed while it was being written",
                                "data/secret_changed");
    }
    if (secret && secret->pending_version) return RotationPending();
    Stmt up(db_,
            "INSERT INTO secrets (mount, path, current_version, oldest_version, max_versions, "
            "cas_required, delete_version_after, custom_metadata, rotation_period, "
            "next_rotation_at, created_at, updated_at) VALUES (?1,?2,?3,?3,0,0,0,'',NULL,NULL,"
            "?4,?4) ON CONFLICT(mount, path) DO UPDATE SET current_version = ?3, updated_at = ?4");
    up.Bind(1, w.mount);
    up.Bind(2, w.path);
    up.Bind(3, w.version.version);
    up.Bind(4, w.version.created_at_ms);
    KH_RETURN_IF_ERROR(up.Run(Access::kWrite, "write secret"));
    KH_RETURN_IF_ERROR(InsertVersion(db_, w));
    int32_t keep = EffectiveMaxVersions(secret ? secret->max_versions : 0, *mount_max);
    KH_RETURN_IF_ERROR(DropOldVersions(db_, w.mount, w.path, keep));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::ChangeSecretVersions(const std::string& mount, const std::string& path,
                                         SecretVersionOp op, const std::vector<int64_t>& versions,
                                         int64_t now_ms, const audit::AuditEntry* audit) {
  const char* sql = nullptr;
  switch (op) {
    case SecretVersionOp::kDelete:
      // A version set to delete itself later is deleted now; one already deleted keeps its time.
      sql =
          "UPDATE secret_versions SET deleted_at = ?4 WHERE mount = ?1 AND path = ?2 AND "
          "version = ?3 AND destroyed = 0 AND (deleted_at IS NULL OR deleted_at > ?4)";
      break;
    case SecretVersionOp::kUndelete:
      sql =
          "UPDATE secret_versions SET deleted_at = NULL WHERE mount = ?1 AND path = ?2 AND "
          "version = ?3 AND destroyed = 0 AND ?4 = ?4";
      break;
    case SecretVersionOp::kDestroy:
      sql =
          "UPDATE secret_versions SET destroyed = 1, wrapped_key = x'', ciphertext = x'' WHERE "
          "mount = ?1 AND path = ?2 AND version = ?3 AND destroyed = 0 AND ?4 = ?4";
      break;
  }
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, mount, path));
    if (!secret) return SecretNotFound();
    Stmt s(db_, sql);
    for (int64_t v : versions) {
      s.Bind(1, mount);
      s.Bind(2, path);
      s.Bind(3, v);
      s.Bind(4, now_ms);
      KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "change secret version"));
    }
    Stmt touch(db_, "UPDATE secrets SET updated_at = ? WHERE mount = ? AND path = ?");
    touch.Bind(1, now_ms);
    touch.Bind(2, mount);
    touch.Bind(3, path);
    KH_RETURN_IF_ERROR(touch.Run(Access::kWrite, "touch secret"));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::PutSecretMetadata(const SecretRecord& m, const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto mount_max, MountMaxVersions(db_, m.mount));
    if (!mount_max) return NotFound("no such secrets mount", "data/mount_not_found");
    Stmt s(db_,
           "INSERT INTO secrets (mount, path, current_version, oldest_version, max_versions, "
           "cas_required, delete_version_after, custom_metadata, rotation_period, "
           "next_rotation_at, created_at, updated_at) VALUES (?1,?2,0,0,?3,?4,?5,?6,?7,?8,?9,?10) "
           "ON CONFLICT(mount, path) DO UPDATE SET max_versions = ?3, cas_required = ?4, "
           "delete_version_after = ?5, custom_metadata = ?6, rotation_period = ?7, "
           "next_rotation_at = ?8, updated_at = ?10");
    s.Bind(1, m.mount);
    s.Bind(2, m.path);
    s.Bind(3, int64_t{m.max_versions});
    s.Bind(4, int64_t{m.cas_required ? 1 : 0});
    s.Bind(5, m.delete_version_after_ms);
    s.Bind(6, m.custom_metadata_json);
    s.Bind(7, m.rotation_period_ms);
    s.Bind(8, m.next_rotation_at_ms);
    s.Bind(9, m.created_at_ms);
    s.Bind(10, m.updated_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "write secret metadata"));
    KH_RETURN_IF_ERROR(
        DropOldVersions(db_, m.mount, m.path, EffectiveMaxVersions(m.max_versions, *mount_max)));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::DeleteSecret(const std::string& mount, const std::string& path,
                                 const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, "DELETE FROM secrets WHERE mount = ? AND path = ?");
    s.Bind(1, mount);
    s.Bind(2, path);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "delete secret"));
    if (sqlite3_changes(db_) == 0) return SecretNotFound();
    Stmt v(db_, "DELETE FROM secret_versions WHERE mount = ? AND path = ?");
    v.Bind(1, mount);
    v.Bind(2, path);
    KH_RETURN_IF_ERROR(v.Run(Access::kWrite, "delete secret versions"));
    return AppendOne(db_, audit);
  });
}

StatusOr<std::vector<std::string>> SqliteStore::ListSecretPaths(const std::string& mount,
                                                                const std::string& prefix,
                                                                const std::string& after,
                                                                int limit) {
  KH_RETURN_IF_ERROR(CheckListLimit(limit));
  std::lock_guard lock(mu_);
  // substr rather than LIKE: a path may hold `_`, which LIKE would take as a wildcard.
  Stmt s(db_,
         "SELECT path FROM secrets WHERE mount = ?1 AND path > ?3 AND path >= ?2 AND "
         "substr(path, 1, length(?2)) = ?2 ORDER BY path LIMIT ?4");
  s.Bind(1, mount);
  s.Bind(2, prefix);
  s.Bind(3, after);
  s.Bind(4, int64_t{limit});
  std::vector<std::string> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list secrets", [&] {
    out.push_back(s.Text(0));
    return OkStatus();
  }));
  return out;
}

StatusOr<std::vector<WrappedVersion>> SqliteStore::VersionsWrappedBelow(int32_t term, int limit) {
  KH_RETURN_IF_ERROR(CheckListLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT mount, path, version, kek_term, wrapped_key FROM secret_versions "
         "WHERE destroyed = 0 AND kek_term < ? LIMIT ?");
  s.Bind(1, int64_t{term});
  s.Bind(2, int64_t{limit});
  std::vector<WrappedVersion> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list wrapped versions", [&] {
    out.push_back({s.Text(0), s.Text(1), s.Int(2), static_cast<int32_t>(s.Int(3)), ReadBlob(s, 4)});
    return OkStatus();
  }));
  return out;
}

StatusOr<bool> SqliteStore::RewrapSecretVersion(const WrappedVersion& old, int32_t new_term,
                                                const std::vector<uint8_t>& wrapped_key) {
  std::lock_guard lock(mu_);
  bool changed = false;
  Status st = InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_,
           "UPDATE secret_versions SET kek_term = ?, wrapped_key = ? WHERE mount = ? AND path = ? "
           "AND version = ? AND kek_term = ? AND destroyed = 0");
    s.Bind(1, int64_t{new_term});
    s.Bind(2, std::span<const uint8_t>(wrapped_key));
    s.Bind(3, old.mount);
    s.Bind(4, old.path);
    s.Bind(5, old.version);
    s.Bind(6, int64_t{old.kek_term});
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "rewrap secret version"));
    changed = sqlite3_changes(db_) > 0;
    return OkStatus();
  });
  if (!st.ok()) return st;
  return changed;
}

Status SqliteStore::WritePendingSecretVersion(const SecretVersionWrite& w,
                                              const audit::AuditEntry* audit) {
  if (w.version.version != w.expected_current + 1) {
    return InvalidArgument("a new version must follow the current one");
  }
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, w.mount, w.path));
    if (!secret) return SecretNotFound();
    if (secret->current_version != w.expected_current) {
      return FailedPrecondition("the secret changed while it was being written",
                                "data/secret_changed");
    }
    if (secret->pending_version) return RotationPending();
    // A row left by a pending version that was destroyed and then cancelled cannot exist (cancel
    // deletes it), so the number is free.
    KH_RETURN_IF_ERROR(InsertVersion(db_, w));
    Stmt up(db_,
            "UPDATE secrets SET pending_version = ?, rotation_step = 'create', rotation_failure = "
            "'', updated_at = ? WHERE mount = ? AND path = ?");
    up.Bind(1, w.version.version);
    up.Bind(2, w.version.created_at_ms);
    up.Bind(3, w.mount);
    up.Bind(4, w.path);
    KH_RETURN_IF_ERROR(up.Run(Access::kWrite, "write pending secret version"));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::SetSecretRotationStep(const std::string& mount, const std::string& path,
                                          const std::string& step, const std::string& failure,
                                          const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, mount, path));
    if (!secret) return SecretNotFound();
    if (!secret->pending_version && !step.empty()) return NoPendingVersion();
    Stmt up(db_,
            "UPDATE secrets SET rotation_step = ?, rotation_failure = ? WHERE mount = ? AND "
            "path = ?");
    up.Bind(1, step);
    up.Bind(2, failure);
    up.Bind(3, mount);
    up.Bind(4, path);
    KH_RETURN_IF_ERROR(up.Run(Access::kWrite, "record secret rotation step"));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::FinishSecretRotation(const std::string& mount, const std::string& path,
                                         int64_t pending,
                                         std::optional<int64_t> next_rotation_at_ms, int64_t now_ms,
                                         const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto mount_max, MountMaxVersions(db_, mount));
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, mount, path));
    if (!secret || !mount_max) return SecretNotFound();
    if (secret->pending_version != pending) return NoPendingVersion();
    Stmt up(db_,
            "UPDATE secrets SET previous_version = current_version, current_version = ?, "
            "pending_version = NULL, rotation_step = '', rotation_failure = '', "
            "next_rotation_at = ?, updated_at = ? WHERE mount = ? AND path = ?");
    up.Bind(1, pending);
    up.Bind(2, next_rotation_at_ms);
    up.Bind(3, now_ms);
    up.Bind(4, mount);
    up.Bind(5, path);
    KH_RETURN_IF_ERROR(up.Run(Access::kWrite, "finish secret rotation"));
    // The previous version stays readable until the next rotation or write drops it.
    int32_t keep = std::max(EffectiveMaxVersions(secret->max_versions, *mount_max), 2);
    KH_RETURN_IF_ERROR(DropOldVersions(db_, mount, path, keep));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::CancelSecretRotation(const std::string& mount, const std::string& path,
                                         const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(auto secret, FindSecret(db_, Access::kWrite, mount, path));
    if (!secret) return SecretNotFound();
    if (secret->pending_version) {
      Stmt drop(db_, "DELETE FROM secret_versions WHERE mount = ? AND path = ? AND version = ?");
      drop.Bind(1, mount);
      drop.Bind(2, path);
      drop.Bind(3, *secret->pending_version);
      KH_RETURN_IF_ERROR(drop.Run(Access::kWrite, "drop pending secret version"));
    }
    Stmt up(db_,
            "UPDATE secrets SET pending_version = NULL, rotation_step = '', rotation_failure = '' "
            "WHERE mount = ? AND path = ?");
    up.Bind(1, mount);
    up.Bind(2, path);
    KH_RETURN_IF_ERROR(up.Run(Access::kWrite, "cancel secret rotation"));
    return AppendOne(db_, audit);
  });
}

StatusOr<std::vector<SecretRecord>> SqliteStore::ListSecretsDue(int64_t due_by_ms, int limit) {
  KH_RETURN_IF_ERROR(CheckListLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kSecretColumns +
               " FROM secrets WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ? "
               "ORDER BY next_rotation_at, mount, path LIMIT ?")
                  .c_str());
  s.Bind(1, due_by_ms);
  s.Bind(2, int64_t{limit});
  std::vector<SecretRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list due secrets", [&] {
    out.push_back(ReadSecretRow(s));
    return OkStatus();
  }));
  return out;
}

}  // namespace keyhold::store
