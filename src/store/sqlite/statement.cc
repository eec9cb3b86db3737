#include "store/sqlite/statement.h"

#include <cstring>

namespace keyhold::store::sqlite {

namespace {

// The caller-facing error for SQLite result code `rc`; `detail`, the engine's words, is for the
// log.
Status ErrorFor(int rc, Access access, std::string detail) {
  // Only a uniqueness conflict is the caller's: any other refusal (a trigger, a check) is the
  // store's, and reported as a store that cannot be written.
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return AlreadyExists("the change conflicts with a record the store already holds")
        .WithLogDetail(std::move(detail));
  }
  const char* message =
      access == Access::kRead ? "the store could not be read" : "the store could not be written";
  return Unavailable(message, "application/store_unavailable").WithLogDetail(std::move(detail));
}

std::string Describe(std::string_view what, std::string_view text, int rc) {
  return std::string(what) + ": " + std::string(text) + " (SQLite error " + std::to_string(rc) +
         ")";
}

// Ends whatever transaction a failure left open. A rollback that fails too is added to the
// detail: the next BEGIN on this connection will then fail, and the operator needs to know why.
Status RollBack(sqlite3* db, Status failure) {
  if (sqlite3_get_autocommit(db)) return failure;  // the engine already rolled back
  Status rolled = Exec(db, "ROLLBACK", Access::kWrite);
  if (rolled.ok()) return failure;
  std::string detail = failure.log_detail() + "; then " + rolled.log_detail();
  return Status(failure.code(), failure.reason(), failure.message())
      .WithLogDetail(std::move(detail));
}

}  // namespace

Status EngineError(sqlite3* db, Access access, std::string_view what) {
  int rc = sqlite3_extended_errcode(db);
  return ErrorFor(rc, access, Describe(what, sqlite3_errmsg(db), rc));
}

Status Exec(sqlite3* db, const char* sql, Access access) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return OkStatus();
  std::string text = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  // The first line is enough to tell which statement failed; a migration runs to many lines.
  std::string_view what(sql);
  what = what.substr(0, what.find('\n'));
  int extended = sqlite3_extended_errcode(db);
  return ErrorFor(extended, access, Describe(what, text, extended));
}

Status Exec(sqlite3* db, const char* sql, Access access, StmtCache* stmts) {
  // One statement only: a kept statement would run the first of several and drop the rest.
  if (!stmts || std::strchr(sql, ';') != nullptr) return Exec(db, sql, access);
  Stmt s(db, sql, stmts);
  return s.Run(access, sql);
}

Status InTransaction(sqlite3* db, Access access, const std::function<Status()>& body,
                     StmtCache* stmts) {
  KH_RETURN_IF_ERROR(
      Exec(db, access == Access::kWrite ? "BEGIN IMMEDIATE" : "BEGIN", access, stmts));
  Status st;
  try {
    st = body();
  } catch (...) {
    // A transaction left open would make every later BEGIN fail: end it, then let the error go.
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  if (!st.ok()) return RollBack(db, std::move(st));
  st = Exec(db, "COMMIT", access, stmts);
  if (!st.ok()) return RollBack(db, std::move(st));
  return OkStatus();
}

Status Stmt::Run(Access access, std::string_view what) {
  if (!ok()) return EngineError(db_, access, std::string("prepare ") + std::string(what));
  int rc = Step();
  // The error is read before Reset(), which would report it again but may reword it.
  Status st = rc == SQLITE_DONE || rc == SQLITE_ROW ? OkStatus() : EngineError(db_, access, what);
  Reset();
  return st;
}

Status Stmt::ForEachRow(Access access, std::string_view what,
                        const std::function<Status()>& on_row) {
  if (!ok()) return EngineError(db_, access, std::string("prepare ") + std::string(what));
  int rc;
  while ((rc = Step()) == SQLITE_ROW) KH_RETURN_IF_ERROR(on_row());
  if (rc != SQLITE_DONE) return EngineError(db_, access, what);
  return OkStatus();
}

}  // namespace keyhold::store::sqlite
