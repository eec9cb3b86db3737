#include "http/unkey/unkey_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "http/auth.h"
#include "http/unkey/call.h"
#include "http/unkey/wire.h"

namespace keyhold::http::unkey {

using service::KeyService;

static constexpr StringRule kIdRule{.required = true, .min = 1, .max = 128};
static constexpr StringRule kNameRule{.min = 1, .max = service::kMaxNameLength};
static constexpr size_t kMaxKeyText = 512;

UnkeyApi::UnkeyApi(KeyService& service, service::AuditService& audit,
                   service::AnalyticsService& analytics, service::AlertService& alerts)
    : service_(service), audit_(audit), analytics_(analytics), alerts_(alerts) {
  using enum Blocking;
  operations_ = {
      {"apis.createApi", {&UnkeyApi::CreateApi, kMay}},
      {"apis.getApi", {&UnkeyApi::GetApi, kNever}},
      {"apis.updateApi", {&UnkeyApi::UpdateApi, kMay}},
      {"apis.listApis", {&UnkeyApi::ListApis, kNever}},
      {"apis.deleteApi", {&UnkeyApi::DeleteApi, kMay}},
      {"apis.listKeys", {&UnkeyApi::ListKeys, kMay}},
      {"keys.createKey", {&UnkeyApi::CreateKey, kMay}},
      {"keys.verifyKey", {&UnkeyApi::VerifyKey, kNever}},
      {"keys.getKey", {&UnkeyApi::GetKey, kNever}},
      {"keys.whoami", {&UnkeyApi::Whoami, kNever}},
      {"keys.updateKey", {&UnkeyApi::UpdateKey, kMay}},
      {"keys.updateCredits", {&UnkeyApi::UpdateCredits, kMay}},
      {"keys.deleteKey", {&UnkeyApi::DeleteKey, kMay}},
      {"keys.rerollKey", {&UnkeyApi::RerollKey, kMay}},
      {"keys.revokeKeys", {&UnkeyApi::RevokeKeys, kMay}},
      {"keys.reportLeak", {&UnkeyApi::ReportLeak, kMay}},
      {"keys.listDue", {&UnkeyApi::ListDueKeys, kNever}},
      {"keys.migrateKeys", {&UnkeyApi::MigrateKeys, kMay}},
      {"keys.addPermissions", {&UnkeyApi::AddPermissions, kMay}},
      {"keys.setPermissions", {&UnkeyApi::SetPermissions, kMay}},
      {"keys.removePermissions", {&UnkeyApi::RemovePermissions, kMay}},
      {"keys.addRoles", {&UnkeyApi::AddRoles, kMay}},
      {"keys.setRoles", {&UnkeyApi::SetRoles, kMay}},
      {"keys.removeRoles", {&UnkeyApi::RemoveRoles, kMay}},
      {"identities.createIdentity", {&UnkeyApi::CreateIdentity, kMay}},
      {"identities.getIdentity", {&UnkeyApi::GetIdentity, kNever}},
      {"identities.listIdentities", {&UnkeyApi::ListIdentities, kNever}},
      {"identities.updateIdentity", {&UnkeyApi::UpdateIdentity, kMay}},
      {"identities.deleteIdentity", {&UnkeyApi::DeleteIdentity, kMay}},
      {"permissions.createPermission", {&UnkeyApi::CreatePermission, kMay}},
      {"permissions.getPermission", {&UnkeyApi::GetPermission, kNever}},
      {"permissions.listPermissions", {&UnkeyApi::ListPermissions, kNever}},
      {"permissions.deletePermission", {&UnkeyApi::DeletePermission, kMay}},
      {"permissions.createRole", {&UnkeyApi::CreateRole, kMay}},
      {"permissions.getRole", {&UnkeyApi::GetRole, kNever}},
      {"permissions.listRoles", {&UnkeyApi::ListRoles, kNever}},
      {"permissions.deleteRole", {&UnkeyApi::DeleteRole, kMay}},
      {"rootKeys.createRootKey", {&UnkeyApi::CreateRootKey, kMay}},
      {"rootKeys.listRootKeys", {&UnkeyApi::ListRootKeys, kMay}},
      {"rootKeys.deleteRootKey", {&UnkeyApi::DeleteRootKey, kMay}},
      {"rootKeys.rerollRootKey", {&UnkeyApi::RerollRootKey, kMay}},
      {"audit.listEvents", {&UnkeyApi::ListAuditEvents, kMay}},
      {"audit.verifyChain", {&UnkeyApi::VerifyAuditChain, kMay}},
      {"analytics.getVerifications", {&UnkeyApi::GetVerifications, kMay}},
      {"ratelimit.limit", {&UnkeyApi::RatelimitLimit, kNever}},
      {"ratelimit.multiLimit", {&UnkeyApi::RatelimitMultiLimit, kNever}},
      {"ratelimit.setOverride", {&UnkeyApi::SetRatelimitOverride, kMay}},
      {"ratelimit.getOverride", {&UnkeyApi::GetRatelimitOverride, kNever}},
      {"ratelimit.listOverrides", {&UnkeyApi::ListRatelimitOverrides, kNever}},
      {"ratelimit.deleteOverride", {&UnkeyApi::DeleteRatelimitOverride, kMay}},
      {"webhooks.createEndpoint", {&UnkeyApi::CreateWebhookEndpoint, kMay}},
      {"webhooks.listEndpoints", {&UnkeyApi::ListWebhookEndpoints, kMay}},
      {"webhooks.getEndpoint", {&UnkeyApi::GetWebhookEndpoint, kMay}},
      {"webhooks.updateEndpoint", {&UnkeyApi::UpdateWebhookEndpoint, kMay}},
      {"webhooks.rotateSecret", {&UnkeyApi::RotateWebhookSecret, kMay}},
      {"webhooks.deleteEndpoint", {&UnkeyApi::DeleteWebhookEndpoint, kMay}},
      {"webhooks.testEndpoint", {&UnkeyApi::TestWebhookEndpoint, kMay}},
      {"webhooks.listDeliveries", {&UnkeyApi::ListWebhookDeliveries, kMay}},
      {"alerts.list", {&UnkeyApi::ListAlerts, kMay}},
      {"alerts.acknowledge", {&UnkeyApi::AcknowledgeAlert, kMay}},
  };
  int route = 1;  // 0 is liveness
  for (auto& [name, info] : operations_) info.route_index = route++;
}

std::vector<std::string_view> UnkeyApi::Routes() const {
  std::vector<std::string_view> routes = {"liveness"};
  for (const auto& [name, info] : operations_) routes.push_back(name);
  return routes;
}

int UnkeyApi::RouteIndex(std::string_view path) const {
  if (!path.starts_with("/v2/")) return -1;
  path.remove_prefix(4);
  if (path == "liveness") return 0;
  auto op = operations_.find(path);
  return op == operations_.end() ? -1 : op->second.route_index;
}

HttpResponse UnkeyApi::Error(const RequestContext& ctx, int status, std::string_view reason,
                             std::string_view detail) const {
  return ErrorWith(ctx.request_id, status, std::string(reason), std::string(detail));
}

std::optional<HttpResponse> UnkeyApi::Authenticate(RequestContext& ctx, const HttpRequest& req) {
  auto principal = AuthenticateRootKey(service_, req);
  if (!principal.ok()) return unkey::Error(ctx.request_id, principal.status());
  ctx.actor = std::move(principal).value();
  return std::nullopt;
}

HttpResponse UnkeyApi::Handle(RequestContext& ctx, const HttpRequest& req) {
  const std::string& request_id = ctx.request_id;
  std::string_view path = req.Path();
  if (path == "/v2/liveness") {
    return Ok(request_id, {{"message", "OK"}});
  }
  auto op = operations_.find(path.substr(4));  // after "/v2/"
  if (op == operations_.end()) {
    return ErrorWith(request_id, 404, "application/route_not_found", "no operation at this path");
  }
  if (req.method != "POST") {
    HttpResponse r = ErrorWith(request_id, 405, "application/method_not_allowed",
                               "operations are called with POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (op->second.blocking == Blocking::kMay && !ctx.may_block) return HttpResponse::RunOnWorker();
  if (auto refused = Authenticate(ctx, req)) return *refused;

  // As in Unkey's API, a body is required: a JSON object, {} when no field is needed.
  if (req.body.empty()) {
    return BadRequest(request_id, {{"body", "is missing: it must be a JSON object",
                                    "send a JSON object, {} if no field is needed"}});
  }
  // JSON allows no raw NUL, and the parser would stop at one, leaving what follows unread.
  if (req.body.find('\0') != std::string::npos) {
    return BadRequest(request_id, {{"body", "is not valid JSON: it holds a NUL byte",
                                    "send a JSON object encoded as UTF-8"}});
  }
  if (JsonDepthExceeds(req.body, kMaxJsonDepth)) {
    return BadRequest(
        request_id,
        {{"body", "is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep",
          "flatten the JSON document"}});
  }
  bool duplicate = false;
  json body = ParseJsonStrict(req.body, &duplicate);
  if (duplicate) {
    // Not named: the name could be anything the caller sent, a key's text included.
    return BadRequest(
        request_id, {{"body", "names the same field twice in one object", "send each field once"}});
  }
  if (body.is_discarded()) {
    return BadRequest(request_id, {{"body", "is not valid JSON (or not valid UTF-8)",
                                    "send a JSON object encoded as UTF-8"}});
  }
  if (body.is_array() && op->first == "ratelimit.multiLimit") {
    body = json{{"limits", std::move(body)}};  // its body is the array of limits
  } else if (!body.is_object()) {
    return BadRequest(request_id, {{"body", "must be a JSON object", ""}});
  }
  Call call(req, ctx, std::move(body));
  HttpResponse out = (this->*(op->second.handler))(call);
  if (out.status == 403 && !ctx.actor.key_id.empty()) {
    // A root key refused an operation: a line in the audit log for whoever watches it, written
    // on a worker (the operation is read-only, so running it again there changes nothing).
    std::string operation = "/v2/" + op->first;
    if (audit_.RefusalDue(ctx, operation)) {
      if (!ctx.may_block) return HttpResponse::RunOnWorker();
      if (Status st = audit_.RecordRefusal(ctx, operation); !st.ok()) {
        spdlog::warn("a refused call could not be audited: {}", st.message());
      }
    }
  }
  return out;
}

// --- apis ---------------------------------------------------------------------------------

HttpResponse UnkeyApi::CreateApi(Call& c) {
  service::CreateApiRequest req;
  req.name = c.r.String("name", {.required = true, .min = 1, .max = 256}).value_or("");
  req.default_prefix = c.r.String("defaultPrefix", {.max = 16}).value_or("");
  req.default_byte_length =
      static_cast<int32_t>(c.r.Int("defaultByteLength", {.min = 16, .max = 255}).value_or(32));
  req.ip_allowlist =
      c.r.Strings("ipAllowlist", {.max = 64}, 100).value_or(std::vector<std::string>{});
  // keyhold's: what a leak report does to its keys, and its rotation policy.
  if (auto on_leak = c.r.String("onLeak", {.max = 16})) {
    if (*on_leak == "disable") {
      req.on_leak = service::OnLeak::kDisable;
    } else if (*on_leak != "revoke") {
      c.r.Error("body.onLeak", "must be 'revoke' or 'disable'");
    }
  }
  req.max_key_age_ms =
      c.r.Int("maxKeyAge", {.min = service::kMinKeyAgeMs, .max = service::kMaxKeyAgeMs});
  req.overdue_grace_ms = c.r.Int("overdueGrace", {.max = service::kMaxOverdueGraceMs});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, api, service_.CreateApi(c.ctx, std::move(req)));
  return Ok(c.id, {{"apiId", api->id}});
}

namespace {

json ApiJson(const service::ApiInfo& api) {
  json data = {{"id", api.id},
               {"name", api.name},
               {"onLeak", api.on_leak == service::OnLeak::kDisable ? "disable" : "revoke"}};
  if (api.max_key_age_ms) data["maxKeyAge"] = *api.max_key_age_ms;
  if (api.overdue_grace_ms) data["overdueGrace"] = *api.overdue_grace_ms;
  if (!api.ip_allowlist.empty()) data["ipAllowlist"] = api.ip_allowlist;
  return data;
}

}  // namespace

HttpResponse UnkeyApi::GetApi(Call& c) {
  auto api_id = c.r.String("apiId", kIdRule);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, api, service_.GetApi(c.ctx, *api_id));
  return Ok(c.id, ApiJson(*api));
}

// keyhold's: changes what an API was created with. Absent fields stay; null clears maxKeyAge,
// overdueGrace and ipAllowlist.
HttpResponse UnkeyApi::UpdateApi(Call& c) {
  service::UpdateApiRequest req;
  req.api_id = c.r.String("apiId", kIdRule).value_or("");
  req.name = c.r.String("name", {.min = 1, .max = 256});
  if (c.r.IsNull("ipAllowlist")) {
    c.r.Array("ipAllowlist", 0);
    req.ip_allowlist.emplace();
  } else {
    req.ip_allowlist = c.r.Strings("ipAllowlist", {.min = 1, .max = 64}, 100);
  }
  if (auto on_leak = c.r.String("onLeak", {.max = 16})) {
    if (*on_leak == "disable" || *on_leak == "revoke") {
      req.on_leak = *on_leak == "disable" ? service::OnLeak::kDisable : service::OnLeak::kRevoke;
    } else {
      c.r.Error("body.onLeak", "must be 'revoke' or 'disable'");
    }
  }
  for (auto [name, field, max] :
       {std::tuple{"maxKeyAge", &req.max_key_age_ms, service::kMaxKeyAgeMs},
        std::tuple{"overdueGrace", &req.overdue_grace_ms, service::kMaxOverdueGraceMs}}) {
    if (c.r.IsNull(name)) {
      c.r.Int(name, {});
      field->emplace(std::nullopt);
    } else if (auto ms = c.r.Int(name, {.max = max})) {
      field->emplace(*ms);
    }
  }
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, api, service_.UpdateApi(c.ctx, std::move(req)));
  return Ok(c.id, ApiJson(*api));
}

HttpResponse UnkeyApi::ListApis(Call& c) {
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, apis, service_.ListApis(c.ctx));
  json data = json::array();
  for (const service::ApiInfo& a : *apis) data.push_back(ApiJson(a));
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::DeleteApi(Call& c) {
  auto api_id = c.r.String("apiId", kIdRule);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteApi(c.ctx, *api_id);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

HttpResponse UnkeyApi::ListKeys(Call& c) {
  auto api_id = c.r.String("apiId", kIdRule);
  int limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 100}).value_or(100));
  std::string cursor = c.r.String("cursor", {.max = 128}).value_or("");
  auto external_id = c.r.String("externalId", {.min = 1, .max = 256});
  auto decrypt = c.r.Bool("decrypt");
  c.r.Bool("revalidateKeysCache");
  bool include_revoked = c.r.Bool("includeRevoked").value_or(false);  // keyhold's
  if (decrypt.value_or(false)) {
    c.r.Error("body.decrypt", "keys of this server are not recoverable", "omit decrypt");
  }
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(
      c, page,
      service_.ListKeys(c.ctx, *api_id, cursor, limit, external_id,
                        include_revoked ? service::Revoked::kInclude : service::Revoked::kExclude));
  json data = json::array();
  for (const auto& k : page->items) data.push_back(KeyJson(k));
  return OkPage(c.id, data, page->cursor, page->has_more);
}

// --- keys ---------------------------------------------------------------------------------

HttpResponse UnkeyApi::CreateKey(Call& c) {
  service::CreateKeyRequest req;
  req.api_id = c.r.String("apiId", kIdRule).value_or("");
  req.prefix = c.r.String("prefix", {.min = 1, .max = 16});
  req.name = c.r.String("name", kNameRule);
  if (auto n = c.r.Int("byteLength", {.min = 16, .max = 255}))
    req.byte_length = static_cast<int32_t>(*n);
  req.external_id = c.r.String("externalId", {.min = 1, .max = 256});
  req.meta_json = c.r.ObjectText("meta", service::kMaxMetaBytes).value_or("");
  req.roles = c.r.Strings("roles", {.max = 256}, 1000).value_or(std::vector<std::string>{});
  req.permissions =
      c.r.Strings("permissions", {.max = 512}, 1000).value_or(std::vector<std::string>{});
  req.expires = c.r.Int("expires", {.min = 0, .max = 253402300799999});
  if (auto credits = ReadCredits(c.r, "credits")) {
    CreditsState s;
    s.remaining = credits->remaining;
    s.refill = credits->refill;
    req.credits = s;
  }
  req.ratelimits = ReadRatelimits(c.r, "ratelimits");
  req.enabled = c.r.Bool("enabled").value_or(true);
  req.recoverable = c.r.Bool("recoverable").value_or(false);
  // keyhold's: the key's own IP allowlist, beside its API's.
  req.ip_allowlist = c.r.Strings("ipAllowlist", {.min = 1, .max = 64}, service::kMaxIpAllowlist)
                         .value_or(std::vector<std::string>{});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, created, service_.CreateKey(c.ctx, std::move(req)));
  return Ok(c.id, {{"keyId", created->key_id}, {"key", created->key.Reveal()}});
}

HttpResponse UnkeyApi::VerifyKey(Call& c) {
  service::VerifyRequest req;
  auto key = c.r.String("key", {.required = true, .min = 1, .max = kMaxKeyText});
  req.tags = c.r.Strings("tags", {.max = 128}, 20).value_or(std::vector<std::string>{});
  req.permissions_query = c.r.String("permissions", {.min = 1, .max = 4096});
  if (const json* credits = c.r.Object("credits")) {
    BodyReader cr(*credits, "body.credits", &c.errors);
    req.cost = cr.Int("cost", {.required = true, .min = 0, .max = kMaxCredits}).value_or(1);
    cr.Finish();
  }
  req.ratelimits = ReadVerifyRatelimits(c.r, "ratelimits");
  c.r.String("migrationId", {.max = 256});
  if (auto bad = c.Finish()) return *bad;
  req.key = *key;
  auto result = service_.Verify(c.ctx, req);
  if (!result.ok() && IsWouldBlock(result.status())) return HttpResponse::RunOnWorker();
  if (!result.ok()) return unkey::Error(c.id, result.status());
  // Written member by member in name order, as a json object would write them: this answer is
  // the hot one.
  std::string text;
  text.reserve(256);
  JsonWriter data(text);
  data.String("code", service::VerifyCodeName(result->code));
  const service::KeyView* v = result->key ? &*result->key : nullptr;
  if (v && v->credits().remaining) data.Int("credits", *v->credits().remaining);
  if (v) data.Bool("enabled", v->enabled());
  if (v && v->expires()) data.Int("expires", *v->expires());
  if (v && v->identity()) data.Value("identity", IdentityJson(*v->identity()));
  if (v) data.String("keyId", v->id());
  if (v) {
    json meta = MetaJson(v->meta_json());
    if (!meta.is_null()) data.Value("meta", meta);
  }
  if (v && v->name()) data.String("name", *v->name());
  if (v) data.Strings("permissions", v->effective_permissions());
  if (!result->ratelimits.empty()) {
    data.Value("ratelimits", RatelimitOutcomesJson(result->ratelimits));
  }
  if (v) data.Strings("roles", v->roles());
  data.Bool("valid", result->valid());
  data.End();
  return OkText(c.id, text);
}

// --- ratelimit ----------------------------------------------------------------------------

static service::LimitCheck ReadLimitCheck(BodyReader& r) {
  service::LimitCheck c;
  c.namespace_name = r.String("namespace", {.required = true, .min = 1, .max = 255}).value_or("");
  c.identifier = r.String("identifier", {.required = true, .min = 1, .max = 255}).value_or("");
  c.limit =
      r.Int("limit", {.required = true, .min = 1, .max = service::kMaxRatelimitLimit}).value_or(0);
  c.duration_ms =
      r.Int("duration", {.required = true, .min = 1000, .max = service::kMaxRatelimitDurationMs})
          .value_or(0);
  c.cost = r.Int("cost", {.min = 0, .max = service::kMaxRatelimitLimit}).value_or(1);
  r.Bool("async");  // every check is decided before the answer; accepted and ignored
  return c;
}

HttpResponse UnkeyApi::RatelimitLimit(Call& c) {
  std::vector<service::LimitCheck> checks = {ReadLimitCheck(c.r)};
  if (auto bad = c.Finish()) return *bad;
  bool passed = false;
  KH_HTTP_TRY(c, results, service_.Limit(c.ctx, checks, &passed));
  const service::LimitResult& r = (*results)[0];
  json data = {{"success", passed},
               {"limit", r.limit},
               {"remaining", r.remaining},
               {"reset", r.reset_at_ms}};
  if (!r.override_id.empty()) data["overrideId"] = r.override_id;
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::RatelimitMultiLimit(Call& c) {
  std::vector<service::LimitCheck> checks;
  if (const json* limits = c.r.Array("limits", 100)) {
    for (size_t i = 0; i < limits->size(); ++i) {
      std::string loc = c.r.Location("limits") + "[" + std::to_string(i) + "]";
      if (!(*limits)[i].is_object()) {
        c.r.Error(loc, "must be an object");
        continue;
      }
      std::vector<FieldError> errs;
      BodyReader ir((*limits)[i], loc, &errs);
      checks.push_back(ReadLimitCheck(ir));
      ir.Finish();
      for (auto& e : errs) c.r.Error(e.location, e.message, e.fix);
    }
  } else {
    c.r.Error("body", "must be an array of rate limits to check", "send [{namespace, ...}]");
  }
  if (auto bad = c.Finish()) return *bad;
  bool passed = false;
  KH_HTTP_TRY(c, results, service_.Limit(c.ctx, checks, &passed));
  json limits = json::array();
  for (const service::LimitResult& r : *results) {
    json one = {
        {"namespace", r.namespace_name}, {"identifier", r.identifier}, {"limit", r.limit},
        {"remaining", r.remaining},      {"reset", r.reset_at_ms},     {"passed", r.passed}};
    if (!r.override_id.empty()) one["overrideId"] = r.override_id;
    limits.push_back(std::move(one));
  }
  return Ok(c.id, {{"passed", passed}, {"limits", limits}});
}

// --- ratelimit overrides ------------------------------------------------------------------

static constexpr StringRule kNamespaceRule{.required = true, .min = 1, .max = 255};
static constexpr StringRule kIdentifierRule{.required = true, .min = 1, .max = 255};

static json OverrideJson(const service::RatelimitOverrideInfo& o) {
  return {{"overrideId", o.id},
          {"identifier", o.identifier},
          {"limit", o.limit},
          {"duration", o.duration_ms}};
}

HttpResponse UnkeyApi::SetRatelimitOverride(Call& c) {
  service::SetOverrideRequest req;
  req.namespace_name = c.r.String("namespace", kNamespaceRule).value_or("");
  req.identifier = c.r.String("identifier", kIdentifierRule).value_or("");
  req.limit = c.r.Int("limit", {.required = true, .min = 0, .max = service::kMaxRatelimitLimit})
                  .value_or(0);
  req.duration_ms =
      c.r.Int("duration", {.required = true, .min = 1000, .max = service::kMaxRatelimitDurationMs})
          .value_or(0);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, set, service_.SetRatelimitOverride(c.ctx, req));
  return Ok(c.id, {{"overrideId", set->id}});
}

HttpResponse UnkeyApi::GetRatelimitOverride(Call& c) {
  auto ns = c.r.String("namespace", kNamespaceRule);
  auto identifier = c.r.String("identifier", kIdentifierRule);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, o, service_.GetRatelimitOverride(c.ctx, *ns, *identifier));
  return Ok(c.id, OverrideJson(*o));
}

HttpResponse UnkeyApi::ListRatelimitOverrides(Call& c) {
  auto ns = c.r.String("namespace", kNamespaceRule);
  std::string cursor = c.r.String("cursor", {.max = 128}).value_or("");
  int limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 100}).value_or(10));
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, service_.ListRatelimitOverrides(c.ctx, *ns, cursor, limit));
  json data = json::array();
  for (const auto& o : page->items) data.push_back(OverrideJson(o));
  return OkPage(c.id, data, page->cursor, page->has_more);
}

HttpResponse UnkeyApi::DeleteRatelimitOverride(Call& c) {
  auto ns = c.r.String("namespace", kNamespaceRule);
  auto identifier = c.r.String("identifier", kIdentifierRule);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteRatelimitOverride(c.ctx, *ns, *identifier);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

HttpResponse UnkeyApi::GetKey(Call& c) {
  auto key_id = c.r.String("keyId", kIdRule);
  if (c.r.Bool("decrypt").value_or(false)) {
    c.r.Error("body.decrypt", "keys of this server are not recoverable", "omit decrypt");
  }
  if (auto bad = c.Finish()) return *bad;
  auto view = service_.GetKey(c.ctx, *key_id);
  if (!view.ok() && IsWouldBlock(view.status())) return HttpResponse::RunOnWorker();
  if (!view.ok()) return unkey::Error(c.id, view.status());
  return Ok(c.id, KeyJson(*view));
}

HttpResponse UnkeyApi::Whoami(Call& c) {
  auto key = c.r.String("key", {.required = true, .min = 1, .max = kMaxKeyText});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, view, service_.Whoami(c.ctx, *key));
  return Ok(c.id, KeyJson(*view));
}

HttpResponse UnkeyApi::UpdateKey(Call& c) {
  service::UpdateKeyRequest req;
  req.key_id = c.r.String("keyId", kIdRule).value_or("");
  auto nullable_string = [&](const char* name, size_t max) {
    std::optional<std::optional<std::string>> out;
    if (c.r.IsNull(name)) {
      c.r.String(name, {});
      out.emplace(std::nullopt);
    } else if (auto s = c.r.String(name, {.min = 1, .max = max})) {
      out.emplace(*s);
    }
    return out;
  };
  req.name = nullable_string("name", service::kMaxNameLength);
  req.external_id = nullable_string("externalId", service::kMaxExternalIdLength);
  if (c.r.IsNull("meta")) {
    c.r.Object("meta");
    req.meta_json = "";
  } else if (auto meta = c.r.ObjectText("meta", service::kMaxMetaBytes)) {
    req.meta_json = *meta;
  }
  if (c.r.IsNull("expires")) {
    c.r.Int("expires", {});
    req.expires.emplace(std::nullopt);
  } else if (auto e = c.r.Int("expires", {.min = 0, .max = 253402300799999})) {
    req.expires.emplace(*e);
  }
  if (c.r.IsNull("credits")) {
    c.r.Object("credits");
    req.credits.emplace(std::nullopt);
  } else if (auto credits = ReadCredits(c.r, "credits")) {
    req.credits.emplace(*credits);
  }
  if (c.r.Has("ratelimits")) req.ratelimits = ReadRatelimits(c.r, "ratelimits");
  req.enabled = c.r.Bool("enabled");
  req.roles = c.r.Strings("roles", {.max = 256}, 1000);
  req.permissions = c.r.Strings("permissions", {.max = 512}, 1000);
  if (c.r.IsNull("ipAllowlist")) {  // keyhold's; null or [] clears it
    c.r.Array("ipAllowlist", 0);
    req.ip_allowlist.emplace();
  } else {
    req.ip_allowlist = c.r.Strings("ipAllowlist", {.min = 1, .max = 64}, service::kMaxIpAllowlist);
  }
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, view, service_.UpdateKey(c.ctx, std::move(req)));
  return Ok(c.id, json::object());
}

HttpResponse UnkeyApi::UpdateCredits(Call& c) {
  auto key_id = c.r.String("keyId", kIdRule);
  auto op_name = c.r.String("operation", {.required = true, .max = 16});
  service::CreditsOperation op = service::CreditsOperation::kSet;
  if (op_name == "increment") {
    op = service::CreditsOperation::kIncrement;
  } else if (op_name == "decrement") {
    op = service::CreditsOperation::kDecrement;
  } else if (op_name && *op_name != "set") {
    c.r.Error("body.operation", "must be 'set', 'increment' or 'decrement'");
  }
  auto value = c.r.Int("value", {.min = 0, .max = kMaxCredits});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, credits, service_.UpdateCredits(c.ctx, *key_id, op, value));
  return Ok(c.id, CreditsJson(*credits));
}

HttpResponse UnkeyApi::DeleteKey(Call& c) {
  auto key_id = c.r.String("keyId", kIdRule);
  bool permanent = c.r.Bool("permanent").value_or(false);
  if (auto bad = c.Finish()) return *bad;
  Status st = service_.DeleteKey(
      c.ctx, *key_id, permanent ? service::Deletion::kPermanent : service::Deletion::kSoft);
  if (!st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

HttpResponse UnkeyApi::RerollKey(Call& c) {
  auto key_id = c.r.String("keyId", kIdRule);
  auto overlap = c.r.Int("expiration", {.required = true, .max = service::kMaxRerollOverlapMs});
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, created, service_.RerollKey(c.ctx, *key_id, *overlap));
  return Ok(c.id, {{"keyId", created->key_id}, {"key", created->key.Reveal()}});
}

HttpResponse UnkeyApi::RevokeKeys(Call& c) {
  service::RevokeKeysRequest req;
  req.key_ids = c.r.Strings("keyIds", {.min = 1, .max = 128}, service::kMaxListItems)
                    .value_or(std::vector<std::string>{});
  req.api_id = c.r.String("apiId", {.min = 1, .max = 128}).value_or("");
  req.identity =
      c.r.String("identity", {.min = 1, .max = service::kMaxExternalIdLength}).value_or("");
  req.created_since_ms = c.r.Int("createdAfter", {.min = 0, .max = 253402300799999});
  req.created_until_ms = c.r.Int("createdBefore", {.min = 0, .max = 253402300799999});
  req.created_by = c.r.String("createdBy", {.min = 1, .max = 128}).value_or("");
  req.reason =
      c.r.String("reason", {.required = true, .min = 1, .max = service::kMaxRevocationReason})
          .value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, revoked, service_.RevokeKeys(c.ctx, req));
  return Ok(c.id, {{"revoked", revoked->size()}, {"keyIds", *revoked}});
}

HttpResponse UnkeyApi::ReportLeak(Call& c) {
  auto key = c.r.String("key", {.required = true, .min = 1, .max = kMaxKeyText});
  std::string source = c.r.String("source", {.max = service::kMaxLeakSource}).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, action, service_.ReportLeak(c.ctx, *key, source));
  const char* name = *action == service::LeakAction::kRevoked    ? "revoked"
                     : *action == service::LeakAction::kDisabled ? "disabled"
                                                                 : "none";
  return Ok(c.id, {{"action", name}});
}

HttpResponse UnkeyApi::ListDueKeys(Call& c) {
  std::string api_id = c.r.String("apiId", {.min = 1, .max = 128}).value_or("");
  int64_t within = c.r.Int("within", {.max = service::kMaxKeyAgeMs}).value_or(7 * 86'400'000LL);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, due, service_.ListDueKeys(c.ctx, api_id, within));
  json data = json::array();
  for (const service::DueKey& d : *due) {
    json k = {{"keyId", d.key.id()},    {"apiId", d.key.api_id()},
              {"start", d.key.start()}, {"createdAt", d.key.created_at()},
              {"dueAt", d.due_at},      {"overdue", d.overdue}};
    if (d.key.name()) k["name"] = *d.key.name();
    if (d.key.expires()) k["expires"] = *d.key.expires();
    data.push_back(std::move(k));
  }
  return Ok(c.id, data);
}

// One entry of keys.migrateKeys' `keys`; errors go to `r`'s list under `loc`.
static service::MigratedKey ReadMigratedKey(BodyReader& r, const json& item,
                                            const std::string& loc) {
  std::vector<FieldError> errs;
  BodyReader ir(item, loc, &errs);
  service::MigratedKey k;
  k.hash = ir.String("hash", {.required = true, .min = 1, .max = kMaxKeyText}).value_or("");
  k.name = ir.String("name", kNameRule);
  k.external_id = ir.String("externalId", {.min = 1, .max = 256});
  k.meta_json = ir.ObjectText("meta", service::kMaxMetaBytes).value_or("");
  k.roles = ir.Strings("roles", {.max = 256}, 1000).value_or(std::vector<std::string>{});
  k.permissions =
      ir.Strings("permissions", {.max = 512}, 1000).value_or(std::vector<std::string>{});
  k.expires = ir.Int("expires", {.min = 0, .max = 253402300799999});
  k.enabled = ir.Bool("enabled").value_or(true);
  if (auto credits = ReadCredits(ir, "credits")) {
    CreditsState s;
    s.remaining = credits->remaining;
    s.refill = credits->refill;
    k.credits = s;
  }
  k.ratelimits = ReadRatelimits(ir, "ratelimits");
  ir.Finish();
  for (auto& e : errs) r.Error(e.location, e.message, e.fix);
  return k;
}

HttpResponse UnkeyApi::MigrateKeys(Call& c) {
  auto migration = c.r.String("migrationId", {.required = true, .min = 1, .max = 64});
  service::MigrationScheme scheme = service::MigrationScheme::kSha256Hex;
  if (migration == "sha256_base64") {
    scheme = service::MigrationScheme::kSha256Base64;
  } else if (migration == "plaintext") {
    scheme = service::MigrationScheme::kPlaintext;
  } else if (migration && *migration != "sha256_hex") {
    c.r.Error("body.migrationId", "must be 'sha256_hex', 'sha256_base64' or 'plaintext'",
              "name how the old system stored its keys");
  }
  std::string api_id = c.r.String("apiId", kIdRule).value_or("");
  std::vector<service::MigratedKey> keys;
  if (const json* arr = c.r.Array("keys", service::kMaxMigratedKeys, /*required=*/true)) {
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string loc = c.r.Location("keys") + "[" + std::to_string(i) + "]";
      if (!(*arr)[i].is_object()) {
        c.r.Error(loc, "must be an object");
        continue;
      }
      keys.push_back(ReadMigratedKey(c.r, (*arr)[i], loc));
    }
  }
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, result, service_.MigrateKeys(c.ctx, api_id, scheme, std::move(keys)));
  json migrated = json::array();
  for (const auto& [hash, key_id] : result->migrated) {
    migrated.push_back({{"hash", hash}, {"keyId", key_id}});
  }
  return Ok(c.id, {{"migrated", migrated}, {"failed", result->duplicates}});
}

HttpResponse UnkeyApi::ChangePermissions(Call& c, service::SetMode mode) {
  auto key_id = c.r.String("keyId", kIdRule);
  auto perms = c.r.Strings("permissions", {.max = 512}, 1000, /*required=*/true);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, result, service_.ChangeKeyPermissions(c.ctx, *key_id, mode, *perms));
  json data = json::array();
  for (const auto& p : *result) data.push_back(PermissionJson(p));
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::AddPermissions(Call& c) {
  return ChangePermissions(c, service::SetMode::kAdd);
}
HttpResponse UnkeyApi::SetPermissions(Call& c) {
  return ChangePermissions(c, service::SetMode::kSet);
}
HttpResponse UnkeyApi::RemovePermissions(Call& c) {
  return ChangePermissions(c, service::SetMode::kRemove);
}

HttpResponse UnkeyApi::ChangeRoles(Call& c, service::SetMode mode) {
  auto key_id = c.r.String("keyId", kIdRule);
  auto roles = c.r.Strings("roles", {.max = 256}, 1000, /*required=*/true);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, result, service_.ChangeKeyRoles(c.ctx, *key_id, mode, *roles));
  json data = json::array();
  for (const auto& r : *result) data.push_back(RoleJson(r));
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::AddRoles(Call& c) { return ChangeRoles(c, service::SetMode::kAdd); }
HttpResponse UnkeyApi::SetRoles(Call& c) { return ChangeRoles(c, service::SetMode::kSet); }
HttpResponse UnkeyApi::RemoveRoles(Call& c) { return ChangeRoles(c, service::SetMode::kRemove); }

}  // namespace keyhold::http::unkey
