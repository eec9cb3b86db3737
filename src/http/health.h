// HealthSurface: `GET /health`, for load balancers and orchestrators: 200 {"status":"ok",
// "version":"…"} while the server serves. Errors are plain JSON (router.h).
#pragma once

#include <string>

#include "http/router.h"

namespace keyhold::http {

class HealthSurface final : public Surface {
 public:
  explicit HealthSurface(std::string version) : version_(std::move(version)) {}
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override {
    return PlainJsonError(ctx, status, reason, detail);
  }
  std::string_view Name() const override { return "health"; }
  std::vector<std::string_view> Routes() const override { return {"/health"}; }
  int RouteIndex(std::string_view path) const override { return path == "/health" ? 0 : -1; }

 private:
  std::string version_;
};

}  // namespace keyhold::http
