// The types KeyService takes and hands out: requests, and results that are the service's own.
//
// Nothing here is a store record or an in-memory index entry. Results are snapshots: a KeyView
// shares the service's immutable entry for the key (no copy on the verify path) but shows it only
// through accessors, so callers cannot depend on how the service keeps its keys.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/credits.h"
#include "core/ratelimit_override.h"
#include "crypto/secret.h"

namespace keyhold::service {

// Field limits enforced by the service (the wire layer reports them with the field's location).
inline constexpr size_t kMaxNameLength = 256;
inline constexpr size_t kMaxExternalIdLength = 256;
inline constexpr size_t kMaxMetaBytes = 64 * 1024;
inline constexpr size_t kMaxListItems = 1000;
inline constexpr int kMaxPageSize = 100;
inline constexpr int kMaxBulkKeys = 1'000'000;
inline constexpr int64_t kMaxRatelimitDurationMs = 30LL * 24 * 3600 * 1000;
inline constexpr int64_t kMaxRatelimitLimit = 1'000'000'000;
inline constexpr size_t kMaxIpAllowlist = 100;  // CIDRs per API or key
// The longest a rerolled key may keep working beside its replacement: a year.
inline constexpr int64_t kMaxRerollOverlapMs = 366LL * 24 * 3600 * 1000;

struct Ratelimit {
  std::string id;  // assigned by the service when empty
  std::string name;
  int64_t limit = 0;
  int64_t duration_ms = 0;
  bool auto_apply = false;
};

// What keys.reportLeak does to a leaked key of an API.
enum class OnLeak { kRevoke, kDisable };
// What one leak report did: nothing (not a key, not one the caller may act on, or already
// revoked or disabled: the three look alike), or revoked or disabled the key.
enum class LeakAction { kNone, kRevoked, kDisabled };

inline constexpr int64_t kMinKeyAgeMs = 3'600'000;                     // an hour
inline constexpr int64_t kMaxKeyAgeMs = 10LL * 366 * 24 * 3'600'000;   // ten years
inline constexpr int64_t kMaxOverdueGraceMs = 366LL * 24 * 3'600'000;  // a year
inline constexpr size_t kMaxLeakSource = 1024;

struct ApiInfo {
  std::string id;
  std::string name;
  std::string default_prefix;
  int32_t default_byte_length = 32;
  std::vector<std::string> ip_allowlist;
  int64_t created_at = 0;
  OnLeak on_leak = OnLeak::kRevoke;
  std::optional<int64_t> max_key_age_ms;    // rotation policy: keys older are due
  std::optional<int64_t> overdue_grace_ms;  // overdue keys expire this long after falling due
};

struct IdentityInfo {
  std::string id;
  std::string external_id;
  // JSON object text ("" if none); nullopt when the caller may not read identities, whose meta
  // is then withheld (identities are shared by every API).
  std::optional<std::string> meta_json;
  std::vector<Ratelimit> ratelimits;
  int64_t created_at = 0;
};

struct PermissionInfo {
  std::string id;
  std::string name;
  std::string slug;
  std::string description;
  int64_t created_at = 0;
};

struct RoleInfo {
  std::string id;
  std::string name;
  std::string description;
  std::vector<PermissionInfo> permissions;
  int64_t created_at = 0;
};

struct KeyEntry;  // the service's in-memory form of a key; not part of the interface

// A key as returned to callers: an immutable snapshot, cheap to copy.
class KeyView {
 public:
  std::string_view id() const;
  std::string_view api_id() const;
  std::string_view start() const;  // prefix and the first characters of the body
  bool is_root() const;
  const std::optional<std::string>& name() const;
  const std::string& meta_json() const;  // JSON object text, "" if none
  int64_t created_at() const;
  int64_t updated_at() const;  // 0 if never updated
  std::optional<int64_t> expires() const;
  bool enabled() const;
  // App keys: the permission slugs given directly. Root keys: the permission patterns held.
  const std::vector<std::string>& permissions() const;
  // App keys: direct permissions and those of its roles, sorted. Root keys: as permissions().
  const std::vector<std::string>& effective_permissions() const;
  const std::vector<std::string>& roles() const;  // role names
  std::vector<Ratelimit> ratelimits() const;
  // The key's own IP allowlist (CIDRs), checked beside its API's; empty = any address.
  const std::vector<std::string>& ip_allowlist() const;

  // Lineage: the key this one replaced by a reroll, the key that replaced it and when ("" and
  // nullopt if none). A replaced key stops at expires().
  const std::string& rerolled_from() const;
  const std::string& rerolled_to() const;
  std::optional<int64_t> rerolled_at() const;
  // Revocation (keys revoked with a reason stay readable): when, and why; nullopt and "" if the
  // key is not revoked. A revoked key shows enabled() false.
  std::optional<int64_t> revoked_at() const;
  const std::string& revocation_reason() const;

  const CreditsState& credits() const { return credits_; }  // as of the snapshot
  int64_t last_used_at() const { return last_used_at_; }
  const std::optional<IdentityInfo>& identity() const { return identity_; }

 private:
  friend class KeyServiceImpl;
  std::shared_ptr<const KeyEntry> entry_;
  CreditsState credits_;
  int64_t last_used_at_ = 0;
  std::optional<IdentityInfo> identity_;
};

struct CreateApiRequest {
  std::string name;
  std::string default_prefix;
  int32_t default_byte_length = 32;
  std::vector<std::string> ip_allowlist;
  OnLeak on_leak = OnLeak::kRevoke;
  std::optional<int64_t> max_key_age_ms;    // kMinKeyAgeMs..kMaxKeyAgeMs
  std::optional<int64_t> overdue_grace_ms;  // 0..kMaxOverdueGraceMs; needs max_key_age_ms
};

// What apis.updateApi changes: each field given replaces the API's; absent fields stay.
struct UpdateApiRequest {
  std::string api_id;
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> ip_allowlist;  // empty: any address
  std::optional<OnLeak> on_leak;
  std::optional<std::optional<int64_t>> max_key_age_ms;    // inner nullopt: no rotation policy
  std::optional<std::optional<int64_t>> overdue_grace_ms;  // inner nullopt: overdue keys stay
};

struct CreateKeyRequest {
  std::string api_id;
  std::optional<std::string> prefix;
  std::optional<std::string> name;
  std::optional<int32_t> byte_length;
  std::optional<std::string> external_id;
  std::string meta_json;                 // JSON object text or empty
  std::vector<std::string> roles;        // role names or ids
  std::vector<std::string> permissions;  // permission slugs; missing ones are created
  std::optional<int64_t> expires;        // ms since epoch
  std::optional<CreditsState> credits;
  std::vector<Ratelimit> ratelimits;
  bool enabled = true;
  bool recoverable = false;
  std::vector<std::string> ip_allowlist;  // CIDRs; empty = any address (the API's still applies)
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
  std::optional<std::vector<Ratelimit>> ratelimits;
  std::optional<bool> enabled;
  std::optional<std::vector<std::string>> roles;
  std::optional<std::vector<std::string>> permissions;
  std::optional<std::vector<std::string>> ip_allowlist;  // empty clears
};

enum class CreditsOperation { kSet, kIncrement, kDecrement };

// How a key's permission or role list changes.
enum class SetMode { kAdd, kSet, kRemove };

// Whether a key is deleted for good or kept (soft-deleted) for the record.
enum class Deletion { kSoft, kPermanent };

// Whether a listing shows keys revoked with a reason beside the live ones.
enum class Revoked { kExclude, kInclude };

inline constexpr size_t kMaxRevocationReason = 512;
inline constexpr int kMaxRevokedPerCall = 10'000;

// Which keys RevokeKeys revokes: those matching every filter given. At least one is required.
struct RevokeKeysRequest {
  std::vector<std::string> key_ids;  // at most kMaxListItems
  std::string api_id;
  std::string identity;  // identity id or externalId
  std::optional<int64_t> created_since_ms;
  std::optional<int64_t> created_until_ms;
  std::string created_by;  // the root key that created them
  std::string reason;      // 1..kMaxRevocationReason characters, kept with each key
};

struct CreateIdentityRequest {
  std::string external_id;
  std::string meta_json;  // JSON object text or empty
  std::vector<Ratelimit> ratelimits;
};

struct CreatePermissionRequest {
  std::string name;
  std::string slug;
  std::string description;
};

struct CreateRoleRequest {
  std::string name;
  std::string description;
  std::vector<std::string> permissions;  // slugs or ids of existing permissions
};

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
inline constexpr size_t kVerifyCodeCount = 8;  // the codes above, kValid = 0

// Counts a service keeps for metrics, read without stopping it.
struct ServiceStats {
  std::array<uint64_t, kVerifyCodeCount> verifications{};  // by VerifyCode
  uint64_t audit_entries_written = 0;  // entries committed with their change since start
  size_t keys = 0;                     // live keys in memory (app and root)
  uint64_t ratelimit_passed = 0;       // ratelimit.limit / multiLimit calls admitted
  uint64_t ratelimit_refused = 0;      // ... and refused
  size_t ratelimit_states = 0;     // limits with a bucket not full (keys, identities, namespaces)
  uint64_t addresses_blocked = 0;  // brute-force blocks since start
};

// A rate limit a verification asks for by name: one of the key's (or else its identity's), with
// the limit and duration optionally overridden, or a limit given here whole (limit and duration).
struct RatelimitRequest {
  std::string name;
  int64_t cost = 1;  // tokens this request takes; 0 reads the limit without counting
  std::optional<int64_t> limit;
  std::optional<int64_t> duration_ms;
};

struct VerifyRequest {
  std::string_view key;
  std::optional<std::string> permissions_query;
  int64_t cost = 1;  // credits
  std::vector<std::string> tags;
  std::vector<RatelimitRequest> ratelimits;
};

// A rate limit a verification was checked against, as it stands after the verification.
struct RatelimitOutcome {
  std::string id;  // the configured limit's; empty for one given whole in the request
  std::string name;
  int64_t limit = 0;
  int64_t duration_ms = 0;
  int64_t reset_ms = 0;   // until the limit is wholly available again
  int64_t remaining = 0;  // requests of cost 1 it still admits now
  bool exceeded = false;
  bool auto_apply = false;
};

struct VerifyResult {
  VerifyCode code = VerifyCode::kNotFound;
  std::optional<KeyView> key;                // set for every code except kNotFound
  std::vector<RatelimitOutcome> ratelimits;  // the limits checked, when rate limits were reached
  int64_t retry_after_ms = 0;  // kRateLimited: until the request would pass (-1: never)
  bool valid() const { return code == VerifyCode::kValid; }
};

// One check of ratelimit.limit / multiLimit: `identifier` within `namespace_name`.
struct LimitCheck {
  std::string namespace_name;
  std::string identifier;
  int64_t limit = 0;
  int64_t duration_ms = 0;
  int64_t cost = 1;  // 0 reads the limit without counting
};

struct LimitResult {
  std::string namespace_name;
  std::string identifier;
  int64_t limit = 0;
  int64_t remaining = 0;
  int64_t reset_at_ms = 0;  // when the limit is wholly available again, ms since the epoch
  bool passed = false;      // this limit admits the request
  std::string override_id;  // the override whose limit applied ("" if the request's did)
};

// A rate-limit override as set (ratelimit.setOverride): core/ratelimit_override.h.
using RatelimitOverrideInfo = RatelimitOverride;

// What ratelimit.setOverride sets: the limit of `identifier` (or pattern) in `namespace_name`.
struct SetOverrideRequest {
  std::string namespace_name;
  std::string identifier;
  int64_t limit = 0;  // 0..kMaxRatelimitLimit; 0 admits nothing
  int64_t duration_ms = 0;
};

// How another system stored the keys moved in with MigrateKeys: the SHA-256 of the key text, as
// hex or as base64, or the key text itself (hashed on arrival, never stored).
enum class MigrationScheme { kSha256Hex, kSha256Base64, kPlaintext };
inline constexpr size_t kMaxMigratedKeys = 1000;

// One key moved in from another system: as CreateKeyRequest, with `hash` instead of a new key.
struct MigratedKey {
  std::string hash;  // per MigrationScheme; for kPlaintext the key text
  std::optional<std::string> name;
  std::optional<std::string> external_id;
  std::string meta_json;
  std::vector<std::string> roles;
  std::vector<std::string> permissions;
  std::optional<int64_t> expires;
  bool enabled = true;
  std::optional<CreditsState> credits;
  std::vector<Ratelimit> ratelimits;
};

struct MigrationResult {
  // (hash, new key id) per key moved in; the hash as given, or for kPlaintext the SHA-256 of the
  // key as hex (the text itself is never answered).
  std::vector<std::pair<std::string, std::string>> migrated;
  std::vector<std::string> duplicates;  // hashes keyhold already held (or given twice): skipped
};

// A key due for rotation under its API's policy (ListDueKeys).
struct DueKey {
  KeyView key;
  int64_t due_at = 0;    // created_at + the API's maximum key age
  bool overdue = false;  // due_at has passed
};
inline constexpr int kMaxDueKeys = 10'000;

// What one rotation sweep did.
struct RotationSweep {
  int alerts = 0;   // key.rotation_due alerts raised
  int expired = 0;  // overdue keys given an expiry (the API's overdue grace)
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string cursor;  // empty when there is no next page
  bool has_more = false;
};

}  // namespace keyhold::service
