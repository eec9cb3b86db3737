// AlertService: alerts raised, logged and queued; webhook endpoints managed with their audit
// entries. The signing secret is sealed before it reaches the store and its text leaves this file
// only once, in the CreatedEndpoint handed to the caller who asked for it.
#include "service/alerts.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>

#include "audit/webhook.h"
#include "core/ids.h"
#include "service/internal.h"

namespace keyhold::service {

using nlohmann::json;
using store::WebhookEndpointRecord;

namespace {

constexpr int kMaxPage = 1000;
constexpr size_t kMaxKinds = 32;

WebhookEndpoint View(const WebhookEndpointRecord& r) {
  return {r.id,
          r.url,
          r.description,
          r.kinds,
          r.enabled,
          r.disabled_reason,
          r.previous_secret_until_ms,
          r.created_at_ms,
          r.updated_at_ms};
}

DeliveryInfo Info(const store::DeliveryRecord& d) {
  DeliveryInfo out{d.id,         d.alert_id,      "pending",
                   d.attempts,   std::nullopt,    d.last_http_status,
                   d.last_error, d.created_at_ms, d.updated_at_ms};
  if (d.status == store::DeliveryStatus::kDelivered) {
    out.status = "delivered";
  } else if (d.status == store::DeliveryStatus::kFailed) {
    out.status = "failed";
  } else {
    out.next_attempt_ms = d.next_attempt_ms;
  }
  return out;
}

// A URL as the audit log records it: scheme, host and port, with the rest as "/…" (a webhook
// URL's path or query is often itself a bearer secret), and the whole as a SensitiveDigest so a
// change of it still shows.
json AuditUrl(const std::string& url, std::span<const uint8_t> salt) {
  auto parsed = audit::ParseWebhookUrl(url);
  std::string shown = "[unparsable]";
  if (parsed.ok()) {
    bool v6 = parsed->host.find(':') != std::string::npos;
    shown = std::string(parsed->tls ? "https://" : "http://") +
            (v6 ? "[" + parsed->host + "]" : parsed->host) + ":" + parsed->port +
            (parsed->target == "/" ? "/" : "/…");
  }
  return {{"origin", shown}, {"digest", audit::SensitiveDigest(salt, url)}};
}

// An endpoint's audit description: its settings, never its secrets.
json Describe(const WebhookEndpointRecord& r, std::span<const uint8_t> salt) {
  return {{"url", AuditUrl(r.url, salt)},
          {"description", r.description},
          {"kinds", r.kinds},
          {"enabled", r.enabled}};
}

Status CheckKinds(const std::vector<std::string>& kinds) {
  if (kinds.size() > kMaxKinds) return InvalidArgument("at most 32 kinds may be given");
  for (const std::string& k : kinds) {
    bool family = k.size() > 2 && k.ends_with(".*");
    if (!family && !audit::IsAlertKind(k)) {
      return InvalidArgument("'" + k.substr(0, 64) + "' is not an alert kind (docs/alerts.md)");
    }
  }
  return OkStatus();
}

std::string Details(const json& before, const json& after) {
  json d = json::object();
  if (!before.is_null()) d["before"] = before;
  if (!after.is_null()) d["after"] = after;
  return d.dump();
}

class AlertServiceImpl final : public AlertService {
 public:
  AlertServiceImpl(store::Store& store, Env& env, std::span<const uint8_t> master_key,
                   AlertOptions options)
      : store_(store), env_(env), options_(std::move(options)) {
    if (!master_key.empty()) Unseal(master_key);
  }

  void Unseal(std::span<const uint8_t> master_key) override {
    std::unique_lock lock(key_mu_);
    if (has_storage_key_) return;
    storage_key_ = audit::WebhookSecretKey(master_key);
    has_storage_key_ = true;
  }

  void Seal() override {
    std::unique_lock lock(key_mu_);  // waits for the calls sealing a secret with the key
    OPENSSL_cleanse(storage_key_.data(), storage_key_.size());
    has_storage_key_ = false;
  }

  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override {
    return RaiseTo(alert, "");
  }

  StatusOr<CreatedEndpoint> CreateEndpoint(const RequestContext& ctx,
                                           const EndpointSpec& spec) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    KH_RETURN_IF_ERROR(Unsealed());  // said first; checked again as the key is used
    KH_RETURN_IF_ERROR(audit::ParseWebhookUrl(spec.url).status());
    KH_RETURN_IF_ERROR(CheckKinds(spec.kinds));
    KH_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, Salt());
    WebhookEndpointRecord r;
    r.id = NewId(env_, "wh");
    r.url = spec.url;
    r.description = spec.description;
    r.kinds = spec.kinds;
    r.enabled = spec.enabled;
    r.created_at_ms = r.updated_at_ms = env_.NowMillis();
    audit::WebhookSecret secret = audit::NewWebhookSecret(env_);
    KH_ASSIGN_OR_RETURN(r.secret_sealed, SealSigningSecret(r.id, secret.key));
    audit::AuditEntry e =
        Entry(ctx, "webhook_endpoint.create", r.id, Details(nullptr, Describe(r, salt)));
    KH_RETURN_IF_ERROR(store_.PutWebhookEndpoint(r, &e));
    return CreatedEndpoint{View(r), crypto::Secret(std::move(secret.text))};
  }

  StatusOr<std::vector<WebhookEndpoint>> ListEndpoints(const RequestContext& ctx) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.read"));
    KH_ASSIGN_OR_RETURN(auto records, store_.ListWebhookEndpoints());
    std::vector<WebhookEndpoint> out;
    out.reserve(records.size());
    for (const auto& r : records) out.push_back(View(r));
    return out;
  }

  StatusOr<WebhookEndpoint> GetEndpoint(const RequestContext& ctx, const std::string& id) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.read"));
    KH_ASSIGN_OR_RETURN(auto r, store_.GetWebhookEndpoint(id));
    return View(r);
  }

  StatusOr<WebhookEndpoint> UpdateEndpoint(const RequestContext& ctx, const std::string& id,
                                           const EndpointUpdate& u) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    if (u.url) {
      KH_RETURN_IF_ERROR(audit::ParseWebhookUrl(*u.url).status());
    }
    if (u.kinds) {
      KH_RETURN_IF_ERROR(CheckKinds(*u.kinds));
    }
    KH_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, Salt());
    KH_ASSIGN_OR_RETURN(WebhookEndpointRecord r, store_.GetWebhookEndpoint(id));
    json before = Describe(r, salt);
    if (u.url) r.url = *u.url;
    if (u.description) r.description = *u.description;
    if (u.kinds) r.kinds = *u.kinds;
    if (u.enabled) {
      r.enabled = *u.enabled;
      if (r.enabled) r.disabled_reason.clear();
    }
    r.updated_at_ms = env_.NowMillis();
    audit::AuditEntry e =
        Entry(ctx, "webhook_endpoint.update", id, Details(before, Describe(r, salt)));
    KH_RETURN_IF_ERROR(store_.PutWebhookEndpoint(r, &e));
    return View(r);
  }

  StatusOr<CreatedEndpoint> RotateSecret(const RequestContext& ctx,
                                         const std::string& id) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    KH_RETURN_IF_ERROR(Unsealed());
    KH_ASSIGN_OR_RETURN(WebhookEndpointRecord r, store_.GetWebhookEndpoint(id));
    int64_t now = env_.NowMillis();
    audit::WebhookSecret secret = audit::NewWebhookSecret(env_);
    r.previous_secret_sealed = std::move(r.secret_sealed);
    r.previous_secret_until_ms = now + options_.secret_grace.count();
    KH_ASSIGN_OR_RETURN(r.secret_sealed, SealSigningSecret(r.id, secret.key));
    r.updated_at_ms = now;
    json detail = {{"previousSecretValidUntil", *r.previous_secret_until_ms}};
    audit::AuditEntry e = Entry(ctx, "webhook_endpoint.rotate_secret", id, detail.dump());
    KH_RETURN_IF_ERROR(store_.PutWebhookEndpoint(r, &e));
    return CreatedEndpoint{View(r), crypto::Secret(std::move(secret.text))};
  }

  Status DeleteEndpoint(const RequestContext& ctx, const std::string& id) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    KH_ASSIGN_OR_RETURN(std::vector<uint8_t> salt, Salt());
    KH_ASSIGN_OR_RETURN(WebhookEndpointRecord r, store_.GetWebhookEndpoint(id));
    audit::AuditEntry e =
        Entry(ctx, "webhook_endpoint.delete", id, Details(Describe(r, salt), nullptr));
    return store_.DeleteWebhookEndpoint(id, &e);
  }

  StatusOr<audit::RaiseOutcome> TestEndpoint(const RequestContext& ctx,
                                             const std::string& id) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    audit::Alert a;
    a.kind = std::string(audit::kAlertWebhookTest);
    a.severity = audit::AlertSeverity::kInfo;
    a.summary = "test alert for webhook endpoint " + id;
    a.evidence_json = json{{"endpointId", id}, {"requestedBy", ctx.actor.key_id}}.dump();
    return RaiseTo(a, id);
  }

  StatusOr<std::vector<DeliveryInfo>> ListDeliveries(const RequestContext& ctx,
                                                     const std::string& id, int limit) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.read"));
    KH_RETURN_IF_ERROR(store_.GetWebhookEndpoint(id).status());
    KH_ASSIGN_OR_RETURN(auto records, store_.ListDeliveries(id, std::clamp(limit, 1, kMaxPage)));
    std::vector<DeliveryInfo> out;
    out.reserve(records.size());
    for (const auto& d : records) out.push_back(Info(d));
    return out;
  }

  StatusOr<AlertPage> ListAlerts(const RequestContext& ctx, const AlertFilter& filter,
                                 const std::string& cursor, int limit) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.read"));
    if (!cursor.empty() && !LooksLikeId(cursor, "alert")) {
      return InvalidArgument("cursor is not one this server returned");
    }
    limit = std::clamp(limit, 1, kMaxPage);
    store::AlertQuery q{filter.kind, filter.acknowledged, filter.since_ms, cursor, limit + 1};
    KH_ASSIGN_OR_RETURN(auto alerts, store_.ListAlerts(q));
    AlertPage page;
    page.has_more = static_cast<int>(alerts.size()) > limit;
    if (page.has_more) {
      alerts.resize(static_cast<size_t>(limit));
      page.cursor = alerts.back().id;
    }
    page.alerts = std::move(alerts);
    return page;
  }

  StatusOr<audit::Alert> Acknowledge(const RequestContext& ctx, const std::string& id) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "alerts.*.manage"));
    KH_ASSIGN_OR_RETURN(audit::Alert before, store_.GetAlert(id));
    if (before.acknowledged_at_ms) return before;
    audit::AuditEntry e = Entry(ctx, "alert.acknowledge", id,
                                json{{"kind", before.kind}, {"count", before.count}}.dump());
    KH_RETURN_IF_ERROR(store_.AcknowledgeAlert(id, ctx.actor.key_id, env_.NowMillis(), &e));
    return store_.GetAlert(id);
  }

 private:
  // The installation's audit salt, read once.
  StatusOr<std::vector<uint8_t>> Salt() {
    std::lock_guard lock(salt_mu_);
    if (salt_.empty()) {
      KH_ASSIGN_OR_RETURN(salt_, store_.AuditSalt());
    }
    return salt_;
  }

  StatusOr<audit::RaiseOutcome> RaiseTo(const audit::Alert& given, const std::string& only) {
    if (!audit::IsAlertKind(given.kind)) {
      return InvalidArgument("'" + given.kind.substr(0, 64) + "' is not an alert kind");
    }
    json evidence =
        json::parse(given.evidence_json.empty() ? "{}" : given.evidence_json, nullptr, false);
    if (!evidence.is_object()) return InvalidArgument("alert evidence must be a JSON object");
    audit::Alert a = given;
    a.id = NewId(env_, "alert");
    a.created_at_ms = env_.NowMillis();
    a.count = std::max<int64_t>(a.count, 1);
    a.evidence_json = evidence.dump();
    int64_t since = a.created_at_ms - options_.dedupe_window.count();
    auto out = store_.RaiseAlert(a, since, only);
    if (!out.ok()) {
      spdlog::error("alert {} {} not stored: {} ({})", a.kind, a.summary, out.status().message(),
                    out.status().log_detail());
      return out;
    }
    Log(a, *out);
    if (out->deliveries > 0 && options_.on_queued) options_.on_queued();
    return out;
  }

  static void Log(const audit::Alert& a, const audit::RaiseOutcome& out) {
    auto or_dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
    if (out.deduplicated) {
      spdlog::info("alert {} {} repeated (dedupe key {})", out.alert_id, a.kind, a.dedupe_key);
      return;
    }
    spdlog::warn("alert {} {} {}: {} (key {} api {} client {}; {} webhook deliveries)",
                 out.alert_id, a.kind, audit::SeverityName(a.severity), a.summary,
                 or_dash(a.key_id), or_dash(a.api_id), or_dash(a.client_ip), out.deliveries);
  }

  // Signing secrets are sealed with a key from the master key: none while the server is sealed.
  Status Unsealed() const {
    std::shared_lock lock(key_mu_);
    return UnsealedLocked();
  }
  Status UnsealedLocked() const {  // REQUIRES: key_mu_ held
    if (has_storage_key_) return OkStatus();
    return Unavailable("keyhold is sealed: webhook signing secrets can be made once it is unsealed",
                       "server/sealed");
  }
  // `key` sealed for endpoint `id` under the storage key (audit::SealWebhookSecret). Errors:
  // kUnavailable ("server/sealed") without one.
  StatusOr<std::vector<uint8_t>> SealSigningSecret(const std::string& id,
                                                   std::span<const uint8_t> key) {
    std::shared_lock lock(key_mu_);  // the key stays while it is used (Seal waits)
    KH_RETURN_IF_ERROR(UnsealedLocked());
    return audit::SealWebhookSecret(storage_key_, env_, id, key);
  }

  audit::AuditEntry Entry(const RequestContext& ctx, std::string action, std::string target,
                          std::string details) const {
    return audit::EntryFor(ctx, env_.NowMillis(), std::move(action), std::move(target),
                           std::move(details));
  }

  store::Store& store_;
  Env& env_;
  // Given by Unseal, zeroed by Seal; used under a shared lock.
  mutable std::shared_mutex key_mu_;
  crypto::Sha256Digest storage_key_{};  // guarded by key_mu_
  bool has_storage_key_ = false;        // guarded by key_mu_
  const AlertOptions options_;
  std::mutex salt_mu_;
  std::vector<uint8_t> salt_;  // guarded by salt_mu_
};

}  // namespace

std::unique_ptr<AlertService> AlertService::Create(store::Store& store, Env& env,
                                                   std::span<const uint8_t> master_key,
                                                   AlertOptions options) {
  return std::make_unique<AlertServiceImpl>(store, env, master_key, std::move(options));
}

}  // namespace keyhold::service
