// The records keyhold persists. Plain data; invariants are kept by the service layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/credits.h"
#include "crypto/crypto.h"

namespace keyhold::store {

struct RatelimitConfig {
  std::string id;
  std::string name;
  int64_t limit = 0;
  int64_t duration_ms = 0;
  bool auto_apply = false;
};

// What keys.reportLeak does to a leaked key of an API. Stored as these numbers: never renumber.
enum class LeakResponse : int32_t { kRevoke = 0, kDisable = 1 };

struct ApiRecord {
  std::string id;
  std::string name;
  std::string default_prefix;  // used when createKey gives none
  int32_t default_byte_length = 32;
  std::vector<std::string> ip_allowlist;  // CIDRs; empty = any address
  int64_t created_at = 0;
  std::optional<int64_t> deleted_at;

  // --- rotation and revocation ---
  LeakResponse on_leak = LeakResponse::kRevoke;
  std::optional<int64_t> max_key_age_ms;    // rotation policy: keys older are due; none if unset
  std::optional<int64_t> overdue_grace_ms;  // overdue keys expire this long after they fell due
};

struct IdentityRecord {
  std::string id;
  std::string external_id;
  std::string meta_json;  // JSON object text, empty if none
  std::vector<RatelimitConfig> ratelimits;
  int64_t created_at = 0;
};

struct PermissionRecord {
  std::string id;
  std::string name;
  std::string slug;
  std::string description;
  int64_t created_at = 0;
};

struct RoleRecord {
  std::string id;
  std::string name;
  std::string description;
  std::vector<std::string> permission_ids;
  int64_t created_at = 0;
};

enum class KeyKind : int32_t { kApp = 0, kRoot = 1 };

struct KeyRecord {
  std::string id;
  KeyKind kind = KeyKind::kApp;
  std::string api_id;
  crypto::Sha256Digest hash{};  // SHA-256 of the whole key text; the key itself is never stored
  std::string start;
  std::optional<std::string> name;
  std::string meta_json;    // JSON object text, empty if none
  std::string identity_id;  // empty if none
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t last_used_at = 0;
  std::optional<int64_t> expires;
  bool enabled = true;
  CreditsState credits;
  std::vector<RatelimitConfig> ratelimits;
  std::vector<std::string> permission_ids;    // app keys: ids of PermissionRecords
  std::vector<std::string> role_ids;          // app keys: ids of RoleRecords
  std::vector<std::string> root_permissions;  // root keys: permission patterns
  std::optional<int64_t> deleted_at;

  // --- rotation and revocation ---
  // A reroll links the old key and its replacement both ways. During the overlap the old key
  // spends its replacement's balance: its own credit columns are empty and `credits_key_id`
  // names the key whose stored balance it spends ("" = its own).
  std::string rerolled_from;           // the key this one replaced ("" if none)
  std::string rerolled_to;             // the key that replaced this one ("" if none)
  std::optional<int64_t> rerolled_at;  // when rerolled_to was issued
  std::string credits_key_id;
  // A revoked key is a soft-deleted one (deleted_at is the time) that keeps a reason, and stays
  // readable for the record. A key merely deleted has none.
  std::optional<std::string> revoked_reason;
  // The root key that created it ("" if unknown). Written when the key is created, never changed.
  std::string created_by;
  // Moved in from another system (keys.migrateKeys): its text need not be in keyhold's format,
  // so it carries no checksum to check before the lookup.
  bool imported = false;
  // CIDRs (IPv4 or IPv6) the key may be used from, beside its API's; empty = any address.
  std::vector<std::string> ip_allowlist;
};

}  // namespace keyhold::store
