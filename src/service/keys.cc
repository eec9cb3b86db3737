// KeyService: creating, reading, changing and deleting application keys.
#include <algorithm>
#include <set>

#include "core/ids.h"
#include "core/key_format.h"
#include "core/permissions.h"
#include "service/internal.h"
#include "service/key_service.h"

namespace keyhold::service {

using store::KeyKind;
using store::WriteBatch;

Status ValidateCredits(const std::optional<int64_t>& remaining,
                       const std::optional<RefillRule>& refill) {
  if (remaining && (*remaining < 0 || *remaining > kMaxCredits)) {
    return InvalidArgument("credits.remaining must be between 0 and 1000000000000000");
  }
  if (refill) {
    if (refill->amount < 0 || refill->amount > kMaxCredits) {
      return InvalidArgument("credits.refill.amount must be between 0 and 1000000000000000");
    }
    if (refill->refill_day < 1 || refill->refill_day > 31) {
      return InvalidArgument("credits.refill.refillDay must be between 1 and 31");
    }
    if (!remaining) return InvalidArgument("credits.refill needs credits.remaining");
  }
  return OkStatus();
}

Status ValidateRatelimits(std::vector<RatelimitConfig>& rls, Env& env) {
  if (rls.size() > 100) return InvalidArgument("at most 100 ratelimits");
  std::set<std::string> names;
  for (RatelimitConfig& r : rls) {
    if (r.name.empty() || r.name.size() > 128) {
      return InvalidArgument("ratelimit names must be 1 to 128 characters");
    }
    if (!names.insert(r.name).second) {
      return InvalidArgument("ratelimit '" + r.name + "' is given twice");
    }
    if (r.limit < 1 || r.limit > 1'000'000'000) {
      return InvalidArgument("ratelimit limit must be between 1 and 1000000000");
    }
    if (r.duration_ms < 1000 || r.duration_ms > kMaxRatelimitDurationMs) {
      return InvalidArgument("ratelimit duration must be between 1000 and 2592000000 ms");
    }
    if (r.id.empty()) r.id = NewId(env, "rl");
  }
  return OkStatus();
}

Status ValidateIpAllowlist(const std::vector<std::string>& cidrs, std::string_view field) {
  if (cidrs.size() > kMaxIpAllowlist) {
    return InvalidArgument(std::string(field) + " holds at most 100 entries");
  }
  for (size_t i = 0; i < cidrs.size(); ++i) {
    auto net = Cidr::Parse(cidrs[i]);
    if (!net.ok()) {
      return InvalidArgument(std::string(field) + "[" + std::to_string(i) +
                             "] is not an IPv4 or IPv6 address or CIDR network (such as "
                             "10.0.0.0/8 or 2001:db8::/32): " +
                             net.status().message());
    }
  }
  return OkStatus();
}

namespace {

// Increments and decrements are decided by the store, on the stored balance. The cell's lock is
// held across the call, so the cell is always set from the store's latest answer.
StatusOr<CreditsState> AdjustStoredCredits(store::Store& store, const KeyEntry& e, int64_t delta,
                                           int64_t now, const audit::AuditEntry& audit) {
  auto unlimited = [] {
    return InvalidArgument("the key has unlimited credits; set a balance before changing it");
  };
  if (!e.credits) return unlimited();
  CreditsCell& c = *e.credits;
  std::lock_guard lock(c.mu);
  if (!c.credits.remaining) return unlimited();
  // What is reserved goes back into the stored balance in the same write, so that the change
  // applies to the balance the key shows (a due refill forfeits it, as the store refills).
  CreditsState probe = c.credits;
  const int64_t reserved = ApplyRefill(probe, now) ? 0 : c.reserved;
  if (delta > kMaxCredits - reserved) return InvalidArgument("the balance would exceed 1e15");
  KH_ASSIGN_OR_RETURN(CreditsState stored,
                      store.AdjustCredits(c.owner_id, delta + reserved, now, &audit));
  c.credits = stored;
  c.reserved = 0;
  return stored;
}

// A rerolled key spends its replacement's balance until it stops: that is where it is changed.
Status CreditsShared(const KeyRecord& k) {
  return AlreadyExists("key '" + k.id + "' was rerolled and spends the credits of key '" +
                           k.credits_key_id + "'; change them there",
                       "data/credits_shared");
}

}  // namespace

Status ValidateCommon(const std::optional<std::string>& name, const std::string& meta_json) {
  if (name && name->size() > kMaxNameLength) {
    return InvalidArgument("name must be at most 256 characters");
  }
  if (meta_json.size() > kMaxMetaBytes) return InvalidArgument("meta must be at most 64 KiB");
  return OkStatus();
}

StatusOr<std::vector<std::string>> KeyServiceImpl::ResolvePermissions(
    const Principal& p, const std::vector<std::string>& slugs, WriteBatch& batch,
    std::vector<PermissionRecord>& created) {
  if (slugs.size() > kMaxListItems) return InvalidArgument("at most 1000 permissions");
  std::vector<std::string> ids;
  for (const std::string& slug : slugs) {
    if (const PermissionRecord* found = FindPermission(slug)) {
      ids.push_back(found->id);
      continue;
    }
    auto again = std::find_if(created.begin(), created.end(),
                              [&](const PermissionRecord& r) { return r.slug == slug; });
    if (again != created.end()) {
      ids.push_back(again->id);
      continue;
    }
    if (!IsValidPermission(slug)) {
      return InvalidArgument("'" + slug + "' is not a valid permission slug");
    }
    KH_RETURN_IF_ERROR(Require(p, "rbac.*.create_permission"));
    PermissionRecord rec{NewId(env_, "perm"), slug, slug, "", env_.NowMillis()};
    batch.put_permissions.push_back(rec);
    ids.push_back(rec.id);
    created.push_back(std::move(rec));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

StatusOr<std::vector<std::string>> KeyServiceImpl::ResolveRoles(
    const std::vector<std::string>& names) const {
  if (names.size() > kMaxListItems) return InvalidArgument("at most 1000 roles");
  std::vector<std::string> ids;
  for (const std::string& name : names) {
    const RoleRecord* r = FindRole(name);
    if (!r) return NotFound("role '" + name + "' was not found", "data/role_not_found");
    ids.push_back(r->id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

StatusOr<std::string> KeyServiceImpl::ResolveIdentity(const Principal& p,
                                                      const std::string& external_id,
                                                      WriteBatch& batch,
                                                      std::vector<IdentityRecord>& created) {
  if (external_id.empty() || external_id.size() > kMaxExternalIdLength) {
    return InvalidArgument("externalId must be 1 to 256 characters");
  }
  auto again = std::find_if(created.begin(), created.end(),
                            [&](const IdentityRecord& r) { return r.external_id == external_id; });
  if (again != created.end()) return again->id;
  // Identities are shared by every API: linking a key to one reaches another customer's data, so
  // an externalId needs read access to identities — asked first, whether or not the identity
  // exists, so that the answer says nothing about which externalIds are taken.
  KH_RETURN_IF_ERROR(Require(p, "identity.*.read_identity"));
  auto known = identity_by_external_.find(external_id);
  if (known != identity_by_external_.end()) return known->second;
  KH_RETURN_IF_ERROR(Require(p, "identity.*.create_identity"));
  IdentityRecord rec;
  rec.id = NewId(env_, "id");
  rec.external_id = external_id;
  rec.created_at = env_.NowMillis();
  batch.put_identities.push_back(rec);
  created.push_back(rec);
  return rec.id;
}

void KeyServiceImpl::IndexCreatedLocked(const std::vector<PermissionRecord>& perms,
                                        const std::vector<IdentityRecord>& identities) {
  for (const auto& p : perms) {
    permission_by_slug_[p.slug] = p.id;
    permissions_[p.id] = p;
  }
  for (const auto& i : identities) {
    identity_by_external_[i.external_id] = i.id;
    identities_[i.id] = i;
  }
}

Status KeyServiceImpl::CommitKey(const RequestContext& ctx, KeyRecord rec, WriteBatch batch,
                                 const std::vector<PermissionRecord>& new_perms,
                                 const std::vector<IdentityRecord>& new_identities,
                                 const std::shared_ptr<const KeyEntry>& previous, Credits credits) {
  std::shared_ptr<CreditsCell> cell = previous ? previous->credits : nullptr;
  // Holding the cell's lock across the write keeps a concurrent spend from being overwritten.
  std::unique_lock<std::mutex> cell_lock;
  if (cell) cell_lock = std::unique_lock(cell->mu);
  // A rerolled key spending its replacement's balance keeps sharing it and stores none itself.
  const bool shares = !rec.credits_key_id.empty();
  if (credits == Credits::kUnchanged) {
    rec.credits = cell && !shares ? cell->credits : CreditsState{};
  } else if (credits == Credits::kRefillChanged && cell && !shares) {
    // The balance stays what the key shows, reserved credits included, read under the lock.
    rec.credits.remaining = cell->Shown(env_.NowMillis()).remaining;
  }
  bool has_credits = shares || rec.credits.remaining.has_value() || rec.credits.refill.has_value();
  batch.put_keys.push_back(rec);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch, cell_lock ? cell.get() : nullptr));
  // The old entry stays visible until the swap below: its cell must already say what the store
  // says (an unlimited cell spends nothing). The cell's lock is released before mu_ is taken, as
  // readers take mu_ first and then a cell's lock.
  if (cell && !shares) {
    cell->credits = rec.credits;
    // A balance written whole (set, or what the key showed) replaces what was reserved.
    if (credits != Credits::kUnchanged) cell->reserved = 0;
  }
  if (!has_credits) cell = nullptr;  // else MakeEntry creates the cell from rec if none exists
  if (cell_lock) cell_lock.unlock();
  std::unique_lock lock(mu_);
  IndexCreatedLocked(new_perms, new_identities);
  if (rec.deleted_at) {
    auto old = FindKey(rec.id, rec.kind);
    if (old) UnindexKeyLocked(*old);
    return OkStatus();
  }
  IndexKeyLocked(MakeEntry(rec, std::move(cell), previous.get()));
  return OkStatus();
}

StatusOr<CreatedKey> KeyServiceImpl::CreateKey(const RequestContext& ctx, CreateKeyRequest req) {
  KH_ASSIGN_OR_RETURN(std::vector<CreatedKey> keys, CreateKeys(ctx, std::move(req), 1));
  return std::move(keys.front());
}

StatusOr<std::vector<CreatedKey>> KeyServiceImpl::CreateKeys(const RequestContext& ctx,
                                                             CreateKeyRequest req, int count) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api." + req.api_id + ".create_key"));
  if (count < 1 || count > kMaxBulkKeys) return InvalidArgument("count must be 1 to 1000000");
  if (req.recoverable) {
    return InvalidArgument(
        "recoverable keys are stored encrypted by the secrets vault, which this server does not "
        "offer yet; create the key with recoverable=false");
  }
  KH_RETURN_IF_ERROR(ValidateCommon(req.name, req.meta_json));
  if (req.credits) KH_RETURN_IF_ERROR(ValidateCredits(req.credits->remaining, req.credits->refill));
  std::vector<RatelimitConfig> ratelimits = ToRecords(req.ratelimits);
  KH_RETURN_IF_ERROR(ValidateRatelimits(ratelimits, env_));
  KH_RETURN_IF_ERROR(ValidateIpAllowlist(req.ip_allowlist, "ipAllowlist"));
  int64_t now = env_.NowMillis();
  if (req.expires && *req.expires <= now) return InvalidArgument("expires must be in the future");

  std::lock_guard w(write_mu_);
  const ApiRecord* api = FindApi(req.api_id);
  if (!api) return NotFound("API '" + req.api_id + "' was not found", "data/api_not_found");
  std::string prefix = req.prefix.value_or(api->default_prefix);
  if (!IsValidKeyPrefix(prefix)) {
    return InvalidArgument("prefix must be at most 16 characters of [a-zA-Z0-9_]");
  }
  int byte_length = req.byte_length.value_or(api->default_byte_length);
  if (byte_length < kMinKeyBytes || byte_length > kMaxKeyBytes) {
    return InvalidArgument("byteLength must be between 16 and 255");
  }
  WriteBatch batch;
  std::vector<PermissionRecord> new_perms;
  std::vector<IdentityRecord> new_identities;
  KeyRecord base;
  KH_ASSIGN_OR_RETURN(base.permission_ids,
                      ResolvePermissions(p, req.permissions, batch, new_perms));
  KH_ASSIGN_OR_RETURN(base.role_ids, ResolveRoles(req.roles));
  if (req.external_id) {
    KH_ASSIGN_OR_RETURN(base.identity_id,
                        ResolveIdentity(p, *req.external_id, batch, new_identities));
  }
  base.kind = KeyKind::kApp;
  base.api_id = req.api_id;
  base.name = std::move(req.name);
  base.meta_json = std::move(req.meta_json);
  base.created_at = base.updated_at = now;
  base.created_by = ctx.actor.key_id;
  base.expires = req.expires;
  base.enabled = req.enabled;
  if (req.credits) {
    base.credits = *req.credits;
    base.credits.last_refill_at = now;
  }
  base.ratelimits = std::move(ratelimits);
  base.ip_allowlist = std::move(req.ip_allowlist);

  std::vector<CreatedKey> created;
  created.reserve(static_cast<size_t>(count));
  batch.put_keys.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string text = GenerateKey(env_, prefix, byte_length);
    KeyRecord k = base;
    k.id = NewId(env_, "key");
    k.hash = crypto::Sha256(text);
    k.start = KeyStart(text);
    batch.put_keys.push_back(std::move(k));
    created.push_back({batch.put_keys.back().id, crypto::Secret(std::move(text))});
  }
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch));
  std::unique_lock lock(mu_);
  IndexCreatedLocked(new_perms, new_identities);
  keys_.Reserve(keys_.size() + batch.put_keys.size());
  for (const KeyRecord& k : batch.put_keys) IndexKeyLocked(MakeEntry(k, nullptr, nullptr));
  return created;
}

Status KeyNotFound(const std::string& key_id) {
  return NotFound("key '" + key_id + "' was not found", "data/key_not_found");
}

Status KeyServiceImpl::RequireForKey(const Principal& p, const KeyEntry& e, std::string_view action,
                                     Status not_found) {
  std::string base = "api." + *e.api_id + ".";
  std::string wanted = base + std::string(action);
  if (p.Can(wanted)) return OkStatus();
  // Without read access to the API's keys the caller learns nothing, not even that the key is
  // there: the answer is the one a key that does not exist gets.
  if (action == "read_key" || !p.Can(base + "read_key")) return not_found;
  return PermissionDenied("this root key lacks the permission '" + wanted + "'");
}

StatusOr<std::shared_ptr<const KeyEntry>> KeyServiceImpl::KeyForWrite(const Principal& p,
                                                                      const std::string& key_id,
                                                                      std::string_view action) {
  auto e = FindKey(key_id, KeyKind::kApp);
  if (!e) return KeyNotFound(key_id);
  KH_RETURN_IF_ERROR(RequireForKey(p, *e, action, KeyNotFound(key_id)));
  return e;
}

StatusOr<KeyView> KeyServiceImpl::GetKey(const RequestContext& ctx, const std::string& key_id) {
  const Principal& p = ctx.actor;
  {
    std::shared_lock lock(mu_);
    if (auto e = FindKey(key_id, KeyKind::kApp)) {
      KH_RETURN_IF_ERROR(RequireForKey(p, *e, "read_key", KeyNotFound(key_id)));
      return ViewOf(e, p);
    }
  }
  // Not live: it may have been revoked, which the store remembers.
  if (!ctx.may_block) return WouldBlock();
  return RevokedKeyView(p, key_id);
}

StatusOr<KeyView> KeyServiceImpl::Whoami(const RequestContext& ctx, std::string_view key) {
  const Principal& p = ctx.actor;
  Status not_found = NotFound("the key was not found", "data/key_not_found");
  const bool well_formed = ParseKey(key).ok();
  if (!well_formed && !has_imported_keys_.load(std::memory_order_relaxed)) return not_found;
  crypto::Sha256Digest h = crypto::Sha256(key);
  std::shared_lock lock(mu_);
  const std::shared_ptr<const KeyEntry>* found = keys_.FindByHash(h);
  if (!found || (*found)->kind != KeyKind::kApp) return not_found;
  if (!well_formed && !(*found)->imported) return not_found;
  KH_RETURN_IF_ERROR(RequireForKey(p, *(*found), "read_key", not_found));
  return ViewOf((*found), p);
}

StatusOr<KeyView> KeyServiceImpl::UpdateKey(const RequestContext& ctx, UpdateKeyRequest req) {
  const Principal& p = ctx.actor;
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto e, KeyForWrite(p, req.key_id, "update_key"));
  KeyRecord k = e->ToRecord();
  if (req.credits && !k.credits_key_id.empty()) return CreditsShared(k);
  WriteBatch batch;
  std::vector<PermissionRecord> new_perms;
  std::vector<IdentityRecord> new_identities;
  if (req.name) k.name = *req.name;
  if (req.meta_json) k.meta_json = *req.meta_json;
  KH_RETURN_IF_ERROR(ValidateCommon(k.name, k.meta_json));
  if (req.external_id) {
    k.identity_id.clear();
    if (*req.external_id) {
      KH_ASSIGN_OR_RETURN(k.identity_id,
                          ResolveIdentity(p, **req.external_id, batch, new_identities));
    }
  }
  int64_t now = env_.NowMillis();
  if (req.expires) {
    if (*req.expires && **req.expires <= now)
      return InvalidArgument("expires must be in the future");
    k.expires = *req.expires;
  }
  if (req.ratelimits) {
    std::vector<RatelimitConfig> ratelimits = ToRecords(*req.ratelimits);
    KH_RETURN_IF_ERROR(ValidateRatelimits(ratelimits, env_));
    k.ratelimits = std::move(ratelimits);
  }
  if (req.ip_allowlist) {
    KH_RETURN_IF_ERROR(ValidateIpAllowlist(*req.ip_allowlist, "ipAllowlist"));
    k.ip_allowlist = std::move(*req.ip_allowlist);
  }
  if (req.enabled) k.enabled = *req.enabled;
  if (req.permissions) {
    KH_ASSIGN_OR_RETURN(k.permission_ids,
                        ResolvePermissions(p, *req.permissions, batch, new_perms));
  }
  if (req.roles) {
    KH_ASSIGN_OR_RETURN(k.role_ids, ResolveRoles(*req.roles));
  }
  if (req.credits) {
    if (!*req.credits) {
      k.credits = CreditsState{};
    } else {
      const CreditsPatch& patch = **req.credits;
      if (patch.set_remaining) k.credits.remaining = patch.remaining;
      if (patch.set_refill) k.credits.refill = patch.refill;
      KH_RETURN_IF_ERROR(ValidateCredits(k.credits.remaining, k.credits.refill));
    }
    k.credits.last_refill_at = now;
  }
  k.updated_at = now;
  std::string id = k.id;
  Credits change = Credits::kUnchanged;
  if (req.credits) {
    change = *req.credits && !(*req.credits)->set_remaining ? Credits::kRefillChanged
                                                            : Credits::kChanged;
  }
  KH_RETURN_IF_ERROR(
      CommitKey(ctx, std::move(k), std::move(batch), new_perms, new_identities, e, change));
  std::shared_lock lock(mu_);
  return ViewOf(*keys_.FindById(id), p);
}

StatusOr<CreditsState> KeyServiceImpl::UpdateCredits(const RequestContext& ctx,
                                                     const std::string& key_id, CreditsOperation op,
                                                     std::optional<int64_t> value) {
  const Principal& p = ctx.actor;
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto e, KeyForWrite(p, key_id, "update_key"));
  if (KeyRecord k = e->ToRecord(); !k.credits_key_id.empty()) return CreditsShared(k);
  if (op != CreditsOperation::kSet && !value) {
    return InvalidArgument("value is required for increment and decrement");
  }
  if (value && (*value < 0 || *value > kMaxCredits)) {
    return InvalidArgument("value must be between 0 and 1000000000000000");
  }
  int64_t now = env_.NowMillis();
  if (op != CreditsOperation::kSet) {
    int64_t delta = op == CreditsOperation::kIncrement ? *value : -*value;
    auto adjusted =
        AdjustStoredCredits(store_, *e, delta, now, CreditsAdjustmentEntry(ctx, key_id, delta));
    if (adjusted.ok()) audit_entries_written_.fetch_add(1, std::memory_order_relaxed);
    return adjusted;
  }
  KeyRecord k = e->ToRecord();
  CreditsState next = k.credits;
  ApplyRefill(next, now);
  next.remaining = value;
  if (!value) next.refill.reset();
  // The cell's lock is held across the write, so a concurrent spend cannot land in between and
  // be overwritten by the balance set here.
  std::shared_ptr<CreditsCell> cell = e->credits;
  std::unique_lock<std::mutex> cell_lock;
  if (cell) cell_lock = std::unique_lock(cell->mu);
  WriteBatch b;
  b.credits.push_back({key_id, next});
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b, cell.get()));
  bool limited = next.remaining.has_value() || next.refill.has_value();
  if (cell) {
    cell->credits = next;
    cell->reserved = 0;  // the balance set replaces what was reserved from the old one
  }
  if (cell && limited) return next;
  // The key moves between unlimited and limited: its entry gets (or loses) a cell. The cell's
  // lock goes first: readers take mu_ and then a cell's lock.
  if (cell_lock) cell_lock.unlock();
  k.credits = next;
  std::unique_lock lock(mu_);
  IndexKeyLocked(MakeEntry(k, nullptr, e.get()));
  return next;
}

Status KeyServiceImpl::DeleteKey(const RequestContext& ctx, const std::string& key_id,
                                 Deletion deletion) {
  const Principal& p = ctx.actor;
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto e, KeyForWrite(p, key_id, "delete_key"));
  WriteBatch b;
  if (deletion == Deletion::kPermanent) {
    b.delete_keys.push_back(key_id);
  } else {
    KeyRecord rec = e->ToRecord();
    rec.deleted_at = env_.NowMillis();
    b.put_keys.push_back(std::move(rec));
  }
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  UnindexKeyLocked(*e);
  return OkStatus();
}

template <typename Id>
static std::vector<Id> Combine(std::vector<Id> current, const std::vector<Id>& given,
                               SetMode mode) {
  if (mode == SetMode::kSet) return given;
  if (mode == SetMode::kAdd) {
    current.insert(current.end(), given.begin(), given.end());
  } else {
    std::erase_if(current, [&](const Id& x) {
      return std::find(given.begin(), given.end(), x) != given.end();
    });
  }
  std::sort(current.begin(), current.end());
  current.erase(std::unique(current.begin(), current.end()), current.end());
  return current;
}

StatusOr<std::vector<PermissionInfo>> KeyServiceImpl::ChangeKeyPermissions(
    const RequestContext& ctx, const std::string& key_id, SetMode mode,
    const std::vector<std::string>& perms) {
  const Principal& p = ctx.actor;
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto e, KeyForWrite(p, key_id, "update_key"));
  WriteBatch batch;
  std::vector<PermissionRecord> new_perms;
  std::vector<std::string> ids;
  if (mode == SetMode::kRemove) {
    for (const std::string& s : perms) {
      if (const PermissionRecord* r = FindPermission(s)) ids.push_back(r->id);
    }
  } else {
    KH_ASSIGN_OR_RETURN(ids, ResolvePermissions(p, perms, batch, new_perms));
  }
  KeyRecord k = e->ToRecord();
  k.permission_ids = Combine(k.permission_ids, ids, mode);
  k.updated_at = env_.NowMillis();
  KH_RETURN_IF_ERROR(
      CommitKey(ctx, std::move(k), std::move(batch), new_perms, {}, e, Credits::kUnchanged));
  std::shared_lock lock(mu_);
  std::vector<PermissionInfo> out;
  for (const std::string& pid : (*keys_.FindById(key_id))->Details().permission_ids) {
    if (const PermissionRecord* r = FindPermission(pid)) out.push_back(FromRecord(*r));
  }
  return out;
}

StatusOr<std::vector<RoleInfo>> KeyServiceImpl::ChangeKeyRoles(
    const RequestContext& ctx, const std::string& key_id, SetMode mode,
    const std::vector<std::string>& roles) {
  const Principal& p = ctx.actor;
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto e, KeyForWrite(p, key_id, "update_key"));
  std::vector<std::string> ids;
  if (mode == SetMode::kRemove) {
    for (const std::string& s : roles) {
      if (const RoleRecord* r = FindRole(s)) ids.push_back(r->id);
    }
  } else {
    KH_ASSIGN_OR_RETURN(ids, ResolveRoles(roles));
  }
  KeyRecord k = e->ToRecord();
  k.role_ids = Combine(k.role_ids, ids, mode);
  k.updated_at = env_.NowMillis();
  KH_RETURN_IF_ERROR(CommitKey(ctx, std::move(k), {}, {}, {}, e, Credits::kUnchanged));
  std::shared_lock lock(mu_);
  std::vector<RoleInfo> out;
  for (const std::string& rid : (*keys_.FindById(key_id))->Details().role_ids) {
    if (const RoleRecord* r = FindRole(rid)) out.push_back(RoleInfoOf(*r));
  }
  return out;
}

}  // namespace keyhold::service
