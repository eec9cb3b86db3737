// KeyService: moving in keys another system issued (keys.migrateKeys), so their holders keep them.
//
// Only the SHA-256 of a key is stored, as for keyhold's own keys; a key sent as plaintext is hashed
// here and its text dropped with the request.
#include <algorithm>
#include <set>

#include "core/ids.h"
#include "core/key_format.h"
#include "service/internal.h"

namespace keyhold::service {

using store::KeyKind;
using store::WriteBatch;

namespace {

constexpr size_t kMaxPlaintextKey = 512;

// The digest of key `k` under `scheme`, and the hash answered for it.
Status Digest(MigrationScheme scheme, const MigratedKey& k, const std::string& where,
              crypto::Sha256Digest* digest, std::string* answered) {
  switch (scheme) {
    case MigrationScheme::kPlaintext: {
      if (k.hash.empty() || k.hash.size() > kMaxPlaintextKey) {
        return InvalidArgument(where + ".hash must be the key, 1 to 512 characters");
      }
      *digest = crypto::Sha256(k.hash);
      *answered = crypto::HexEncode(*digest);
      return OkStatus();
    }
    case MigrationScheme::kSha256Hex: {
      std::string raw;
      if (k.hash.size() != 64 || !crypto::HexDecode(k.hash, &raw)) {
        return InvalidArgument(where + ".hash must be a SHA-256 as 64 hex digits");
      }
      std::copy(raw.begin(), raw.end(), digest->begin());
      break;
    }
    case MigrationScheme::kSha256Base64: {
      std::vector<uint8_t> raw;
      if (!crypto::Base64Decode(k.hash, &raw) || raw.size() != digest->size()) {
        return InvalidArgument(where + ".hash must be a SHA-256 in padded base64 (44 characters)");
      }
      std::copy(raw.begin(), raw.end(), digest->begin());
      break;
    }
  }
  *answered = k.hash;
  return OkStatus();
}

}  // namespace

StatusOr<MigrationResult> KeyServiceImpl::MigrateKeys(const RequestContext& ctx,
                                                      const std::string& api_id,
                                                      MigrationScheme scheme,
                                                      std::vector<MigratedKey> keys) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api." + api_id + ".create_key"));
  if (keys.empty() || keys.size() > kMaxMigratedKeys) {
    return InvalidArgument("keys must hold 1 to 1000 keys");
  }
  const int64_t now = env_.NowMillis();
  std::lock_guard w(write_mu_);
  if (!FindApi(api_id)) return NotFound("API '" + api_id + "' was not found", "data/api_not_found");
  WriteBatch batch;
  std::vector<PermissionRecord> new_perms;
  std::vector<IdentityRecord> new_identities;
  MigrationResult result;
  std::set<crypto::Sha256Digest> seen;
  for (size_t i = 0; i < keys.size(); ++i) {
    MigratedKey& k = keys[i];
    const std::string where = "keys[" + std::to_string(i) + "]";
    KeyRecord rec;
    std::string answered;
    KH_RETURN_IF_ERROR(Digest(scheme, k, where, &rec.hash, &answered));
    bool known = false;
    {
      std::shared_lock lock(mu_);
      known = keys_.FindByHash(rec.hash) != nullptr;
    }
    if (known || !seen.insert(rec.hash).second) {
      result.duplicates.push_back(std::move(answered));
      continue;
    }
    KH_RETURN_IF_ERROR(ValidateCommon(k.name, k.meta_json));
    if (k.credits) KH_RETURN_IF_ERROR(ValidateCredits(k.credits->remaining, k.credits->refill));
    rec.ratelimits = ToRecords(k.ratelimits);
    KH_RETURN_IF_ERROR(ValidateRatelimits(rec.ratelimits, env_));
    if (k.expires && *k.expires <= now) {
      return InvalidArgument(where + ".expires must be in the future");
    }
    KH_ASSIGN_OR_RETURN(rec.permission_ids, ResolvePermissions(p, k.permissions, batch, new_perms));
    KH_ASSIGN_OR_RETURN(rec.role_ids, ResolveRoles(k.roles));
    if (k.external_id) {
      KH_ASSIGN_OR_RETURN(rec.identity_id,
                          ResolveIdentity(p, *k.external_id, batch, new_identities));
    }
    rec.id = NewId(env_, "key");
    rec.kind = KeyKind::kApp;
    rec.api_id = api_id;
    // A plaintext key shows its beginning as keyhold's keys do; a hash shows nothing of the key.
    rec.start = scheme == MigrationScheme::kPlaintext ? KeyStart(k.hash) : "";
    rec.name = std::move(k.name);
    rec.meta_json = std::move(k.meta_json);
    rec.created_at = rec.updated_at = now;
    rec.created_by = p.key_id;
    rec.expires = k.expires;
    rec.enabled = k.enabled;
    if (k.credits) {
      rec.credits = *k.credits;
      rec.credits.last_refill_at = now;
    }
    rec.imported = true;
    result.migrated.emplace_back(std::move(answered), rec.id);
    batch.put_keys.push_back(std::move(rec));
  }
  if (batch.put_keys.empty()) return result;
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch));
  std::unique_lock lock(mu_);
  IndexCreatedLocked(new_perms, new_identities);
  for (const KeyRecord& k : batch.put_keys) IndexKeyLocked(MakeEntry(k, nullptr, nullptr));
  return result;
}

}  // namespace keyhold::service
