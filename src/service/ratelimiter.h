// RateLimiter: the rate-limit states of this node's keys and identities, in memory.
//
// Each limited subject (a key's or an identity's named limit) is one GCRA state
// (core/ratelimit.h) in one of 64 mutex-guarded shards. Apply() decides several limits together,
// all or nothing: either every one admits the request and all take their tokens, or none does.
// A subject whose bucket is full again is forgotten, so memory follows the subjects limited within
// their last window.
//
//   RateLimiter limiter;
//   std::vector<RateLimiter::Outcome> out;
//   if (limiter.Apply(checks, now, &out)) { ... later, if the request is refused after all:
//     limiter.Refund(checks, now); }
//
// Memory is bounded: at most `max_states` subjects hold a bucket that is not full. A new subject
// arriving when its shard is full (after sweeping the full buckets out) is refused, as if its
// limit were exhausted, and counted in refused_for_space(): limits keep holding under a flood of
// identifiers, at the price of refusing new ones until old buckets refill.
//
// Limits are per node: several nodes behind one balancer each admit up to the limit.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ratelimit.h"

namespace keyhold::service {

class RateLimiter {
 public:
  struct Check {
    std::string subject;  // e.g. "k:<key id>:<name>", "i:<identity id>:<name>"
    GcraLimit limit;
    int64_t cost = 1;
  };
  struct Outcome {
    bool allowed = false;  // this limit, alone, admits the request
    int64_t remaining = 0;
    int64_t reset_ms = 0;
    int64_t retry_after_ms = 0;  // refused: until it would be admitted (-1: never)
  };

  explicit RateLimiter(size_t max_states = 4'000'000) : shard_cap_(max_states / kShards + 1) {}

  // Decides `checks` at `now_ms`; true if all admit, and then all take their tokens; false if any
  // refuses, and then none does (the others' outcomes show their state, untouched). `out` gets one
  // outcome per check, in order.
  bool Apply(std::span<const Check> checks, int64_t now_ms, std::vector<Outcome>* out);

  // Gives back the tokens `checks` took in an Apply() that admitted them.
  void Refund(std::span<const Check> checks, int64_t now_ms);

  // Subjects with state (not full buckets, less those not yet swept).
  size_t size() const;
  // Checks refused because their shard had no room for a new subject.
  uint64_t refused_for_space() const { return refused_for_space_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, GcraState> states;  // guarded by mu
    size_t ops = 0;  // guarded by mu: decisions since the last sweep
  };
  static size_t ShardOf(const std::string& subject);
  static void SweepIfDue(Shard& s, int64_t now_ms);
  // Whether `s` can take one more subject (sweeping it if it is full). REQUIRES: s.mu held.
  bool HasRoom(Shard& s, int64_t now_ms);

  const size_t shard_cap_;
  std::atomic<uint64_t> refused_for_space_{0};
  Shard shards_[kShards];
};

}  // namespace keyhold::service
