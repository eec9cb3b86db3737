// KeyService: revoking keys in bulk, with a reason that stays readable afterwards.
//
// A revoked key is a soft-deleted key that keeps its reason: it leaves the in-memory index (so the
// next verification finds nothing), and GetKey and ListKeys read it back from the store.
#include <algorithm>
#include <set>

#include "service/internal.h"

namespace keyhold::service {

using store::KeyKind;
using store::WriteBatch;

namespace {

bool HasStoreFilter(const RevokeKeysRequest& req) {
  return !req.api_id.empty() || !req.identity.empty() || req.created_since_ms ||
         req.created_until_ms || !req.created_by.empty();
}

Status ValidateRevocation(const RevokeKeysRequest& req) {
  if (req.key_ids.empty() && !HasStoreFilter(req)) {
    return InvalidArgument(
        "name the keys to revoke: give keyIds, apiId, identity, createdAfter, createdBefore or "
        "createdBy (keyhold never revokes every key for want of a filter)");
  }
  if (req.reason.empty() || req.reason.size() > kMaxRevocationReason) {
    return InvalidArgument("reason must be 1 to 512 characters");
  }
  if (req.key_ids.size() > kMaxListItems) return InvalidArgument("at most 1000 keyIds");
  if (req.created_since_ms && req.created_until_ms &&
      *req.created_since_ms >= *req.created_until_ms) {
    return InvalidArgument("createdAfter must be before createdBefore");
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<std::string>> KeyServiceImpl::RevocationCandidates(
    const RevokeKeysRequest& req, const std::string& identity_id) {
  std::vector<std::string> named = req.key_ids;
  std::sort(named.begin(), named.end());
  named.erase(std::unique(named.begin(), named.end()), named.end());
  if (!HasStoreFilter(req)) return named;
  store::KeyQuery q{.api_id = req.api_id,
                    .identity_id = identity_id,
                    .created_by = req.created_by,
                    .created_since_ms = req.created_since_ms,
                    .created_until_ms = req.created_until_ms,
                    .limit = kMaxRevokedPerCall + 1};
  KH_ASSIGN_OR_RETURN(std::vector<std::string> ids, store_.QueryKeyIds(q));
  if (ids.size() > static_cast<size_t>(kMaxRevokedPerCall)) {
    return InvalidArgument(
        "the filter matches more than 10000 keys: narrow it (a creation window) "
        "and revoke in several calls");
  }
  if (!named.empty()) {
    std::erase_if(ids, [&](const std::string& id) {
      return !std::binary_search(named.begin(), named.end(), id);
    });
  }
  return ids;
}

StatusOr<std::vector<std::string>> KeyServiceImpl::RevokeKeys(const RequestContext& ctx,
                                                              const RevokeKeysRequest& req) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(ValidateRevocation(req));
  if (!req.api_id.empty()) KH_RETURN_IF_ERROR(Require(p, "api." + req.api_id + ".delete_key"));
  std::string identity_id;
  {
    std::shared_lock lock(mu_);
    if (!req.api_id.empty() && !FindApi(req.api_id)) {
      return NotFound("API '" + req.api_id + "' was not found", "data/api_not_found");
    }
    if (!req.identity.empty()) {
      KH_RETURN_IF_ERROR(Require(p, "identity.*.read_identity"));
      const IdentityRecord* ident = FindIdentity(req.identity);
      if (!ident) {
        return NotFound("identity '" + req.identity + "' was not found", "data/identity_not_found");
      }
      identity_id = ident->id;
    }
  }
  KH_ASSIGN_OR_RETURN(std::vector<std::string> ids, RevocationCandidates(req, identity_id));
  // Keys named alone are meant one by one: each must be there. Keys a filter matched are skipped
  // when the actor may not see them at all, so a filter reveals nothing of other APIs.
  const bool strict = !HasStoreFilter(req);
  std::lock_guard w(write_mu_);
  const int64_t now = env_.NowMillis();
  WriteBatch batch;
  std::vector<std::shared_ptr<const KeyEntry>> doomed;
  for (const std::string& id : ids) {
    auto e = FindKey(id, KeyKind::kApp);
    if (!e) {
      if (strict) return KeyNotFound(id);
      continue;  // revoked or deleted since the store was read
    }
    Status allowed = RequireForKey(p, *e, "delete_key", KeyNotFound(id));
    if (!allowed.ok() && (strict || allowed.code() != StatusCode::kNotFound)) return allowed;
    if (!allowed.ok()) continue;
    KeyRecord rec = e->ToRecord();
    rec.deleted_at = now;
    rec.revoked_reason = req.reason;
    batch.put_keys.push_back(std::move(rec));
    doomed.push_back(std::move(e));
  }
  std::vector<std::string> revoked;
  if (batch.put_keys.empty()) return revoked;
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch));
  std::unique_lock lock(mu_);
  for (const auto& e : doomed) {
    revoked.push_back(e->id.str());
    UnindexKeyLocked(*e);
  }
  return revoked;
}

StatusOr<KeyView> KeyServiceImpl::RevokedKeyView(const Principal& p, const std::string& key_id) {
  StatusOr<KeyRecord> rec = store_.GetKeyRecord(key_id);
  if (!rec.ok()) {
    return rec.status().code() == StatusCode::kNotFound ? KeyNotFound(key_id) : rec.status();
  }
  if (rec->kind != KeyKind::kApp || !rec->deleted_at || !rec->revoked_reason) {
    return KeyNotFound(key_id);
  }
  rec->enabled = false;
  rec->credits_key_id.clear();
  // Exclusive: building an entry may intern its API id.
  std::unique_lock lock(mu_);
  std::shared_ptr<const KeyEntry> e = MakeEntry(*rec, nullptr, nullptr);
  KH_RETURN_IF_ERROR(RequireForKey(p, *e, "read_key", KeyNotFound(key_id)));
  return ViewOf(e, p);
}

}  // namespace keyhold::service
