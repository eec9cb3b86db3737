// BruteForceGuard: an end user's address that keeps failing verification is refused for a while.
//
// Failed verifications (NOT_FOUND, DISABLED, EXPIRED, FORBIDDEN, INSUFFICIENT_PERMISSIONS) are
// counted per client address (IPv6 by its /64) in fixed windows of `window_ms`; the failure that
// reaches `threshold` within one window blocks the address for `cooldown_ms`, during which every
// verification from it is answered RATE_LIMITED without looking the key up. Only an address a
// trusted proxy forwarded (X-Forwarded-For) is guarded, never the peer calling the API itself.
// That is an end user's address only where keyhold sees end users (an application forwarding its
// users' addresses); behind keyhold's own reverse proxy the forwarded address is the
// application's, and blocking it would let anyone who sends it bad keys lock out all its users.
// So the guard is off unless configured (threshold 0).
//
// State is bounded: at most `max_tracked` addresses (past that, new ones are not counted) and an
// address is forgotten once its window and cool-down are over.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace keyhold::service {

struct BruteForceOptions {
  int64_t threshold = 0;  // 0: off
  int64_t window_ms = 60'000;
  int64_t cooldown_ms = 5 * 60'000;
  size_t max_tracked = 1'000'000;
};

class BruteForceGuard {
 public:
  explicit BruteForceGuard(BruteForceOptions options) : options_(options) {}

  // When `address` may be verified again (0 or a time <= now_ms: it may now).
  int64_t BlockedUntil(std::string_view address, int64_t now_ms);
  // Counts a failed verification from `address`. True when it blocks the address (once per
  // block); `*failures` is then the count that did.
  bool Fail(std::string_view address, int64_t now_ms, int64_t* failures);

  bool enabled() const { return options_.threshold > 0; }
  size_t tracked() const;

 private:
  struct Entry {
    int64_t window_start = 0;
    int64_t failures = 0;
    int64_t blocked_until = 0;
  };
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Entry> entries;  // guarded by mu
    size_t ops = 0;                                  // guarded by mu
  };
  Shard& ShardOf(const std::string& subject);
  void SweepIfDue(Shard& s, int64_t now_ms);

  const BruteForceOptions options_;
  Shard shards_[kShards];
};

// The subject an address is counted under: itself, or an IPv6 address's /64.
std::string BruteForceSubject(std::string_view address);

}  // namespace keyhold::service
