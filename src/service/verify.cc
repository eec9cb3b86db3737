// KeyServiceImpl::Verify — the hot path. No store I/O unless the key has credits to spend.
#include "core/ip.h"
#include "core/key_format.h"
#include "core/permissions.h"
#include "service/internal.h"
#include "service/usage_recorder.h"

namespace keyhold::service {

static bool IpAllowed(const ApiRecord& api, const std::string& client_ip) {
  if (api.ip_allowlist.empty()) return true;
  for (const std::string& cidr : api.ip_allowlist) {
    auto net = Cidr::Parse(cidr);
    if (net.ok() && net->Contains(client_ip)) return true;
  }
  return false;
}

StatusOr<VerifyResult> KeyServiceImpl::Verify(const RequestContext& ctx, const VerifyRequest& req) {
  StatusOr<VerifyResult> r = VerifyUnrecorded(ctx, req);
  // Errors are not verifications (a bad request, or WouldBlock: the call is made again).
  if (!r.ok()) return r;
  verifications_[static_cast<size_t>(r->code)].fetch_add(1, std::memory_order_relaxed);
  if (!usage_) return r;
  Verification v;
  v.time_ms = env_.NowMillis();
  v.outcome = VerifyCodeName(r->code);
  if (r->key) {
    v.key_id = std::string(r->key->id());
    v.api_id = std::string(r->key->api_id());
    if (r->key->identity()) v.identity_id = r->key->identity()->id;
  }
  v.client_ip = ctx.client_ip;
  v.route = ctx.route;
  v.tags = req.tags;
  usage_->Record(std::move(v));
  return r;
}

StatusOr<VerifyResult> KeyServiceImpl::VerifyUnrecorded(const RequestContext& ctx,
                                                        const VerifyRequest& req) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(RefuseUnenforcedRatelimits(req.ratelimits));
  VerifyResult result;
  // A malformed key or a failed check is answered without touching the index.
  if (!ParseKey(req.key).ok()) return result;
  std::optional<PermissionQuery> query;
  if (req.permissions_query) {
    KH_ASSIGN_OR_RETURN(query, PermissionQuery::Parse(*req.permissions_query));
  }
  if (req.cost < 0 || req.cost > kMaxCredits) {
    return InvalidArgument("credits.cost must be between 0 and 1000000000000000");
  }
  crypto::Sha256Digest h = crypto::Sha256(req.key);
  std::shared_ptr<const KeyEntry> e;
  bool ip_ok = true;
  {
    std::shared_lock lock(mu_);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end() || it->second->kind != store::KeyKind::kApp) return result;
    e = it->second;
    if (!p.Can("api." + *e->api_id + ".verify_key")) return result;
    const ApiRecord* api = FindApi(*e->api_id);
    if (!api) return result;
    ip_ok = IpAllowed(*api, ctx.client_ip);
    result.key = ViewOf(e, p);
  }
  int64_t now = env_.NowMillis();
  e->last_used_at.store(now, std::memory_order_relaxed);
  if (!e->enabled) {
    result.code = VerifyCode::kDisabled;
  } else if (e->expires && *e->expires <= now) {
    result.code = VerifyCode::kExpired;
  } else if (!ip_ok) {
    result.code = VerifyCode::kForbidden;
  } else if (query && !query->Evaluate(e->Details().effective_permissions)) {
    result.code = VerifyCode::kInsufficientPermissions;
  } else {
    result.code = VerifyCode::kValid;
  }
  if (result.code != VerifyCode::kValid) return result;

  // Credits last, so a request denied for any other reason spends nothing.
  if (!e->credits) return result;
  CreditsCell& c = *e->credits;
  // Held across the store call, so the cell is always set from the store's latest answer.
  std::lock_guard lock(c.mu);
  if (!c.credits.remaining) return result;
  // A balance the cell already shows too low is refused without I/O: an exhausted key that keeps
  // being tried costs no store transaction. The cell can only be behind the store when another
  // process added credits, which refuses too much, never admits too much.
  CreditsState cached = c.credits;
  ApplyRefill(cached, now);
  if (CreditsState probe = cached; !TrySpend(probe, req.cost)) {
    result.code = VerifyCode::kUsageExceeded;
    result.key->credits_ = cached;
    return result;
  }
  if (!ctx.may_block) return WouldBlock();  // the spend waits on the disk
  // The store decides: it spends from the stored balance, which the cell only caches.
  StatusOr<store::SpendResult> spend = store_.SpendCredits(e->id.str(), req.cost, now);
  if (!spend.ok()) {
    // Deleted by another writer since the lookup above: answered as if not found.
    if (spend.status().code() == StatusCode::kNotFound) return VerifyResult{};
    return spend.status();
  }
  c.credits = spend->credits;
  result.key->credits_ = spend->credits;
  if (!spend->spent) result.code = VerifyCode::kUsageExceeded;
  return result;
}

}  // namespace keyhold::service
