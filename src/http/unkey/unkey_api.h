// UnkeyApi: keyhold's keys API, wire-compatible with Unkey's v2 API (`POST /v2/<ns>.<op>`).
//
// Translates requests to KeyService calls and results back to Unkey's envelopes; it holds no
// state and no business rules of its own. Every error is the spec's envelope with the request
// id; a 400 lists each bad field in `errors[]` with its `location`. Bodies nested deeper than
// kMaxJsonDepth are refused before they are parsed.
//
// Operations that write run on a worker thread (HttpResponse::RunOnWorker); verifyKey and the
// reads answer on the I/O thread, and verifyKey moves to a worker only when it has credits to
// spend.
//
//   UnkeyApi api(service);
//   router.Mount("/v2/", api);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "http/message.h"
#include "http/router.h"
#include "service/alerts.h"
#include "service/analytics.h"
#include "service/audit_service.h"
#include "service/key_service.h"

namespace keyhold::http::unkey {

class Call;

// JSON request bodies nested deeper than this are refused with 400 before they are parsed.
inline constexpr int kMaxJsonDepth = 64;

class UnkeyApi final : public Surface {
 public:
  // The services must outlive the surface.
  UnkeyApi(service::KeyService& service, service::AuditService& audit,
           service::AnalyticsService& analytics, service::AlertService& alerts);
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  // Routes: "liveness" and every operation ("keys.verifyKey", ...).
  std::string_view Name() const override { return "unkey"; }
  std::vector<std::string_view> Routes() const override;
  int RouteIndex(std::string_view path) const override;

  using Operation = HttpResponse (UnkeyApi::*)(Call&);
  // Whether an operation may wait on the disk (and so runs on a worker thread).
  enum class Blocking { kNever, kMay };
  struct OperationInfo {
    Operation handler;
    Blocking blocking;
    int route_index = 0;  // in Routes()
  };

 private:
  // Authenticates the bearer token into ctx.actor, or returns the 401 to send.
  std::optional<HttpResponse> Authenticate(RequestContext& ctx, const HttpRequest& req);

  HttpResponse ListAuditEvents(Call& c);
  HttpResponse CreateWebhookEndpoint(Call& c);
  HttpResponse ListWebhookEndpoints(Call& c);
  HttpResponse GetWebhookEndpoint(Call& c);
  HttpResponse UpdateWebhookEndpoint(Call& c);
  HttpResponse RotateWebhookSecret(Call& c);
  HttpResponse DeleteWebhookEndpoint(Call& c);
  HttpResponse TestWebhookEndpoint(Call& c);
  HttpResponse ListWebhookDeliveries(Call& c);
  HttpResponse ListAlerts(Call& c);
  HttpResponse AcknowledgeAlert(Call& c);
  HttpResponse GetVerifications(Call& c);
  HttpResponse VerifyAuditChain(Call& c);
  HttpResponse CreateApi(Call& c);
  HttpResponse GetApi(Call& c);
  HttpResponse UpdateApi(Call& c);
  HttpResponse ListApis(Call& c);
  HttpResponse DeleteApi(Call& c);
  HttpResponse ListKeys(Call& c);
  HttpResponse CreateKey(Call& c);
  HttpResponse VerifyKey(Call& c);
  HttpResponse GetKey(Call& c);
  HttpResponse Whoami(Call& c);
  HttpResponse UpdateKey(Call& c);
  HttpResponse UpdateCredits(Call& c);
  HttpResponse DeleteKey(Call& c);
  HttpResponse RerollKey(Call& c);
  HttpResponse RevokeKeys(Call& c);
  HttpResponse ReportLeak(Call& c);
  HttpResponse ListDueKeys(Call& c);
  HttpResponse MigrateKeys(Call& c);
  HttpResponse RerollRootKey(Call& c);
  HttpResponse AddPermissions(Call& c);
  HttpResponse SetPermissions(Call& c);
  HttpResponse RemovePermissions(Call& c);
  HttpResponse ChangePermissions(Call& c, service::SetMode mode);
  HttpResponse AddRoles(Call& c);
  HttpResponse SetRoles(Call& c);
  HttpResponse RemoveRoles(Call& c);
  HttpResponse ChangeRoles(Call& c, service::SetMode mode);
  HttpResponse CreateIdentity(Call& c);
  HttpResponse GetIdentity(Call& c);
  HttpResponse ListIdentities(Call& c);
  HttpResponse UpdateIdentity(Call& c);
  HttpResponse DeleteIdentity(Call& c);
  HttpResponse CreatePermission(Call& c);
  HttpResponse GetPermission(Call& c);
  HttpResponse ListPermissions(Call& c);
  HttpResponse DeletePermission(Call& c);
  HttpResponse CreateRole(Call& c);
  HttpResponse GetRole(Call& c);
  HttpResponse ListRoles(Call& c);
  HttpResponse DeleteRole(Call& c);
  HttpResponse CreateRootKey(Call& c);
  HttpResponse ListRootKeys(Call& c);
  HttpResponse DeleteRootKey(Call& c);
  HttpResponse RatelimitLimit(Call& c);
  HttpResponse RatelimitMultiLimit(Call& c);
  HttpResponse SetRatelimitOverride(Call& c);
  HttpResponse GetRatelimitOverride(Call& c);
  HttpResponse ListRatelimitOverrides(Call& c);
  HttpResponse DeleteRatelimitOverride(Call& c);

  service::KeyService& service_;
  service::AuditService& audit_;
  service::AnalyticsService& analytics_;
  service::AlertService& alerts_;
  std::map<std::string, OperationInfo, std::less<>> operations_;
};

}  // namespace keyhold::http::unkey
