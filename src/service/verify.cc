// KeyServiceImpl::Verify — the hot path. No store I/O unless the key has credits to spend.
#include <algorithm>
#include <set>

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

// The key's own allowlist, checked beside its API's: both must admit the address.
static bool IpAllowed(const KeyDetails& key, const std::string& client_ip) {
  if (key.ip_allowlist.empty()) return true;
  return std::any_of(key.ip_networks.begin(), key.ip_networks.end(),
                     [&](const Cidr& net) { return net.Contains(client_ip); });
}

// Whether spending `cost` from `cell` needs the store: the balance, as cached, allows the spend
// and what is reserved does not cover it (or a refill is due, which the store writes).
static bool NeedsStore(CreditsCell& cell, int64_t cost, int64_t now) {
  std::lock_guard lock(cell.mu);
  if (!cell.credits.remaining) return false;
  CreditsState probe = cell.credits;
  if (!ApplyRefill(probe, now)) {
    if (cell.reserved > 0 && cell.reserved >= cost) return false;
    *probe.remaining += cell.reserved;
  }
  return TrySpend(probe, cost);
}

// How many credits to reserve beyond a spend that goes to the store at `now`: none for a key
// spent now and then; for one that goes back to the store within a second, twice as
// many as the last time, up to kMaxReserveBlock, so that a reservation lasts a key about as long
// whatever its rate, and a crash forfeits at most about that much of its spending. Never more
// than an eighth of what the balance holds beyond the spend. REQUIRES: cell.mu held.
constexpr int64_t kMaxReserveBlock = 4096;
static int64_t ReserveBlock(CreditsCell& cell, int64_t now, int64_t beyond) {
  const int64_t since = now - cell.last_reserved_at;
  if (cell.last_reserved_at >= 0 && since >= 0 && since < 1000) {
    cell.block = std::min(kMaxReserveBlock, std::max<int64_t>(1, cell.block * 2));
  } else if (cell.last_reserved_at < 0 || since > 5000) {
    cell.block /= 2;
  }
  cell.last_reserved_at = now;
  return std::min(cell.block, std::max<int64_t>(0, beyond / 8));
}

static const Ratelimit* FindLimit(const std::vector<Ratelimit>& list, const std::string& name) {
  for (const Ratelimit& r : list) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

// The rate limits a verification of `v` is checked against: the limits the request names (the
// key's, else its identity's, with the request's overrides; or given whole in the request), then
// the key's autoApply limits and its identity's, a key's limit hiding its identity's of the same
// name. An identity's limits are shared by all its keys. Errors: kInvalidArgument for a name given
// twice, or a limit neither the key nor its identity has and the request does not give whole.
static Status CollectLimits(const KeyView& v, const VerifyRequest& req,
                            std::vector<RateLimiter::Check>* checks,
                            std::vector<RatelimitOutcome>* shown) {
  const std::vector<Ratelimit> own = v.ratelimits();
  const std::vector<Ratelimit> shared =
      v.identity() ? v.identity()->ratelimits : std::vector<Ratelimit>{};
  std::set<std::string> named;
  auto add = [&](const Ratelimit* cfg, bool on_key, const std::string& name, GcraLimit limit,
                 int64_t cost) {
    std::string owner = on_key ? "k:" + std::string(v.id()) : "i:" + v.identity()->id;
    checks->push_back({owner + ":" + name, limit, cost});
    RatelimitOutcome o;
    o.id = cfg ? cfg->id : "";
    o.name = name;
    o.limit = limit.limit;
    o.duration_ms = limit.duration_ms;
    o.auto_apply = cfg && cfg->auto_apply;
    shown->push_back(std::move(o));
  };
  for (const RatelimitRequest& r : req.ratelimits) {
    if (!named.insert(r.name).second) {
      return InvalidArgument("ratelimit '" + r.name + "' is named twice");
    }
    const Ratelimit* cfg = FindLimit(own, r.name);
    const bool on_key = cfg != nullptr || FindLimit(shared, r.name) == nullptr;
    if (!cfg) cfg = FindLimit(shared, r.name);
    if (!cfg && !(r.limit && r.duration_ms)) {
      return InvalidArgument("ratelimit '" + r.name +
                                 "' is not set on the key or its identity: give limit and "
                                 "duration to apply it to this key",
                             "application/ratelimit_not_found");
    }
    GcraLimit limit{r.limit.value_or(cfg ? cfg->limit : 0),
                    r.duration_ms.value_or(cfg ? cfg->duration_ms : 0)};
    add(cfg, on_key, r.name, limit, r.cost);
  }
  for (const Ratelimit& rl : own) {
    if (rl.auto_apply && !named.contains(rl.name)) {
      add(&rl, true, rl.name, {rl.limit, rl.duration_ms}, 1);
    }
  }
  for (const Ratelimit& rl : shared) {
    if (rl.auto_apply && !named.contains(rl.name) && !FindLimit(own, rl.name)) {
      add(&rl, false, rl.name, {rl.limit, rl.duration_ms}, 1);
    }
  }
  return OkStatus();
}

static bool IsFailure(VerifyCode code) {
  return code == VerifyCode::kNotFound || code == VerifyCode::kDisabled ||
         code == VerifyCode::kExpired || code == VerifyCode::kForbidden ||
         code == VerifyCode::kInsufficientPermissions;
}

bool KeyServiceImpl::Guards(const RequestContext& ctx) const {
  // Only an end user's address, forwarded by a trusted proxy, is guarded (brute_force.h).
  return brute_force_ && ctx.client_ip != ctx.peer_ip && !ctx.client_ip.empty();
}

void KeyServiceImpl::CountFailure(const RequestContext& ctx, int64_t now_ms) {
  int64_t failures = 0;
  if (brute_force_->Fail(ctx.client_ip, now_ms, &failures)) {
    addresses_blocked_.fetch_add(1, std::memory_order_relaxed);
    if (on_block_) on_block_(BruteForceSubject(ctx.client_ip), failures, now_ms);
  }
}

int64_t KeyServiceImpl::AuthenticationBlockedForMs(const RequestContext& ctx) {
  if (!Guards(ctx)) return 0;
  int64_t now = env_.NowMillis();
  int64_t until = brute_force_->BlockedUntil(ctx.client_ip, now);
  return until > now ? until - now : 0;
}

StatusOr<Principal> KeyServiceImpl::AuthenticateFrom(const RequestContext& ctx,
                                                     std::string_view bearer) {
  StatusOr<Principal> p = Authenticate(bearer);
  if (!p.ok() && Guards(ctx)) CountFailure(ctx, env_.NowMillis());
  return p;
}

StatusOr<VerifyResult> KeyServiceImpl::Guarded(const RequestContext& ctx,
                                               const VerifyRequest& req) {
  if (!Guards(ctx)) return VerifyUnrecorded(ctx, req);
  int64_t now = env_.NowMillis();
  if (int64_t until = brute_force_->BlockedUntil(ctx.client_ip, now); until > now) {
    VerifyResult blocked;
    blocked.code = VerifyCode::kRateLimited;
    blocked.retry_after_ms = until - now;
    return blocked;
  }
  StatusOr<VerifyResult> r = VerifyUnrecorded(ctx, req);
  if (r.ok() && IsFailure(r->code)) CountFailure(ctx, now);
  return r;
}

StatusOr<VerifyResult> KeyServiceImpl::Verify(const RequestContext& ctx, const VerifyRequest& req) {
  StatusOr<VerifyResult> r = Guarded(ctx, req);
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
  VerifyResult result;
  // A malformed key or a failed check is answered without touching the index — unless keys moved
  // in from another system are held, whose text need not be in keyhold's format.
  const bool well_formed = ParseKey(req.key).ok();
  if (!well_formed && !has_imported_keys_.load(std::memory_order_relaxed)) return result;
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
    const std::shared_ptr<const KeyEntry>* found = keys_.FindByHash(h);
    if (!found || (*found)->kind != store::KeyKind::kApp) return result;
    if (!well_formed && !(*found)->imported) return result;
    e = (*found);
    if (!p.Can("api." + *e->api_id + ".verify_key")) return result;
    const ApiRecord* api = FindApi(*e->api_id);
    if (!api) return result;
    ip_ok = IpAllowed(*api, ctx.client_ip) && IpAllowed(e->Details(), ctx.client_ip);
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

  std::vector<RateLimiter::Check> checks;
  std::vector<RatelimitOutcome> shown;
  KH_RETURN_IF_ERROR(CollectLimits(*result.key, req, &checks, &shown));
  // A spend that waits on the disk is made on a worker, where the whole decision is taken again:
  // handed over before any limit is counted, so each is counted once.
  if (!ctx.may_block && e->credits && NeedsStore(*e->credits, req.cost, now)) return WouldBlock();
  if (!checks.empty()) {
    std::vector<RateLimiter::Outcome> out;
    const bool admitted = limiter_.Apply(checks, now, &out);
    for (size_t i = 0; i < out.size(); ++i) {
      shown[i].remaining = out[i].remaining;
      shown[i].reset_ms = out[i].reset_ms;
      shown[i].exceeded = !out[i].allowed;
      if (!out[i].allowed) {
        int64_t wait = out[i].retry_after_ms;
        if (wait < 0 || result.retry_after_ms < 0) {
          result.retry_after_ms = -1;
        } else {
          result.retry_after_ms = std::max(result.retry_after_ms, wait);
        }
      }
    }
    if (!admitted) {
      result.code = VerifyCode::kRateLimited;  // and no credits spent
      result.ratelimits = std::move(shown);
      return result;
    }
  }
  Status spent = SpendCredits(ctx, req, *e, now, result);
  if (!spent.ok() || result.code != VerifyCode::kValid) {
    // Refused for its credits (or not decided): it does not count against the limits.
    limiter_.Refund(checks, now);
    KH_RETURN_IF_ERROR(spent);
    for (size_t i = 0; i < shown.size(); ++i) {
      shown[i].remaining = std::min(shown[i].limit, shown[i].remaining + checks[i].cost);
    }
  }
  if (result.key) result.ratelimits = std::move(shown);
  return result;
}

Status KeyServiceImpl::SpendCredits(const RequestContext& ctx, const VerifyRequest& req,
                                    const KeyEntry& e, int64_t now, VerifyResult& result) {
  if (!e.credits) return OkStatus();
  CreditsCell& c = *e.credits;
  // Held across the store call, so the cell is always set from the store's latest answer.
  std::lock_guard lock(c.mu);
  if (!c.credits.remaining) return OkStatus();
  CreditsState cached = c.credits;
  // A due refill replaces the balance, and what was reserved from it with it.
  const bool refill_due = ApplyRefill(cached, now);
  if (refill_due) c.reserved = 0;
  c.last_spent_at = now;
  const int64_t before = *cached.remaining + c.reserved;  // the balance the key shows
  auto show = [&](int64_t remaining) {
    CreditsState shown = cached;
    shown.remaining = remaining;
    result.key->credits_ = shown;
  };
  auto report_low = [&](int64_t after) {
    if (on_credits_low_ && credits_low_threshold_ > 0 && after < credits_low_threshold_ &&
        before >= credits_low_threshold_) {
      on_credits_low_(*result.key, after, credits_low_threshold_);
    }
  };
  // Granted from the reservation: nothing to write, nothing to wait for.
  // (Never a probe of cost 0 with nothing reserved: the store answers that, as it may know the
  // balance is gone.)
  if (!refill_due && c.reserved > 0 && c.reserved >= req.cost) {
    c.reserved -= req.cost;
    show(before - req.cost);
    report_low(before - req.cost);
    return OkStatus();
  }
  // A balance the cell already shows too low is refused without I/O: an exhausted key that keeps
  // being tried costs no store transaction. The cell can only be behind the store when another
  // process added credits, which refuses too much, never admits too much.
  CreditsState probe = cached;
  probe.remaining = before;
  if (!TrySpend(probe, req.cost)) {
    result.code = VerifyCode::kUsageExceeded;
    show(before);
    return OkStatus();
  }
  if (!ctx.may_block) return WouldBlock();  // the spend waits on the disk
  // The store decides: it spends from the stored balance, which the cell only caches, what the
  // reservation does not cover, and takes the next reservation in the same write.
  // From the balance's own key: a rerolled key spends its replacement's (CreditsCell).
  const int64_t need = req.cost - c.reserved;
  const int64_t extra = ReserveBlock(c, now, *cached.remaining - need);
  StatusOr<store::SpendResult> spend = store_.SpendCredits(c.owner_id, need, now, extra);
  if (!spend.ok()) {
    // Deleted by another writer since the lookup above: answered as if not found.
    if (spend.status().code() == StatusCode::kNotFound) {
      result = VerifyResult{};
      return OkStatus();
    }
    return spend.status();
  }
  c.credits = spend->credits;
  cached = spend->credits;
  if (!spend->credits.remaining) {  // made unlimited by another process meanwhile
    c.reserved = 0;
    result.key->credits_ = spend->credits;
    return OkStatus();
  }
  if (!spend->spent) {
    result.code = VerifyCode::kUsageExceeded;
    show(*spend->credits.remaining + c.reserved);
    return OkStatus();
  }
  c.reserved = spend->extra;  // what was reserved went into this spend, with `need`
  const int64_t after = *spend->credits.remaining + c.reserved;
  show(after);
  report_low(after);
  return OkStatus();
}

}  // namespace keyhold::service
