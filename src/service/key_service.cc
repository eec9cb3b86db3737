// KeyService: loading, lookups, root keys and APIs. Keys are in keys.cc, verification in
// verify.cc, identities, permissions and roles in rbac.cc.
#include "service/key_service.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <type_traits>

#include "core/ids.h"
#include "core/ip.h"
#include "core/key_format.h"
#include "core/permissions.h"
#include "core/secret_path.h"
#include "service/internal.h"

namespace keyhold::service {

using store::KeyKind;
using store::WriteBatch;

const char* VerifyCodeName(VerifyCode code) {
  switch (code) {
    case VerifyCode::kValid:
      return "VALID";
    case VerifyCode::kNotFound:
      return "NOT_FOUND";
    case VerifyCode::kForbidden:
      return "FORBIDDEN";
    case VerifyCode::kInsufficientPermissions:
      return "INSUFFICIENT_PERMISSIONS";
    case VerifyCode::kUsageExceeded:
      return "USAGE_EXCEEDED";
    case VerifyCode::kRateLimited:
      return "RATE_LIMITED";
    case VerifyCode::kDisabled:
      return "DISABLED";
    case VerifyCode::kExpired:
      return "EXPIRED";
  }
  return "NOT_FOUND";
}

Status Require(const Principal& p, const std::string& permission) {
  if (p.Can(permission)) return OkStatus();
  return PermissionDenied("this root key lacks the permission '" + permission + "'");
}

RatelimitConfig ToRecord(const Ratelimit& r) {
  return {r.id, r.name, r.limit, r.duration_ms, r.auto_apply};
}
std::vector<RatelimitConfig> ToRecords(const std::vector<Ratelimit>& rls) {
  std::vector<RatelimitConfig> out;
  out.reserve(rls.size());
  for (const Ratelimit& r : rls) out.push_back(ToRecord(r));
  return out;
}
Ratelimit FromRecord(const RatelimitConfig& r) {
  return {r.id, r.name, r.limit, r.duration_ms, r.auto_apply};
}
std::vector<Ratelimit> FromRecords(const std::vector<RatelimitConfig>& rls) {
  std::vector<Ratelimit> out;
  out.reserve(rls.size());
  for (const RatelimitConfig& r : rls) out.push_back(FromRecord(r));
  return out;
}
ApiInfo FromRecord(const ApiRecord& r) {
  ApiInfo info{r.id, r.name, r.default_prefix, r.default_byte_length, r.ip_allowlist, r.created_at};
  info.on_leak = r.on_leak == store::LeakResponse::kDisable ? OnLeak::kDisable : OnLeak::kRevoke;
  info.max_key_age_ms = r.max_key_age_ms;
  info.overdue_grace_ms = r.overdue_grace_ms;
  return info;
}
PermissionInfo FromRecord(const PermissionRecord& r) {
  return {r.id, r.name, r.slug, r.description, r.created_at};
}
IdentityInfo FromRecord(const IdentityRecord& r, bool with_meta) {
  IdentityInfo out{r.id, r.external_id, std::nullopt, FromRecords(r.ratelimits), r.created_at};
  if (with_meta) out.meta_json = r.meta_json;
  return out;
}

StatusOr<std::unique_ptr<KeyService>> KeyService::Open(store::Store& store, Env& env,
                                                       const KeyServiceOptions& options) {
  auto svc = std::make_unique<KeyServiceImpl>(store, env);
  // Load turns an exception of its own steps into an error; one from elsewhere in it (the
  // store's reading, the salt, linking shared credits) ends here the same way, its builder
  // thread already joined.
  try {
    KH_RETURN_IF_ERROR(svc->Load(options.before_index_batch));
  } catch (const std::exception& e) {
    return Internal("the keys could not be loaded").WithLogDetail(e.what());
  } catch (...) {
    return Internal("the keys could not be loaded").WithLogDetail("unknown exception");
  }
  return std::unique_ptr<KeyService>(std::move(svc));
}

namespace {

// Loading: the records of the store's keys are handed from the thread reading the store to one
// building and indexing their entries, in batches of kLoadBatch, with at most kLoadBatches batches
// allocated (the reader waits for one to come back). The strings of a batch's records keep their
// buffers from one round to the next, so records are moved in without allocating.
constexpr size_t kLoadBatch = 1024;
constexpr size_t kLoadBatches = 4;

// Runs `f`, turning an exception it throws (running out of memory, most likely) into an error:
// thrown on the builder thread it would end the process, and on the reading thread it would leave
// through callers that expect a Status. `step` names what failed, for the operator.
// `f` returns a Status or nothing.
template <typename F>
Status LoadStep(const char* step, F&& f) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
      f();
      return OkStatus();
    } else {
      return f();
    }
  } catch (const std::exception& e) {
    return Internal("the keys could not be loaded")
        .WithLogDetail(std::string(step) + ": " + e.what());
  } catch (...) {
    return Internal("the keys could not be loaded")
        .WithLogDetail(std::string(step) + ": unknown exception");
  }
}

}  // namespace

Status KeyServiceImpl::Load(const std::function<void()>& before_index_batch) {
  KH_ASSIGN_OR_RETURN(audit_salt_, store_.AuditSalt());
  store::Snapshot snap;
  bool indexed_rest = false;
  std::vector<std::pair<std::string, std::string>> shared_credits;  // (key, balance owner)
  std::vector<std::shared_ptr<const KeyEntry>> entries;
  entries.reserve(kLoadBatch);
  // Builds and indexes the entries of the first `n` records of `batch`: the builder's work, on
  // the builder thread once there is one (it alone touches the index until it is joined).
  auto index_batch = [&](std::vector<KeyRecord>& batch, size_t n) {
    return LoadStep("building the key index", [&] {
      if (before_index_batch) before_index_batch();
      for (size_t i = 0; i < n; ++i) {
        const KeyRecord& k = batch[i];
        if (!k.credits_key_id.empty()) shared_credits.emplace_back(k.id, k.credits_key_id);
        auto e = MakeEntry(k, nullptr, nullptr);
        e->last_used_at = k.last_used_at;
        e->last_used_stored = k.last_used_at;
        // What IndexKeyLocked notes of each key.
        if (e->kind == KeyKind::kRoot) root_key_ids_[e->id.str()] = e->id.str();
        if (e->imported) has_imported_keys_.store(true, std::memory_order_relaxed);
        entries.push_back(std::move(e));
      }
      keys_.InsertLoaded(entries);  // ids and hashes are unique in the store
    });
  };

  struct Handoff {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::vector<KeyRecord>> empty;                   // guarded by mu
    std::deque<std::pair<std::vector<KeyRecord>, size_t>> full;  // guarded by mu
    size_t allocated = 1;                                        // guarded by mu
    bool done = false;                                           // guarded by mu
    Status failed;  // guarded by mu: why the builder stopped before it was done
    std::thread builder;
  } handoff;
  handoff.empty.reserve(kLoadBatches);  // giving a batch back never allocates
  size_t reserve = 0;                   // set before the first batch is passed on
  auto build = [&] {
    Status st = LoadStep("reserving the key index", [&] { keys_.Reserve(reserve); });
    std::unique_lock lock(handoff.mu);
    while (st.ok()) {
      handoff.cv.wait(lock, [&] { return handoff.done || !handoff.full.empty(); });
      if (handoff.full.empty()) return;
      auto [batch, n] = std::move(handoff.full.front());
      handoff.full.pop_front();
      lock.unlock();
      st = index_batch(batch, n);
      lock.lock();
      handoff.empty.push_back(std::move(batch));
      handoff.cv.notify_all();
    }
    // The reader sees it at its next hand-off, or once the builder is joined.
    handoff.failed = std::move(st);
    handoff.cv.notify_all();
  };
  // Lets the builder finish the batches passed on, and joins it. Whatever way the load ends, this
  // runs before anything the builder uses goes away.
  struct JoinBuilder {
    decltype(handoff)& h;
    void Join() {
      {
        std::lock_guard lock(h.mu);
        h.done = true;
      }
      h.cv.notify_all();
      if (h.builder.joinable()) h.builder.join();
    }
    ~JoinBuilder() { Join(); }
  } join_builder{handoff};

  std::vector<KeyRecord> filling(kLoadBatch);
  size_t filled = 0;
  // Hands the filled batch to the builder (started with the first one) and takes an empty one.
  // Errors: the builder's, once it has failed.
  auto pass_on = [&] {
    return LoadStep("passing keys to the index builder", [&]() -> Status {
      std::unique_lock lock(handoff.mu);
      if (!handoff.failed.ok()) return handoff.failed;
      handoff.full.emplace_back(std::move(filling), filled);
      filled = 0;
      if (!handoff.builder.joinable()) handoff.builder = std::thread(build);
      handoff.cv.notify_all();
      if (handoff.empty.empty() && handoff.allocated < kLoadBatches) {
        ++handoff.allocated;
        lock.unlock();
        filling = std::vector<KeyRecord>(kLoadBatch);
        return OkStatus();
      }
      handoff.cv.wait(lock, [&] { return !handoff.empty.empty() || !handoff.failed.ok(); });
      if (!handoff.failed.ok()) return handoff.failed;
      filling = std::move(handoff.empty.back());
      handoff.empty.pop_back();
      return OkStatus();
    });
  };

  KH_RETURN_IF_ERROR(store_.Load(snap, [&](KeyRecord&& k) {
    return LoadStep("reading the keys", [&]() -> Status {
      if (!indexed_rest) {  // keys come after everything they refer to
        // The count includes deleted rows: a store holding far more of those than live keys
        // must not make the load hold a table for all of them; past the cap the table grows as
        // it goes. Reserved by the builder (or below): zeroing the tables is not work for this
        // thread.
        constexpr uint64_t kMostReserved = 4'000'000;
        reserve = static_cast<size_t>(std::min(snap.key_rows, kMostReserved));
        IndexSnapshotLocked(std::move(snap));
        indexed_rest = true;
      }
      filling[filled++] = std::move(k);
      return filled == kLoadBatch ? pass_on() : OkStatus();
    });
  }));
  if (handoff.builder.joinable()) {
    if (filled > 0) KH_RETURN_IF_ERROR(pass_on());
    join_builder.Join();
    if (!handoff.failed.ok()) return handoff.failed;  // the builder is joined: no lock needed
  } else {
    KH_RETURN_IF_ERROR(LoadStep("reserving the key index", [&] { keys_.Reserve(reserve); }));
    KH_RETURN_IF_ERROR(index_batch(filling, filled));  // too few keys to be worth a thread
  }
  if (!indexed_rest) IndexSnapshotLocked(std::move(snap));
  LinkSharedCreditsLocked(shared_credits);
  keys_.Reserve(keys_.size());  // key_rows counts deleted keys too: give back what they took
  return LoadOverrides();
}

void KeyServiceImpl::IndexSnapshotLocked(store::Snapshot snap) {
  for (auto& a : snap.apis) apis_.emplace(a.id, std::move(a));
  for (auto& i : snap.identities) {
    identity_by_external_[i.external_id] = i.id;
    identities_.emplace(i.id, std::move(i));
  }
  for (auto& p : snap.permissions) {
    permission_by_slug_[p.slug] = p.id;
    permissions_.emplace(p.id, std::move(p));
  }
  for (auto& r : snap.roles) {
    role_by_name_[r.name] = r.id;
    roles_.emplace(r.id, std::move(r));
  }
}

Status KeyServiceImpl::FlushLastUsed() {
  std::vector<std::pair<std::string, int64_t>> changed;
  std::vector<std::pair<std::shared_ptr<const KeyEntry>, int64_t>> marks;
  {
    std::shared_lock lock(mu_);
    keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
      int64_t used = e->last_used_at.load(std::memory_order_relaxed);
      if (used > e->last_used_stored.load(std::memory_order_relaxed)) {
        changed.emplace_back(e->id.str(), used);
        marks.emplace_back(e, used);
      }
    });
  }
  if (changed.empty()) return OkStatus();
  KH_RETURN_IF_ERROR(store_.TouchLastUsed(changed));
  for (auto& [e, used] : marks) e->last_used_stored.store(used, std::memory_order_relaxed);
  return OkStatus();
}

Status KeyServiceImpl::ReleaseReservedCredits(int64_t idle_ms) {
  std::vector<std::shared_ptr<const KeyEntry>> entries;
  {
    std::shared_lock lock(mu_);
    keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
      if (e->credits) entries.push_back(e);
    });
  }
  // Every cell once, locked until the store has answered: no spend lands in between.
  std::vector<CreditsCell*> locked;
  auto held = LockCells(entries, &locked);
  const int64_t now = env_.NowMillis();
  std::vector<store::CreditsReturn> returns;
  std::vector<CreditsCell*> giving;
  for (CreditsCell* cell : locked) {
    if (cell->reserved <= 0 || !cell->credits.remaining) continue;
    if (idle_ms > 0 && now - cell->last_spent_at < idle_ms) continue;
    CreditsState probe = cell->credits;
    if (ApplyRefill(probe, now)) {  // the refill replaces the balance: nothing to give back
      cell->reserved = 0;
      continue;
    }
    returns.push_back({cell->owner_id, cell->reserved, cell->credits.last_refill_at});
    giving.push_back(cell);
  }
  if (returns.empty()) return OkStatus();
  KH_ASSIGN_OR_RETURN(std::vector<std::optional<CreditsState>> stored,
                      store_.GiveBackCredits(returns, now));
  for (size_t i = 0; i < giving.size(); ++i) {
    // Given back, or forfeited: the key is gone, or its balance was set or refilled elsewhere.
    giving[i]->reserved = 0;
    giving[i]->block = 0;
    if (stored[i]) giving[i]->credits = *stored[i];
  }
  return OkStatus();
}

size_t KeyServiceImpl::KeyCount() const {
  std::shared_lock lock(mu_);
  return keys_.size();
}

ServiceStats KeyServiceImpl::Stats() const {
  ServiceStats s;
  for (size_t i = 0; i < kVerifyCodeCount; ++i) {
    s.verifications[i] = verifications_[i].load(std::memory_order_relaxed);
  }
  s.audit_entries_written = audit_entries_written_.load(std::memory_order_relaxed);
  s.keys = KeyCount();
  s.ratelimit_passed = ratelimit_passed_.load(std::memory_order_relaxed);
  s.ratelimit_refused = ratelimit_refused_.load(std::memory_order_relaxed);
  s.ratelimit_states = limiter_.size() + namespace_limiter_.size();
  s.addresses_blocked = addresses_blocked_.load(std::memory_order_relaxed);
  return s;
}

KeyRecord KeyEntry::ToRecord(CellLock lock) const {
  KeyRecord r;
  r.id = id.str();
  r.kind = kind;
  r.api_id = *api_id;
  r.hash = hash;
  r.start = start.str();
  const KeyDetails& d = Details();
  r.name = d.name;
  r.meta_json = d.meta_json;
  r.identity_id = d.identity_id;
  r.created_at = created_at;
  r.updated_at = updated_at;
  r.last_used_at = last_used_at.load(std::memory_order_relaxed);
  r.expires = expires.get();
  r.enabled = enabled;
  r.imported = imported;
  if (credits) {
    std::unique_lock<std::mutex> cell_lock;
    if (lock == CellLock::kTake) cell_lock = std::unique_lock(credits->mu);
    // A key that spends its replacement's balance stores none of its own.
    if (credits->owner_id.empty() || credits->owner_id == r.id) {
      r.credits = credits->credits;
    } else {
      r.credits_key_id = credits->owner_id;
    }
  }
  r.ratelimits = d.ratelimits;
  r.ip_allowlist = d.ip_allowlist;
  r.permission_ids = d.permission_ids;
  r.role_ids = d.role_ids;
  r.root_permissions = d.root_permissions;
  r.rerolled_from = d.rerolled_from;
  r.rerolled_to = d.rerolled_to;
  r.rerolled_at = d.rerolled_at;
  if (d.revoked_at) {
    r.deleted_at = d.revoked_at;
    r.revoked_reason = d.revoked_reason;
  }
  return r;
}

std::shared_ptr<const std::string> KeyServiceImpl::InternApiId(const std::string& api_id) {
  auto it = api_ids_.find(api_id);
  if (it != api_ids_.end()) return it->second;
  auto interned = std::make_shared<const std::string>(api_id);
  api_ids_.emplace(api_id, interned);
  return interned;
}

std::shared_ptr<KeyEntry> KeyServiceImpl::MakeEntry(const KeyRecord& rec,
                                                    std::shared_ptr<CreditsCell> cell,
                                                    const KeyEntry* previous) {
  auto e = std::make_shared<KeyEntry>();
  e->hash = rec.hash;
  e->id = InlineString<32>(rec.id);
  e->api_id = InternApiId(rec.api_id);
  e->start = InlineString<24>(rec.start);
  e->created_at = rec.created_at;
  e->updated_at = rec.updated_at;
  e->expires = rec.expires;
  e->kind = rec.kind;
  e->enabled = rec.enabled;
  e->imported = rec.imported;
  if (previous) {
    e->last_used_at = previous->last_used_at.load(std::memory_order_relaxed);
    e->last_used_stored = previous->last_used_stored.load(std::memory_order_relaxed);
  }
  if (cell) {
    e->credits = std::move(cell);
  } else if (rec.credits.remaining || rec.credits.refill) {
    e->credits = std::make_shared<CreditsCell>();
    e->credits->credits = rec.credits;
    e->credits->owner_id = rec.id;
  }
  if (!rec.name && rec.meta_json.empty() && rec.identity_id.empty() && rec.ratelimits.empty() &&
      rec.permission_ids.empty() && rec.role_ids.empty() && rec.root_permissions.empty() &&
      rec.rerolled_from.empty() && rec.rerolled_to.empty() && !rec.revoked_reason &&
      rec.ip_allowlist.empty()) {
    return e;  // most keys: nothing but what the entry holds inline
  }
  auto d = std::make_unique<KeyDetails>();
  d->name = rec.name;
  d->meta_json = rec.meta_json;
  d->identity_id = rec.identity_id;
  d->ratelimits = rec.ratelimits;
  d->ip_allowlist = rec.ip_allowlist;
  for (const std::string& cidr : rec.ip_allowlist) {
    // Checked when set; one that no longer parses matches nothing (Verify fails closed).
    if (auto net = Cidr::Parse(cidr); net.ok()) d->ip_networks.push_back(*net);
  }
  d->permission_ids = rec.permission_ids;
  d->role_ids = rec.role_ids;
  d->root_permissions = rec.root_permissions;
  d->rerolled_from = rec.rerolled_from;
  d->rerolled_to = rec.rerolled_to;
  d->rerolled_at = rec.rerolled_at;
  if (rec.revoked_reason && rec.deleted_at) {
    d->revoked_at = rec.deleted_at;
    d->revoked_reason = *rec.revoked_reason;
  }
  if (rec.kind == KeyKind::kRoot) {
    d->effective_permissions = rec.root_permissions;
  } else {
    for (const std::string& pid : rec.permission_ids) {
      if (const PermissionRecord* p = FindPermission(pid)) {
        d->permission_slugs.push_back(p->slug);
        d->effective_permissions.push_back(p->slug);
      }
    }
    for (const std::string& rid : rec.role_ids) {
      auto it = roles_.find(rid);
      if (it == roles_.end()) continue;
      d->role_names.push_back(it->second.name);
      for (const std::string& pid : it->second.permission_ids) {
        if (const PermissionRecord* p = FindPermission(pid))
          d->effective_permissions.push_back(p->slug);
      }
    }
    auto& eff = d->effective_permissions;
    std::sort(eff.begin(), eff.end());
    eff.erase(std::unique(eff.begin(), eff.end()), eff.end());
  }
  e->details = std::move(d);
  return e;
}

void KeyIndex::Insert(EntryPtr e) {
  const KeyEntry* raw = e.get();
  // The id slot first: the entry it replaced (if any) is still owned by the hash table, so both
  // tables only ever point at live entries.
  const KeyEntry* same_id = by_id_.Insert(raw);
  if (same_id && same_id->hash != raw->hash) by_hash_.Erase(crypto::Sha256Digest(same_id->hash));
  EntryPtr same_hash = by_hash_.Insert(std::move(e));
  if (same_hash && same_hash->id.view() != raw->id.view()) by_id_.Erase(same_hash->id.view());
}

void KeyIndex::InsertLoaded(std::vector<EntryPtr>& batch) {
  std::vector<const KeyEntry*> raw;
  raw.reserve(batch.size());
  for (const EntryPtr& e : batch) raw.push_back(e.get());
  // The id table first, as in Insert: both tables only ever point at entries the hash table owns.
  by_id_.InsertNew(raw.data(), raw.size());
  by_hash_.InsertNew(batch.data(), batch.size());
  batch.clear();
}

void KeyIndex::Erase(const KeyEntry& e) {
  by_id_.Erase(e.id.view());
  by_hash_.Erase(crypto::Sha256Digest(e.hash));  // the copy: erasing may free e
}

void KeyServiceImpl::IndexKeyLocked(std::shared_ptr<const KeyEntry> e) {
  if (e->kind == KeyKind::kRoot) root_key_ids_[e->id.str()] = e->id.str();
  if (e->imported) has_imported_keys_.store(true, std::memory_order_relaxed);
  keys_.Insert(std::move(e));
}

void KeyServiceImpl::UnindexKeyLocked(const KeyEntry& e) {
  if (e.credits) {
    // The balance's own key is gone: what was reserved from it is forfeited, so that a rerolled
    // key still spending it is answered by the store (not found), not from memory.
    std::lock_guard cell_lock(e.credits->mu);
    if (e.credits->owner_id == e.id.view()) e.credits->reserved = 0;
  }
  root_key_ids_.erase(e.id.str());
  keys_.Erase(e);  // may free e
}

void KeyServiceImpl::RebuildAllEntriesLocked() {
  std::vector<std::shared_ptr<const KeyEntry>> all;
  all.reserve(keys_.size());
  keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
    if (e->kind != KeyKind::kRoot) all.push_back(e);
  });
  for (const auto& e : all) IndexKeyLocked(MakeEntry(e->ToRecord(), e->credits, e.get()));
}

KeyView KeyServiceImpl::ViewOf(const std::shared_ptr<const KeyEntry>& e,
                               const Principal& viewer) const {
  KeyView v;
  v.entry_ = e;
  if (e->credits) {
    std::lock_guard lock(e->credits->mu);
    v.credits_ = e->credits->Shown(env_.NowMillis());
  }
  v.last_used_at_ = e->last_used_at.load(std::memory_order_relaxed);
  const std::string& identity_id = e->Details().identity_id;
  if (!identity_id.empty()) {
    auto it = identities_.find(identity_id);
    if (it != identities_.end()) {
      v.identity_ = FromRecord(it->second, viewer.Can("identity.*.read_identity"));
    }
  }
  return v;
}

// --- KeyView --------------------------------------------------------------------------------

std::string_view KeyView::id() const { return entry_->id.view(); }
std::string_view KeyView::api_id() const { return *entry_->api_id; }
std::string_view KeyView::start() const { return entry_->start.view(); }
bool KeyView::is_root() const { return entry_->kind == KeyKind::kRoot; }
const std::optional<std::string>& KeyView::name() const { return entry_->Details().name; }
const std::string& KeyView::meta_json() const { return entry_->Details().meta_json; }
int64_t KeyView::created_at() const { return entry_->created_at; }
int64_t KeyView::updated_at() const { return entry_->updated_at; }
std::optional<int64_t> KeyView::expires() const { return entry_->expires.get(); }
bool KeyView::enabled() const { return entry_->enabled; }
const std::vector<std::string>& KeyView::permissions() const {
  const KeyDetails& d = entry_->Details();
  return is_root() ? d.root_permissions : d.permission_slugs;
}
const std::vector<std::string>& KeyView::effective_permissions() const {
  return entry_->Details().effective_permissions;
}
const std::vector<std::string>& KeyView::roles() const { return entry_->Details().role_names; }
const std::vector<std::string>& KeyView::ip_allowlist() const {
  return entry_->Details().ip_allowlist;
}
const std::string& KeyView::rerolled_from() const { return entry_->Details().rerolled_from; }
const std::string& KeyView::rerolled_to() const { return entry_->Details().rerolled_to; }
std::optional<int64_t> KeyView::rerolled_at() const { return entry_->Details().rerolled_at; }
std::optional<int64_t> KeyView::revoked_at() const { return entry_->Details().revoked_at; }
const std::string& KeyView::revocation_reason() const { return entry_->Details().revoked_reason; }
std::vector<Ratelimit> KeyView::ratelimits() const {
  return FromRecords(entry_->Details().ratelimits);
}

const ApiRecord* KeyServiceImpl::FindApi(const std::string& id) const {
  auto it = apis_.find(id);
  return it == apis_.end() ? nullptr : &it->second;
}

const IdentityRecord* KeyServiceImpl::FindIdentity(const std::string& id_or_external) const {
  auto it = identities_.find(id_or_external);
  if (it != identities_.end()) return &it->second;
  auto ext = identity_by_external_.find(id_or_external);
  if (ext == identity_by_external_.end()) return nullptr;
  return &identities_.at(ext->second);
}

const PermissionRecord* KeyServiceImpl::FindPermission(const std::string& id_or_slug) const {
  auto it = permissions_.find(id_or_slug);
  if (it != permissions_.end()) return &it->second;
  auto s = permission_by_slug_.find(id_or_slug);
  if (s == permission_by_slug_.end()) return nullptr;
  return &permissions_.at(s->second);
}

const RoleRecord* KeyServiceImpl::FindRole(const std::string& id_or_name) const {
  auto it = roles_.find(id_or_name);
  if (it != roles_.end()) return &it->second;
  auto n = role_by_name_.find(id_or_name);
  if (n == role_by_name_.end()) return nullptr;
  return &roles_.at(n->second);
}

std::shared_ptr<const KeyEntry> KeyServiceImpl::FindKey(const std::string& key_id,
                                                        KeyKind kind) const {
  const std::shared_ptr<const KeyEntry>* e = keys_.FindById(key_id);
  if (!e || (*e)->kind != kind) return nullptr;
  return *e;
}

// --- root keys ----------------------------------------------------------------------------

StatusOr<Principal> KeyServiceImpl::Authenticate(std::string_view bearer) {
  if (!ParseKey(bearer).ok()) {
    return Unauthenticated("the root key is not in keyhold's key format",
                           "authentication/malformed");
  }
  crypto::Sha256Digest h = crypto::Sha256(bearer);
  std::shared_ptr<const KeyEntry> e;
  {
    std::shared_lock lock(mu_);
    if (const auto* found = keys_.FindByHash(h)) e = *found;
  }
  if (!e || e->kind != KeyKind::kRoot) {
    return Unauthenticated("the root key was not found", "authentication/key_not_found");
  }
  if (!e->enabled || (e->expires && *e->expires <= env_.NowMillis())) {
    return Unauthenticated("the root key is disabled or expired", "authentication/key_disabled");
  }
  return Principal{e->id.str(), e->Details().effective_permissions};
}

bool KeyServiceImpl::HasRootKeys() const {
  std::shared_lock lock(mu_);
  return !root_key_ids_.empty();
}

static CreatedKey NewRootKey(Env& env, std::optional<std::string> name,
                             std::vector<std::string> perms, KeyRecord* out) {
  std::string text = GenerateKey(env, kRootKeyPrefix, kDefaultKeyBytes);
  KeyRecord& k = *out;
  k.id = NewId(env, "key");
  k.kind = KeyKind::kRoot;
  k.hash = crypto::Sha256(text);
  k.start = KeyStart(text);
  k.name = std::move(name);
  k.created_at = k.updated_at = env.NowMillis();
  std::sort(perms.begin(), perms.end());
  perms.erase(std::unique(perms.begin(), perms.end()), perms.end());
  k.root_permissions = std::move(perms);
  return CreatedKey{k.id, crypto::Secret(std::move(text))};
}

StatusOr<CreatedKey> KeyServiceImpl::Bootstrap(std::string_view name) {
  std::lock_guard w(write_mu_);
  if (!root_key_ids_.empty()) return FailedPrecondition("a root key already exists");
  KeyRecord rec;
  CreatedKey created = NewRootKey(env_, std::string(name), {"*"}, &rec);
  KH_RETURN_IF_ERROR(CommitKey(RequestContext{}, std::move(rec), {}, {}, {}, nullptr));
  return created;
}

StatusOr<CreatedKey> KeyServiceImpl::CreateRootKey(const RequestContext& ctx,
                                                   std::optional<std::string> name,
                                                   const std::vector<std::string>& permissions) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.create_root_key"));
  if (permissions.empty()) return InvalidArgument("a root key needs at least one permission");
  for (const std::string& want : permissions) {
    if (!IsValidPermission(want) && !IsValidSecretPermission(want))
      return InvalidArgument("'" + want + "' is not a valid permission");
    bool covered = std::any_of(p.permissions.begin(), p.permissions.end(),
                               [&](const std::string& h) { return PermissionCovers(h, want); });
    if (!covered) {
      return PermissionDenied("a root key cannot grant '" + want +
                              "', which it does not hold itself");
    }
  }
  std::lock_guard w(write_mu_);
  KeyRecord rec;
  CreatedKey created = NewRootKey(env_, std::move(name), permissions, &rec);
  KH_RETURN_IF_ERROR(CommitKey(ctx, std::move(rec), {}, {}, {}, nullptr));
  return created;
}

StatusOr<Page<KeyView>> KeyServiceImpl::ListRootKeys(const RequestContext& ctx,
                                                     const std::string& cursor, int limit) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.read_root_key"));
  std::shared_lock lock(mu_);
  return PageOver<KeyView>(root_key_ids_, cursor, limit,
                           [&](const std::string& id) { return ViewOf(*keys_.FindById(id), p); });
}

Status KeyServiceImpl::DeleteRootKey(const RequestContext& ctx, const std::string& key_id) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.delete_root_key"));
  std::lock_guard w(write_mu_);
  auto e = FindKey(key_id, KeyKind::kRoot);
  if (!e) return NotFound("root key '" + key_id + "' was not found", "data/key_not_found");
  for (const std::string& held : e->Details().root_permissions) {
    bool covered = std::any_of(p.permissions.begin(), p.permissions.end(),
                               [&](const std::string& h) { return PermissionCovers(h, held); });
    if (!covered) {
      return PermissionDenied("this root key cannot delete a root key holding '" + held + "'");
    }
  }
  KeyRecord rec = e->ToRecord();
  rec.deleted_at = env_.NowMillis();
  store::WriteBatch b;
  b.put_keys.push_back(rec);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  UnindexKeyLocked(*e);
  return OkStatus();
}

// --- APIs ---------------------------------------------------------------------------------

namespace {

Status ValidateRotationPolicy(std::optional<int64_t> max_key_age_ms,
                              std::optional<int64_t> overdue_grace_ms) {
  if (max_key_age_ms && (*max_key_age_ms < kMinKeyAgeMs || *max_key_age_ms > kMaxKeyAgeMs)) {
    return InvalidArgument("maxKeyAge must be between 3600000 ms (an hour) and ten years");
  }
  if (overdue_grace_ms && !max_key_age_ms) return InvalidArgument("overdueGrace needs maxKeyAge");
  if (overdue_grace_ms && (*overdue_grace_ms < 0 || *overdue_grace_ms > kMaxOverdueGraceMs)) {
    return InvalidArgument("overdueGrace must be between 0 and 31622400000 ms (366 days)");
  }
  return OkStatus();
}

}  // namespace

StatusOr<ApiInfo> KeyServiceImpl::CreateApi(const RequestContext& ctx, CreateApiRequest req) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api.*.create_api"));
  if (req.name.empty() || req.name.size() > kMaxNameLength) {
    return InvalidArgument("name must be 1 to 256 characters");
  }
  if (!IsValidKeyPrefix(req.default_prefix)) {
    return InvalidArgument("defaultPrefix must be at most 16 characters of [a-zA-Z0-9_]");
  }
  if (req.default_byte_length < kMinKeyBytes || req.default_byte_length > kMaxKeyBytes) {
    return InvalidArgument("defaultByteLength must be between 16 and 255");
  }
  KH_RETURN_IF_ERROR(ValidateIpAllowlist(req.ip_allowlist, "ipAllowlist"));
  KH_RETURN_IF_ERROR(ValidateRotationPolicy(req.max_key_age_ms, req.overdue_grace_ms));
  ApiRecord a;
  a.on_leak = req.on_leak == OnLeak::kDisable ? store::LeakResponse::kDisable
                                              : store::LeakResponse::kRevoke;
  a.max_key_age_ms = req.max_key_age_ms;
  a.overdue_grace_ms = req.overdue_grace_ms;
  a.id = NewId(env_, "api");
  a.name = std::move(req.name);
  a.default_prefix = std::move(req.default_prefix);
  a.default_byte_length = req.default_byte_length;
  a.ip_allowlist = std::move(req.ip_allowlist);
  a.created_at = env_.NowMillis();
  std::lock_guard w(write_mu_);
  WriteBatch b;
  b.put_apis.push_back(a);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  apis_[a.id] = a;
  return FromRecord(a);
}

StatusOr<ApiInfo> KeyServiceImpl::GetApi(const RequestContext& ctx, const std::string& api_id) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api." + api_id + ".read_api"));
  std::shared_lock lock(mu_);
  const ApiRecord* a = FindApi(api_id);
  if (!a) return NotFound("API '" + api_id + "' was not found", "data/api_not_found");
  return FromRecord(*a);
}

StatusOr<ApiInfo> KeyServiceImpl::UpdateApi(const RequestContext& ctx, UpdateApiRequest req) {
  KH_RETURN_IF_ERROR(Require(ctx.actor, "api." + req.api_id + ".update_api"));
  if (req.name && (req.name->empty() || req.name->size() > kMaxNameLength)) {
    return InvalidArgument("name must be 1 to 256 characters");
  }
  if (req.ip_allowlist) KH_RETURN_IF_ERROR(ValidateIpAllowlist(*req.ip_allowlist, "ipAllowlist"));
  std::lock_guard w(write_mu_);
  const ApiRecord* current = FindApi(req.api_id);
  if (!current) return NotFound("API '" + req.api_id + "' was not found", "data/api_not_found");
  ApiRecord a = *current;
  if (req.name) a.name = std::move(*req.name);
  if (req.ip_allowlist) a.ip_allowlist = std::move(*req.ip_allowlist);
  if (req.on_leak) {
    a.on_leak = *req.on_leak == OnLeak::kDisable ? store::LeakResponse::kDisable
                                                 : store::LeakResponse::kRevoke;
  }
  if (req.max_key_age_ms) a.max_key_age_ms = *req.max_key_age_ms;
  if (req.overdue_grace_ms) a.overdue_grace_ms = *req.overdue_grace_ms;
  // Without a maximum age there is nothing to be overdue of: clearing the policy clears its grace.
  if (req.max_key_age_ms && !*req.max_key_age_ms && !req.overdue_grace_ms) {
    a.overdue_grace_ms.reset();
  }
  KH_RETURN_IF_ERROR(ValidateRotationPolicy(a.max_key_age_ms, a.overdue_grace_ms));
  WriteBatch b;
  b.put_apis.push_back(a);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  apis_[a.id] = a;
  return FromRecord(a);
}

StatusOr<std::vector<ApiInfo>> KeyServiceImpl::ListApis(const RequestContext& ctx) {
  std::vector<ApiInfo> out;
  std::shared_lock lock(mu_);
  for (const auto& [id, a] : apis_) {
    if (Require(ctx.actor, "api." + id + ".read_api").ok()) out.push_back(FromRecord(a));
  }
  return out;
}

Status KeyServiceImpl::DeleteApi(const RequestContext& ctx, const std::string& api_id) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api." + api_id + ".delete_api"));
  std::lock_guard w(write_mu_);
  const ApiRecord* a = FindApi(api_id);
  if (!a) return NotFound("API '" + api_id + "' was not found", "data/api_not_found");
  int64_t now = env_.NowMillis();
  WriteBatch b;
  ApiRecord gone = *a;
  gone.deleted_at = now;
  b.put_apis.push_back(gone);
  std::vector<std::shared_ptr<const KeyEntry>> doomed;
  keys_.ForEach([&](const std::shared_ptr<const KeyEntry>& e) {
    if (*e->api_id != api_id) return;
    KeyRecord rec = e->ToRecord();
    rec.deleted_at = now;
    b.put_keys.push_back(std::move(rec));
    doomed.push_back(e);
  });
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, b));
  std::unique_lock lock(mu_);
  for (const auto& e : doomed) UnindexKeyLocked(*e);
  apis_.erase(api_id);
  return OkStatus();
}

StatusOr<Page<KeyView>> KeyServiceImpl::ListKeys(const RequestContext& ctx,
                                                 const std::string& api_id,
                                                 const std::string& cursor, int limit,
                                                 const std::optional<std::string>& external_id,
                                                 Revoked revoked) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "api." + api_id + ".read_key"));
  std::string identity_id;
  {
    std::shared_lock lock(mu_);
    if (!FindApi(api_id))
      return NotFound("API '" + api_id + "' was not found", "data/api_not_found");
    if (external_id) {
      const IdentityRecord* ident = FindIdentity(*external_id);
      if (!ident) return Page<KeyView>{};
      identity_id = ident->id;
    }
  }
  limit = std::clamp(limit, 1, kMaxPageSize);
  std::vector<std::string> ids;
  if (revoked == Revoked::kInclude) {
    KH_ASSIGN_OR_RETURN(ids, store_.QueryKeyIds({.api_id = api_id,
                                                 .identity_id = identity_id,
                                                 .include_revoked = true,
                                                 .after_id = cursor,
                                                 .limit = limit + 1}));
  } else {
    KH_ASSIGN_OR_RETURN(ids, store_.ListKeyIds(api_id, cursor, identity_id, limit + 1));
  }
  Page<KeyView> page;
  page.has_more = ids.size() > static_cast<size_t>(limit);
  if (page.has_more) ids.resize(static_cast<size_t>(limit));
  std::vector<std::optional<KeyView>> views(ids.size());
  {
    std::shared_lock lock(mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (auto e = FindKey(ids[i], KeyKind::kApp)) views[i] = ViewOf(e, p);
    }
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    // Not live: revoked (shown only when asked for), or deleted since the store was read.
    if (!views[i] && revoked == Revoked::kInclude) {
      if (auto v = RevokedKeyView(p, ids[i]); v.ok()) views[i] = std::move(v).value();
    }
    if (views[i]) page.items.push_back(std::move(*views[i]));
  }
  if (page.has_more && !ids.empty()) page.cursor = ids.back();
  return page;
}

}  // namespace keyhold::service
