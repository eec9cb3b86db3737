#include "service/brute_force.h"

#include <algorithm>
#include <functional>

#include "core/ip.h"

namespace keyhold::service {

std::string BruteForceSubject(std::string_view address) {
  if (address.find(':') == std::string_view::npos) return std::string(address);
  std::string net = NetworkOf(address, 32, 64);
  return net.empty() ? std::string(address) : net;
}

BruteForceGuard::Shard& BruteForceGuard::ShardOf(const std::string& subject) {
  return shards_[std::hash<std::string>()(subject) % kShards];
}

void BruteForceGuard::SweepIfDue(Shard& s, int64_t now_ms) {
  if (++s.ops < std::max<size_t>(64, s.entries.size())) return;
  s.ops = 0;
  std::erase_if(s.entries, [&](const auto& e) {
    return e.second.blocked_until <= now_ms && e.second.window_start + options_.window_ms <= now_ms;
  });
}

int64_t BruteForceGuard::BlockedUntil(std::string_view address, int64_t now_ms) {
  if (!enabled()) return 0;
  std::string subject = BruteForceSubject(address);
  Shard& s = ShardOf(subject);
  std::lock_guard lock(s.mu);
  auto it = s.entries.find(subject);
  if (it == s.entries.end() || it->second.blocked_until <= now_ms) return 0;
  return it->second.blocked_until;
}

bool BruteForceGuard::Fail(std::string_view address, int64_t now_ms, int64_t* failures) {
  if (!enabled()) return false;
  std::string subject = BruteForceSubject(address);
  Shard& s = ShardOf(subject);
  std::lock_guard lock(s.mu);
  SweepIfDue(s, now_ms);
  auto it = s.entries.find(subject);
  if (it == s.entries.end()) {
    if (s.entries.size() >= options_.max_tracked / kShards) return false;
    it = s.entries.emplace(std::move(subject), Entry{now_ms, 0, 0}).first;
  }
  Entry& e = it->second;
  if (e.blocked_until > now_ms) return false;
  if (e.window_start + options_.window_ms <= now_ms) e = {now_ms, 0, e.blocked_until};
  if (++e.failures < options_.threshold) return false;
  *failures = e.failures;
  e.blocked_until = now_ms + options_.cooldown_ms;
  e.failures = 0;
  e.window_start = e.blocked_until;
  return true;
}

size_t BruteForceGuard::tracked() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.entries.size();
  }
  return n;
}

}  // namespace keyhold::service
