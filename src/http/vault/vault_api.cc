#include "http/vault/vault_api.h"

#include <iterator>
#include <nlohmann/json.hpp>

#include "http/json_response.h"

namespace keyhold::http::vault {

using nlohmann::json;

HttpResponse VaultError(int status, std::string_view detail) {
  json errors = json::array();
  if (!detail.empty()) errors.push_back(detail);
  return JsonResponse(status, {{"errors", errors}});
}

HttpResponse VaultApi::Error(const RequestContext& /*ctx*/, int status, std::string_view /*reason*/,
                             std::string_view detail) const {
  return VaultError(status, detail);
}

// The paths served, after "/v1/": the route labels of metrics.
static constexpr std::string_view kRoutes[] = {"sys/health", "sys/seal-status"};

std::vector<std::string_view> VaultApi::Routes() const {
  return {std::begin(kRoutes), std::end(kRoutes)};
}

int VaultApi::RouteIndex(std::string_view path) const {
  if (!path.starts_with("/v1/")) return -1;
  path.remove_prefix(4);
  for (size_t i = 0; i < std::size(kRoutes); ++i) {
    if (kRoutes[i] == path) return static_cast<int>(i);
  }
  return -1;
}

HttpResponse VaultApi::Handle(RequestContext& /*ctx*/, const HttpRequest& req) {
  std::string_view path = req.Path().substr(4);  // after "/v1/"
  if (path == "sys/health") return Health(req);
  if (path == "sys/seal-status") {
    if (req.method != "GET") return VaultError(405, "");
    return SealStatus();
  }
  // Vault's own words for a path no mount or backend serves.
  return VaultError(404, "no handler for route \"" + std::string(path.substr(0, 256)) +
                             "\". route entry not found.");
}

// The server holds its master key from start-up, so it is always initialized, unsealed and
// active: 200.
HttpResponse VaultApi::Health(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return VaultError(405, "");
  json body = {{"initialized", true},
               {"sealed", false},
               {"standby", false},
               {"performance_standby", false},
               {"replication_performance_mode", "disabled"},
               {"replication_dr_mode", "disabled"},
               {"server_time_utc", env_.NowMillis() / 1000},
               {"version", options_.version},
               {"cluster_name", "keyhold"}};
  return JsonResponse(200, body);  // for HEAD the listener sends the head alone
}

HttpResponse VaultApi::SealStatus() {
  return JsonResponse(200, {{"type", "shamir"},
                            {"initialized", true},
                            {"sealed", false},
                            {"t", 1},
                            {"n", 1},
                            {"progress", 0},
                            {"nonce", ""},
                            {"version", options_.version},
                            {"build_date", ""},
                            {"migration", false},
                            {"recovery_seal", false},
                            {"storage_type", options_.storage_type}});
}

}  // namespace keyhold::http::vault
