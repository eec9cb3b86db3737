// KeyService: the keys a keyhold installation issues, and everything they are checked against —
// APIs (keyspaces), identities, permissions, roles, and the root keys that administer them.
//
// The service keeps every live key in memory, indexed by the SHA-256 of its text, so that
// Verify() does no store I/O unless the key has a credit balance to spend. Every change is
// written to the Store first and applied to memory after the store acknowledged it, so a change
// made through this node is seen by its very next verification.
//
//   KH_ASSIGN_OR_RETURN(std::unique_ptr<KeyService> svc, KeyService::Open(store, env));
//   RequestContext ctx{.request_id = "req_1", .client_ip = "203.0.113.7"};
//   KH_ASSIGN_OR_RETURN(ctx.actor, svc->Authenticate(bearer));
//   KH_ASSIGN_OR_RETURN(ApiInfo api, svc->CreateApi(ctx, {.name = "helpdesk"}));
//   KH_ASSIGN_OR_RETURN(CreatedKey k, svc->CreateKey(ctx, {.api_id = api.id}));
//   KH_ASSIGN_OR_RETURN(VerifyResult r, svc->Verify(ctx, {.key = k.key.Reveal()}));
//
// Every operation takes the request's context: its `actor` is the authenticated root key whose
// permissions are checked (`api.<apiId>.create_key`, `rbac.*.create_role`, ...; listed in
// docs/permissions.md), its `client_ip` is what IP allowlists see.
//
// Errors, common to all operations: kInvalidArgument for a bad field (message names it);
// kPermissionDenied naming the missing permission; kNotFound for something that does not exist
// — and, so that least privilege leaks nothing, for a key or API of which the actor may see
// nothing at all (no read or action permission on its API): the same status, reason and message
// as for one that does not exist; kAlreadyExists for a uniqueness conflict; kUnavailable when the
// store cannot be written (nothing changed) or, for an operation that needs the disk called with
// ctx.may_block false, WouldBlock() (core/status.h: call again where blocking is allowed).
//
// Thread-safety: all methods are safe to call concurrently. Writers are serialized; readers
// (Verify, Get*, List*) run in parallel with each other and with a writer's store I/O.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/alert.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "service/types.h"

namespace keyhold::store {
class Store;
}

namespace keyhold::service {

class UsageRecorder;
class BruteForceGuard;

// How KeyService::Open loads.
struct KeyServiceOptions {
  // For tests: called before each batch of loaded keys is indexed, on the thread building the
  // index (the loading thread itself when there are too few keys to start one). A test makes it
  // throw, as running out of memory there would.
  std::function<void()> before_index_batch;
};

class KeyService {
 public:
  // Loads the live state from `store`. Both must outlive the service.
  // Errors: whatever the store's Load returns; kInternal if building the index of the keys
  // fails (an exception, such as running out of memory, on any thread of the load).
  static StatusOr<std::unique_ptr<KeyService>> Open(store::Store& store, Env& env,
                                                    const KeyServiceOptions& options = {});
  virtual ~KeyService() = default;

  // --- root keys -------------------------------------------------------------------------
  // Resolves a bearer token to its root key. Errors (all kUnauthenticated, distinct reasons):
  // "authentication/malformed" (not a keyhold key), "authentication/key_not_found",
  // "authentication/key_disabled" (disabled or expired).
  virtual StatusOr<Principal> Authenticate(std::string_view bearer) = 0;
  // Authenticate for a caller at `ctx`'s client address, under the brute-force guard
  // (SetBruteForceGuard) as verifications are: each failure from a forwarded end-user address
  // counts towards blocking it, as a failed verification does. Errors: as Authenticate. It does
  // not refuse a blocked address itself: ask AuthenticationBlockedForMs first.
  virtual StatusOr<Principal> AuthenticateFrom(const RequestContext& ctx,
                                               std::string_view bearer) = 0;
  // How long `ctx`'s client address is still blocked by the brute-force guard, in ms; 0 when it
  // is not (or is not guarded: no guard, or the caller's own address). Never waits.
  virtual int64_t AuthenticationBlockedForMs(const RequestContext& ctx) = 0;

  // Creates the first root key, holding `*`. Errors: kFailedPrecondition if any root key exists.
  virtual StatusOr<CreatedKey> Bootstrap(std::string_view name) = 0;
  virtual bool HasRootKeys() const = 0;

  // Creates a root key holding `permissions`, each of which the actor must itself cover
  // (kPermissionDenied naming the first it does not). Needs `rbac.*.create_root_key`.
  virtual StatusOr<CreatedKey> CreateRootKey(const RequestContext& ctx,
                                             std::optional<std::string> name,
                                             const std::vector<std::string>& permissions) = 0;
  // Needs `rbac.*.read_root_key`. Root keys in id (creation) order.
  virtual StatusOr<Page<KeyView>> ListRootKeys(const RequestContext& ctx, const std::string& cursor,
                                               int limit) = 0;
  // Needs `rbac.*.delete_root_key`, and the actor must cover every permission of the key.
  virtual Status DeleteRootKey(const RequestContext& ctx, const std::string& key_id) = 0;
  // Rolls root key `key_id` as RerollKey rolls an app key: a new root key with the same name and
  // permissions, the old one working `overlap_ms` longer. Needs `rbac.*.create_root_key`, and the
  // actor must cover every permission of the key (kPermissionDenied naming the first it does
  // not). Errors as RerollKey; kNotFound reason "data/key_not_found" for no such root key.
  virtual StatusOr<CreatedKey> RerollRootKey(const RequestContext& ctx, const std::string& key_id,
                                             int64_t overlap_ms) = 0;

  // --- APIs ------------------------------------------------------------------------------
  // Needs `api.*.create_api`. Errors: kInvalidArgument also for a rotation policy out of range
  // (max_key_age_ms kMinKeyAgeMs..kMaxKeyAgeMs; overdue_grace_ms 0..kMaxOverdueGraceMs and only
  // with max_key_age_ms).
  virtual StatusOr<ApiInfo> CreateApi(const RequestContext& ctx, CreateApiRequest req) = 0;
  // Needs `api.<id>.read_api`.
  virtual StatusOr<ApiInfo> GetApi(const RequestContext& ctx, const std::string& api_id) = 0;
  // Changes an API's name, IP allowlist, leak response or rotation policy (keyhold's; the same
  // rules as CreateApi, checked on the API as it would stand). Needs `api.<id>.update_api`.
  // A new policy applies to the API's keys from the next rotation sweep on.
  virtual StatusOr<ApiInfo> UpdateApi(const RequestContext& ctx, UpdateApiRequest req) = 0;
  // Every API the actor may read (`api.<id>.read_api`), in id order; none is not an error.
  virtual StatusOr<std::vector<ApiInfo>> ListApis(const RequestContext& ctx) = 0;
  // Soft-deletes the API and every key in it. Needs `api.<id>.delete_api`.
  virtual Status DeleteApi(const RequestContext& ctx, const std::string& api_id) = 0;
  // Keys of an API in id order, optionally of one identity, and with kInclude the keys revoked
  // with a reason too. Needs `api.<id>.read_key`.
  virtual StatusOr<Page<KeyView>> ListKeys(const RequestContext& ctx, const std::string& api_id,
                                           const std::string& cursor, int limit,
                                           const std::optional<std::string>& external_id,
                                           Revoked revoked = Revoked::kExclude) = 0;

  // --- keys ------------------------------------------------------------------------------
  // Creates a key and returns its text, once. Needs `api.<apiId>.create_key`; naming
  // permissions that do not exist yet also needs `rbac.*.create_permission`; an `external_id`
  // links an existing identity only with `identity.*.read_identity`, and creates a new one only
  // with `identity.*.create_identity`.
  virtual StatusOr<CreatedKey> CreateKey(const RequestContext& ctx, CreateKeyRequest req) = 0;
  // Creates `count` keys alike but for their text, in one store write (bulk loads, benchmarks).
  // Errors as CreateKey; kInvalidArgument if count is not 1..kMaxBulkKeys.
  virtual StatusOr<std::vector<CreatedKey>> CreateKeys(const RequestContext& ctx,
                                                       CreateKeyRequest req, int count) = 0;
  // Needs `api.<apiId>.read_key`; without it (or any action on that API), kNotFound as for a key
  // that does not exist. The identity's meta only with `identity.*.read_identity`. A key revoked
  // with a reason (RevokeKeys) is still shown, with its revocation; one deleted is kNotFound.
  // Reading a revoked key needs the disk: WouldBlock() if ctx.may_block is false.
  virtual StatusOr<KeyView> GetKey(const RequestContext& ctx, const std::string& key_id) = 0;
  // GetKey by the key's text. kNotFound also for a malformed key.
  virtual StatusOr<KeyView> Whoami(const RequestContext& ctx, std::string_view key) = 0;
  // Needs `api.<apiId>.update_key`; identity rules as CreateKey.
  virtual StatusOr<KeyView> UpdateKey(const RequestContext& ctx, UpdateKeyRequest req) = 0;
  // `value` nullopt with kSet makes the key unlimited. Needs `api.<apiId>.update_key`.
  // Errors: kInvalidArgument for a missing or negative value, or a change that would take the
  // balance out of [0, 1e15].
  virtual StatusOr<CreditsState> UpdateCredits(const RequestContext& ctx, const std::string& key_id,
                                               CreditsOperation op,
                                               std::optional<int64_t> value) = 0;
  // Replaces key `key_id` with a new key (returned, with its text, once) that inherits its
  // name, meta, identity, permissions, roles, rate limits, IP allowlist, expiry, enabled state
  // and credits with their refill rule. The old key keeps working for `overlap_ms` (0: it stops at
  // once), but never past its own expiry; until then both keys spend one balance, stored with the
  // new key. Both keys show the lineage (KeyView::rerolled_from/rerolled_to/rerolled_at). The new
  // key has the old one's prefix and its API's default byte length. Needs `api.<apiId>.reroll_key`.
  // Errors: kInvalidArgument if overlap_ms is not in [0, kMaxRerollOverlapMs]; kNotFound for a
  // key that does not exist or is deleted; kAlreadyExists (409) reason "data/key_expired" for a
  // key already expired, "data/key_already_rerolled" for a key already replaced (reroll its
  // replacement instead).
  virtual StatusOr<CreatedKey> RerollKey(const RequestContext& ctx, const std::string& key_id,
                                         int64_t overlap_ms) = 0;
  // Revokes, in one write, every live key matching all the filters of `req`, with its reason:
  // from the next request on they verify as NOT_FOUND, and GetKey / ListKeys(kInclude) show them
  // with the reason and time. One audit entry ("key.revoke") per key. Returns the ids revoked
  // (empty if none matched). Keys of APIs the actor cannot see at all are not matched; keys named
  // in key_ids alone must all exist and be visible (else kNotFound, nothing revoked). Needs
  // `api.<apiId>.delete_key` for each key's API (kPermissionDenied naming the first missing,
  // nothing revoked); an identity filter needs `identity.*.read_identity`.
  // Errors: kInvalidArgument for no filter at all (never "revoke everything"), a reason empty or
  // over 512 characters, an empty creation window, over 1000 key_ids, or a filter matching more
  // than kMaxRevokedPerCall keys; kNotFound for an unknown API or identity.
  virtual StatusOr<std::vector<std::string>> RevokeKeys(const RequestContext& ctx,
                                                        const RevokeKeysRequest& req) = 0;
  // Acts on a leaked key, given as its text: checks its checksum first (a string that is not a
  // keyhold key is never looked up), then revokes it with the reason "leaked" and `source` (where
  // it was found), or disables it if its API says so (CreateApiRequest::on_leak), records the
  // report in the audit log ("key.leak_reported") and raises a "key.leaked" alert. A root key
  // found leaked is revoked. Needs `api.<apiId>.delete_key` for an application key,
  // `rbac.*.delete_root_key` (and covering its permissions) for a root key; without it, as for a
  // string that is no key, or a key already revoked or disabled: kNone, the same answer, so a
  // report reveals nothing about keys the caller may not act on.
  // Errors: kInvalidArgument if source is over kMaxLeakSource bytes or holds the key itself;
  // kUnavailable if the store cannot be written (nothing changed).
  virtual StatusOr<LeakAction> ReportLeak(const RequestContext& ctx, std::string_view key,
                                          const std::string& source) = 0;
  // The application keys due for rotation within `within_ms` from now, or overdue, under their
  // API's policy (CreateApiRequest::max_key_age_ms), of API `api_id` ("" = every API the actor
  // may read keys of), earliest first. Keys already rerolled or expired are not due. Needs
  // `api.<apiId>.read_key` (keys of other APIs are left out). Errors: kInvalidArgument for a
  // negative or over-long window, or more than kMaxDueKeys keys due; kNotFound for an unknown API.
  virtual StatusOr<std::vector<DueKey>> ListDueKeys(const RequestContext& ctx,
                                                    const std::string& api_id,
                                                    int64_t within_ms) = 0;
  // Applies the rotation policies as of now: raises key.rotation_due (through the alert sink) once
  // per overdue key in this process's life, and gives each overdue key of an API with an overdue
  // grace the expiry due_at + grace (an audited write whose actor is "keyhold"). The server calls
  // it periodically. Errors: kUnavailable if the expiries cannot be stored (alerts may have been
  // raised; the next sweep tries the expiries again).
  virtual StatusOr<RotationSweep> SweepRotation() = 0;
  // Moves keys that another system issued into API `api_id`, in one write (all or nothing): each
  // verifies from then on by its own text, beside keyhold's keys. Keys whose hash keyhold already
  // holds (or given twice) are skipped and listed as duplicates. Needs `api.<apiId>.create_key`,
  // and the permissions CreateKey needs for permissions and externalIds.
  // Errors: kInvalidArgument naming the first bad key (keys[i]) for a hash that is not a SHA-256
  // in the scheme's encoding, an empty or over-long (512) plaintext, or a field CreateKey would
  // refuse; or for 0 or more than kMaxMigratedKeys keys; kNotFound for an unknown API or role.
  virtual StatusOr<MigrationResult> MigrateKeys(const RequestContext& ctx,
                                                const std::string& api_id, MigrationScheme scheme,
                                                std::vector<MigratedKey> keys) = 0;
  // Revokes a key from the next request on. Needs `api.<apiId>.delete_key`.
  virtual Status DeleteKey(const RequestContext& ctx, const std::string& key_id,
                           Deletion deletion) = 0;
  // Changes a key's direct permissions (missing slugs are created, with
  // `rbac.*.create_permission`) and returns them. Needs `api.<apiId>.update_key`.
  virtual StatusOr<std::vector<PermissionInfo>> ChangeKeyPermissions(
      const RequestContext& ctx, const std::string& key_id, SetMode mode,
      const std::vector<std::string>& perms) = 0;
  // Changes a key's roles (which must exist) and returns them. Needs `api.<apiId>.update_key`.
  virtual StatusOr<std::vector<RoleInfo>> ChangeKeyRoles(const RequestContext& ctx,
                                                         const std::string& key_id, SetMode mode,
                                                         const std::vector<std::string>& roles) = 0;

  // Checks a key in the spec's order: not found/deleted, disabled, expired, IP allowlists
  // (the API's and the key's own must both admit ctx.client_ip), permissions, rate limits, credits.
  // A denied request spends nothing. An actor without `api.<apiId>.verify_key` gets NOT_FOUND.
  // Every outcome is a VerifyResult; errors only for a bad query or cost (kInvalidArgument),
  // requested rate limits (not enforced yet), or a credit spend that cannot be stored
  // (kUnavailable; WouldBlock() when ctx.may_block is false).
  virtual StatusOr<VerifyResult> Verify(const RequestContext& ctx, const VerifyRequest& req) = 0;

  // --- identities ------------------------------------------------------------------------
  // Needs `identity.*.create_identity`. kAlreadyExists for a taken externalId.
  virtual StatusOr<IdentityInfo> CreateIdentity(const RequestContext& ctx,
                                                CreateIdentityRequest req) = 0;
  // Needs `identity.*.read_identity`. By id or externalId.
  virtual StatusOr<IdentityInfo> GetIdentity(const RequestContext& ctx,
                                             const std::string& id_or_external) = 0;
  virtual StatusOr<Page<IdentityInfo>> ListIdentities(const RequestContext& ctx,
                                                      const std::string& cursor, int limit) = 0;
  // Needs `identity.*.update_identity`. Absent optionals leave the field unchanged.
  virtual StatusOr<IdentityInfo> UpdateIdentity(
      const RequestContext& ctx, const std::string& id_or_external,
      std::optional<std::string> meta_json, std::optional<std::vector<Ratelimit>> ratelimits) = 0;
  // Needs `identity.*.delete_identity`. Keys of the identity keep working and lose it.
  virtual Status DeleteIdentity(const RequestContext& ctx, const std::string& id_or_external) = 0;

  // --- permissions and roles ------------------------------------------------------------
  // Need `rbac.*.<create|read|delete>_<permission|role>`. By id, slug or name.
  virtual StatusOr<PermissionInfo> CreatePermission(const RequestContext& ctx,
                                                    CreatePermissionRequest req) = 0;
  virtual StatusOr<PermissionInfo> GetPermission(const RequestContext& ctx,
                                                 const std::string& id_or_slug) = 0;
  virtual StatusOr<Page<PermissionInfo>> ListPermissions(const RequestContext& ctx,
                                                         const std::string& cursor, int limit) = 0;
  // Removes the permission from every key and role holding it.
  virtual Status DeletePermission(const RequestContext& ctx, const std::string& id_or_slug) = 0;
  virtual StatusOr<RoleInfo> CreateRole(const RequestContext& ctx, CreateRoleRequest req) = 0;
  virtual StatusOr<RoleInfo> GetRole(const RequestContext& ctx, const std::string& id_or_name) = 0;
  virtual StatusOr<Page<RoleInfo>> ListRoles(const RequestContext& ctx, const std::string& cursor,
                                             int limit) = 0;
  // Removes the role from every key holding it.
  virtual Status DeleteRole(const RequestContext& ctx, const std::string& id_or_name) = 0;

  // Writes the last-used times that changed since the previous flush. Usage metadata, not an
  // acknowledged write: the server calls this every few seconds and at shutdown.
  // Errors: whatever the store returns (the times stay pending for the next flush).
  virtual Status FlushLastUsed() = 0;

  // Gives back to the stored balance the credits reserved for keys (see Verify) that have not
  // spent for `idle_ms`; 0: every key's, as at a graceful stop. Not a change of any balance a
  // key shows, so not audited. Errors: the first the store returns (the others are still tried;
  // what could not be given back stays reserved).
  virtual Status ReleaseReservedCredits(int64_t idle_ms) = 0;

  // --- standalone rate limits (ratelimit.limit, ratelimit.multiLimit) ----------------------
  // Decides `checks` together, all or nothing (core/ratelimit.h's GCRA; states in memory, per
  // node): the tokens are taken only if every check passes; `*all_passed` tells. Needs
  // `ratelimit.<namespace>.limit` for each namespace (kPermissionDenied naming the first
  // missing). A check whose identifier has an override (below) is decided by the override's
  // limit and duration instead of its own, and its result names the override. Errors:
  // kInvalidArgument for no checks or more than 100, an empty or over-long (255) namespace or
  // identifier, limit outside 1..1e9, duration outside 1 s..30 days, cost outside 0..1e9.
  virtual StatusOr<std::vector<LimitResult>> Limit(const RequestContext& ctx,
                                                   const std::vector<LimitCheck>& checks,
                                                   bool* all_passed) = 0;

  // --- rate-limit overrides (ratelimit.setOverride / getOverride / listOverrides /
  // deleteOverride) ---------------------------------------------------------------------------
  // An override replaces, for its identifier or every identifier its pattern matches, the limit
  // and duration that Limit() is given for the namespace (precedence: core/ratelimit_override.h).
  // Overrides are held in memory, so Limit() never reads the store for them; a change is stored
  // and audited ("ratelimit.set_override", "ratelimit.delete_override") first, then applied to
  // memory, so this node's next Limit() sees it. The permissions are `ratelimit.<namespace>.`
  // (or `ratelimit.*.`) `set_override`, `read_override` and `delete_override`.

  // Creates the override of (namespace, identifier), or changes the one there (which keeps its
  // id). Errors: kInvalidArgument for a namespace or identifier empty, over 255 characters or
  // holding control characters, a limit outside 0..1e9 or a duration outside 1 s..30 days;
  // kPermissionDenied; kUnavailable if it cannot be stored with its audit entry (nothing set).
  virtual StatusOr<RatelimitOverrideInfo> SetRatelimitOverride(const RequestContext& ctx,
                                                               const SetOverrideRequest& req) = 0;
  // The override set for exactly `identifier` (a pattern is named as it was set; nothing is
  // matched). Errors: kNotFound, reason "data/ratelimit_override_not_found"; kPermissionDenied.
  virtual StatusOr<RatelimitOverrideInfo> GetRatelimitOverride(const RequestContext& ctx,
                                                               const std::string& namespace_name,
                                                               const std::string& identifier) = 0;
  // The overrides of a namespace in id (creation) order, `limit` (1..100) a page after `cursor`.
  // Errors: kPermissionDenied.
  virtual StatusOr<Page<RatelimitOverrideInfo>> ListRatelimitOverrides(
      const RequestContext& ctx, const std::string& namespace_name, const std::string& cursor,
      int limit) = 0;
  // Errors: kNotFound as GetRatelimitOverride; kPermissionDenied; kUnavailable (nothing removed).
  virtual Status DeleteRatelimitOverride(const RequestContext& ctx,
                                         const std::string& namespace_name,
                                         const std::string& identifier) = 0;

  // Hands every verification from now on to `usage` (which must outlive the service), or to
  // nothing if null. REQUIRES: called before concurrent Verify calls start.
  virtual void SetUsageRecorder(UsageRecorder* usage) = 0;
  // Guards verifications of forwarded end-user addresses with `guard` (which must outlive the
  // service), or with nothing if null. `on_block` (may be empty) hears of each address blocked.
  // REQUIRES: called before concurrent Verify calls start.
  using BlockedAddressFn =
      std::function<void(const std::string& address, int64_t failures, int64_t until_ms)>;
  virtual void SetBruteForceGuard(BruteForceGuard* guard, BlockedAddressFn on_block) = 0;

  // Raises an audit.sink_failing alert through `sink` (which must outlive the service) whenever a
  // change is refused because its audit entry could not be written; nothing if null. Best
  // effort: if the sink fails too (the store may be what is failing), that is logged.
  // REQUIRES: called before concurrent calls start.
  virtual void SetAlertSink(audit::AlertSink* sink) = 0;

  // Calls `on_low` (on the verify path: it must not wait) when a spend takes a key's remaining
  // credits from `threshold` or more to below it; `threshold` 0 or an empty function: never.
  // REQUIRES: called before concurrent Verify calls start.
  using CreditsLowFn =
      std::function<void(const KeyView& key, int64_t remaining, int64_t threshold)>;
  virtual void SetCreditsLowAlert(int64_t threshold, CreditsLowFn on_low) = 0;

  // Number of live keys in memory (app and root).
  virtual size_t KeyCount() const = 0;

  // Verifications by outcome and audit entries committed since the service was opened, and the
  // keys in memory. Counts are read one by one (relaxed): not one snapshot of all of them.
  virtual ServiceStats Stats() const = 0;
};

}  // namespace keyhold::service
