// KeyService: the keys a keyhold installation issues, and everything they are checked against —
// APIs (keyspaces), identities, permissions, roles, and the root keys that administer them.
//
// The service keeps every live key in memory, indexed by the SHA-256 of its text, so that
// Verify() does no store I/O unless the key has a credit balance to spend. Every change is
// written to the Store first and applied to memory after the store acknowledged it, so a change
// made through this node is seen by its very next verification.
//
//   KH_ASSIGN_OR_RETURN(auto svc, KeyService::Open(store, env));
//   KH_ASSIGN_OR_RETURN(Principal root, svc->Authenticate(bearer));
//   KH_ASSIGN_OR_RETURN(CreatedKey k, svc->CreateKey(root, {.api_id = "api_..."}));
//   VerifyResult r = svc->Verify(root, {.key = k.key.Reveal()});
//
// Authorization: every call takes the authenticated root key (Principal) and checks the
// permission the operation needs (`api.<apiId>.create_key`, `rbac.*.create_role`, ...; listed in
// docs/permissions.md); a missing permission is kPermissionDenied naming it. Verify is the
// exception: a caller that may not verify keys of the key's API gets NOT_FOUND, so it learns
// nothing about keys outside its reach.
//
// Thread-safety: all methods are safe to call concurrently. Writers are serialized; readers
// (Verify, Get*, List*) run in parallel with each other and with a writer's store I/O.
#pragma once

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace keyhold::service {

using store::ApiRecord;
using store::IdentityRecord;
using store::KeyRecord;
using store::PermissionRecord;
using store::RatelimitConfig;
using store::RoleRecord;

// An authenticated root key.
struct Principal {
  std::string key_id;
  std::vector<std::string> permissions;
  bool Can(std::string_view permission) const;
};

// Field limits enforced by the service (the wire layer reports them with the field's location).
inline constexpr size_t kMaxNameLength = 256;
inline constexpr size_t kMaxExternalIdLength = 256;
inline constexpr size_t kMaxMetaBytes = 64 * 1024;
inline constexpr size_t kMaxListItems = 1000;
inline constexpr int kMaxPageSize = 100;
inline constexpr int kMaxBulkKeys = 1'000'000;
inline constexpr int64_t kMaxRatelimitDurationMs = 30LL * 24 * 3600 * 1000;

// Mutable per-key state shared by every version of a key's entry, so that a concurrent update
// of the key's other fields can never lose a credit spend.
struct KeyCounters {
  std::mutex mu;
  CreditsState credits;                  // guarded by mu
  std::atomic<int64_t> last_used_at{0};
  std::atomic<int64_t> last_used_stored{0};  // what the store has; FlushLastUsed catches up
};

// One key as held in memory: the record plus names resolved for answering requests.
struct KeyEntry {
  KeyRecord rec;  // rec.credits is stale; the live balance is in counters
  std::vector<std::string> permission_slugs;       // direct permissions
  std::vector<std::string> role_names;
  std::vector<std::string> effective_permissions;  // direct + through roles; root: patterns
  std::shared_ptr<KeyCounters> counters;
};

// A key as returned to callers: an immutable snapshot.
struct KeyView {
  std::shared_ptr<const KeyEntry> entry;
  CreditsState credits;  // the balance at the time of the snapshot
  int64_t last_used_at = 0;
  std::optional<IdentityRecord> identity;
};

struct RoleView {
  RoleRecord role;
  std::vector<PermissionRecord> permissions;
};

struct CreateApiRequest {
  std::string name;
  std::string default_prefix;
  int32_t default_byte_length = 32;
  std::vector<std::string> ip_allowlist;
};

struct CreateKeyRequest {
  std::string api_id;
  std::optional<std::string> prefix;
  std::optional<std::string> name;
  std::optional<int32_t> byte_length;
  std::optional<std::string> external_id;
  std::string meta_json;  // JSON object text or empty
  std::vector<std::string> roles;        // role names or ids
  std::vector<std::string> permissions;  // permission slugs; missing ones are created
  std::optional<int64_t> expires;        // ms since epoch
  std::optional<CreditsState> credits;
  std::vector<RatelimitConfig> ratelimits;
  bool enabled = true;
  bool recoverable = false;
};

struct CreatedKey {
  std::string key_id;
  crypto::Secret key;  // the only time the plaintext exists outside the caller
};

// A change to a key's credits: each part applies only if its `set_` flag is true.
struct CreditsPatch {
  bool set_remaining = false;
  std::optional<int64_t> remaining;  // nullopt: unlimited
  bool set_refill = false;
  std::optional<RefillRule> refill;  // nullopt: no refill
};

// Absent optionals leave a field unchanged; an inner nullopt clears it.
struct UpdateKeyRequest {
  std::string key_id;
  std::optional<std::optional<std::string>> name;
  std::optional<std::optional<std::string>> external_id;
  std::optional<std::string> meta_json;  // "" clears
  std::optional<std::optional<int64_t>> expires;
  std::optional<std::optional<CreditsPatch>> credits;  // inner nullopt: unlimited, no refill
  std::optional<std::vector<RatelimitConfig>> ratelimits;
  std::optional<bool> enabled;
  std::optional<std::vector<std::string>> roles;
  std::optional<std::vector<std::string>> permissions;
};

enum class CreditsOperation { kSet, kIncrement, kDecrement };

enum class VerifyCode {
  kValid,
  kNotFound,
  kForbidden,
  kInsufficientPermissions,
  kUsageExceeded,
  kRateLimited,
  kDisabled,
  kExpired,
};
const char* VerifyCodeName(VerifyCode code);

struct VerifyRequest {
  std::string_view key;
  std::optional<std::string> permissions_query;
  int64_t cost = 1;
  std::string client_ip;
  std::vector<std::string> tags;
};

struct VerifyResult {
  VerifyCode code = VerifyCode::kNotFound;
  std::optional<KeyView> key;  // set for every code except kNotFound
  bool valid() const { return code == VerifyCode::kValid; }
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string cursor;  // empty when there is no next page
  bool has_more = false;
};

class KeyService {
 public:
  // Loads the live state from `store`. Both must outlive the service.
  // Errors: whatever the store's LoadAll returns.
  static StatusOr<std::unique_ptr<KeyService>> Open(store::Store& store, Env& env);

  // --- root keys -------------------------------------------------------------------------
  // Resolves a bearer token to its root key. Errors (all kUnauthenticated, distinct reasons):
  // "authentication/malformed" (not a keyhold key), "authentication/key_not_found",
  // "authentication/key_disabled" (disabled or expired).
  StatusOr<Principal> Authenticate(std::string_view bearer);

  // Creates the first root key, holding `*`. Errors: kFailedPrecondition if any root key exists.
  StatusOr<CreatedKey> Bootstrap(std::string_view name);
  bool HasRootKeys() const;

  // Creates a root key holding `permissions`, each of which the caller must itself cover.
  StatusOr<CreatedKey> CreateRootKey(const Principal& p, std::optional<std::string> name,
                                     const std::vector<std::string>& permissions);
  StatusOr<Page<KeyView>> ListRootKeys(const Principal& p, const std::string& cursor, int limit);
  // The caller must cover every permission of the key it deletes.
  Status DeleteRootKey(const Principal& p, const std::string& key_id);

  // --- APIs ------------------------------------------------------------------------------
  StatusOr<ApiRecord> CreateApi(const Principal& p, CreateApiRequest req);
  StatusOr<ApiRecord> GetApi(const Principal& p, const std::string& api_id);
  // Soft-deletes the API and every key in it. Errors: kNotFound.
  Status DeleteApi(const Principal& p, const std::string& api_id);
  StatusOr<Page<KeyView>> ListKeys(const Principal& p, const std::string& api_id,
                                   const std::string& cursor, int limit,
                                   const std::optional<std::string>& external_id);

  // --- keys ------------------------------------------------------------------------------
  StatusOr<CreatedKey> CreateKey(const Principal& p, CreateKeyRequest req);
  // Creates `count` keys alike but for their text, in one store write (bulk loads, benchmarks).
  // Errors as CreateKey; kInvalidArgument if count is not 1..kMaxBulkKeys.
  StatusOr<std::vector<CreatedKey>> CreateKeys(const Principal& p, CreateKeyRequest req, int count);
  StatusOr<KeyView> GetKey(const Principal& p, const std::string& key_id);
  // Looks a key up by its text. Errors: kNotFound (also for a malformed key).
  StatusOr<KeyView> Whoami(const Principal& p, std::string_view key);
  StatusOr<KeyView> UpdateKey(const Principal& p, UpdateKeyRequest req);
  // `value` nullopt with kSet makes the key unlimited. Errors: kInvalidArgument for a missing or
  // negative value, or a change that would take the balance out of [0, 1e15].
  StatusOr<CreditsState> UpdateCredits(const Principal& p, const std::string& key_id,
                                       CreditsOperation op, std::optional<int64_t> value);
  Status DeleteKey(const Principal& p, const std::string& key_id, bool permanent);

  enum class SetMode { kAdd, kSet, kRemove };
  StatusOr<std::vector<PermissionRecord>> ChangeKeyPermissions(const Principal& p,
                                                               const std::string& key_id,
                                                               SetMode mode,
                                                               const std::vector<std::string>& perms);
  StatusOr<std::vector<RoleView>> ChangeKeyRoles(const Principal& p, const std::string& key_id,
                                                 SetMode mode, const std::vector<std::string>& roles);

  // Checks a key in the spec's order: not found/deleted, disabled, expired, IP allowlist,
  // permissions, rate limits, credits. A denied request spends nothing. Errors only when a
  // credit spend cannot be stored (kUnavailable); every outcome is a VerifyResult.
  StatusOr<VerifyResult> Verify(const Principal& p, const VerifyRequest& req);

  // --- identities ------------------------------------------------------------------------
  StatusOr<IdentityRecord> CreateIdentity(const Principal& p, IdentityRecord req);
  StatusOr<IdentityRecord> GetIdentity(const Principal& p, const std::string& id_or_external);
  StatusOr<Page<IdentityRecord>> ListIdentities(const Principal& p, const std::string& cursor,
                                                int limit);
  StatusOr<IdentityRecord> UpdateIdentity(const Principal& p, const std::string& id_or_external,
                                          std::optional<std::string> meta_json,
                                          std::optional<std::vector<RatelimitConfig>> ratelimits);
  // Keys of the identity keep working and lose their identity.
  Status DeleteIdentity(const Principal& p, const std::string& id_or_external);

  // --- permissions and roles ------------------------------------------------------------
  StatusOr<PermissionRecord> CreatePermission(const Principal& p, PermissionRecord req);
  StatusOr<PermissionRecord> GetPermission(const Principal& p, const std::string& id_or_slug);
  StatusOr<Page<PermissionRecord>> ListPermissions(const Principal& p, const std::string& cursor,
                                                   int limit);
  Status DeletePermission(const Principal& p, const std::string& id_or_slug);
  StatusOr<RoleView> CreateRole(const Principal& p, RoleRecord req,
                                const std::vector<std::string>& permissions);
  StatusOr<RoleView> GetRole(const Principal& p, const std::string& id_or_name);
  StatusOr<Page<RoleView>> ListRoles(const Principal& p, const std::string& cursor, int limit);
  Status DeleteRole(const Principal& p, const std::string& id_or_name);

  // Writes the last-used times that changed since the previous flush. Usage metadata, not an
  // acknowledged write: the server calls this every few seconds and at shutdown.
  // Errors: whatever the store returns (the times stay pending for the next flush).
  Status FlushLastUsed();

  // Number of live keys in memory (app and root).
  size_t KeyCount() const;

 private:
  KeyService(store::Store& store, Env& env) : store_(store), env_(env) {}

  // All helpers below REQUIRE write_mu_ or a lock on mu_ (shared suffices for reads).
  std::shared_ptr<KeyEntry> MakeEntry(KeyRecord rec, std::shared_ptr<KeyCounters> counters) const;
  KeyView ViewOf(const std::shared_ptr<const KeyEntry>& e) const;
  RoleView RoleViewOf(const RoleRecord& r) const;
  const ApiRecord* FindApi(const std::string& id) const;
  const IdentityRecord* FindIdentity(const std::string& id_or_external) const;
  const PermissionRecord* FindPermission(const std::string& id_or_slug) const;
  const RoleRecord* FindRole(const std::string& id_or_name) const;
  std::shared_ptr<const KeyEntry> FindKey(const std::string& key_id, store::KeyKind kind) const;
  // Resolves slugs to permission ids, creating missing ones into `batch` and `created`.
  StatusOr<std::vector<std::string>> ResolvePermissions(const Principal& p,
                                                        const std::vector<std::string>& slugs,
                                                        store::WriteBatch& batch,
                                                        std::vector<PermissionRecord>& created);
  StatusOr<std::vector<std::string>> ResolveRoles(const std::vector<std::string>& names) const;
  // Finds or prepares the identity for an externalId.
  StatusOr<std::string> ResolveIdentity(const std::string& external_id, store::WriteBatch& batch,
                                        std::vector<IdentityRecord>& created);
  Status CommitKey(KeyRecord rec, store::WriteBatch batch,
                   const std::vector<PermissionRecord>& new_perms,
                   const std::vector<IdentityRecord>& new_identities,
                   std::shared_ptr<KeyCounters> counters);
  StatusOr<std::shared_ptr<const KeyEntry>> KeyForWrite(const Principal& p,
                                                        const std::string& key_id,
                                                        std::string_view action);
  // Rebuilds the derived names of every key (after a role or permission change).
  void RebuildAllEntriesLocked();
  void IndexKeyLocked(std::shared_ptr<const KeyEntry> e);
  void UnindexKeyLocked(const KeyEntry& e);

  store::Store& store_;
  Env& env_;

  std::mutex write_mu_;            // serializes writers
  mutable std::shared_mutex mu_;   // guards the maps below against concurrent readers

  struct DigestHash {
    size_t operator()(const crypto::Sha256Digest& d) const {
      size_t h;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  std::unordered_map<crypto::Sha256Digest, std::shared_ptr<const KeyEntry>, DigestHash> by_hash_;
  // Keyed by a view of the entry's own id, so the id is not stored twice; an entry is always
  // erased before the entry that owns the viewed string goes.
  std::unordered_map<std::string_view, std::shared_ptr<const KeyEntry>> by_id_;
  std::map<std::string, ApiRecord> apis_;
  std::map<std::string, IdentityRecord> identities_;
  std::unordered_map<std::string, std::string> identity_by_external_;
  std::map<std::string, PermissionRecord> permissions_;
  std::unordered_map<std::string, std::string> permission_by_slug_;
  std::map<std::string, RoleRecord> roles_;
  std::unordered_map<std::string, std::string> role_by_name_;
  std::map<std::string, std::string> root_key_ids_;  // ordered ids, for listing
};

}  // namespace keyhold::service
