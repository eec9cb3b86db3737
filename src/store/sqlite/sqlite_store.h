// SqliteStore: the embedded default Store, one SQLite database file in WAL mode.
//
//   KH_ASSIGN_OR_RETURN(std::unique_ptr<Store> s, SqliteStore::Open(dir + "/keyhold.db"));
//
// Durability: synchronous=FULL, so an Apply() that returned OK survives a crash of the process
// or of the machine. Writes are serialized by one connection behind a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

struct sqlite3;

namespace keyhold::store {

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // Errors: kUnavailable if the file cannot be opened or is not a keyhold database;
  // kFailedPrecondition if it was written by a newer keyhold (schema version too high).
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path);
  ~SqliteStore() override;

  Status Load(Snapshot& snap, const KeyVisitor& on_key) override;
  Status Apply(const WriteBatch& batch) override;
  Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) override;
  StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api_id,
                                                const std::string& after_id,
                                                const std::string& identity_id, int limit) override;
  int SchemaVersion() override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Migrate();
  Status ApplyLocked(const WriteBatch& batch);

  std::mutex mu_;
  sqlite3* db_;  // owned
};

}  // namespace keyhold::store
