// KeyService: identities, permissions and roles.
#include <algorithm>

#include "core/ids.h"
#include "core/permissions.h"
#include "service/internal.h"
#include "service/key_service.h"

namespace keyhold::service {

using store::WriteBatch;

RoleInfo KeyServiceImpl::RoleInfoOf(const RoleRecord& r) const {
  RoleInfo v{r.id, r.name, r.description, {}, r.created_at};
  for (const std::string& pid : r.permission_ids) {
    if (const PermissionRecord* p = FindPermission(pid)) v.permissions.push_back(FromRecord(*p));
  }
  return v;
}

// --- identities ---------------------------------------------------------------------------

StatusOr<IdentityInfo> KeyServiceImpl::CreateIdentity(const RequestContext& ctx,
                                                      CreateIdentityRequest in) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.create_identity"));
  IdentityRecord req;
  req.external_id = std::move(in.external_id);
  req.meta_json = std::move(in.meta_json);
  if (req.external_id.empty() || req.external_id.size() > kMaxExternalIdLength) {
    return InvalidArgument("externalId must be 1 to 256 characters");
  }
  if (req.meta_json.size() > kMaxMetaBytes) return InvalidArgument("meta must be at most 64 KiB");
  req.ratelimits = ToRecords(in.ratelimits);
  for (auto& r : req.ratelimits) {
    if (r.limit < 1 || r.duration_ms < 1000 || r.duration_ms > kMaxRatelimitDurationMs) {
      return InvalidArgument("ratelimits need limit >= 1 and duration between 1000 and 2592000000");
    }
    if (r.id.empty()) r.id = NewId(env_, "rl");
  }
  std::lock_guard w(write_mu_);
  if (identity_by_external_.count(req.external_id)) {
    return AlreadyExists("an identity with externalId '" + req.external_id + "' already exists",
                         "data/identity_already_exists");
  }
  req.id = NewId(env_, "id");
  req.created_at = env_.NowMillis();
  WriteBatch b;
  b.put_identities.push_back(req);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  identity_by_external_[req.external_id] = req.id;
  identities_[req.id] = req;
  return FromRecord(req, /*with_meta=*/true);
}

StatusOr<IdentityInfo> KeyServiceImpl::GetIdentity(const RequestContext& ctx,
                                                   const std::string& id_or_external) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.read_identity"));
  std::shared_lock lock(mu_);
  const IdentityRecord* r = FindIdentity(id_or_external);
  if (!r)
    return NotFound("identity '" + id_or_external + "' was not found", "data/identity_not_found");
  return FromRecord(*r, /*with_meta=*/true);
}

StatusOr<Page<IdentityInfo>> KeyServiceImpl::ListIdentities(const RequestContext& ctx,
                                                            const std::string& cursor, int limit) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.read_identity"));
  std::shared_lock lock(mu_);
  return PageOver<IdentityInfo>(identities_, cursor, limit, [&](const std::string& id) {
    return FromRecord(identities_.at(id), /*with_meta=*/true);
  });
}

StatusOr<IdentityInfo> KeyServiceImpl::UpdateIdentity(const RequestContext& ctx,
                                                      const std::string& id_or_external,
                                                      std::optional<std::string> meta_json,
                                                      std::optional<std::vector<Ratelimit>> given) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.update_identity"));
  std::lock_guard w(write_mu_);
  const IdentityRecord* found = FindIdentity(id_or_external);
  if (!found) {
    return NotFound("identity '" + id_or_external + "' was not found", "data/identity_not_found");
  }
  IdentityRecord r = *found;
  if (meta_json) {
    if (meta_json->size() > kMaxMetaBytes) return InvalidArgument("meta must be at most 64 KiB");
    r.meta_json = std::move(*meta_json);
  }
  if (given) {
    std::vector<RatelimitConfig> ratelimits = ToRecords(*given);
    for (auto& rl : ratelimits) {
      if (rl.limit < 1 || rl.duration_ms < 1000 || rl.duration_ms > kMaxRatelimitDurationMs) {
        return InvalidArgument(
            "ratelimits need limit >= 1 and duration between 1000 and 2592000000");
      }
      if (rl.id.empty()) rl.id = NewId(env_, "rl");
    }
    r.ratelimits = std::move(ratelimits);
  }
  WriteBatch b;
  b.put_identities.push_back(r);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  identities_[r.id] = r;
  return FromRecord(r, /*with_meta=*/true);
}

Status KeyServiceImpl::DeleteIdentity(const RequestContext& ctx,
                                      const std::string& id_or_external) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.delete_identity"));
  std::lock_guard w(write_mu_);
  const IdentityRecord* found = FindIdentity(id_or_external);
  if (!found) {
    return NotFound("identity '" + id_or_external + "' was not found", "data/identity_not_found");
  }
  IdentityRecord r = *found;
  WriteBatch b;
  std::vector<std::shared_ptr<const KeyEntry>> touched;
  keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
    if (e->Details().identity_id == r.id) touched.push_back(e);
  });
  // The keys' cells stay locked from reading their balances to writing them back, so that no
  // spend made in between is overwritten.
  std::vector<CreditsCell*> cells;
  auto held = LockCells(touched, &cells);
  for (const auto& e : touched) {
    KeyRecord k =
        e->ToRecord(e->credits ? KeyEntry::CellLock::kHeldByCaller : KeyEntry::CellLock::kTake);
    k.identity_id.clear();
    b.put_keys.push_back(std::move(k));
  }
  b.delete_identities.push_back(r.id);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b, cells));
  held.clear();  // before mu_: readers take mu_ first, then a cell's lock
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < touched.size(); ++i) {
    IndexKeyLocked(MakeEntry(b.put_keys[i], touched[i]->credits, touched[i].get()));
  }
  identity_by_external_.erase(r.external_id);
  identities_.erase(r.id);
  return OkStatus();
}

// --- permissions --------------------------------------------------------------------------

StatusOr<PermissionInfo> KeyServiceImpl::CreatePermission(const RequestContext& ctx,
                                                          CreatePermissionRequest in) {
  const Principal& p = ctx.actor;
  PermissionRecord req{"", std::move(in.name), std::move(in.slug), std::move(in.description), 0};
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.create_permission"));
  if (req.name.empty() || req.name.size() > kMaxNameLength) {
    return InvalidArgument("name must be 1 to 256 characters");
  }
  if (!IsValidPermission(req.slug)) {
    return InvalidArgument(
        "slug must be 1 to 512 characters of [a-zA-Z0-9_:.*-] without empty segments");
  }
  if (req.description.size() > 1024)
    return InvalidArgument("description must be at most 1024 characters");
  std::lock_guard w(write_mu_);
  if (permission_by_slug_.count(req.slug)) {
    return AlreadyExists("a permission with slug '" + req.slug + "' already exists",
                         "data/permission_already_exists");
  }
  req.id = NewId(env_, "perm");
  req.created_at = env_.NowMillis();
  WriteBatch b;
  b.put_permissions.push_back(req);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  permission_by_slug_[req.slug] = req.id;
  permissions_[req.id] = req;
  return FromRecord(req);
}

StatusOr<PermissionInfo> KeyServiceImpl::GetPermission(const RequestContext& ctx,
                                                       const std::string& id_or_slug) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.read_permission"));
  std::shared_lock lock(mu_);
  const PermissionRecord* r = FindPermission(id_or_slug);
  if (!r)
    return NotFound("permission '" + id_or_slug + "' was not found", "data/permission_not_found");
  return FromRecord(*r);
}

StatusOr<Page<PermissionInfo>> KeyServiceImpl::ListPermissions(const RequestContext& ctx,
                                                               const std::string& cursor,
                                                               int limit) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.read_permission"));
  std::shared_lock lock(mu_);
  return PageOver<PermissionInfo>(permissions_, cursor, limit, [&](const std::string& id) {
    return FromRecord(permissions_.at(id));
  });
}

void KeyServiceImpl::UnlinkFromKeysLocked(const std::string& id,
                                          std::vector<std::string> KeyDetails::*held,
                                          std::vector<std::string> KeyRecord::*stored) {
  std::vector<std::shared_ptr<const KeyEntry>> holders;
  keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
    const auto& ids = e->Details().*held;
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) holders.push_back(e);
  });
  for (const auto& e : holders) {
    KeyRecord k = e->ToRecord();
    std::erase(k.*stored, id);
    IndexKeyLocked(MakeEntry(k, e->credits, e.get()));
  }
}

Status KeyServiceImpl::DeletePermission(const RequestContext& ctx, const std::string& id_or_slug) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.delete_permission"));
  std::lock_guard w(write_mu_);
  const PermissionRecord* found = FindPermission(id_or_slug);
  if (!found) {
    return NotFound("permission '" + id_or_slug + "' was not found", "data/permission_not_found");
  }
  PermissionRecord gone = *found;
  WriteBatch b;
  b.delete_permissions.push_back(gone.id);  // links go with it (ON DELETE CASCADE)
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  for (auto& [id, r] : roles_) std::erase(r.permission_ids, gone.id);
  UnlinkFromKeysLocked(gone.id, &KeyDetails::permission_ids, &KeyRecord::permission_ids);
  permission_by_slug_.erase(gone.slug);
  permissions_.erase(gone.id);
  RebuildAllEntriesLocked();
  return OkStatus();
}

// --- roles --------------------------------------------------------------------------------

StatusOr<RoleInfo> KeyServiceImpl::CreateRole(const RequestContext& ctx, CreateRoleRequest in) {
  const Principal& p = ctx.actor;
  RoleRecord req;
  req.name = std::move(in.name);
  req.description = std::move(in.description);
  const std::vector<std::string>& permissions = in.permissions;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.create_role"));
  if (req.name.empty() || req.name.size() > kMaxNameLength) {
    return InvalidArgument("name must be 1 to 256 characters");
  }
  if (req.description.size() > 1024)
    return InvalidArgument("description must be at most 1024 characters");
  std::lock_guard w(write_mu_);
  if (role_by_name_.count(req.name)) {
    return AlreadyExists("a role named '" + req.name + "' already exists",
                         "data/role_already_exists");
  }
  WriteBatch b;
  std::vector<PermissionRecord> created;
  KH_ASSIGN_OR_RETURN(req.permission_ids, ResolvePermissions(p, permissions, b, created));
  req.id = NewId(env_, "role");
  req.created_at = env_.NowMillis();
  b.put_roles.push_back(req);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  for (const auto& perm : created) {
    permission_by_slug_[perm.slug] = perm.id;
    permissions_[perm.id] = perm;
  }
  role_by_name_[req.name] = req.id;
  roles_[req.id] = req;
  return RoleInfoOf(req);
}

StatusOr<RoleInfo> KeyServiceImpl::GetRole(const RequestContext& ctx,
                                           const std::string& id_or_name) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.read_role"));
  std::shared_lock lock(mu_);
  const RoleRecord* r = FindRole(id_or_name);
  if (!r) return NotFound("role '" + id_or_name + "' was not found", "data/role_not_found");
  return RoleInfoOf(*r);
}

StatusOr<Page<RoleInfo>> KeyServiceImpl::ListRoles(const RequestContext& ctx,
                                                   const std::string& cursor, int limit) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.read_role"));
  std::shared_lock lock(mu_);
  return PageOver<RoleInfo>(roles_, cursor, limit,
                            [&](const std::string& id) { return RoleInfoOf(roles_.at(id)); });
}

Status KeyServiceImpl::DeleteRole(const RequestContext& ctx, const std::string& id_or_name) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.delete_role"));
  std::lock_guard w(write_mu_);
  const RoleRecord* found = FindRole(id_or_name);
  if (!found) return NotFound("role '" + id_or_name + "' was not found", "data/role_not_found");
  RoleRecord gone = *found;
  WriteBatch b;
  b.delete_roles.push_back(gone.id);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  UnlinkFromKeysLocked(gone.id, &KeyDetails::role_ids, &KeyRecord::role_ids);
  role_by_name_.erase(gone.name);
  roles_.erase(gone.id);
  return OkStatus();
}

}  // namespace keyhold::service
