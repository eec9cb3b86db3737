// PendingReads: a bound on the decrypted secret values held by reads that wait for their audit
// entry to be committed (a read is answered only once its entry is: fail closed). Without it,
// only the number of open connections would bound how many values sit in memory while the audit
// store is slow.
//
//   PendingReads pending({.reads = 4096, .bytes = 64 << 20});
//   std::optional<PendingReads::Slot> slot = pending.TryTake(ciphertext.size());
//   if (!slot) return ReadsBacklogged();   // 503, Retry-After: nothing was decrypted
//   ... open the value, wait for its audit entry, answer; the slot is given back when destroyed.
//
// A read alone is always admitted, whatever its size: a byte limit below one value must not
// make that value unreadable.
//
// Thread-safety: TryTake, Reads and Bytes may be called from any thread; a Slot may be destroyed
// on any thread. SetLimits REQUIRES that no other call runs concurrently.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

namespace keyhold::service {

struct PendingReadLimits {
  int64_t reads = 4096;      // reads waiting at once
  int64_t bytes = 64 << 20;  // their values' bytes, together
};

class PendingReads {
 public:
  explicit PendingReads(PendingReadLimits limits = {}) : limits_(limits) {}
  PendingReads(const PendingReads&) = delete;
  PendingReads& operator=(const PendingReads&) = delete;

  // One admitted read: counted until destroyed (or moved from).
  class Slot {
   public:
    Slot(Slot&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), bytes_(other.bytes_) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        Release();
        owner_ = std::exchange(other.owner_, nullptr);
        bytes_ = other.bytes_;
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }
    // Gives the slot back now (idempotent).
    void Release() {
      if (owner_ == nullptr) {
        return;
      }
      owner_->bytes_.fetch_sub(bytes_, std::memory_order_relaxed);
      owner_->reads_.fetch_sub(1, std::memory_order_release);
      owner_ = nullptr;
    }

   private:
    friend class PendingReads;
    Slot(PendingReads* owner, int64_t bytes) : owner_(owner), bytes_(bytes) {}
    PendingReads* owner_;
    int64_t bytes_;
  };

  // A slot for a read whose value is at most `bytes` long, or nothing if admitting it would pass
  // a limit (two reads racing for the last room may both be refused: they are told to retry).
  std::optional<Slot> TryTake(size_t bytes) {
    auto b = static_cast<int64_t>(bytes);
    int64_t reads = reads_.fetch_add(1, std::memory_order_acquire) + 1;
    int64_t total = bytes_.fetch_add(b, std::memory_order_relaxed) + b;
    if (reads > 1 && (reads > limits_.reads || total > limits_.bytes)) {
      bytes_.fetch_sub(b, std::memory_order_relaxed);
      reads_.fetch_sub(1, std::memory_order_release);
      return std::nullopt;
    }
    return Slot(this, b);
  }

  void SetLimits(PendingReadLimits limits) { limits_ = limits; }
  PendingReadLimits limits() const { return limits_; }
  int64_t Reads() const { return reads_.load(std::memory_order_relaxed); }
  int64_t Bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  PendingReadLimits limits_;
  std::atomic<int64_t> reads_{0};
  std::atomic<int64_t> bytes_{0};
};

}  // namespace keyhold::service
