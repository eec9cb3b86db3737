// KeyService: rotation policies — which keys are due for rotation, the alert for each, and the
// expiry of keys left overdue past their API's grace.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "service/internal.h"

namespace keyhold::service {

using nlohmann::json;
using store::KeyKind;
using store::WriteBatch;

namespace {

// When key `e` of `api` falls due, if the API has a policy and the key is still in service.
std::optional<int64_t> DueAt(const ApiRecord& api, const KeyEntry& e, int64_t now) {
  if (!api.max_key_age_ms || e.kind != KeyKind::kApp) return std::nullopt;
  if (e.expires && *e.expires <= now) return std::nullopt;    // already out of service
  if (!e.Details().rerolled_to.empty()) return std::nullopt;  // already being replaced
  return e.created_at + *api.max_key_age_ms;
}

}  // namespace

StatusOr<std::vector<DueKey>> KeyServiceImpl::ListDueKeys(const RequestContext& ctx,
                                                          const std::string& api_id,
                                                          int64_t within_ms) {
  const Principal& p = ctx.actor;
  if (within_ms < 0 || within_ms > kMaxKeyAgeMs) {
    return InvalidArgument("within must be between 0 and ten years (ms)");
  }
  if (!api_id.empty()) KH_RETURN_IF_ERROR(Require(p, "api." + api_id + ".read_key"));
  const int64_t now = env_.NowMillis();
  std::vector<DueKey> due;
  std::shared_lock lock(mu_);
  if (!api_id.empty() && !FindApi(api_id)) {
    return NotFound("API '" + api_id + "' was not found", "data/api_not_found");
  }
  bool too_many = false;
  keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
    if (too_many) return;
    if (e->kind != KeyKind::kApp || (!api_id.empty() && *e->api_id != api_id)) return;
    const ApiRecord* api = FindApi(*e->api_id);
    if (!api || !p.Can("api." + *e->api_id + ".read_key")) return;
    std::optional<int64_t> at = DueAt(*api, *e, now);
    if (!at || *at > now + within_ms) return;
    if (due.size() >= static_cast<size_t>(kMaxDueKeys)) {
      too_many = true;
      return;
    }
    due.push_back({ViewOf(e, p), *at, *at <= now});
  });
  if (too_many) {
    return InvalidArgument("more than 10000 keys are due: narrow the query to one API");
  }
  std::sort(due.begin(), due.end(),
            [](const DueKey& a, const DueKey& b) { return a.due_at < b.due_at; });
  return due;
}

StatusOr<RotationSweep> KeyServiceImpl::SweepRotation() {
  const int64_t now = env_.NowMillis();
  RequestContext ctx{.request_id = "rotation_policy"};
  ctx.actor.key_id = "keyhold";  // the audit log's actor for what the policy does by itself
  std::lock_guard w(write_mu_);
  std::vector<std::pair<std::shared_ptr<const KeyEntry>, int64_t>> overdue;  // entry, due at
  {
    std::shared_lock lock(mu_);
    keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
      const ApiRecord* api = e->kind == KeyKind::kApp ? FindApi(*e->api_id) : nullptr;
      std::optional<int64_t> at = api ? DueAt(*api, *e, now) : std::nullopt;
      if (at && *at <= now) overdue.emplace_back(e, *at);
    });
  }
  RotationSweep sweep;
  WriteBatch batch;
  std::vector<std::shared_ptr<const KeyEntry>> expiring;
  std::vector<int64_t> ends;
  for (const auto& [e, at] : overdue) {
    if (rotation_alerted_.insert(e->id.str()).second) {
      RaiseRotationDue(*e, at);
      ++sweep.alerts;
    }
    const ApiRecord* api = FindApi(*e->api_id);
    if (!api || !api->overdue_grace_ms) continue;
    const int64_t end = at + *api->overdue_grace_ms;
    if (e->expires && *e->expires <= end) continue;  // already ends by then
    expiring.push_back(e);
    ends.push_back(std::max(end, now));
  }
  if (expiring.empty()) return sweep;
  // The keys' cells stay locked from reading their balances to writing them back, so that no
  // spend made in between is overwritten.
  std::vector<CreditsCell*> cells;
  auto held = LockCells(expiring, &cells);
  for (size_t i = 0; i < expiring.size(); ++i) {
    KeyRecord rec = expiring[i]->ToRecord(expiring[i]->credits ? KeyEntry::CellLock::kHeldByCaller
                                                               : KeyEntry::CellLock::kTake);
    rec.expires = ends[i];
    rec.updated_at = now;
    batch.put_keys.push_back(std::move(rec));
  }
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch, cells));
  held.clear();  // before mu_: readers take mu_ first, then a cell's lock
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < expiring.size(); ++i) {
    IndexKeyLocked(MakeEntry(batch.put_keys[i], expiring[i]->credits, expiring[i].get()));
  }
  sweep.expired = static_cast<int>(expiring.size());
  return sweep;
}

void KeyServiceImpl::RaiseRotationDue(const KeyEntry& e, int64_t due_at) const {
  if (!alert_sink_) return;
  audit::Alert a;
  a.kind = std::string(audit::kAlertKeyRotationDue);
  a.severity = audit::AlertSeverity::kInfo;
  a.summary = "key " + e.id.str() + " is due for rotation";
  a.key_id = e.id.str();
  a.api_id = *e.api_id;
  a.evidence_json = json{{"createdAt", e.created_at}, {"dueAt", due_at}}.dump();
  a.dedupe_key = std::string(audit::kAlertKeyRotationDue) + ":" + e.id.str();
  auto raised = alert_sink_->Raise(a);
  if (!raised.ok()) {
    spdlog::warn("the key.rotation_due alert for {} could not be stored: {}", e.id.str(),
                 raised.status().message());
  }
}

}  // namespace keyhold::service
