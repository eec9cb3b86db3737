// KeyService: rerolling keys (a replacement key, the old one working on for an overlap).
//
// Lock order, as elsewhere: write_mu_, then a key's credits cell, then mu_. A reroll holds the
// old key's cell across the store write, so no spend lands between reading the balance it moves
// to the new key and storing it there.
#include <algorithm>
#include <unordered_map>

#include "core/ids.h"
#include "core/key_format.h"
#include "core/permissions.h"
#include "service/internal.h"

namespace keyhold::service {

using store::KeyKind;
using store::WriteBatch;

namespace {

// The prefix a key was issued with, read back from its display start ("sk_abcd" -> "sk").
std::string PrefixOfStart(std::string_view start) {
  size_t sep = start.rfind('_');
  return sep == std::string_view::npos ? std::string() : std::string(start.substr(0, sep));
}

Status ValidateOverlap(int64_t overlap_ms) {
  if (overlap_ms < 0 || overlap_ms > kMaxRerollOverlapMs) {
    return InvalidArgument("expiration must be between 0 and 31622400000 ms (366 days)");
  }
  return OkStatus();
}

}  // namespace

StatusOr<CreatedKey> KeyServiceImpl::RerollKey(const RequestContext& ctx, const std::string& key_id,
                                               int64_t overlap_ms) {
  KH_RETURN_IF_ERROR(ValidateOverlap(overlap_ms));
  std::lock_guard w(write_mu_);
  KH_ASSIGN_OR_RETURN(auto old, KeyForWrite(ctx.actor, key_id, "reroll_key"));
  return RerollLocked(ctx, old, overlap_ms);
}

StatusOr<CreatedKey> KeyServiceImpl::RerollRootKey(const RequestContext& ctx,
                                                   const std::string& key_id, int64_t overlap_ms) {
  const Principal& p = ctx.actor;
  KH_RETURN_IF_ERROR(Require(p, "rbac.*.create_root_key"));
  KH_RETURN_IF_ERROR(ValidateOverlap(overlap_ms));
  std::lock_guard w(write_mu_);
  auto old = FindKey(key_id, KeyKind::kRoot);
  if (!old) return NotFound("root key '" + key_id + "' was not found", "data/key_not_found");
  // The new key holds what the old one held: the actor must be able to grant all of it.
  for (const std::string& held : old->Details().root_permissions) {
    bool covered = std::any_of(p.permissions.begin(), p.permissions.end(),
                               [&](const std::string& h) { return PermissionCovers(h, held); });
    if (!covered) {
      return PermissionDenied("this root key cannot reroll a root key holding '" + held + "'");
    }
  }
  return RerollLocked(ctx, old, overlap_ms);
}

StatusOr<CreatedKey> KeyServiceImpl::RerollLocked(const RequestContext& ctx,
                                                  const std::shared_ptr<const KeyEntry>& old,
                                                  int64_t overlap_ms) {
  const std::string old_id = old->id.str();
  const int64_t now = env_.NowMillis();
  if (old->expires && *old->expires <= now) {
    return AlreadyExists(
        "key '" + old_id + "' has expired and cannot be rerolled; create a new key",
        "data/key_expired");
  }
  if (const std::string& next = old->Details().rerolled_to; !next.empty()) {
    return AlreadyExists(
        "key '" + old_id + "' was already rerolled to '" + next + "'; reroll that key instead",
        "data/key_already_rerolled");
  }
  int byte_length = kDefaultKeyBytes;
  if (old->kind == KeyKind::kApp) {
    const ApiRecord* api = FindApi(*old->api_id);
    if (!api) return NotFound("key '" + old_id + "' was not found", "data/key_not_found");
    byte_length = api->default_byte_length;
  }
  std::string text = GenerateKey(env_, PrefixOfStart(old->start.view()), byte_length);

  std::shared_ptr<CreditsCell> cell = old->credits;
  std::unique_lock<std::mutex> cell_lock;
  if (cell) cell_lock = std::unique_lock(cell->mu);
  KeyRecord retired =
      old->ToRecord(cell ? KeyEntry::CellLock::kHeldByCaller : KeyEntry::CellLock::kTake);
  KeyRecord fresh = retired;
  fresh.id = NewId(env_, "key");
  fresh.hash = crypto::Sha256(text);
  fresh.start = KeyStart(text);
  fresh.created_at = fresh.updated_at = now;
  fresh.created_by = ctx.actor.key_id;
  fresh.last_used_at = 0;
  fresh.rerolled_from = old_id;
  fresh.rerolled_to.clear();
  fresh.rerolled_at.reset();
  // The balance moves to the new key, wherever it was stored (a key rerolled twice spends its
  // replacement's): from now on both keys spend it there.
  fresh.credits_key_id.clear();
  if (cell) fresh.credits = cell->credits;

  const int64_t end = now + overlap_ms;
  if (!retired.expires || *retired.expires > end) retired.expires = end;
  retired.rerolled_to = fresh.id;
  retired.rerolled_at = now;
  retired.updated_at = now;
  if (cell) {
    retired.credits = CreditsState{};
    retired.credits_key_id = fresh.id;
  }
  WriteBatch batch;
  batch.put_keys.push_back(fresh);
  batch.put_keys.push_back(retired);
  KH_RETURN_IF_ERROR(ApplyAudited(ctx, batch, cell.get()));
  if (cell) cell->owner_id = fresh.id;
  // The cell's lock goes before mu_: readers take mu_ first and then a cell's lock.
  if (cell_lock) cell_lock.unlock();
  std::unique_lock lock(mu_);
  IndexKeyLocked(MakeEntry(fresh, cell, nullptr));
  IndexKeyLocked(MakeEntry(retired, cell, old.get()));
  return CreatedKey{fresh.id, crypto::Secret(std::move(text))};
}

void KeyServiceImpl::LinkSharedCreditsLocked(
    const std::vector<std::pair<std::string, std::string>>& links) {
  if (links.empty()) return;
  std::unordered_map<std::string, std::string> spends_of(links.begin(), links.end());
  for (const auto& [key_id, first_owner] : links) {
    const std::shared_ptr<const KeyEntry>* it = keys_.FindById(key_id);
    if (!it) continue;
    // A key rerolled twice (a -> b -> c) was written pointing at b; the balance is at the end
    // of the chain. The bound only guards against a corrupt cycle.
    std::string owner = first_owner;
    for (size_t hops = 0; hops < links.size(); ++hops) {
      auto next = spends_of.find(owner);
      if (next == spends_of.end()) break;
      owner = next->second;
    }
    std::shared_ptr<CreditsCell> cell;
    if (const auto* o = keys_.FindById(owner)) {
      cell = (*o)->credits;
      if (!cell) continue;  // the balance was made unlimited: so is the old key's
    } else {
      // The balance's key is gone: the old key has nothing left to spend (it fails closed
      // rather than becoming unlimited).
      cell = std::make_shared<CreditsCell>();
      cell->credits.remaining = 0;
      cell->owner_id = owner;
    }
    std::shared_ptr<const KeyEntry> e = *it;
    IndexKeyLocked(MakeEntry(e->ToRecord(), std::move(cell), e.get()));
  }
}

}  // namespace keyhold::service
