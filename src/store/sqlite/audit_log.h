// The SQLite store's audit log: appending entries inside a write transaction, and reading them
// and their checkpoints back. Internal to src/store/sqlite; the tables are described in
// docs/storage-schema.md, the contract in store/store.h.
#pragma once

#include <vector>

#include "store/sqlite/statement.h"
#include "store/store.h"

namespace keyhold::store::sqlite {

// Numbers and links `entries` after the newest entry and inserts them.
// REQUIRES: a write transaction on `db`. Errors: as EngineError. With `stmts` (db's), the
// statements are kept there.
Status AppendAudit(sqlite3* db, const std::vector<audit::AuditEntry>& entries,
                   StmtCache* stmts = nullptr);

// Store::ReadAudit, ReadAuditTail, QueryAudit, AuditSalt and ListAuditCheckpoints, with the
// arguments already checked. REQUIRES: exclusive use of `db`.
StatusOr<std::vector<audit::AuditEntry>> ReadAuditRange(sqlite3* db, int64_t after_seq, int limit);
StatusOr<AuditTail> ReadTail(sqlite3* db, Access access, StmtCache* stmts = nullptr);
StatusOr<std::vector<audit::AuditEntry>> RunAuditQuery(sqlite3* db, const AuditQuery& q);
StatusOr<std::vector<uint8_t>> ReadAuditSalt(sqlite3* db);
Status WriteCheckpoint(sqlite3* db, const audit::Checkpoint& cp);
StatusOr<std::vector<audit::Checkpoint>> ReadCheckpoints(sqlite3* db, int64_t after_seq, int limit);

}  // namespace keyhold::store::sqlite
