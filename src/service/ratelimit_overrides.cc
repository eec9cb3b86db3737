// KeyServiceImpl: rate-limit overrides — ratelimit.setOverride, getOverride, listOverrides and
// deleteOverride. Stored and audited in one store transaction, then applied to the in-memory
// table that Limit() reads (ratelimit_ops.cc).
#include <nlohmann/json.hpp>

#include "core/ids.h"
#include "service/internal.h"

namespace keyhold::service {

using nlohmann::json;

namespace {

RatelimitOverride FromStored(store::RatelimitOverrideRecord r) {
  return {std::move(r.id),         std::move(r.namespace_name),
          std::move(r.identifier), r.limit,
          r.duration_ms,           r.created_at_ms,
          r.updated_at_ms};
}

json Describe(const RatelimitOverride& o) {
  return {{"namespace", o.namespace_name},
          {"identifier", o.identifier},
          {"limit", o.limit},
          {"duration", o.duration_ms}};
}

Status OverrideNotFound() {
  return NotFound("no override for this identifier in this namespace",
                  "data/ratelimit_override_not_found");
}

}  // namespace

Status KeyServiceImpl::LoadOverrides() {
  std::string after;
  for (;;) {
    KH_ASSIGN_OR_RETURN(auto page,
                        store_.ListRatelimitOverrides("", after, store::kMaxOverridesPage));
    std::unique_lock lock(overrides_mu_);
    for (auto& r : page) {
      after = r.id;
      overrides_.Put(FromStored(std::move(r)));
    }
    if (page.size() < static_cast<size_t>(store::kMaxOverridesPage)) return OkStatus();
  }
}

StatusOr<RatelimitOverrideInfo> KeyServiceImpl::SetRatelimitOverride(
    const RequestContext& ctx, const SetOverrideRequest& req) {
  KH_RETURN_IF_ERROR(ValidateRatelimitText(req.namespace_name, "namespace"));
  KH_RETURN_IF_ERROR(ValidateRatelimitText(req.identifier, "identifier"));
  if (req.limit < 0 || req.limit > kMaxRatelimitLimit) {
    return InvalidArgument("limit must be between 0 and 1000000000");
  }
  if (req.duration_ms < 1000 || req.duration_ms > kMaxRatelimitDurationMs) {
    return InvalidArgument("duration must be between 1000 and 2592000000 ms");
  }
  KH_RETURN_IF_ERROR(RequireRatelimit(ctx.actor, req.namespace_name, "set_override"));
  std::lock_guard write(overrides_write_mu_);
  std::optional<RatelimitOverride> before;
  {
    std::shared_lock lock(overrides_mu_);
    if (const RatelimitOverride* o = overrides_.Get(req.namespace_name, req.identifier)) {
      before = *o;
    }
  }
  const int64_t now = env_.NowMillis();
  store::RatelimitOverrideRecord rec{before ? before->id : NewId(env_, "rlo"),
                                     req.namespace_name,
                                     req.identifier,
                                     req.limit,
                                     req.duration_ms,
                                     before ? before->created_at_ms : now,
                                     now};
  json details = {{"after", Describe(FromStored(rec))}};
  if (before) details["before"] = Describe(*before);
  audit::AuditEntry entry = NewAuditEntry(ctx, "ratelimit.set_override", rec.id, details.dump());
  auto stored = store_.PutRatelimitOverride(rec, &entry);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kUnavailable) {
      store::WriteBatch refused;
      refused.audit.push_back(std::move(entry));
      ReportAuditFailure(ctx, refused, stored.status());
    }
    return stored.status();
  }
  audit_entries_written_.fetch_add(1, std::memory_order_relaxed);
  RatelimitOverride applied = FromStored(std::move(stored).value());
  std::unique_lock lock(overrides_mu_);
  overrides_.Put(applied);
  return applied;
}

StatusOr<RatelimitOverrideInfo> KeyServiceImpl::GetRatelimitOverride(
    const RequestContext& ctx, const std::string& namespace_name, const std::string& identifier) {
  KH_RETURN_IF_ERROR(ValidateRatelimitText(namespace_name, "namespace"));
  KH_RETURN_IF_ERROR(ValidateRatelimitText(identifier, "identifier"));
  KH_RETURN_IF_ERROR(RequireRatelimit(ctx.actor, namespace_name, "read_override"));
  std::shared_lock lock(overrides_mu_);
  const RatelimitOverride* o = overrides_.Get(namespace_name, identifier);
  if (!o) return OverrideNotFound();
  return *o;
}

StatusOr<Page<RatelimitOverrideInfo>> KeyServiceImpl::ListRatelimitOverrides(
    const RequestContext& ctx, const std::string& namespace_name, const std::string& cursor,
    int limit) {
  KH_RETURN_IF_ERROR(ValidateRatelimitText(namespace_name, "namespace"));
  KH_RETURN_IF_ERROR(RequireRatelimit(ctx.actor, namespace_name, "read_override"));
  limit = std::clamp(limit, 1, kMaxPageSize);
  Page<RatelimitOverrideInfo> page;
  std::shared_lock lock(overrides_mu_);
  std::vector<const RatelimitOverride*> all = overrides_.List(namespace_name);
  auto it = std::upper_bound(all.begin(), all.end(), cursor,
                             [](const std::string& c, const auto* o) { return c < o->id; });
  for (; it != all.end() && static_cast<int>(page.items.size()) < limit; ++it) {
    page.items.push_back(**it);
  }
  if (it != all.end() && !page.items.empty()) {
    page.has_more = true;
    page.cursor = page.items.back().id;
  }
  return page;
}

Status KeyServiceImpl::DeleteRatelimitOverride(const RequestContext& ctx,
                                               const std::string& namespace_name,
                                               const std::string& identifier) {
  KH_RETURN_IF_ERROR(ValidateRatelimitText(namespace_name, "namespace"));
  KH_RETURN_IF_ERROR(ValidateRatelimitText(identifier, "identifier"));
  KH_RETURN_IF_ERROR(RequireRatelimit(ctx.actor, namespace_name, "delete_override"));
  std::lock_guard write(overrides_write_mu_);
  std::optional<RatelimitOverride> before;
  {
    std::shared_lock lock(overrides_mu_);
    if (const RatelimitOverride* o = overrides_.Get(namespace_name, identifier)) before = *o;
  }
  if (!before) return OverrideNotFound();
  audit::AuditEntry entry = NewAuditEntry(ctx, "ratelimit.delete_override", before->id,
                                          json{{"before", Describe(*before)}}.dump());
  auto removed = store_.DeleteRatelimitOverride(namespace_name, identifier, &entry);
  if (!removed.ok() && removed.status().code() != StatusCode::kNotFound) {
    if (removed.status().code() == StatusCode::kUnavailable) {
      store::WriteBatch refused;
      refused.audit.push_back(std::move(entry));
      ReportAuditFailure(ctx, refused, removed.status());
    }
    return removed.status();
  }
  // kNotFound: gone from the store already (removed elsewhere); memory follows it either way.
  if (removed.ok()) audit_entries_written_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock lock(overrides_mu_);
  overrides_.Remove(namespace_name, identifier);
  return removed.ok() ? OkStatus() : removed.status();
}

}  // namespace keyhold::service
