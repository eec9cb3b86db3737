// UnkeyApi: identities, permissions, roles and root keys.
#include "http/unkey/call.h"
#include "http/unkey/unkey_api.h"

namespace keyhold::http::unkey {

static constexpr StringRule kRefRule{.required = true, .min = 1, .max = 256};

template <typename T, typename F>
static HttpResponse PageResponse(const Call& c, const service::Page<T>& page, F to_json) {
  json data = json::array();
  for (const auto& item : page.items) data.push_back(to_json(item));
  return OkPage(c.id, data, page.cursor, page.has_more);
}

struct ListArgs {
  std::string cursor;
  int limit;
};

static ListArgs ReadListArgs(Call& c) {
  ListArgs a;
  a.limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 100}).value_or(100));
  a.cursor = c.r.String("cursor", {.max = 128}).value_or("");
  return a;
}

// --- identities ---------------------------------------------------------------------------

HttpResponse UnkeyApi::CreateIdentity(Call& c) {
  service::CreateIdentityRequest req;
  req.external_id = c.r.String("externalId", {.required = true, .min = 1, .max = 256}).value_or("");
  req.meta_json = c.r.ObjectText("meta", service::kMaxMetaBytes).value_or("");
  req.ratelimits = ReadRatelimits(c.r, "ratelimits");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, ident, service_.CreateIdentity(c.ctx, std::move(req)));
  return Ok(c.id, {{"identityId", ident->id}});
}

HttpResponse UnkeyApi::GetIdentity(Call& c) {
  auto ref = c.r.String("identity", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, ident, service_.GetIdentity(c.ctx, *ref));
  return Ok(c.id, IdentityJson(*ident));
}

HttpResponse UnkeyApi::ListIdentities(Call& c) {
  ListArgs a = ReadListArgs(c);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, service_.ListIdentities(c.ctx, a.cursor, a.limit));
  return PageResponse(c, *page, IdentityJson);
}

HttpResponse UnkeyApi::UpdateIdentity(Call& c) {
  auto ref = c.r.String("identity", kRefRule);
  std::optional<std::string> meta;
  if (c.r.Has("meta")) meta = c.r.ObjectText("meta", service::kMaxMetaBytes).value_or("");
  std::optional<std::vector<service::Ratelimit>> rls;
  if (c.r.Has("ratelimits")) rls = ReadRatelimits(c.r, "ratelimits");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, ident, service_.UpdateIdentity(c.ctx, *ref, std::move(meta), std::move(rls)));
  return Ok(c.id, IdentityJson(*ident));
}

HttpResponse UnkeyApi::DeleteIdentity(Call& c) {
  auto ref = c.r.String("identity", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteIdentity(c.ctx, *ref);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

// --- permissions --------------------------------------------------------------------------

HttpResponse UnkeyApi::CreatePermission(Call& c) {
  service::CreatePermissionRequest req;
  req.name = c.r.String("name", {.required = true, .min = 1, .max = 256}).value_or("");
  req.slug = c.r.String("slug", {.required = true, .min = 1, .max = 512}).value_or("");
  req.description = c.r.String("description", {.max = 1024}).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, perm, service_.CreatePermission(c.ctx, std::move(req)));
  return Ok(c.id, {{"permissionId", perm->id}});
}

HttpResponse UnkeyApi::GetPermission(Call& c) {
  auto ref = c.r.String("permission", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, perm, service_.GetPermission(c.ctx, *ref));
  return Ok(c.id, PermissionJson(*perm));
}

HttpResponse UnkeyApi::ListPermissions(Call& c) {
  ListArgs a = ReadListArgs(c);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, service_.ListPermissions(c.ctx, a.cursor, a.limit));
  return PageResponse(c, *page, PermissionJson);
}

HttpResponse UnkeyApi::DeletePermission(Call& c) {
  auto ref = c.r.String("permission", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeletePermission(c.ctx, *ref);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

// --- roles --------------------------------------------------------------------------------

HttpResponse UnkeyApi::CreateRole(Call& c) {
  service::CreateRoleRequest req;
  req.name = c.r.String("name", {.required = true, .min = 1, .max = 256}).value_or("");
  req.description = c.r.String("description", {.max = 1024}).value_or("");
  req.permissions =
      c.r.Strings("permissions", {.max = 512}, 1000).value_or(std::vector<std::string>{});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, role, service_.CreateRole(c.ctx, std::move(req)));
  return Ok(c.id, {{"roleId", role->id}});
}

HttpResponse UnkeyApi::GetRole(Call& c) {
  auto ref = c.r.String("role", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, role, service_.GetRole(c.ctx, *ref));
  return Ok(c.id, RoleJson(*role));
}

HttpResponse UnkeyApi::ListRoles(Call& c) {
  ListArgs a = ReadListArgs(c);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, service_.ListRoles(c.ctx, a.cursor, a.limit));
  return PageResponse(c, *page, RoleJson);
}

HttpResponse UnkeyApi::DeleteRole(Call& c) {
  auto ref = c.r.String("role", kRefRule);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteRole(c.ctx, *ref);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

// --- root keys ----------------------------------------------------------------------------

HttpResponse UnkeyApi::CreateRootKey(Call& c) {
  auto name = c.r.String("name", {.min = 1, .max = 256});
  auto perms = c.r.Strings("permissions", {.max = 512}, 1000, /*required=*/true);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, created, service_.CreateRootKey(c.ctx, name, *perms));
  return Ok(c.id, {{"keyId", created->key_id}, {"key", created->key.Reveal()}});
}

HttpResponse UnkeyApi::ListRootKeys(Call& c) {
  ListArgs a = ReadListArgs(c);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, service_.ListRootKeys(c.ctx, a.cursor, a.limit));
  return PageResponse(c, *page, KeyJson);
}

HttpResponse UnkeyApi::RerollRootKey(Call& c) {
  auto key_id = c.r.String("keyId", {.required = true, .min = 1, .max = 128});
  auto overlap = c.r.Int("expiration", {.required = true, .max = service::kMaxRerollOverlapMs});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, created, service_.RerollRootKey(c.ctx, *key_id, *overlap));
  return Ok(c.id, {{"keyId", created->key_id}, {"key", created->key.Reveal()}});
}

HttpResponse UnkeyApi::DeleteRootKey(Call& c) {
  auto key_id = c.r.String("keyId", {.required = true, .min = 1, .max = 128});
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteRootKey(c.ctx, *key_id);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

}  // namespace keyhold::http::unkey
