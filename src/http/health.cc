#include "http/health.h"

#include <nlohmann/json.hpp>

namespace keyhold::http {

HttpResponse HealthSurface::Handle(RequestContext& ctx, const HttpRequest& req) {
  if (req.Path() != "/health") {
    return PlainJsonError(ctx, 404, "application/route_not_found", "no route for this path");
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r =
        PlainJsonError(ctx, 405, "application/method_not_allowed", "/health answers GET and HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  HttpResponse r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = nlohmann::json({{"status", "ok"}, {"version", version_}}).dump();  // HEAD: its length
  return r;
}

}  // namespace keyhold::http
