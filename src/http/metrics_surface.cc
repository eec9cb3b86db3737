#include "http/metrics_surface.h"

#include "core/ip.h"
#include "http/auth.h"

namespace keyhold::http {

StatusOr<MetricsAccess> ParseMetricsAccess(std::string_view text) {
  if (text == "loopback") return MetricsAccess::kLoopback;
  if (text == "open") return MetricsAccess::kOpen;
  if (text == "root-key") return MetricsAccess::kRootKey;
  return InvalidArgument("metrics_access must be loopback, open or root-key");
}

int MetricsRefusal(MetricsAccess access, std::string_view peer_ip, const Principal& actor) {
  switch (access) {
    case MetricsAccess::kOpen:
      return 0;
    case MetricsAccess::kLoopback:
      return IsLoopback(peer_ip) ? 0 : 403;
    case MetricsAccess::kRootKey:
      if (actor.key_id.empty()) return 401;
      return actor.Can(kMetricsPermission) ? 0 : 403;
  }
  return 403;
}

std::optional<HttpResponse> MetricsSurface::Authorize(RequestContext& ctx, const HttpRequest& req) {
  if (access_ == MetricsAccess::kRootKey) {
    auto actor = AuthenticateRootKey(keys_, req);
    if (!actor.ok()) {
      return PlainJsonError(ctx, 401, actor.status().reason(), actor.status().message());
    }
    ctx.actor = std::move(actor).value();
  }
  switch (MetricsRefusal(access_, ctx.peer_ip, ctx.actor)) {
    case 0:
      return std::nullopt;
    case 401:
      return PlainJsonError(ctx, 401, "authentication/missing",
                            "send a root key as 'Authorization: Bearer <root key>'");
    default:
      break;
  }
  if (access_ == MetricsAccess::kLoopback) {
    return PlainJsonError(ctx, 403, "authorization/forbidden",
                          "metrics are served to loopback clients only (see metrics_access)");
  }
  return PlainJsonError(ctx, 403, "authorization/insufficient_permissions",
                        "the root key needs the permission " + std::string(kMetricsPermission));
}

HttpResponse MetricsSurface::Handle(RequestContext& ctx, const HttpRequest& req) {
  if (req.Path() != "/metrics") {
    return PlainJsonError(ctx, 404, "application/route_not_found", "no route for this path");
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r =
        PlainJsonError(ctx, 405, "application/method_not_allowed", "/metrics answers GET and HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (auto refused = Authorize(ctx, req)) return *refused;
  HttpResponse r;
  r.headers.emplace_back("Content-Type", std::string(metrics::kContentType));
  r.body = registry_.Render();  // HEAD: the listener sends only its length
  return r;
}

}  // namespace keyhold::http
