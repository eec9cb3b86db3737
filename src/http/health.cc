#include "http/health.h"

#include <nlohmann/json.hpp>

namespace keyhold::http {

std::string_view Readiness::Name(State s) {
  switch (s) {
    case State::kLoading:
      return "loading";
    case State::kReady:
      return "ready";
    case State::kStoreUnreachable:
      return "store_unreachable";
    case State::kStopping:
      return "stopping";
  }
  return "loading";
}

int HealthSurface::RouteIndex(std::string_view path) const {
  if (path == "/health") return 0;
  if (path == "/health/live") return 1;
  if (path == "/health/ready") return 2;
  return -1;
}

HttpResponse HealthSurface::Handle(RequestContext& ctx, const HttpRequest& req) {
  int route = RouteIndex(req.Path());
  if (route < 0) {
    return PlainJsonError(ctx, 404, "application/route_not_found", "no route for this path");
  }
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = PlainJsonError(ctx, 405, "application/method_not_allowed",
                                    "health routes answer GET and HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  Readiness::State state = readiness_.Get();
  HttpResponse r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  nlohmann::json body;
  if (route == 0) {
    body = {{"status", "ok"}, {"version", version_}, {"ready", state == Readiness::State::kReady}};
    if (readiness_.Sealed()) body["sealed"] = true;
  } else if (route == 1) {
    body = {{"status", "ok"}};
  } else {
    bool sealed = state == Readiness::State::kReady && readiness_.Sealed();
    body = {{"status", sealed ? "sealed" : Readiness::Name(state)}};
    if (state != Readiness::State::kReady) {
      r.status = 503;
      r.headers.emplace_back("Retry-After", "1");
    }
  }
  r.body = body.dump();  // HEAD: its length
  return r;
}

HttpResponse LoadingSurface::Handle(RequestContext& ctx, const HttpRequest&) {
  HttpResponse r = PlainJsonError(ctx, 503, "server/loading",
                                  "the server is starting: its keys are being loaded");
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

}  // namespace keyhold::http
