// AlertService: the alert outbox's front door. It is the server's AlertSink (audit/alert.h):
// alerts raised anywhere are checked, logged, and stored with their webhook deliveries in one
// transaction; the delivery worker (audit/webhook_delivery.h) sends them. It also serves the
// keyhold-only operations that manage webhook endpoints and read and acknowledge alerts.
//
//   auto alerts = AlertService::Create(store, env, master_key, {.dedupe_window = 10min});
//   KH_ASSIGN_OR_RETURN(CreatedEndpoint e, alerts->CreateEndpoint(ctx, {.url = "https://..."}));
//   e.secret.Reveal();  // "whsec_...", shown once
//   alerts->Raise(alert);
//
// Permissions: `alerts.*.read` to list and get, `alerts.*.manage` for every change. Every change
// is audited in its own transaction (actions webhook_endpoint.create|update|delete|rotate_secret
// and alert.acknowledge); signing secrets are stored sealed and never appear in an audit entry,
// a log line or an error. An entry shows an endpoint's URL as its origin and a SensitiveDigest,
// as a webhook URL's path is often a bearer secret of the receiver's.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/alert.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "crypto/secret.h"
#include "store/store.h"

namespace keyhold::service {

struct AlertOptions {
  // A raise whose dedupe key matches an open alert this recent is counted, not raised again.
  std::chrono::milliseconds dedupe_window = std::chrono::minutes(10);
  // How long the old secret of a rotated endpoint keeps signing.
  std::chrono::milliseconds secret_grace = std::chrono::hours(24);
  // Called after an alert was stored with deliveries (wakes the delivery worker).
  std::function<void()> on_queued;
};

// An endpoint as the operations show it: everything but its secrets.
struct WebhookEndpoint {
  std::string id;
  std::string url;
  std::string description;
  std::vector<std::string> kinds;  // empty: every kind
  bool enabled = true;
  std::string disabled_reason;
  std::optional<int64_t> previous_secret_until_ms;  // set while a rotated-out secret still signs
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

// One delivery of an alert to an endpoint, as the operations show it.
struct DeliveryInfo {
  std::string message_id;  // the webhook-id of every attempt
  std::string alert_id;
  std::string status;  // "pending", "delivered" or "failed"
  int32_t attempts = 0;
  std::optional<int64_t> next_attempt_ms;  // while pending
  int32_t last_http_status = 0;            // 0: no answer yet
  std::string last_error;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

struct EndpointSpec {
  std::string url;
  std::string description;
  std::vector<std::string> kinds;
  bool enabled = true;
};

// Fields to change; unset ones stay.
struct EndpointUpdate {
  std::optional<std::string> url;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> kinds;
  std::optional<bool> enabled;
};

struct CreatedEndpoint {
  WebhookEndpoint endpoint;
  crypto::Secret secret;  // "whsec_...": shown once, stored only sealed
};

struct AlertFilter {
  std::string kind;
  std::optional<bool> acknowledged;
  std::optional<int64_t> since_ms;
};

struct AlertPage {
  std::vector<audit::Alert> alerts;  // newest first
  std::string cursor;                // pass back for the next (older) page
  bool has_more = false;
};

class AlertService : public audit::AlertSink {
 public:
  // `store` and `env` must outlive the service; `master_key` (32 bytes) is used only here, to
  // derive the key that seals signing secrets (audit::WebhookSecretKey). An empty `master_key`
  // (a sealed server) makes a service that raises and lists alerts but answers kUnavailable
  // ("server/sealed") to creating an endpoint or rotating its secret until Unseal.
  static std::unique_ptr<AlertService> Create(store::Store& store, Env& env,
                                              std::span<const uint8_t> master_key,
                                              AlertOptions options = {});

  // Gives a service made without a master key (or sealed since) the key; while it has one,
  // later calls change nothing.
  virtual void Unseal(std::span<const uint8_t> master_key) = 0;
  // Forgets the key Unseal gave, zeroed, once no call still uses it: creating an endpoint or
  // rotating its secret is then kUnavailable ("server/sealed") again until Unseal.
  virtual void Seal() = 0;

  // audit::AlertSink: also writes the alert to the log (ids and addresses only).
  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override = 0;

  // Creates an endpoint with a new signing secret. Errors: kPermissionDenied without
  // alerts.*.manage; kInvalidArgument for a bad url or an unknown kind; kUnavailable (nothing
  // created, e.g. its audit entry could not be written).
  virtual StatusOr<CreatedEndpoint> CreateEndpoint(const RequestContext& ctx,
                                                   const EndpointSpec& spec) = 0;
  // Errors: kPermissionDenied without alerts.*.read; kUnavailable.
  virtual StatusOr<std::vector<WebhookEndpoint>> ListEndpoints(const RequestContext& ctx) = 0;
  // Errors: as ListEndpoints; kNotFound.
  virtual StatusOr<WebhookEndpoint> GetEndpoint(const RequestContext& ctx,
                                                const std::string& id) = 0;
  // Changes the given fields; enabling an endpoint clears its disabled_reason. Errors: as
  // CreateEndpoint; kNotFound.
  virtual StatusOr<WebhookEndpoint> UpdateEndpoint(const RequestContext& ctx, const std::string& id,
                                                   const EndpointUpdate& update) = 0;
  // Makes a new signing secret; the old one keeps signing for the grace period (both signatures
  // are sent). Errors: as UpdateEndpoint.
  virtual StatusOr<CreatedEndpoint> RotateSecret(const RequestContext& ctx,
                                                 const std::string& id) = 0;
  // Removes the endpoint and its deliveries. Errors: as UpdateEndpoint.
  virtual Status DeleteEndpoint(const RequestContext& ctx, const std::string& id) = 0;
  // Raises a webhook.test alert delivered to endpoint `id` only. Errors: as UpdateEndpoint.
  virtual StatusOr<audit::RaiseOutcome> TestEndpoint(const RequestContext& ctx,
                                                     const std::string& id) = 0;
  // The newest `limit` (1..1000) deliveries to endpoint `id`. Errors: as GetEndpoint.
  virtual StatusOr<std::vector<DeliveryInfo>> ListDeliveries(const RequestContext& ctx,
                                                             const std::string& id, int limit) = 0;
  // Alerts matching `filter`, newest first, `limit` (1..1000) at a time from `cursor`.
  // Errors: kPermissionDenied without alerts.*.read; kInvalidArgument for a bad cursor;
  // kUnavailable.
  virtual StatusOr<AlertPage> ListAlerts(const RequestContext& ctx, const AlertFilter& filter,
                                         const std::string& cursor, int limit) = 0;
  // Acknowledges alert `id` (once: a second acknowledgement changes nothing) and returns it.
  // Errors: kPermissionDenied without alerts.*.manage; kNotFound; kUnavailable.
  virtual StatusOr<audit::Alert> Acknowledge(const RequestContext& ctx, const std::string& id) = 0;
};

}  // namespace keyhold::service
