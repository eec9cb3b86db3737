// SqliteStore: the embedded default Store, one SQLite database file in WAL mode.
//
//   KH_ASSIGN_OR_RETURN(std::unique_ptr<Store> s, SqliteStore::Open(dir + "/keyhold.db"));
//
// Durability: synchronous=FULL, so a write that returned OK survives a crash of the process or
// of the machine. Writes are serialized by one connection behind a mutex; reads of secrets use
// connections of their own (WithSecretReader), and a sole writer keeps what they found until
// the secret tables change (SecretReadCache). Every transaction ends
// before a method returns, committed or rolled back, even when COMMIT itself fails.
//
// Change feed: the `changes` table keeps at least the newest `change_retention` changes; older
// ones are deleted in the write transaction that records the change_retention-th (at most the
// 1024th) change since the last pruning, and once at Open.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/secret_read_cache.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_context;
struct sqlite3_value;

namespace keyhold::store {
namespace sqlite {
class ChangeLog;
class StmtCache;
}  // namespace sqlite

struct SqliteOptions {
  // How many of the newest changes the change feed keeps at least (see Store::ChangesSince); a
  // reader further behind loads a snapshot again. 100,000 rows take about 4 MB; at one change
  // per spend they hold at least 15 seconds of spends (one SQLite file synced about 6,000 a
  // second at best here: bench/store_bench.cc), far more than a node that follows the feed
  // every second needs. Must be at least 1 and below 2^63.
  uint64_t change_retention = 100'000;
  // The SQLite VFS to open the file through; empty for the default. Tests name a fault-injecting
  // one (tests/fakes/faulty_vfs.h).
  std::string vfs;
  // Opens an existing database for reading only (`keyhold audit verify` beside a running server):
  // nothing is created, migrated or pruned, and every write fails with kUnavailable. The
  // database must be at this keyhold's schema version.
  bool read_only = false;
  // Loading: with at most this many rows in the key link tables (permissions, roles and root
  // permissions of keys), the links are held in memory (about 200 bytes a row) and the keys read
  // in table order, the fastest; with more, the keys are read in id order and joined with their
  // links as they stream, in bounded memory. Any value is valid: SIZE_MAX holds every link.
  size_t most_links_held = 16'384;
  // The caller guarantees that no other process writes the database while this store is open
  // (the server holds the data directory's lock). Secret reads may then be kept in memory
  // between changes, which this store counts as it makes them: a change made beside it (with
  // the sqlite3 shell, say) would not be seen until the next change made through it.
  bool sole_writer = false;
};

class SqliteStore final : public Store {
 public:
  // Opens (creating if needed) the database at `path` and applies pending migrations.
  // Errors: kInvalidArgument if `options` are out of range; kUnavailable if the file cannot be
  // opened, is not a keyhold database, or a migration fails (nothing of that migration applied);
  // kFailedPrecondition if it was written by a newer keyhold (schema version too high). These
  // errors are for the operator starting keyhold: the log detail says what the engine reported.
  static StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                     const SqliteOptions& options = {});
  ~SqliteStore() override;

  // Turns off SQLite's memory statistics for the whole process: with them on, every allocation
  // of every connection takes one process-wide lock, which the connections' threads contend
  // for, and nothing in keyhold reads them. The server does this once as it starts.
  // REQUIRES: no other thread is using SQLite.
  // Errors: kFailedPrecondition if SQLite is already initialized (as it is once any store has
  // been opened): the statistics then stay on, which is slower, never wrong.
  static Status TurnOffMemoryStatistics();

  Status Load(Snapshot& snap, const KeyVisitor& on_key) override;
  Status Apply(const WriteBatch& batch) override;
  StatusOr<SpendResult> SpendCredits(const std::string& key_id, int64_t cost, int64_t now_ms,
                                     int64_t extra) override;
  StatusOr<std::vector<std::optional<CreditsState>>> GiveBackCredits(
      const std::vector<CreditsReturn>& returns, int64_t now_ms) override;
  StatusOr<CreditsState> AdjustCredits(const std::string& key_id, int64_t delta, int64_t now_ms,
                                       const audit::AuditEntry* audit = nullptr) override;
  Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) override;
  StatusOr<std::vector<Change>> ChangesSince(uint64_t after_seq, int limit) override;
  StatusOr<uint64_t> LatestChangeSeq() override;
  StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api_id,
                                                const std::string& after_id,
                                                const std::string& identity_id, int limit) override;
  StatusOr<KeyRecord> GetKeyRecord(const std::string& key_id) override;
  StatusOr<std::vector<std::string>> QueryKeyIds(const KeyQuery& q) override;
  StatusOr<std::vector<audit::AuditEntry>> ReadAudit(int64_t after_seq, int limit) override;
  StatusOr<std::vector<audit::AuditEntry>> QueryAudit(const AuditQuery& q) override;
  StatusOr<AuditTail> ReadAuditTail() override;
  StatusOr<std::vector<uint8_t>> AuditSalt() override;
  Status PutAuditCheckpoint(const audit::Checkpoint& cp) override;
  StatusOr<std::vector<audit::Checkpoint>> ListAuditCheckpoints(int64_t after_seq,
                                                                int limit) override;
  Status RecordUsage(const std::vector<UsageRow>& rows) override;
  Status JournalUsage(const std::vector<UsageRow>& rows) override;
  StatusOr<UsageJournal> ReadUsageJournal() override;
  Status CloseUsage(int64_t before_ms, const std::vector<UsageRow>& rows) override;
  StatusOr<std::vector<UsageCount>> QueryUsage(const UsageQuery& q) override;
  StatusOr<std::vector<UsageRow>> ReadUsage(const std::string& key_id, int64_t since_ms,
                                            int64_t until_ms, int limit) override;
  Status PruneUsage(int64_t rows_before_ms, int64_t hours_before_ms,
                    int64_t days_before_ms) override;
  StatusOr<audit::RaiseOutcome> RaiseAlert(const audit::Alert& alert, int64_t dedupe_since_ms,
                                           const std::string& only_endpoint_id) override;
  StatusOr<std::vector<audit::Alert>> ListAlerts(const AlertQuery& q) override;
  StatusOr<audit::Alert> GetAlert(const std::string& id) override;
  Status AcknowledgeAlert(const std::string& id, const std::string& by, int64_t at_ms,
                          const audit::AuditEntry* audit = nullptr) override;
  Status PutWebhookEndpoint(const WebhookEndpointRecord& e,
                            const audit::AuditEntry* audit = nullptr) override;
  Status DeleteWebhookEndpoint(const std::string& id,
                               const audit::AuditEntry* audit = nullptr) override;
  StatusOr<std::vector<WebhookEndpointRecord>> ListWebhookEndpoints() override;
  StatusOr<WebhookEndpointRecord> GetWebhookEndpoint(const std::string& id) override;
  StatusOr<std::vector<DeliveryRecord>> DueDeliveries(int64_t now_ms, int limit) override;
  StatusOr<int64_t> CountPendingDeliveries() override;
  StatusOr<std::vector<DeliveryRecord>> ListDeliveries(const std::string& endpoint_id,
                                                       int limit) override;
  Status RecordDeliveryAttempt(const DeliveryRecord& d) override;
  Status PruneAlerts(int64_t before_ms) override;
  Status RecordSecretRead(const audit::AuditEntry& entry) override;
  void RecordSecretReadLater(audit::AuditEntry entry, std::function<void(Status)> done) override;
  StatusOr<std::vector<SecretMountRecord>> ListSecretMounts() override;
  Status PutSecretMount(const SecretMountRecord& m,
                        const audit::AuditEntry* audit = nullptr) override;
  StatusOr<std::vector<crypto::SealedTerm>> ReadKeyring() override;
  Status AddKeyringTerm(const crypto::SealedTerm& t,
                        const audit::AuditEntry* audit = nullptr) override;
  StatusOr<SecretRecord> ReadSecret(const std::string& mount, const std::string& path) override;
  StatusOr<SecretVersionRecord> ReadSecretVersion(const std::string& mount, const std::string& path,
                                                  int64_t version) override;
  std::optional<StatusOr<SecretReadNow>> TryReadSecretNow(const std::string& mount,
                                                          const std::string& path,
                                                          int64_t version) override;
  Status WriteSecretVersion(const SecretVersionWrite& w,
                            const audit::AuditEntry* audit = nullptr) override;
  Status ChangeSecretVersions(const std::string& mount, const std::string& path, SecretVersionOp op,
                              const std::vector<int64_t>& versions, int64_t now_ms,
                              const audit::AuditEntry* audit = nullptr) override;
  Status PutSecretMetadata(const SecretRecord& m,
                           const audit::AuditEntry* audit = nullptr) override;
  Status DeleteSecret(const std::string& mount, const std::string& path,
                      const audit::AuditEntry* audit = nullptr) override;
  StatusOr<std::vector<std::string>> ListSecretPaths(const std::string& mount,
                                                     const std::string& prefix,
                                                     const std::string& after, int limit) override;
  StatusOr<std::vector<WrappedVersion>> VersionsWrappedBelow(int32_t term, int limit) override;
  StatusOr<bool> RewrapSecretVersion(const WrappedVersion& old, int32_t new_term,
                                     const std::vector<uint8_t>& wrapped_key) override;
  Status WritePendingSecretVersion(const SecretVersionWrite& w,
                                   const audit::AuditEntry* audit = nullptr) override;
  Status SetSecretRotationStep(const std::string& mount, const std::string& path,
                               const std::string& step, const std::string& failure,
                               const audit::AuditEntry* audit = nullptr) override;
  Status FinishSecretRotation(const std::string& mount, const std::string& path, int64_t pending,
                              std::optional<int64_t> next_rotation_at_ms, int64_t now_ms,
                              const audit::AuditEntry* audit = nullptr) override;
  Status CancelSecretRotation(const std::string& mount, const std::string& path,
                              const audit::AuditEntry* audit = nullptr) override;
  StatusOr<std::vector<SecretRecord>> ListSecretsDue(int64_t due_by_ms, int limit) override;
  Status PutRotationOutcome(const RotationOutcomeRecord& o) override;
  StatusOr<std::optional<RotationOutcomeRecord>> ReadRotationOutcome(
      const std::string& mount, const std::string& path) override;
  Status DeleteRotationOutcome(const std::string& mount, const std::string& path) override;
  Status PutRotationRun(const RotationRunRecord& r) override;
  Status DeleteRotationRun(const std::string& mount, const std::string& path) override;
  Status EndRotationRuns(const std::vector<RotationRunEnd>& ends) override;
  StatusOr<std::vector<RotationRunRecord>> ListRotationRuns(int limit) override;
  StatusOr<std::vector<StagedRotationRecord>> ListStagedRotations(int limit) override;
  StatusOr<RatelimitOverrideRecord> PutRatelimitOverride(
      const RatelimitOverrideRecord& o, const audit::AuditEntry* audit = nullptr) override;
  StatusOr<RatelimitOverrideRecord> DeleteRatelimitOverride(
      const std::string& namespace_name, const std::string& identifier,
      const audit::AuditEntry* audit = nullptr) override;
  StatusOr<std::vector<RatelimitOverrideRecord>> ListRatelimitOverrides(
      const std::string& namespace_name, const std::string& after_id, int limit) override;
  int SchemaVersion() override;

 private:
  SqliteStore(sqlite3* db, const SqliteOptions& options);
  Status Migrate();
  int SchemaVersionLocked();
  // Runs `body` as one write transaction whose changes it records in the log it is given, and
  // prunes the change feed in the same transaction when it is due. REQUIRES: mu_ held.
  Status WriteLocked(const std::function<Status(sqlite::ChangeLog&)>& body);
  // Prunes the change feed now, in a transaction of its own. REQUIRES: mu_ held.
  Status PruneLocked();

  // Group commit of credit spends: callers queue their spend; the first to find no commit in
  // progress takes every queued spend and makes them durable in one transaction (one sync),
  // then wakes the others with their results. A spend is answered only once its batch is
  // durable, so a crash can lose only spends nobody was told about.
  struct PendingSpend;
  void CommitSpends(const std::vector<PendingSpend*>& batch);
  std::mutex spend_mu_;
  std::vector<PendingSpend*> spend_queue_;  // guarded by spend_mu_
  bool spend_committing_ = false;           // guarded by spend_mu_

  // Secret-read audit entries are committed by a thread of their own, started at the first
  // one: it takes every entry queued meanwhile and appends them in one transaction, then calls
  // each one's `done` with the outcome. A read is answered only once its entry is committed,
  // and a batch that cannot be written fails every read in it.
  struct QueuedRead {
    audit::AuditEntry entry;
    std::function<void(Status)> done;
  };
  void CommitReadAuditsUntilStopped();
  Status CommitReadAudits(const std::vector<audit::AuditEntry>& entries);
  std::mutex read_audit_mu_;
  std::condition_variable read_audit_wake_;
  std::vector<QueuedRead> read_audit_queue_;  // guarded by read_audit_mu_
  bool read_audit_stopping_ = false;          // guarded by read_audit_mu_
  std::thread read_audit_thread_;             // started under read_audit_mu_

  // Connections of their own for reading secrets (ReadSecret, ReadSecretVersion,
  // TryReadSecretNow), opened with the store, so that a secret read does not wait for a writer's
  // transaction (WAL: readers see the last commit). Callers that may wait share them, waiting
  // for one if all are busy; TryReadSecretNow takes only a free one. None for a database that is
  // not a file of its own, or if they could not be opened: reads then use db_ under mu_.
  struct Reader {
    std::mutex mu;
    sqlite3* db = nullptr;                     // set at Open; used under mu
    std::unique_ptr<sqlite::StmtCache> stmts;  // used under mu
  };
  static constexpr size_t kReaders = 4;
  void OpenReaders(const std::string& path);
  // Checkpoints (copying the write-ahead log back into the database, with an fsync) run on a
  // thread and connection of their own, so that writes seldom wait for one: db_'s commit hook
  // wakes the thread once the log holds kCheckpointPages pages, and again each
  // kCheckpointStepPages more. The log starts over only after a checkpoint that copied all of
  // it, which one beside a steady stream of writes rarely does: at kInlineCheckpointPages the
  // writer checkpoints itself, as SQLite would, copying what the thread has not yet. None for a
  // database that is not a file of its own: SQLite's own checkpoints apply then.
  static constexpr int kCheckpointPages = 1000;
  static constexpr int kCheckpointStepPages = 500;
  static constexpr int kInlineCheckpointPages = 4'000;
  int checkpoint_asked_at_ = 0;  // the log's pages at the last wake; guarded by mu_
  void StartCheckpointer(const std::string& path);
  void CheckpointUntilStopped();
  static int OnCommitted(void* self, sqlite3* db, const char* name, int wal_pages);
  sqlite3* checkpoint_db_ = nullptr;  // set at Open; used by checkpoint_thread_ only
  std::thread checkpoint_thread_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_wake_;
  bool checkpoint_due_ = false;       // guarded by checkpoint_mu_
  bool checkpoint_stopping_ = false;  // guarded by checkpoint_mu_
  // Runs `read(db, stmts)` on a reader connection, or on db_ under mu_ if there are none.
  Status WithSecretReader(const std::function<Status(sqlite3*, sqlite::StmtCache*)>& read);
  // Secrets read by TryReadSecretNow, kept while nothing has changed the tables it reads
  // (`secrets`, `secret_versions`): temporary triggers on db_ flag every change to them, and
  // releasing the writer's mutex (WriterMutex) after a flagged change, committed or not, starts
  // a new generation and empties the cache, before the writer's caller is answered. Only for a
  // sole writer (SqliteOptions) with reader connections; off otherwise.
  void WatchSecretTables();
  static void OnSecretTablesChanged(sqlite3_context* ctx, int argc, sqlite3_value** argv);
  void AfterWrites();
  std::atomic<bool> secret_tables_changed_{false};
  std::atomic<uint64_t> secrets_generation_{0};
  bool read_cache_on_ = false;  // set at Open
  sqlite::SecretReadCache read_cache_;

  // db_'s mutex. Every use of db_ holds it (std::lock_guard works on it as on a std::mutex);
  // unlocking runs AfterWrites first.
  class WriterMutex {
   public:
    explicit WriterMutex(SqliteStore& store) : store_(store) {}
    void lock() { mu_.lock(); }
    bool try_lock() { return mu_.try_lock(); }
    void unlock() {
      store_.AfterWrites();
      mu_.unlock();
    }

   private:
    SqliteStore& store_;
    std::mutex mu_;
  };
  WriterMutex mu_{*this};
  sqlite3* db_;                               // owned
  std::unique_ptr<sqlite::StmtCache> stmts_;  // db_'s kept statements; used under mu_
  const SqliteOptions options_;
  uint64_t recorded_since_prune_ = 0;  // guarded by mu_
  std::array<Reader, kReaders> readers_;
};

}  // namespace keyhold::store
