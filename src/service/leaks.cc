// KeyService: acting on a leaked key — revoke or disable it, record where it was found, alert.
//
// The answer never tells a caller more than it could learn otherwise: a string that is no keyhold
// key, a key it may not act on, and a key already revoked or disabled all get LeakAction::kNone.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/key_format.h"
#include "core/permissions.h"
#include "service/internal.h"

namespace keyhold::service {

using nlohmann::json;
using store::KeyKind;
using store::WriteBatch;

namespace {

const char* ActionName(LeakAction a) {
  switch (a) {
    case LeakAction::kRevoked:
      return "revoked";
    case LeakAction::kDisabled:
      return "disabled";
    case LeakAction::kNone:
      break;
  }
  return "none";
}

}  // namespace

bool KeyServiceImpl::MayActOnLeak(const Principal& p, const KeyEntry& e) const {
  if (e.kind == KeyKind::kApp) return p.Can("api." + *e.api_id + ".delete_key");
  if (!p.Can("rbac.*.delete_root_key")) return false;
  return std::all_of(e.Details().root_permissions.begin(), e.Details().root_permissions.end(),
                     [&](const std::string& held) {
                       return std::any_of(
                           p.permissions.begin(), p.permissions.end(),
                           [&](const std::string& h) { return PermissionCovers(h, held); });
                     });
}

StatusOr<LeakAction> KeyServiceImpl::ReportLeak(const RequestContext& ctx, std::string_view key,
                                                const std::string& source) {
  if (source.size() > kMaxLeakSource) {
    return InvalidArgument("source must be at most 1024 characters");
  }
  // The source is stored and delivered: it must not carry the key it reports.
  if (!key.empty() && source.find(key) != std::string::npos) {
    return InvalidArgument("source must say where the key was found, without the key itself");
  }
  // No lookup for what is no keyhold key, unless keys moved in from elsewhere may look like that.
  const bool well_formed = ParseKey(key).ok();
  if (!well_formed && !has_imported_keys_.load(std::memory_order_relaxed)) {
    return LeakAction::kNone;
  }
  const crypto::Sha256Digest hash = crypto::Sha256(key);
  std::lock_guard w(write_mu_);
  std::shared_ptr<const KeyEntry> e;
  {
    std::shared_lock lock(mu_);
    if (const auto* found = keys_.FindByHash(hash)) e = *found;
  }
  if (!e || (!well_formed && !e->imported) || !MayActOnLeak(ctx.actor, *e)) {
    return LeakAction::kNone;
  }
  LeakAction action = LeakAction::kRevoked;
  if (e->kind == KeyKind::kApp) {
    const ApiRecord* api = FindApi(*e->api_id);
    if (api && api->on_leak == store::LeakResponse::kDisable) action = LeakAction::kDisabled;
  }
  if (action == LeakAction::kDisabled && !e->enabled) return LeakAction::kNone;

  const int64_t now = env_.NowMillis();
  KeyRecord rec = e->ToRecord();
  if (action == LeakAction::kRevoked) {
    rec.deleted_at = now;
    rec.revoked_reason = source.empty() ? "leaked" : "leaked: " + source;
  } else {
    rec.enabled = false;
    rec.updated_at = now;
  }
  WriteBatch batch;
  batch.audit.push_back(
      NewAuditEntry(ctx, "key.leak_reported", rec.id,
                    json{{"source", source}, {"action", ActionName(action)}}.dump()));
  KH_RETURN_IF_ERROR(
      CommitKey(ctx, std::move(rec), std::move(batch), {}, {}, e, Credits::kUnchanged));
  RaiseLeakAlert(ctx, *e, action, source);
  return action;
}

void KeyServiceImpl::RaiseLeakAlert(const RequestContext& ctx, const KeyEntry& e, LeakAction action,
                                    const std::string& source) const {
  if (!alert_sink_) return;
  audit::Alert a;
  a.kind = std::string(audit::kAlertKeyLeaked);
  a.severity = audit::AlertSeverity::kCritical;
  a.summary = std::string(e.kind == KeyKind::kRoot ? "root key " : "key ") + e.id.str() +
              " was reported leaked and " + ActionName(action);
  a.key_id = e.id.str();
  if (e.kind == KeyKind::kApp) a.api_id = *e.api_id;
  a.client_ip = ctx.client_ip;
  a.evidence_json =
      json{{"source", source}, {"action", ActionName(action)}, {"requestId", ctx.request_id}}
          .dump();
  a.dedupe_key = std::string(audit::kAlertKeyLeaked) + ":" + e.id.str();
  auto raised = alert_sink_->Raise(a);
  if (!raised.ok()) {
    spdlog::error("{}: the key.leaked alert for {} could not be stored: {}", ctx.request_id,
                  e.id.str(), raised.status().message());
  }
}

}  // namespace keyhold::service
