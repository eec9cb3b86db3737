#include "http/router.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "http/json_response.h"

namespace keyhold::http {

HttpResponse PlainJsonError(const RequestContext& ctx, int status, std::string_view reason,
                            std::string_view detail) {
  return JsonResponse(status, {{"error",
                                {{"status", status},
                                 {"reason", reason},
                                 {"message", detail},
                                 {"requestId", ctx.request_id}}}});
}

void Router::Mount(std::string prefix, Surface& surface) {
  routes_.push_back({std::move(prefix), &surface});
  if (std::find(surfaces_.begin(), surfaces_.end(), &surface) == surfaces_.end()) {
    surfaces_.push_back(&surface);
  }
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) {
    return a.prefix.size() > b.prefix.size();
  });
}

Surface* Router::Find(std::string_view path) const {
  for (const Route& r : routes_) {
    if (!path.starts_with(r.prefix)) continue;
    // A prefix ending in '/' or '.' (a family of operations, "/v2/secrets.") owns all it starts.
    if (r.prefix.ends_with('/') || r.prefix.ends_with('.') || path.size() == r.prefix.size() ||
        path[r.prefix.size()] == '/') {
      return r.surface;
    }
  }
  return nullptr;
}

std::vector<Surface*> Router::Surfaces() const { return surfaces_; }

HttpResponse Router::Handle(RequestContext& ctx, const HttpRequest& req) {
  std::string_view path = req.Path();
  if (Surface* s = Find(path)) return s->Handle(ctx, req);
  // The path is not repeated: a client may have put a key in it.
  return PlainJsonError(ctx, 404, "application/route_not_found",
                        "no route for " + req.method + " at this path");
}

HttpResponse Router::Reject(const RequestContext& ctx, std::string_view path, int status,
                            std::string_view reason, std::string_view detail) {
  if (Surface* s = Find(path)) return s->Error(ctx, status, reason, detail);
  return PlainJsonError(ctx, status, reason, detail);
}

}  // namespace keyhold::http
