// The SQLite plumbing shared by SqliteStore's files: prepared statements that finalize
// themselves, errors that keep the engine's text out of what a caller sees, and transactions that
// never stay open after a failure. Internal to src/store/sqlite.
//
//   KH_RETURN_IF_ERROR(InTransaction(db, Access::kWrite, [&]() -> Status {
//     Stmt s(db, "UPDATE keys SET enabled = 0 WHERE id = ?");
//     if (!s.ok()) return EngineError(db, Access::kWrite, "prepare disable key");
//     s.Bind(1, id);
//     return s.Run(Access::kWrite, "disable key");
//   }));
//
// Thread-safety: none; SqliteStore calls these under its mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/status.h"

namespace keyhold::store::sqlite {

// Whether a failed operation was reading or writing: it chooses the caller-facing message.
enum class Access { kRead, kWrite };

// The error for the last failure on `db`, while doing `what`: kAlreadyExists for a constraint
// violation, kUnavailable otherwise ("the store could not be read" / "... written"). The engine's
// error text and code go into the log detail only, never into the message.
Status EngineError(sqlite3* db, Access access, std::string_view what);

class StmtCache;

// Runs one or more SQL statements that return no rows. Errors: as EngineError.
Status Exec(sqlite3* db, const char* sql, Access access);
// Runs one SQL statement that returns no rows, kept in `stmts` (SQL text as StmtCache requires)
// when given: for those run on every transaction of a hot path. SQL holding a ';' (several
// statements) is compiled each time. Not for PRAGMAs that set: SQLite applies those as it
// compiles them.
Status Exec(sqlite3* db, const char* sql, Access access, StmtCache* stmts);

// Runs `body` in a transaction — BEGIN IMMEDIATE for kWrite (takes the write lock at once, so a
// read-then-write inside cannot fail to upgrade), a deferred BEGIN for kRead — and commits it.
// If `body` or the COMMIT fails, the transaction is rolled back before returning: a COMMIT that
// fails with SQLITE_BUSY leaves it open and one that fails with SQLITE_IOERR or SQLITE_FULL may
// or may not have ended it, so the connection is asked (sqlite3_get_autocommit). Nothing of a
// failed transaction is applied. Errors: whatever `body` returns, else as EngineError.
// With `stmts`, BEGIN and COMMIT are kept there instead of compiled each time.
Status InTransaction(sqlite3* db, Access access, const std::function<Status()>& body,
                     StmtCache* stmts = nullptr);

// Statements prepared once and kept for the connection's life, for the paths that run them most
// (a secret read): compiling SQL costs more than running these statements. Keyed by the address of
// the SQL text, which must therefore outlive the cache (a string literal or a static string).
// Destroy it before closing its connection.
class StmtCache {
 public:
  explicit StmtCache(sqlite3* db) : db_(db) {}
  ~StmtCache() {
    for (auto& [sql, stmt] : stmts_) sqlite3_finalize(stmt);
  }
  StmtCache(const StmtCache&) = delete;
  StmtCache& operator=(const StmtCache&) = delete;

  // The prepared statement for `sql`, or nullptr if it cannot be prepared (not kept: the next
  // call tries again).
  sqlite3_stmt* Get(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
      return nullptr;
    }
    stmts_.emplace(sql, stmt);
    return stmt;
  }

 private:
  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;
};

// A prepared statement that finalizes itself, or one borrowed from a StmtCache that is reset
// instead. Bind indexes are 1-based, columns 0-based.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  // From `cache` when there is one; prepared for this use alone otherwise.
  Stmt(sqlite3* db, const char* sql, StmtCache* cache) : db_(db), cached_(cache != nullptr) {
    if (cache) {
      stmt_ = cache->Get(sql);
    } else if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      stmt_ = nullptr;
    }
  }
  ~Stmt() {
    if (!cached_) {
      sqlite3_finalize(stmt_);
    } else if (stmt_) {
      Reset();
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // False if the statement could not be prepared; EngineError then says why.
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
  void BindNull(int i) { sqlite3_bind_null(stmt_, i); }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  // Steps a statement that returns no rows, then resets it for the next bindings.
  // Errors: as EngineError, naming `what`.
  Status Run(Access access, std::string_view what);
  // Steps through every row, calling `on_row` for each; an error from it stops the walk.
  // Errors: as EngineError if a step fails (rather than reaching the end); whatever on_row returns.
  Status ForEachRow(Access access, std::string_view what, const std::function<Status()>& on_row);

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
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool cached_ = false;
};

}  // namespace keyhold::store::sqlite
