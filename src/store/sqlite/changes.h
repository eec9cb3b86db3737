// The SQLite store's change feed: recording changes inside a write transaction, pruning old
// ones, and reading them back. Internal to src/store/sqlite; the table is described in
// docs/storage-schema.md, the contract in store/store.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "store/sqlite/statement.h"
#include "store/store.h"

namespace keyhold::store::sqlite {

// Appends changes to the feed, each numbered one more than the newest seq in the table. Changes
// that the write's own pruning would delete at once — all but the newest `keep` of a batch larger
// than that — are numbered but not written, so a bulk creation of a million keys does not insert
// and delete nine hundred thousand rows; below the oldest row they read as pruned, as they would
// be. REQUIRES: used only inside a write transaction on `db`.
class ChangeLog {
 public:
  ChangeLog(sqlite3* db, uint64_t keep) : db_(db), keep_(keep) {}
  // Records that `id` of `kind` was put or deleted. Errors: as EngineError.
  Status Record(ChangeKind kind, std::string_view id, ChangeOp op);
  // Records one change per record of `batch`, in the order Apply applies them.
  Status RecordBatch(const WriteBatch& batch);
  // How many changes this log has numbered (written or not).
  uint64_t recorded() const { return recorded_; }

 private:
  sqlite3* db_;
  uint64_t keep_;
  uint64_t skip_ = 0;           // changes still to number without writing
  uint64_t skipped_ = 0;        // numbered without writing, since the last row written
  std::optional<Stmt> insert_;  // prepared on first use: most spends record one or none
  uint64_t recorded_ = 0;
};

// Deletes all but the newest `keep` changes. REQUIRES: keep >= 1 (the newest row carries the
// sequence) and a write transaction on `db`. Errors: as EngineError.
Status PruneChanges(sqlite3* db, uint64_t keep);

// The newest seq, 0 if none. Errors: as EngineError.
StatusOr<uint64_t> LatestSeq(sqlite3* db, Access access);

// Store::ChangesSince. REQUIRES: a read transaction on `db`, so the checks and the rows agree.
StatusOr<std::vector<Change>> ReadChanges(sqlite3* db, uint64_t after_seq, int limit);

}  // namespace keyhold::store::sqlite
