#include "service/audit_service.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <unordered_map>

#include "crypto/crypto.h"
#include "service/internal.h"
#include "store/store.h"

namespace keyhold::service {
namespace {

constexpr int kVerifyPage = 10'000;
constexpr int kMaxEventsPage = 1000;

// Every checkpoint, stored and given, by the seq it covers.
StatusOr<std::multimap<int64_t, audit::Checkpoint>> AllCheckpoints(
    store::Store& store, std::span<const audit::Checkpoint> external) {
  std::multimap<int64_t, audit::Checkpoint> all;
  int64_t after = 0;
  while (true) {
    KH_ASSIGN_OR_RETURN(auto page, store.ListAuditCheckpoints(after, kVerifyPage));
    for (const auto& cp : page) all.emplace(cp.seq, cp);
    if (static_cast<int>(page.size()) < kVerifyPage) break;
    after = page.back().seq;
  }
  for (const auto& cp : external) all.emplace(cp.seq, cp);
  return all;
}

std::string Hex(std::span<const uint8_t> b) { return crypto::HexEncode(b); }

}  // namespace

StatusOr<ChainReport> VerifyStoredChain(store::Store& store,
                                        std::span<const audit::Checkpoint> external,
                                        const std::optional<audit::PublicKey>& pinned) {
  ChainReport report;
  KH_ASSIGN_OR_RETURN(auto checkpoints, AllCheckpoints(store, external));
  report.checkpoints = static_cast<int64_t>(checkpoints.size());
  // A checkpoint that is not genuine proves nothing: it is reported where it claims to be.
  std::optional<audit::ChainBreak> forged;
  for (const auto& [seq, cp] : checkpoints) {
    if (!report.signer) report.signer = cp.public_key;
    std::string why;
    if (!audit::VerifySignature(cp)) {
      why = "the checkpoint at this entry has a bad signature";
    } else if (pinned && cp.public_key != *pinned) {
      why = "the checkpoint at this entry is signed by " + Hex(cp.public_key) +
            ", not by the pinned key";
    } else if (cp.public_key != *report.signer) {
      why = "the checkpoints are signed by more than one key";
    }
    if (!why.empty()) {
      forged = audit::ChainBreak{seq, why};
      break;
    }
  }

  audit::ChainHash previous = audit::kGenesis;
  int64_t next_seq = 1;
  auto cp = checkpoints.begin();
  std::optional<audit::ChainBreak> broken;
  while (!broken) {
    KH_ASSIGN_OR_RETURN(auto page, store.ReadAudit(next_seq - 1, kVerifyPage));
    if (page.empty()) break;
    if (auto bad = audit::VerifyChain(page, previous, next_seq)) {
      broken = bad;
      break;
    }
    for (const audit::AuditEntry& e : page) {
      for (; cp != checkpoints.end() && cp->first <= e.seq; ++cp) {
        if (cp->first == e.seq && cp->second.hash != e.hash) {
          broken = audit::ChainBreak{
              e.seq, "the log up to this entry differs from the signed checkpoint of it"};
          break;
        }
      }
      if (broken) break;
    }
    report.entries += static_cast<int64_t>(page.size());
    previous = page.back().hash;
    next_seq = page.back().seq + 1;
    if (static_cast<int>(page.size()) < kVerifyPage) break;
  }
  report.head = previous;
  if (!broken && cp != checkpoints.end()) {
    broken = audit::ChainBreak{next_seq, "missing: a signed checkpoint covers " +
                                             std::to_string(checkpoints.rbegin()->first) +
                                             " entries, the log ends after " +
                                             std::to_string(next_seq - 1)};
  }
  if (forged && (!broken || forged->seq <= broken->seq)) broken = forged;
  report.first_bad = broken;
  return report;
}

namespace {

class AuditServiceImpl final : public AuditService {
 public:
  AuditServiceImpl(store::Store& store, Env& env) : store_(store), env_(env) {}

  static constexpr int64_t kRefusalGapMs = 60'000;
  static constexpr size_t kMaxRefusers = 10'000;

  Status RecordRefusal(const RequestContext& ctx, const std::string& operation) override {
    const std::string who = ctx.actor.key_id + '\n' + operation;
    const int64_t now = env_.NowMillis();
    int64_t also = 0;
    {
      std::lock_guard lock(refusals_mu_);
      if (refusals_.size() >= kMaxRefusers && !refusals_.contains(who)) {
        std::erase_if(refusals_,
                      [&](const auto& r) { return now - r.second.last_ms >= kRefusalGapMs; });
        if (refusals_.size() >= kMaxRefusers) refusals_.clear();
      }
      auto [it, added] = refusals_.try_emplace(who);
      if (!added && now - it->second.last_ms < kRefusalGapMs) {
        ++it->second.since_last;
        return OkStatus();
      }
      also = it->second.since_last;
      it->second = {now, 0};
    }
    store::WriteBatch b;
    b.audit.push_back(audit::EntryFor(
        ctx, now, "request.denied", operation,
        also > 0 ? "{\"alsoDenied\":" + std::to_string(also) + "}" : "{}", "denied"));
    Status st = store_.Apply(b);
    if (!st.ok()) {
      std::lock_guard lock(refusals_mu_);
      refusals_[who] = {0, also};  // not written: the next refusal tries again
    }
    return st;
  }

  bool RefusalDue(const RequestContext& ctx, const std::string& operation) override {
    std::lock_guard lock(refusals_mu_);
    auto it = refusals_.find(ctx.actor.key_id + '\n' + operation);
    if (it == refusals_.end() || env_.NowMillis() - it->second.last_ms >= kRefusalGapMs) {
      return true;
    }
    ++it->second.since_last;
    return false;
  }

  StatusOr<AuditPage> ListEvents(const RequestContext& ctx, const AuditFilter& filter,
                                 const std::string& cursor, int limit) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "audit.*.read_event"));
    store::AuditQuery q;
    q.actor = filter.actor;
    q.action = filter.action;
    q.target = filter.target;
    q.since_ms = filter.since_ms;
    q.until_ms = filter.until_ms;
    limit = std::clamp(limit, 1, kMaxEventsPage);
    q.limit = limit + 1;
    if (!cursor.empty()) {
      int64_t before = 0;
      auto [end, ec] = std::from_chars(cursor.data(), cursor.data() + cursor.size(), before);
      if (ec != std::errc() || end != cursor.data() + cursor.size() || before < 1) {
        return InvalidArgument("cursor is not one this server returned");
      }
      q.before_seq = before;
    }
    KH_ASSIGN_OR_RETURN(auto events, store_.QueryAudit(q));
    AuditPage page;
    page.has_more = static_cast<int>(events.size()) > limit;
    if (page.has_more) events.resize(static_cast<size_t>(limit));
    if (page.has_more) page.cursor = std::to_string(events.back().seq);
    page.events = std::move(events);
    return page;
  }

  StatusOr<ChainReport> VerifyChain(const RequestContext& ctx) override {
    KH_RETURN_IF_ERROR(Require(ctx.actor, "audit.*.verify_chain"));
    return VerifyStoredChain(store_);
  }

  StatusOr<std::optional<audit::Checkpoint>> Checkpoint(
      const audit::CheckpointSigner& signer) override {
    std::lock_guard lock(checkpoint_mu_);
    KH_ASSIGN_OR_RETURN(store::AuditTail tail, store_.ReadAuditTail());
    using Result = std::optional<audit::Checkpoint>;
    if (tail.seq == 0 || tail.seq <= last_checkpoint_seq_) return Result();
    if (last_checkpoint_seq_ == 0) {
      KH_ASSIGN_OR_RETURN(auto newer, store_.ListAuditCheckpoints(tail.seq - 1, 1));
      if (!newer.empty()) {
        last_checkpoint_seq_ = newer.back().seq;
        return Result();
      }
    }
    audit::Checkpoint cp = signer.Sign(tail.seq, tail.hash, env_.NowMillis());
    KH_RETURN_IF_ERROR(store_.PutAuditCheckpoint(cp));
    last_checkpoint_seq_ = cp.seq;
    return Result(cp);
  }

 private:
  struct Refusals {
    int64_t last_ms = 0;     // when the last entry was written
    int64_t since_last = 0;  // refusals not written since
  };
  store::Store& store_;
  Env& env_;
  std::mutex refusals_mu_;
  std::unordered_map<std::string, Refusals> refusals_;  // guarded by refusals_mu_; actor\nop
  std::mutex checkpoint_mu_;
  int64_t last_checkpoint_seq_ = 0;  // guarded by checkpoint_mu_
};

}  // namespace

std::unique_ptr<AuditService> AuditService::Create(store::Store& store, Env& env) {
  return std::make_unique<AuditServiceImpl>(store, env);
}

}  // namespace keyhold::service
