// VaultApi: the `/v1/` surface, wire-compatible with HashiCorp Vault's HTTP API.
//
// Errors, whoever raises them, are Vault's `{"errors":[…]}` with the HTTP status. Served:
//   - KV version 2 under every enabled mount (docs/secrets.md): `<mount>/data|metadata|delete|
//     undelete|destroy/<path>`, `<mount>/config`, the LIST verb and `?list=true`;
//   - `auth/token/lookup-self`, `auth/token/renew-self`: the root key in `X-Vault-Token` (or
//     `Authorization: Bearer`) described as a Vault token;
//   - `sys/health`, `sys/seal-status`, `sys/unseal` (no token, as in Vault), `sys/seal` (a token
//     holding kSealPermission), `sys/mounts/<name>` (enable a KV v2 mount),
//     `sys/internal/ui/mounts/<path>` (which the vault CLI asks to learn a mount's KV version),
//     `sys/rotate` (a new keyring term; data keys re-wrapped in the background).
// While the server is sealed (SealControl) everything but `sys/health`, `sys/seal-status`,
// `sys/unseal` and `sys/seal` is Vault's 503 `{"errors":["Vault is sealed"]}`.
// Any other path is Vault's 404 for a route that has no handler. A missing, unknown or
// insufficient token is Vault's 403 `{"errors":["permission denied"]}`; an unknown one from a
// forwarded end-user address counts towards the brute-force guard's block (KeyService::
// AuthenticateFrom), and a blocked address is 429 with Retry-After before its token is checked.
// A query whose names or values do not %-decode is 400 naming the parameter, on every path.
//
//   VaultApi vault({.version = "0.1.0"}, env, &keys, &secrets);
//   router.Mount("/v1/", vault);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <atomic>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "http/request_gate.h"
#include "http/router.h"
#include "http/vault/vault_wire.h"

namespace keyhold::service {
class KeyService;
class SecretService;
}  // namespace keyhold::service

namespace keyhold::http::vault {

// What `sys/seal` needs (plain: no path glob). `*` and `secret.*` hold it; `secret.rotate` does
// not, so a key that may rotate the keyring cannot also take the secrets offline.
inline constexpr std::string_view kSealPermission = "secret.seal";

// The seal of a server that starts sealed (server/seal.h): its state, and unsealing by shares.
class SealControl {
 public:
  struct State {
    bool sealed = false;
    int threshold = 1;
    int shares = 1;
    int progress = 0;   // distinct shares held towards the threshold
    std::string nonce;  // names the unseal attempt in progress ("" when none)
  };
  virtual ~SealControl() = default;
  // Whether the master key is still missing; never waits.
  virtual bool IsSealed() const = 0;
  // May wait while an unseal is in progress: call from a worker.
  virtual State Get() = 0;
  // Takes one share (its text as the operator has it) from `ctx`'s caller (counted by its client
  // address; its request id is what the audit entry names). Errors:
  // kInvalidArgument for a share that is malformed, foreign, repeated, or completes a set that
  // does not give the master key (the progress is then reset); kResourceExhausted when `client`
  // sends shares or resets too fast (each address is counted apart, so one cannot hold the
  // others back); kUnavailable when the master key was had but the services that need it did
  // not start. Messages never quote the share.
  virtual StatusOr<State> Submit(std::string_view share, const RequestContext& ctx) = 0;
  // Forgets the shares held so far. Errors: kResourceExhausted as Submit.
  virtual StatusOr<State> Reset(const RequestContext& ctx) = 0;
  // Seals the running server again for `ctx`'s caller (who holds kSealPermission: the caller
  // checks): secrets answer 503 at once, the call returns once no request or rotation uses the
  // key material any more and it has been zeroed and freed; Submit then unseals as at start.
  // Sealing a sealed server changes nothing and is OK (as Vault). Must not be called from a
  // request that holds the secrets (VaultApi calls it before taking them). Errors:
  // kFailedPrecondition when this seal cannot seal a running server.
  virtual Status Seal(const RequestContext& ctx) = 0;
};

struct VaultOptions {
  std::string version;
  std::string storage_type = "sqlite";
  SealControl* seal = nullptr;  // null: the master key was at hand from the start
};

class VaultApi final : public Surface {
 public:
  // `keys` authenticates tokens and `secrets` serves the KV mounts; without them only `sys/health`
  // and `sys/seal-status` are served. A sealed server has no `secrets` until SetSecrets.
  VaultApi(VaultOptions options, Env& env, service::KeyService* keys = nullptr,
           service::SecretService* secrets = nullptr)
      : options_(std::move(options)), env_(env), keys_(keys), secrets_(secrets) {}

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  std::string_view Name() const override { return "vault"; }
  std::vector<std::string_view> Routes() const override;
  int RouteIndex(std::string_view path) const override;
  // Serves the KV mounts with `secrets` from now on (once the server is unsealed); `secrets` must
  // stay until SetSecrets(nullptr) has returned. Null (the server is being sealed): new requests
  // get 503 (or 404 without a seal), and the call returns once no request uses the old one.
  // Must not be called from a request of this surface.
  void SetSecrets(service::SecretService* secrets) { secrets_.Set(secrets); }

 private:
  HttpResponse Health(const HttpRequest& req);
  HttpResponse SealStatus(RequestContext& ctx);
  HttpResponse Unseal(RequestContext& ctx, const HttpRequest& req);
  HttpResponse Seal(RequestContext& ctx, const HttpRequest& req);
  // Authenticates the request's token into ctx.actor; the refusal (403, or 429 for a blocked
  // address) if it cannot.
  std::optional<HttpResponse> SignIn(RequestContext& ctx, const HttpRequest& req);
  // The secret service, set at construction or later (SetSecrets, also back to null when the
  // server is sealed); used only under a pass of its gate, which keeps it while a request runs.
  class LateSecrets {
   public:
    explicit LateSecrets(service::SecretService* s) : p_(s), gate_(s != nullptr) {}
    void Set(service::SecretService* s) {
      if (s != nullptr) {
        p_.store(s, std::memory_order_release);
        gate_.Open();
      } else {
        gate_.Close();
        p_.store(nullptr, std::memory_order_release);
      }
    }
    RequestGate::Pass Enter() { return gate_.Enter(); }
    service::SecretService* operator->() const { return p_.load(std::memory_order_acquire); }

   private:
    std::atomic<service::SecretService*> p_;
    RequestGate gate_;
  };
  // A read of a secret's data answered from the I/O thread, or nullopt (nothing done) if it
  // is to go to a worker.
  std::optional<HttpResponse> ReadWithoutWorker(RequestContext& ctx, const HttpRequest& req,
                                                std::string_view path);
  // Everything that needs a token.
  HttpResponse Authenticated(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Sys(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Token(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Kv(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Data(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Metadata(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Versions(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Config(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse List(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse ListRecursive(RequestContext& ctx, const HttpRequest& req, const KvPath& route,
                             const std::string& folder);
  static constexpr int kDefaultListPage = 1000;
  // Vault's success envelope around `data`.
  HttpResponse Envelope(const RequestContext& ctx, int status, nlohmann::json data) const;

  VaultOptions options_;
  Env& env_;
  service::KeyService* keys_;
  LateSecrets secrets_;
};

// A Vault error response: {"errors":[detail]} (or [] when detail is empty).
HttpResponse VaultError(int status, std::string_view detail);
// A service error in Vault's words: its status for the code, the message as the one error, Vault's
// bare 404 for anything not found, and Retry-After: 1 for a read refused because too many wait for
// their audit entries (service::kReadsBackloggedReason).
HttpResponse ErrorOf(const Status& st);

}  // namespace keyhold::http::vault
