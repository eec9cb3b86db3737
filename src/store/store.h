// Store: keyhold's durable state behind one interface.
//
// Implementations (SQLite now, PostgreSQL later) must make every Apply() atomic and durable
// before it returns OK: a caller that saw OK may acknowledge the write to its client, and a
// crash afterwards must not lose it. Nothing engine-specific crosses this interface.
//
//   KH_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(path));
//   WriteBatch b; b.put_keys.push_back(rec);
//   KH_RETURN_IF_ERROR(store->Apply(b));
//
// Thread-safety: all methods may be called from any thread; implementations serialize writes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/records.h"

namespace keyhold::store {

// Everything live: apis not deleted, keys not deleted, and all identities, permissions, roles.
struct Snapshot {
  std::vector<ApiRecord> apis;
  std::vector<KeyRecord> keys;
  std::vector<IdentityRecord> identities;
  std::vector<PermissionRecord> permissions;
  std::vector<RoleRecord> roles;
};

struct CreditsUpdate {
  std::string key_id;
  CreditsState credits;
};

// A set of changes applied all together or not at all. Puts are upserts by id; a put of a key
// or role replaces its permission and role links. Deletes are permanent (soft deletes are puts
// with deleted_at set). Order of application: puts, then credit updates, then deletes.
struct WriteBatch {
  std::vector<ApiRecord> put_apis;
  std::vector<IdentityRecord> put_identities;
  std::vector<PermissionRecord> put_permissions;
  std::vector<RoleRecord> put_roles;
  std::vector<KeyRecord> put_keys;
  std::vector<CreditsUpdate> credits;
  std::vector<std::string> delete_keys;
  std::vector<std::string> delete_identities;
  std::vector<std::string> delete_permissions;
  std::vector<std::string> delete_roles;

  bool empty() const {
    return put_apis.empty() && put_identities.empty() && put_permissions.empty() &&
           put_roles.empty() && put_keys.empty() && credits.empty() && delete_keys.empty() &&
           delete_identities.empty() && delete_permissions.empty() && delete_roles.empty();
  }
};

class Store {
 public:
  virtual ~Store() = default;

  // Receives each live key while the store is being loaded; an error stops the load.
  using KeyVisitor = std::function<Status(KeyRecord&&)>;

  // Reads the live state: everything but the keys into `snap` (whose `keys` stays empty), then
  // each live key, complete with its links, to `on_key`, so that a million keys are never all held
  // as records at once. Everything is read as of one moment. Errors: kUnavailable if the store
  // cannot be read; kInternal if what it holds is corrupt; whatever `on_key` returns.
  virtual Status Load(Snapshot& snap, const KeyVisitor& on_key) = 0;

  // The whole live state, keys included, in one Snapshot (small stores and tests).
  StatusOr<Snapshot> LoadAll() {
    Snapshot snap;
    std::vector<KeyRecord> keys;
    KH_RETURN_IF_ERROR(Load(snap, [&](KeyRecord&& k) {
      keys.push_back(std::move(k));
      return OkStatus();
    }));
    snap.keys = std::move(keys);
    return snap;
  }

  // Applies `batch` atomically and durably. Errors: kAlreadyExists on a uniqueness conflict
  // (nothing applied), kUnavailable if the store cannot be written (nothing applied).
  virtual Status Apply(const WriteBatch& batch) = 0;

  // Stores last-used times; best effort (usage metadata, not an acknowledged write).
  virtual Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& key_times) = 0;

  // Ids of live keys of `api_id` (optionally only those of `identity_id`) with id > `after_id`,
  // ascending, at most `limit`. Errors: kUnavailable if the store cannot be read.
  virtual StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api_id,
                                                        const std::string& after_id,
                                                        const std::string& identity_id,
                                                        int limit) = 0;

  // Schema version currently applied.
  virtual int SchemaVersion() = 0;
};

}  // namespace keyhold::store
