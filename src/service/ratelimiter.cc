#include "service/ratelimiter.h"

#include <algorithm>
#include <functional>

namespace keyhold::service {

size_t RateLimiter::ShardOf(const std::string& subject) {
  return std::hash<std::string>()(subject) % kShards;
}

void RateLimiter::SweepIfDue(Shard& s, int64_t now_ms) {
  // Amortized: a shard is swept after as many decisions as it holds states.
  if (++s.ops < std::max<size_t>(64, s.states.size())) return;
  s.ops = 0;
  std::erase_if(s.states, [&](const auto& e) { return GcraIsFull(e.second, now_ms); });
}

bool RateLimiter::HasRoom(Shard& s, int64_t now_ms) {
  if (s.states.size() < shard_cap_) return true;
  s.ops = 0;
  std::erase_if(s.states, [&](const auto& e) { return GcraIsFull(e.second, now_ms); });
  return s.states.size() < shard_cap_;
}

bool RateLimiter::Apply(std::span<const Check> checks, int64_t now_ms, std::vector<Outcome>* out) {
  // Every shard involved is locked, in index order, for the whole decision: atomic across limits.
  std::vector<size_t> shard_of(checks.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < checks.size(); ++i) {
    shard_of[i] = ShardOf(checks[i].subject);
    order.push_back(shard_of[i]);
  }
  std::sort(order.begin(), order.end());
  order.erase(std::unique(order.begin(), order.end()), order.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(order.size());
  for (size_t idx : order) locks.emplace_back(shards_[idx].mu);

  // Decided against a scratch copy, so a subject named twice sees its own first decision.
  std::unordered_map<std::string, GcraState> after;
  auto state_of = [&](size_t i) -> GcraState {
    if (auto it = after.find(checks[i].subject); it != after.end()) return it->second;
    const auto& states = shards_[shard_of[i]].states;
    auto it = states.find(checks[i].subject);
    return it == states.end() ? GcraState{} : it->second;
  };
  out->clear();
  bool all = true;
  std::vector<GcraDecision> decisions;
  for (size_t i = 0; i < checks.size(); ++i) {
    Shard& shard = shards_[shard_of[i]];
    const bool is_new =
        !after.contains(checks[i].subject) && !shard.states.contains(checks[i].subject);
    if (is_new && checks[i].cost > 0 && !HasRoom(shard, now_ms)) {
      refused_for_space_.fetch_add(1, std::memory_order_relaxed);
      GcraDecision full;
      full.retry_after_ms = 1000;
      all = false;
      decisions.push_back(full);
      continue;
    }
    GcraDecision d = Gcra(state_of(i), checks[i].limit, checks[i].cost, now_ms);
    all = all && d.allowed;
    if (d.allowed) after[checks[i].subject] = d.state;
    decisions.push_back(d);
  }
  for (size_t i = 0; i < checks.size(); ++i) {
    GcraDecision d = decisions[i];
    if (!all && d.allowed) {
      // Not taken after all: shown as it stands.
      const auto& states = shards_[shard_of[i]].states;
      auto it = states.find(checks[i].subject);
      d = Gcra(it == states.end() ? GcraState{} : it->second, checks[i].limit, 0, now_ms);
    }
    out->push_back({d.allowed, d.remaining, d.reset_ms, d.retry_after_ms});
  }
  if (all) {
    for (size_t i = 0; i < checks.size(); ++i) {
      if (checks[i].cost > 0)
        shards_[shard_of[i]].states[checks[i].subject] = after[checks[i].subject];
    }
  }
  for (size_t idx : order) SweepIfDue(shards_[idx], now_ms);
  return all;
}

void RateLimiter::Refund(std::span<const Check> checks, int64_t now_ms) {
  for (const Check& c : checks) {
    Shard& s = shards_[ShardOf(c.subject)];
    std::lock_guard lock(s.mu);
    auto it = s.states.find(c.subject);
    if (it == s.states.end()) continue;
    it->second = GcraRefund(it->second, c.limit, c.cost, now_ms);
  }
}

size_t RateLimiter::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.states.size();
  }
  return n;
}

}  // namespace keyhold::service
