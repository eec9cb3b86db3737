// MetricsSurface: `GET|HEAD /metrics`, the Prometheus text exposition (format 0.0.4) of a
// metrics::Registry. Errors are plain JSON (router.h), like every path outside /v1/ and /v2/.
//
// Who may scrape is a setting (`--metrics-access`):
// - kLoopback (default): clients whose socket peer is a loopback address; anyone else gets 403.
//   The peer, not the client address: X-Forwarded-For from a trusted proxy on the same host
//   must not open metrics to the world behind it.
// - kOpen: anyone who can reach the listener.
// - kRootKey: `Authorization: Bearer <root key>` holding kMetricsPermission; a missing, malformed
//   or unknown key is 401, a key without the permission 403.
//
//   MetricsSurface metrics(registry, MetricsAccess::kLoopback, keys);
//   router.Mount("/metrics", metrics);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <optional>
#include <string_view>

#include "core/status.h"
#include "http/router.h"
#include "metrics/metrics.h"
#include "service/key_service.h"

namespace keyhold::http {

enum class MetricsAccess { kLoopback, kOpen, kRootKey };

// The permission a root key needs to scrape under MetricsAccess::kRootKey.
inline constexpr std::string_view kMetricsPermission = "metrics.*.read";

// "loopback", "open" or "root-key". Errors: kInvalidArgument naming the accepted values.
StatusOr<MetricsAccess> ParseMetricsAccess(std::string_view text);

// Whether a request from socket peer `peer_ip`, with `actor` (authenticated or not), may scrape
// under `access`: 0 if it may, else the HTTP status to refuse it with (401 or 403). `actor` is
// only looked at under kRootKey, where an empty key_id means the request did not authenticate.
int MetricsRefusal(MetricsAccess access, std::string_view peer_ip, const Principal& actor);

class MetricsSurface final : public Surface {
 public:
  // `registry` and `keys` must outlive the surface.
  MetricsSurface(const metrics::Registry& registry, MetricsAccess access, service::KeyService& keys)
      : registry_(registry), access_(access), keys_(keys) {}

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override {
    return PlainJsonError(ctx, status, reason, detail);
  }
  std::string_view Name() const override { return "metrics"; }
  std::vector<std::string_view> Routes() const override { return {"/metrics"}; }
  int RouteIndex(std::string_view path) const override { return path == "/metrics" ? 0 : -1; }

 private:
  // The refusal to send, if this request may not scrape; sets ctx.actor under kRootKey.
  std::optional<HttpResponse> Authorize(RequestContext& ctx, const HttpRequest& req);

  const metrics::Registry& registry_;
  const MetricsAccess access_;
  service::KeyService& keys_;
};

}  // namespace keyhold::http
