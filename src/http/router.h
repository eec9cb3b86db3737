// Router: gives each API surface its path prefix and its own error format.
//
// keyhold serves several surfaces from one listener: `/v2/` (Unkey's envelope), `/v1/` (Vault's
// `{"errors":[…]}`), `/health`, `/metrics`, and later `/forward-auth`. The router picks the
// surface that owns a path (longest prefix), and writes the errors the listener raises itself
// (malformed HTTP, 413, 408, ...) in that surface's format; a path nobody owns is answered 404 in
// plain JSON: {"error":{"status":404,"reason":"…","message":"…","requestId":"req_…"}}.
//
//   Router router;
//   router.Mount("/v2/", unkey_surface);
//   router.Mount("/health", health_surface);
//   auto server = HttpServer::Start(options, router);
//
// Thread-safety: Mount before the server starts; Handle and Reject are then safe concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace keyhold::http {

// One family of paths with its own wire format.
class Surface {
 public:
  virtual ~Surface() = default;
  // Answers a request whose path this surface owns; see Handler::Handle for `ctx.may_block`.
  virtual HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) = 0;
  // An error in this surface's format. `reason` is keyhold's "category/name" of the error.
  virtual HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                             std::string_view detail) const = 0;

  // For metrics labels: the surface's name ("unkey", "vault", ...), every route it serves
  // (fixed when it is built, e.g. "keys.verifyKey"), and which of them `path` is — an index into
  // Routes(), or -1 for a path that is none of them. A label is always chosen from this fixed
  // list, never taken from the path, so nothing a client sends can become a label.
  virtual std::string_view Name() const = 0;
  virtual std::vector<std::string_view> Routes() const = 0;
  virtual int RouteIndex(std::string_view path) const = 0;
};

// The error format of paths no surface owns: plain JSON.
HttpResponse PlainJsonError(const RequestContext& ctx, int status, std::string_view reason,
                            std::string_view detail);

class Router final : public Handler {
 public:
  // Mounts `surface` (which must outlive the router) at `prefix`. A prefix ending in '/' or '.'
  // ("/v2/secrets.": a family of operations) owns every path that starts with it; any other
  // prefix owns the path itself and the paths under it
  // ("/forward-auth" owns "/forward-auth" and "/forward-auth/check", not "/forward-authx").
  void Mount(std::string prefix, Surface& surface);

  // The surface owning `path`, or nullptr.
  Surface* Find(std::string_view path) const;
  // Every mounted surface, once each, in mount order.
  std::vector<Surface*> Surfaces() const;

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Reject(const RequestContext& ctx, std::string_view path, int status,
                      std::string_view reason, std::string_view detail) override;

 private:
  struct Route {
    std::string prefix;
    Surface* surface;
  };
  std::vector<Route> routes_;       // longest prefix first
  std::vector<Surface*> surfaces_;  // mount order
};

}  // namespace keyhold::http
