// SqliteStore: the embedded default Store, one SQLite database file in WAL mode.
//
//   KH_ASSIGN_OR_RETURN(std::unique_ptr<Store> s, SqliteStore::Open(dir + "/keyhold.db"));
//
// Durability: synchronous=FULL, so a write that returned OK survives a crash of the process or
// of the machine. Writes are serialized by one connection behind a mutex. Every transaction ends
// before a method returns, committed or rolled back, even when COMMIT itself fails.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"

struct sqlite3;

namespace keyhold::store {

struct SqliteOptions {
  // The SQLite VFS to open the file through; empty for the default. Tests name a fault-injecting
  // one (tests/fakes/faulty_vfs.h).
  std::string vfs;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // Errors: kUnavailable if the file cannot be opened, is not a keyhold database, or a migration
  // fails (nothing of that migration applied); kFailedPrecondition if it was written by a newer
  // keyhold (schema version too high). These errors are for the operator starting keyhold: the
  // log detail says what the engine reported.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                     const SqliteOptions& options = {});
  ~SqliteStore() override;

  Status Load(Snapshot& snap, const KeyVisitor& on_key) override;
  Status Apply(const WriteBatch& batch) override;
  StatusOr<SpendResult> SpendCredits(const std::string& key_id, int64_t cost,
                                     int64_t now_ms) override;
  StatusOr<CreditsState> AdjustCredits(const std::string& key_id, int64_t delta,
                                       int64_t now_ms) override;
  Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) override;
  StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api_id,
                                                const std::string& after_id,
                                                const std::string& identity_id, int limit) override;
  int SchemaVersion() override;

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Migrate();
  int SchemaVersionLocked();

  std::mutex mu_;
  sqlite3* db_;  // owned
};

}  // namespace keyhold::store
