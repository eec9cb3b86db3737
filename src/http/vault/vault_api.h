// VaultApi: the `/v1/` surface, wire-compatible with HashiCorp Vault's HTTP API.
//
// Errors, whoever raises them, are Vault's `{"errors":["…"]}` with the HTTP status. Served so far:
// `GET|HEAD /v1/sys/health` and `GET /v1/sys/seal-status`; any other path is Vault's 404 for a
// route that has no handler.
//
//   VaultApi vault({.version = "0.1.0"});
//   router.Mount("/v1/", vault);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <string>

#include "core/env.h"
#include "http/router.h"

namespace keyhold::http::vault {

struct VaultOptions {
  std::string version;
  std::string storage_type = "sqlite";
};

class VaultApi final : public Surface {
 public:
  VaultApi(VaultOptions options, Env& env) : options_(std::move(options)), env_(env) {}

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  std::string_view Name() const override { return "vault"; }
  std::vector<std::string_view> Routes() const override;
  int RouteIndex(std::string_view path) const override;

 private:
  HttpResponse Health(const HttpRequest& req);
  HttpResponse SealStatus();

  VaultOptions options_;
  Env& env_;
};

// A Vault error response: {"errors":[detail]} (or [] when detail is empty).
HttpResponse VaultError(int status, std::string_view detail);

}  // namespace keyhold::http::vault
