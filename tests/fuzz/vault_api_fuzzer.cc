// Fuzzes the `/v1/` secrets surface (http/vault/vault_api.h) against a real SecretService on a
// SQLite store in a file of its own (so that reads may be answered from the I/O thread, on the
// store's reader connections, as in the server).
//
// Input: the first byte picks the method (its value modulo 6: GET, POST, PUT, PATCH, DELETE, LIST)
// and, from 128 up, a root key holding only `secret.*:secret/app/*` instead of the `*` one; then
// the request target (the first line, after "/v1/"), then the body. Every input starts with a
// secret at secret/app/db and one at secret/hidden/x whose value is a marker.
//
// Beyond "no crash" it checks: never a 5xx; every error (status >= 400) is Vault's
// {"errors":[…]} unless it is the 404 of a deleted version, which carries its metadata; a body
// that is not empty is JSON; the narrow key never succeeds (2xx) outside secret/app/ except on
// token and health paths, and no response to it ever shows the hidden secret's marker; an answer
// given later (a read answered without a worker) is the one the worker path gives.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fakes/fake_env.h"
#include "fuzz/property.h"
#include "http/vault/vault_api.h"
#include "service/key_service.h"
#include "service/secrets.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold {
namespace {

using fuzz::Require;
using nlohmann::json;

constexpr std::string_view kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "LIST"};
constexpr std::string_view kMarker = "hidden-marker-5d1c";

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "set-up failed: %s\n", what);
    std::abort();
  }
}

// A directory of its own for one input's database, removed with it.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/keyhold-fuzz-XXXXXX";
    Check(mkdtemp(pattern) != nullptr, "make a temporary directory");
    path = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

struct World {
  TempDir dir;  // first: removed after the store is closed
  testing::FakeEnv env;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<service::KeyService> keys;
  std::unique_ptr<service::SecretService> secrets;
  std::string root_key;
  std::string narrow_key;

  World() {
    auto s = store::SqliteStore::Open(dir.path + "/k.db");
    Check(s.ok(), "open store");
    store = std::move(s).value();
    auto k = service::KeyService::Open(*store, env);
    Check(k.ok(), "open key service");
    keys = std::move(k).value();
    static const std::vector<uint8_t> kMasterKey(32, 7);
    auto sec = service::SecretService::Open(*store, env, kMasterKey);
    Check(sec.ok(), "open secrets");
    secrets = std::move(sec).value();
    auto root = keys->Bootstrap("root");
    Check(root.ok(), "bootstrap");
    root_key = std::string(root->key.Reveal());
    RequestContext admin{.request_id = "req_setup"};
    admin.actor = {.key_id = root->key_id, .permissions = {"*"}};
    auto narrow = keys->CreateRootKey(admin, "app", {"secret.*:secret/app/*"});
    Check(narrow.ok(), "narrow key");
    narrow_key = std::string(narrow->key.Reveal());
    Check(
        secrets->Write(admin, "secret", "app/db", crypto::Secret(R"({"p":"app-value"})"), {}).ok(),
        "write app/db");
    Check(secrets
              ->Write(admin, "secret", "hidden/x",
                      crypto::Secret("{\"p\":\"" + std::string(kMarker) + "\"}"), {})
              .ok(),
          "write hidden/x");
  }
};

void CheckResponse(const http::HttpResponse& r, bool narrow, std::string_view target) {
  Require(r.status < 500, "a /v1/ request answered 5xx");
  json body;
  if (!r.body.empty()) {
    body = json::parse(r.body, nullptr, false);
    Require(!body.is_discarded(), "a /v1/ answer is not JSON");
  }
  if (r.status >= 400) {
    bool deleted_version = r.status == 404 && body.is_object() && body.contains("data");
    Require(deleted_version ||
                (body.is_object() && body.contains("errors") && body["errors"].is_array()),
            "an error is not Vault's {\"errors\":[...]}");
  }
  if (!narrow) return;
  Require(r.body.find(kMarker) == std::string::npos,
          "the narrow key saw a secret outside its glob");
  if (r.status >= 300) return;
  bool own = false;
  for (std::string_view prefix :
       {"secret/data/app/", "secret/metadata/app/", "secret/delete/app/", "secret/undelete/app/",
        "secret/destroy/app/", "auth/token/", "sys/health", "sys/seal-status",
        "sys/internal/ui/mounts/secret"}) {
    own = own || target.starts_with(prefix);
  }
  // Listing the mount itself may succeed: it shows only the folder the glob names.
  bool mount_list = target == "secret/metadata" || target == "secret/metadata/";
  Require(own || mount_list, "the narrow key succeeded outside its glob");
}

}  // namespace
}  // namespace keyhold

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold;
  if (size == 0) return 0;
  World world;  // fresh for every input: what one input wrote cannot fool the next one's checks
  std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t nl = raw.find('\n');
  std::string target(raw.substr(0, nl));
  bool narrow = data[0] >= 128;
  http::HttpRequest request;
  request.method = std::string(kMethods[data[0] % std::size(kMethods)]);
  request.target = "/v1/" + target;
  request.headers = {
      {"x-vault-token", narrow ? world.narrow_key : world.root_key},
      {"content-type", data[0] % 2 ? "application/merge-patch+json" : "application/json"}};
  if (nl != std::string_view::npos) request.body = std::string(raw.substr(nl + 1));
  http::vault::VaultApi api({.version = "fuzz"}, world.env, world.keys.get(), world.secrets.get());
  RequestContext ctx{.request_id = "req_fuzz", .client_ip = "203.0.113.7", .may_block = false};
  http::HttpResponse response = api.Handle(ctx, request);
  if (response.later) {
    std::promise<http::HttpResponse> given;
    std::future<http::HttpResponse> answer = given.get_future();
    response.later([&given](http::HttpResponse r) { given.set_value(std::move(r)); });
    response = answer.get();
    // The same request on a worker gives the same answer.
    RequestContext worker = ctx;
    worker.may_block = true;
    http::HttpResponse again = api.Handle(worker, request);
    Require(!again.later && !again.run_on_worker && again.status == response.status &&
                again.body == response.body,
            "a read answered without a worker differs from the worker's answer");
  } else if (response.run_on_worker) {
    ctx.may_block = true;
    response = api.Handle(ctx, request);
  }
  static const bool trace = std::getenv("KEYHOLD_FUZZ_TRACE") != nullptr;
  if (trace) {
    std::fprintf(stderr, "%s /v1/%s %s\n-> %d %s\n", request.method.c_str(), target.c_str(),
                 request.body.c_str(), response.status, response.body.c_str());
  }
  CheckResponse(response, narrow, request.Path().substr(4));
  return 0;
}
