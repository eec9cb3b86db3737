// FakeEnv: a hand-moved clock and deterministic randomness for tests.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>

#include "core/env.h"

namespace keyhold::testing {

class FakeEnv final : public Env {
 public:
  // Defaults: 2026-01-01T00:00Z, and a fixed seed; give another seed for an independent stream.
  explicit FakeEnv(int64_t now_ms = 1'767'225'600'000, uint64_t seed = 0x9E3779B97F4A7C15ULL)
      : now_(now_ms), state_(seed) {}
  int64_t NowMillis() override { return now_.load(); }
  // Thread-safe, as Env requires: concurrent callers each get distinct bytes of the one stream.
  void RandomBytes(std::span<uint8_t> out) override {
    std::lock_guard lock(mu_);
    for (uint8_t& b : out) {
      // xorshift: distinct, reproducible streams; not cryptographic, never used outside tests.
      state_ ^= state_ << 13;
      state_ ^= state_ >> 7;
      state_ ^= state_ << 17;
      b = static_cast<uint8_t>(state_ >> 24);
    }
  }
  void Advance(int64_t ms) { now_ += ms; }
  void Set(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
  std::mutex mu_;
  uint64_t state_;  // guarded by mu_
};

}  // namespace keyhold::testing
