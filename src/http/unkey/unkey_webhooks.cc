// UnkeyApi: webhook endpoints and alerts (keyhold's own operations; docs/alerts.md). A signing
// secret appears in exactly two answers, createEndpoint's and rotateSecret's, and nowhere else.
#include "audit/json.h"
#include "http/unkey/call.h"
#include "http/unkey/unkey_api.h"

namespace keyhold::http::unkey {

namespace {

constexpr StringRule kEndpointIdRule{.required = true, .min = 1, .max = 128};
constexpr StringRule kUrlRule{.min = 1, .max = 2048};
constexpr StringRule kDescriptionRule{.max = 1024};
constexpr StringRule kKindRule{.min = 1, .max = 64};
constexpr size_t kMaxKinds = 32;

json EndpointJson(const service::WebhookEndpoint& e) {
  return {{"endpointId", e.id},
          {"url", e.url},
          {"description", e.description},
          {"kinds", e.kinds},
          {"enabled", e.enabled},
          {"disabledReason", e.disabled_reason.empty() ? json(nullptr) : json(e.disabled_reason)},
          {"previousSecretValidUntil",
           e.previous_secret_until_ms ? json(*e.previous_secret_until_ms) : json(nullptr)},
          {"createdAt", e.created_at_ms},
          {"updatedAt", e.updated_at_ms}};
}

json DeliveryJson(const service::DeliveryInfo& d) {
  return {{"messageId", d.message_id},
          {"alertId", d.alert_id},
          {"status", d.status},
          {"attempts", d.attempts},
          {"nextAttemptAt", d.next_attempt_ms ? json(*d.next_attempt_ms) : json(nullptr)},
          {"lastHttpStatus", d.last_http_status ? json(d.last_http_status) : json(nullptr)},
          {"lastError", d.last_error.empty() ? json(nullptr) : json(d.last_error)},
          {"createdAt", d.created_at_ms},
          {"updatedAt", d.updated_at_ms}};
}

json CreatedJson(const service::CreatedEndpoint& c) {
  json out = EndpointJson(c.endpoint);
  out["secret"] = std::string(c.secret.Reveal());
  return out;
}

}  // namespace

HttpResponse UnkeyApi::CreateWebhookEndpoint(Call& c) {
  service::EndpointSpec spec;
  spec.url = c.r.String("url", {.required = true, .min = 1, .max = 2048}).value_or("");
  spec.description = c.r.String("description", kDescriptionRule).value_or("");
  spec.kinds = c.r.Strings("kinds", kKindRule, kMaxKinds).value_or(std::vector<std::string>{});
  spec.enabled = c.r.Bool("enabled").value_or(true);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, created, alerts_.CreateEndpoint(c.ctx, spec));
  return Ok(c.id, CreatedJson(*created));
}

HttpResponse UnkeyApi::ListWebhookEndpoints(Call& c) {
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, endpoints, alerts_.ListEndpoints(c.ctx));
  json data = json::array();
  for (const auto& e : *endpoints) data.push_back(EndpointJson(e));
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::GetWebhookEndpoint(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, endpoint, alerts_.GetEndpoint(c.ctx, id));
  return Ok(c.id, EndpointJson(*endpoint));
}

HttpResponse UnkeyApi::UpdateWebhookEndpoint(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  service::EndpointUpdate u;
  u.url = c.r.String("url", kUrlRule);
  u.description = c.r.String("description", kDescriptionRule);
  u.kinds = c.r.Strings("kinds", kKindRule, kMaxKinds);
  u.enabled = c.r.Bool("enabled");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, endpoint, alerts_.UpdateEndpoint(c.ctx, id, u));
  return Ok(c.id, EndpointJson(*endpoint));
}

HttpResponse UnkeyApi::RotateWebhookSecret(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, rotated, alerts_.RotateSecret(c.ctx, id));
  return Ok(c.id, CreatedJson(*rotated));
}

HttpResponse UnkeyApi::DeleteWebhookEndpoint(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  if (auto bad = c.Finish()) return *bad;
  if (Status st = alerts_.DeleteEndpoint(c.ctx, id); !st.ok()) return unkey::Error(c.id, st);
  return Ok(c.id, json::object());
}

HttpResponse UnkeyApi::TestWebhookEndpoint(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, raised, alerts_.TestEndpoint(c.ctx, id));
  return Ok(c.id, {{"alertId", raised->alert_id}, {"deliveries", raised->deliveries}});
}

HttpResponse UnkeyApi::ListWebhookDeliveries(Call& c) {
  std::string id = c.r.String("endpointId", kEndpointIdRule).value_or("");
  int limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 1000}).value_or(100));
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, deliveries, alerts_.ListDeliveries(c.ctx, id, limit));
  json data = json::array();
  for (const auto& d : *deliveries) data.push_back(DeliveryJson(d));
  return Ok(c.id, data);
}

HttpResponse UnkeyApi::ListAlerts(Call& c) {
  service::AlertFilter f;
  f.kind = c.r.String("kind", {.max = 64}).value_or("");
  f.acknowledged = c.r.Bool("acknowledged");
  f.since_ms = c.r.Int("since", {.min = 0, .max = 253402300799999});
  int limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 1000}).value_or(100));
  std::string cursor = c.r.String("cursor", {.max = 128}).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, alerts_.ListAlerts(c.ctx, f, cursor, limit));
  json data = json::array();
  for (const auto& a : page->alerts) data.push_back(audit::AlertJson(a));
  return OkPage(c.id, data, page->cursor, page->has_more);
}

HttpResponse UnkeyApi::AcknowledgeAlert(Call& c) {
  std::string id = c.r.String("alertId", kEndpointIdRule).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, alert, alerts_.Acknowledge(c.ctx, id));
  return Ok(c.id, audit::AlertJson(*alert));
}

}  // namespace keyhold::http::unkey
