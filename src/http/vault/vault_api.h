// VaultApi: the `/v1/` surface, wire-compatible with HashiCorp Vault's HTTP API.
//
// Errors, whoever raises them, are Vault's `{"errors":[…]}` with the HTTP status. Served:
//   - KV version 2 under every enabled mount (docs/secrets.md): `<mount>/data|metadata|delete|
//     undelete|destroy/<path>`, `<mount>/config`, the LIST verb and `?list=true`;
//   - `auth/token/lookup-self`, `auth/token/renew-self`: the root key in `X-Vault-Token` (or
//     `Authorization: Bearer`) described as a Vault token;
//   - `sys/health`, `sys/seal-status`, `sys/mounts/<name>` (enable a KV v2 mount),
//     `sys/internal/ui/mounts/<path>` (which the vault CLI asks to learn a mount's KV version),
//     `sys/rotate` (a new keyring term; data keys re-wrapped in the background).
// Any other path is Vault's 404 for a route that has no handler. A missing, unknown or
// insufficient token is Vault's 403 `{"errors":["permission denied"]}`.
//
//   VaultApi vault({.version = "0.1.0"}, env, &keys, &secrets);
//   router.Mount("/v1/", vault);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "core/env.h"
#include "http/router.h"
#include "http/vault/vault_wire.h"

namespace keyhold::service {
class KeyService;
class SecretService;
}  // namespace keyhold::service

namespace keyhold::http::vault {

struct VaultOptions {
  std::string version;
  std::string storage_type = "sqlite";
};

class VaultApi final : public Surface {
 public:
  // `keys` authenticates tokens and `secrets` serves the KV mounts; without them only `sys/health`
  // and `sys/seal-status` are served.
  VaultApi(VaultOptions options, Env& env, service::KeyService* keys = nullptr,
           service::SecretService* secrets = nullptr)
      : options_(std::move(options)), env_(env), keys_(keys), secrets_(secrets) {}

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  std::string_view Name() const override { return "vault"; }
  std::vector<std::string_view> Routes() const override;
  int RouteIndex(std::string_view path) const override;

 private:
  HttpResponse Health(const HttpRequest& req);
  HttpResponse SealStatus();
  // Everything that needs a token.
  HttpResponse Authenticated(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Sys(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Token(RequestContext& ctx, const HttpRequest& req, std::string_view path);
  HttpResponse Kv(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Data(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Metadata(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Versions(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse Config(RequestContext& ctx, const HttpRequest& req, const KvPath& route);
  HttpResponse List(RequestContext& ctx, const KvPath& route);
  // Vault's success envelope around `data`.
  HttpResponse Envelope(const RequestContext& ctx, int status, nlohmann::json data) const;

  VaultOptions options_;
  Env& env_;
  service::KeyService* keys_;
  service::SecretService* secrets_;
};

// A Vault error response: {"errors":[detail]} (or [] when detail is empty).
HttpResponse VaultError(int status, std::string_view detail);

}  // namespace keyhold::http::vault
