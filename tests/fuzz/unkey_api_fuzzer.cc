// Fuzzes the JSON request reader of every Unkey operation (http/unkey/unkey_api.h) against a
// real service on an in-memory SQLite store.
//
// Input: the first byte picks the operation (its value modulo the number of operations) and,
// from 128 up, a root key limited to reading and verifying keys instead of the `*` one; the rest
// is the JSON body. In the body, `{{apiId}}`, `{{keyId}}`, `{{key}}`, `{{identityId}}`,
// `{{permissionId}}`, `{{roleId}}` and `{{rootKeyId}}` stand for the records every input starts
// with (see World), so that inputs reach past "not found"; the key's text is made at run time.
//
// Beyond "no crash" it checks the envelope of every response: a status the API may answer with
// (never 500), a JSON body with meta.requestId, `data` on success, on failure an `error` whose
// status is the HTTP status and, for 400, a non-empty `errors[]`; and that no response shows the
// plaintext of a key the server holds unless the request itself carried it.
// KEYHOLD_FUZZ_TRACE=1 prints each request and response (to see what a corpus input reaches).
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fakes/fake_env.h"
#include "fuzz/property.h"
#include "http/message.h"
#include "http/unkey/unkey_api.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold {
namespace {

// The one call into the API, as the listener makes it: first on an I/O thread, then again on a
// worker if the operation must wait on the disk.
http::HttpResponse CallApi(http::unkey::UnkeyApi& api, const http::HttpRequest& request) {
  RequestContext ctx{.request_id = "req_fuzz",
                     .client_ip = "203.0.113.7",
                     .peer_ip = "203.0.113.7",
                     .may_block = false};
  http::HttpResponse response = api.Handle(ctx, request);
  if (!response.run_on_worker) return response;
  ctx.may_block = true;
  response = api.Handle(ctx, request);
  fuzz::Require(!response.run_on_worker, "an operation asks for a worker while on one");
  return response;
}

using fuzz::Require;
using nlohmann::json;

// The operations of UnkeyApi, as routed under /v2/.
constexpr std::array<std::string_view, 47> kOperations = {
    "apis.createApi",
    "apis.getApi",
    "apis.deleteApi",
    "apis.listKeys",
    "keys.createKey",
    "keys.verifyKey",
    "keys.getKey",
    "keys.whoami",
    "keys.updateKey",
    "keys.updateCredits",
    "keys.deleteKey",
    "keys.rerollKey",
    "keys.revokeKeys",
    "keys.reportLeak",
    "keys.listDue",
    "keys.migrateKeys",
    "keys.addPermissions",
    "keys.setPermissions",
    "keys.removePermissions",
    "keys.addRoles",
    "keys.setRoles",
    "keys.removeRoles",
    "identities.createIdentity",
    "identities.getIdentity",
    "identities.listIdentities",
    "identities.updateIdentity",
    "identities.deleteIdentity",
    "permissions.createPermission",
    "permissions.getPermission",
    "permissions.listPermissions",
    "permissions.deletePermission",
    "permissions.createRole",
    "permissions.getRole",
    "permissions.listRoles",
    "permissions.deleteRole",
    "rootKeys.createRootKey",
    "rootKeys.listRootKeys",
    "rootKeys.deleteRootKey",
    "rootKeys.rerollRootKey",
    "liveness",
    "ratelimit.limit",
    "ratelimit.multiLimit",
    "ratelimit.setOverride",
    "ratelimit.getOverride",
    "ratelimit.listOverrides",
    "ratelimit.deleteOverride",
    "apis.listApis",  // new operations go last, so the corpus keeps naming the ones it named
};

void Check(bool ok, const Status& status, const char* what) {
  if (!ok) std::fprintf(stderr, "setup: %s: %s\n", what, status.message().c_str());
  Require(ok, "the records every input starts with could not be made");
}

// What every input starts with: a fresh service on an in-memory store, a `*` root key, a
// limited root key, and one of each record with a key that uses them. Deterministic (FakeEnv),
// so an input replays the same way.
struct World {
  testing::FakeEnv env;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<service::KeyService> service;
  std::string root_key;
  std::string limited_key;
  std::string key;
  std::map<std::string, std::string, std::less<>> placeholders;

  World() {
    auto s = store::SqliteStore::Open(":memory:");
    Check(s.ok(), s.status(), "open store");
    store = std::move(s).value();
    auto svc = service::KeyService::Open(*store, env);
    Check(svc.ok(), svc.status(), "open service");
    service = std::move(svc).value();
    auto root = service->Bootstrap("root");
    Check(root.ok(), root.status(), "bootstrap");
    root_key = std::string(root->key.Reveal());
    auto p = service->Authenticate(root_key);
    Check(p.ok(), p.status(), "authenticate");
    MakeRecords({.request_id = "req_setup", .actor = *p});
  }

  void MakeRecords(const RequestContext& root) {
    auto api = service->CreateApi(root, {.name = "fuzz", .default_prefix = "fz"});
    Check(api.ok(), api.status(), "api");
    auto perm = service->CreatePermission(root, {.name = "read", .slug = "documents.read"});
    Check(perm.ok(), perm.status(), "permission");
    auto role = service->CreateRole(root, {.name = "reader", .permissions = {"documents.read"}});
    Check(role.ok(), role.status(), "role");
    auto identity = service->CreateIdentity(root, {.external_id = "user_1"});
    Check(identity.ok(), identity.status(), "identity");
    service::CreateKeyRequest req{.api_id = api->id, .name = "fuzzed", .external_id = "user_1"};
    req.meta_json = R"({"plan":"pro"})";
    req.roles = {"reader"};
    req.permissions = {"documents.write"};
    req.credits = CreditsState{.remaining = 100};
    auto k = service->CreateKey(root, std::move(req));
    Check(k.ok(), k.status(), "key");
    key = std::string(k->key.Reveal());
    auto limited = service->CreateRootKey(root, "limited", {"api.*.read_key", "api.*.verify_key"});
    Check(limited.ok(), limited.status(), "limited root key");
    limited_key = std::string(limited->key.Reveal());
    placeholders = {{"{{apiId}}", api->id},
                    {"{{keyId}}", k->key_id},
                    {"{{key}}", key},
                    {"{{identityId}}", identity->id},
                    {"{{permissionId}}", perm->id},
                    {"{{roleId}}", role->id},
                    {"{{rootKeyId}}", limited->key_id}};
  }

  std::string Expand(std::string_view body) const {
    std::string out;
    while (!body.empty()) {
      size_t open = body.find("{{");
      out.append(body.substr(0, open));
      if (open == std::string_view::npos) break;
      body.remove_prefix(open);
      size_t close = body.find("}}");
      auto it = close == std::string_view::npos ? placeholders.end()
                                                : placeholders.find(body.substr(0, close + 2));
      if (it == placeholders.end()) {
        out.append("{{");
        body.remove_prefix(2);
        continue;
      }
      out.append(it->second);
      body.remove_prefix(close + 2);
    }
    return out;
  }
};

// The member of `j` at `path`, or nullptr.
const json* Find(const json& j, std::initializer_list<const char*> path) {
  const json* at = &j;
  for (const char* name : path) {
    if (!at->is_object() || !at->contains(name)) return nullptr;
    at = &(*at)[name];
  }
  return at;
}

bool IsString(const json* j) { return j && j->is_string(); }

void CheckEnvelope(const http::HttpResponse& r) {
  static constexpr std::array<int, 10> kStatuses = {200, 400, 401, 403, 404,
                                                    405, 409, 412, 429, 503};
  Require(std::find(kStatuses.begin(), kStatuses.end(), r.status) != kStatuses.end(),
          "a status the API does not answer with (500?)");
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  Require(body.is_object(), "a response body that is not a JSON object");
  Require(IsString(Find(body, {"meta", "requestId"})), "a response without meta.requestId");
  if (r.status == 200) {
    Require(body.contains("data"), "a success without data");
    return;
  }
  const json* status = Find(body, {"error", "status"});
  Require(status && *status == r.status, "an error whose status is not the HTTP status");
  Require(IsString(Find(body, {"error", "type"})) && IsString(Find(body, {"error", "title"})) &&
              IsString(Find(body, {"error", "detail"})),
          "an error without type, title or detail");
  if (r.status == 400) {
    const json* errors = Find(body, {"error", "errors"});
    Require(errors && errors->is_array() && !errors->empty(), "a 400 without errors[]");
  }
}

void CheckNoPlaintext(const World& w, std::string_view sent, const http::HttpResponse& r) {
  for (const std::string* secret : {&w.root_key, &w.limited_key, &w.key}) {
    if (sent.find(*secret) != std::string_view::npos) continue;
    Require(r.body.find(*secret) == std::string::npos, "a response shows a key's plaintext");
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;
  if (size == 0) return 0;
  std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  World world;
  http::HttpRequest request;
  request.method = "POST";
  request.target = "/v2/" + std::string(kOperations[data[0] % kOperations.size()]);
  const std::string& bearer = data[0] >= 128 ? world.limited_key : world.root_key;
  request.headers = {{"authorization", "Bearer " + bearer}, {"content-type", "application/json"}};
  request.body = world.Expand(raw);
  auto audit = service::AuditService::Create(*world.store, world.env);
  auto analytics = service::AnalyticsService::Create(*world.store, world.env);
  static const std::vector<uint8_t> kMasterKey(32, 7);
  auto alerts = service::AlertService::Create(*world.store, world.env, kMasterKey);
  http::unkey::UnkeyApi api(*world.service, *audit, *analytics, *alerts);
  http::HttpResponse response = CallApi(api, request);
  static const bool trace = std::getenv("KEYHOLD_FUZZ_TRACE") != nullptr;
  if (trace) {
    std::fprintf(stderr, "%s %s\n-> %d %s\n", request.target.c_str(), request.body.c_str(),
                 response.status, response.body.c_str());
  }
  CheckEnvelope(response);
  CheckNoPlaintext(world, request.body, response);
  return 0;
}
