// Fuzzes the request reader of keyhold's secret-rotation operations (http/unkey/rotation_api.h)
// against real services on an in-memory SQLite store, without a rotation driver.
//
// Input: the first byte picks the operation (its value modulo the number of operations); the
// rest is the JSON body. Every input starts with secret/db/main at version 1 and a pending
// version 2 (so stages, steps and cancel reach past "not found").
//
// Beyond "no crash" it checks the envelope of every response: a status the API may answer with
// (never 500), a JSON body with meta.requestId, `data` on success, `error` with the HTTP status
// otherwise; and that no audit entry holds a secret's value.
#include <algorithm>
#include <array>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fakes/fake_env.h"
#include "fuzz/property.h"
#include "http/message.h"
#include "http/unkey/rotation_api.h"
#include "service/key_service.h"
#include "service/secret_rotation.h"
#include "service/secrets.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold {
namespace {

using fuzz::Require;
using nlohmann::json;

constexpr std::array<std::string_view, 6> kOperations = {
    "secrets.rotate",          "secrets.getRotation",   "secrets.cancelRotation",
    "secrets.putPendingValue", "secrets.getStageValue", "secrets.listDue"};

void Check(const Status& st, const char* what) {
  if (!st.ok()) std::fprintf(stderr, "setup: %s: %s\n", what, st.message().c_str());
  Require(st.ok(), "the records every input starts with could not be made");
}

struct World {
  testing::FakeEnv env;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<service::KeyService> keys;
  std::unique_ptr<service::SecretService> secrets;
  std::unique_ptr<service::SecretRotator> rotator;
  std::string root_key;

  World() {
    auto s = store::SqliteStore::Open(":memory:");
    Check(s.status(), "open store");
    store = std::move(s).value();
    auto k = service::KeyService::Open(*store, env);
    Check(k.status(), "open keys");
    keys = std::move(k).value();
    auto root = keys->Bootstrap("root");
    Check(root.status(), "bootstrap");
    root_key = std::string(root->key.Reveal());
    static const std::vector<uint8_t> kMasterKey(32, 7);
    auto sec = service::SecretService::Open(*store, env, kMasterKey);
    Check(sec.status(), "open secrets");
    secrets = std::move(sec).value();
    rotator = std::make_unique<service::SecretRotator>(*secrets, *store, env, nullptr, nullptr,
                                                       service::RotationOptions{});
    RequestContext ctx{.request_id = "req_setup"};
    ctx.actor = {.key_id = "setup", .permissions = {"*"}};
    Check(secrets->Write(ctx, "secret", "db/main", crypto::Secret(R"({"pw":"value-one"})"), {})
              .status(),
          "write");
    Check(secrets->WritePending(ctx, "secret", "db/main", crypto::Secret(R"({"pw":"value-two"})"))
              .status(),
          "pending");
  }
};

void CheckEnvelope(const http::HttpResponse& r) {
  static constexpr std::array<int, 11> kStatuses = {200, 202, 400, 401, 403, 404,
                                                    405, 409, 412, 413, 429};
  Require(std::find(kStatuses.begin(), kStatuses.end(), r.status) != kStatuses.end(),
          "a status the API does not answer with (500?)");
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  Require(body.is_object(), "a response body that is not a JSON object");
  Require(body.contains("meta") && body["meta"].contains("requestId"),
          "a response without meta.requestId");
  if (r.status == 200 || r.status == 202) {
    Require(body.contains("data"), "a success without data");
  } else {
    Require(body.contains("error") && body["error"].value("status", 0) == r.status,
            "an error whose status is not the HTTP status");
  }
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;
  if (size == 0) return 0;
  World world;
  http::HttpRequest request;
  request.method = "POST";
  request.target = "/v2/" + std::string(kOperations[data[0] % kOperations.size()]);
  request.headers = {{"authorization", "Bearer " + world.root_key},
                     {"content-type", "application/json"}};
  request.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  http::unkey::RotationApi api(*world.keys);
  api.Set(world.rotator.get(), world.secrets.get());
  RequestContext ctx{.request_id = "req_fuzz", .client_ip = "203.0.113.7", .may_block = true};
  http::HttpResponse response = api.Handle(ctx, request);
  CheckEnvelope(response);
  // A rotation that secrets.rotate started runs on the rotator's threads: let it end.
  world.rotator.reset();
  auto entries = world.store->ReadAudit(0, 1000);
  Require(entries.ok(), "the audit log cannot be read");
  for (const auto& e : *entries) {
    Require(e.details_json.find("value-") == std::string::npos, "a value in an audit entry");
  }
  return 0;
}
