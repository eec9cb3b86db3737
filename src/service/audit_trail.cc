// KeyService: the audit entries that record its writes. Every write of the service goes through
// ApplyAudited, which describes each record of the batch against the state it replaces, so no
// write can be made without its entry, and the entry is committed with it or not at all.
//
// An entry's details are {"after": {...}} for a creation, {"before": {...}} for a deletion and
// both, holding only the fields that changed, for an update. Fields are the records' non-secret
// ones; a key's text is never known here (only its hash, which is not recorded either), and meta
// objects, which may hold personal data, are recorded as their SensitiveDigest.
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "service/internal.h"

namespace keyhold::service {

using nlohmann::json;
using store::KeyKind;
using store::WriteBatch;

namespace {

// Permission and role names for a key's links, from the state held and the batch's new records.
struct Names {
  const std::map<std::string, PermissionRecord>& permissions;
  const std::map<std::string, RoleRecord>& roles;
  const WriteBatch& batch;

  std::string Permission(const std::string& id) const {
    if (auto it = permissions.find(id); it != permissions.end()) return it->second.slug;
    for (const PermissionRecord& p : batch.put_permissions) {
      if (p.id == id) return p.slug;
    }
    return id;
  }
  std::string Role(const std::string& id) const {
    if (auto it = roles.find(id); it != roles.end()) return it->second.name;
    for (const RoleRecord& r : batch.put_roles) {
      if (r.id == id) return r.name;
    }
    return id;
  }
};

json Ratelimits(const std::vector<RatelimitConfig>& rls) {
  json out = json::array();
  for (const RatelimitConfig& r : rls) {
    out.push_back({{"name", r.name},
                   {"limit", r.limit},
                   {"duration", r.duration_ms},
                   {"autoApply", r.auto_apply}});
  }
  return out;
}

json DescribeCredits(const CreditsState& c) {
  if (!c.remaining && !c.refill) return nullptr;  // unlimited
  json out = {{"remaining", c.remaining ? json(*c.remaining) : json(nullptr)}};
  if (c.refill) {
    out["refill"] = {
        {"interval", c.refill->interval == RefillInterval::kMonthly ? "monthly" : "daily"},
        {"amount", c.refill->amount},
        {"refillDay", c.refill->refill_day}};
  }
  return out;
}

json Describe(const KeyRecord& k, const Names& names, std::span<const uint8_t> salt) {
  json d = {{"start", k.start}, {"enabled", k.enabled}, {"createdAt", k.created_at}};
  if (k.kind == KeyKind::kRoot) {
    d["permissions"] = k.root_permissions;
  } else {
    d["apiId"] = k.api_id;
    json perms = json::array();
    for (const std::string& id : k.permission_ids) perms.push_back(names.Permission(id));
    json roles = json::array();
    for (const std::string& id : k.role_ids) roles.push_back(names.Role(id));
    d["permissions"] = std::move(perms);
    d["roles"] = std::move(roles);
    d["identityId"] = k.identity_id.empty() ? json(nullptr) : json(k.identity_id);
    d["meta"] =
        k.meta_json.empty() ? json(nullptr) : json(audit::SensitiveDigest(salt, k.meta_json));
    d["expires"] = k.expires ? json(*k.expires) : json(nullptr);
    d["credits"] = DescribeCredits(k.credits);
    d["ratelimits"] = Ratelimits(k.ratelimits);
    // Always present, so that clearing it shows in an update's details.
    d["ipAllowlist"] = k.ip_allowlist;
  }
  d["name"] = k.name ? json(*k.name) : json(nullptr);
  if (!k.rerolled_from.empty()) d["rerolledFrom"] = k.rerolled_from;
  if (!k.rerolled_to.empty()) d["rerolledTo"] = k.rerolled_to;
  if (!k.credits_key_id.empty()) d["creditsOf"] = k.credits_key_id;
  return d;
}

json Describe(const ApiRecord& a) {
  json d = {{"name", a.name},
            {"defaultPrefix", a.default_prefix},
            {"defaultByteLength", a.default_byte_length},
            {"ipAllowlist", a.ip_allowlist},
            {"onLeak", a.on_leak == store::LeakResponse::kDisable ? "disable" : "revoke"}};
  if (a.max_key_age_ms) d["maxKeyAge"] = *a.max_key_age_ms;
  if (a.overdue_grace_ms) d["overdueGrace"] = *a.overdue_grace_ms;
  return d;
}

json Describe(const IdentityRecord& i, std::span<const uint8_t> salt) {
  return {{"externalId", i.external_id},
          {"meta",
           i.meta_json.empty() ? json(nullptr) : json(audit::SensitiveDigest(salt, i.meta_json))},
          {"ratelimits", Ratelimits(i.ratelimits)}};
}

json Describe(const PermissionRecord& p) {
  return {{"name", p.name}, {"slug", p.slug}, {"description", p.description}};
}

json Describe(const RoleRecord& r, const Names& names) {
  json perms = json::array();
  for (const std::string& id : r.permission_ids) perms.push_back(names.Permission(id));
  return {{"name", r.name}, {"description", r.description}, {"permissions", std::move(perms)}};
}

// The details of a change from `before` to `after` (either may be null: created, deleted).
std::string Details(const json& before, const json& after) {
  if (before.is_null()) return json{{"after", after}}.dump();
  if (after.is_null()) return json{{"before", before}}.dump();
  json b = json::object(), a = json::object();
  for (const auto& [field, value] : after.items()) {
    auto old = before.find(field);
    if (old == before.end() || *old != value) {
      b[field] = old == before.end() ? json(nullptr) : *old;
      a[field] = value;
    }
  }
  return json{{"before", b}, {"after", a}}.dump();
}

// "created", "updated" or "deleted" as the action's verb.
std::string Verb(bool existed, bool gone) {
  if (gone) return "delete";
  return existed ? "update" : "create";
}

}  // namespace

audit::AuditEntry KeyServiceImpl::NewAuditEntry(const RequestContext& ctx, std::string action,
                                                std::string target, std::string details) const {
  return audit::EntryFor(ctx, env_.NowMillis(), std::move(action), std::move(target),
                         std::move(details));
}

Status KeyServiceImpl::ApplyAudited(const RequestContext& ctx, WriteBatch& batch,
                                    CreditsCell* held) {
  std::vector<CreditsCell*> cells;
  if (held) cells.push_back(held);
  return ApplyAudited(ctx, batch, cells);
}

std::vector<std::unique_lock<std::mutex>> KeyServiceImpl::LockCells(
    const std::vector<std::shared_ptr<const KeyEntry>>& entries, std::vector<CreditsCell*>* cells) {
  std::vector<CreditsCell*> order;
  for (const auto& e : entries) {
    if (e->credits) order.push_back(e->credits.get());
  }
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (CreditsCell* c : order) {
    locks.emplace_back(c->mu);
    cells->push_back(c);
  }
  return locks;
}

Status KeyServiceImpl::ApplyAudited(const RequestContext& ctx, WriteBatch& batch,
                                    const std::vector<CreditsCell*>& held_cells) {
  const Names names{permissions_, roles_, batch};
  std::span<const uint8_t> salt = audit_salt_;
  auto record_of = [&](const KeyEntry& e) {
    const bool held = e.credits && std::find(held_cells.begin(), held_cells.end(),
                                             e.credits.get()) != held_cells.end();
    return e.ToRecord(held ? KeyEntry::CellLock::kHeldByCaller : KeyEntry::CellLock::kTake);
  };
  auto add = [&](std::string action, const std::string& target, const json& before,
                 const json& after) {
    batch.audit.push_back(NewAuditEntry(ctx, std::move(action), target, Details(before, after)));
  };
  for (const ApiRecord& a : batch.put_apis) {
    const ApiRecord* old = FindApi(a.id);
    json before = old ? Describe(*old) : json(nullptr);
    json after = a.deleted_at ? json(nullptr) : Describe(a);
    add("api." + Verb(old, a.deleted_at.has_value()), a.id, before, after);
  }
  for (const IdentityRecord& i : batch.put_identities) {
    auto old = identities_.find(i.id);
    bool existed = old != identities_.end();
    add("identity." + Verb(existed, false), i.id,
        existed ? Describe(old->second, salt) : json(nullptr), Describe(i, salt));
  }
  for (const PermissionRecord& p : batch.put_permissions) {
    auto old = permissions_.find(p.id);
    bool existed = old != permissions_.end();
    add("permission." + Verb(existed, false), p.id, existed ? Describe(old->second) : json(nullptr),
        Describe(p));
  }
  for (const RoleRecord& r : batch.put_roles) {
    auto old = roles_.find(r.id);
    bool existed = old != roles_.end();
    add("role." + Verb(existed, false), r.id,
        existed ? Describe(old->second, names) : json(nullptr), Describe(r, names));
  }
  for (const KeyRecord& k : batch.put_keys) {
    std::string kind = k.kind == KeyKind::kRoot ? "root_key." : "key.";
    auto old = FindKey(k.id, k.kind);
    json before = old ? Describe(record_of(*old), names, salt) : json(nullptr);
    if (k.deleted_at && k.revoked_reason) {
      batch.audit.push_back(
          NewAuditEntry(ctx, kind + "revoke", k.id,
                        json{{"before", before}, {"reason", *k.revoked_reason}}.dump()));
      continue;
    }
    json after = k.deleted_at ? json(nullptr) : Describe(k, names, salt);
    add(kind + Verb(old != nullptr, k.deleted_at.has_value()), k.id, before, after);
  }
  for (const store::CreditsUpdate& c : batch.credits) {
    auto old = FindKey(c.key_id, KeyKind::kApp);
    json before = {{"credits", old ? DescribeCredits(record_of(*old).credits) : json(nullptr)}};
    add("key.update_credits", c.key_id, before, {{"credits", DescribeCredits(c.credits)}});
  }
  for (const std::string& id : batch.delete_keys) {
    auto old = FindKey(id, KeyKind::kApp);
    add("key.delete", id, old ? Describe(record_of(*old), names, salt) : json::object(), nullptr);
  }
  for (const std::string& id : batch.delete_roles) {
    auto old = roles_.find(id);
    add("role.delete", id, old != roles_.end() ? Describe(old->second, names) : json::object(),
        nullptr);
  }
  for (const std::string& id : batch.delete_permissions) {
    auto old = permissions_.find(id);
    add("permission.delete", id, old != permissions_.end() ? Describe(old->second) : json::object(),
        nullptr);
  }
  for (const std::string& id : batch.delete_identities) {
    auto old = identities_.find(id);
    add("identity.delete", id,
        old != identities_.end() ? Describe(old->second, salt) : json::object(), nullptr);
  }
  Status st = store_.Apply(batch);
  if (st.ok()) audit_entries_written_.fetch_add(batch.audit.size(), std::memory_order_relaxed);
  if (st.code() == StatusCode::kUnavailable) ReportAuditFailure(ctx, batch, st);
  return st;
}

void KeyServiceImpl::ReportAuditFailure(const RequestContext& ctx, const WriteBatch& batch,
                                        const Status& refused) const {
  if (!alert_sink_) return;
  audit::Alert a;
  a.kind = std::string(audit::kAlertAuditSinkFailing);
  a.severity = audit::AlertSeverity::kCritical;
  a.summary = "a change was refused because its audit entry could not be written";
  a.client_ip = ctx.client_ip;
  a.evidence_json = json{{"action", batch.audit.empty() ? "" : batch.audit.front().action},
                         {"requestId", ctx.request_id},
                         {"error", refused.message()}}
                        .dump();
  a.dedupe_key = std::string(audit::kAlertAuditSinkFailing);
  auto raised = alert_sink_->Raise(a);
  if (!raised.ok()) {
    spdlog::error("audit sink failing, and the alert for it could not be stored either: {}",
                  raised.status().message());
  }
}

audit::AuditEntry KeyServiceImpl::CreditsAdjustmentEntry(const RequestContext& ctx,
                                                         const std::string& key_id,
                                                         int64_t delta) const {
  return NewAuditEntry(ctx, "key.update_credits", key_id,
                       json{{"operation", delta < 0 ? "decrement" : "increment"},
                            {"value", delta < 0 ? -delta : delta}}
                           .dump());
}

}  // namespace keyhold::service
