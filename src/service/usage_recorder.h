// UsageRecorder: every verification counted, off the hot path.
//
// Verify() hands each verification to Record(), which only appends it to an in-memory buffer (a
// short critical section on one of several shards, no I/O, no allocation beyond the event's own
// strings). A background thread flushes every `flush_interval`: it aggregates the buffer into
// per-second rows of identical attributes (store::UsageRow) and writes them, with the minute,
// hour and day rollups, in one store transaction. Stop() flushes what is left.
//
// What a crash can lose: the verifications of the last flush interval (1 s by default) — they are
// usage, not acknowledged writes. If the store cannot keep up, at most `max_buffered`
// verifications wait; past that new ones are counted in dropped() and not recorded, so the verify
// path never blocks and memory stays bounded.
//
//   UsageRecorder usage(store, env, {});
//   keys->SetUsageRecorder(&usage);
//   usage.Start();  ...  usage.Stop();
//
// Thread-safety: Record, Flush and the counters may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/env.h"
#include "core/status.h"
#include "store/store.h"

namespace keyhold::service {

// One verification, as recorded. Holds ids only: never key text.
struct Verification {
  int64_t time_ms = 0;
  std::string key_id;  // empty: no key matched
  std::string identity_id;
  std::string api_id;
  const char* outcome = "NOT_FOUND";  // a VerifyCodeName
  std::string client_ip;
  std::string route;
  std::vector<std::string> tags;
};

// Sees every batch of usage rows the recorder aggregates (e.g. the anomaly detectors), on the
// flushing thread, just before the batch is written (so the store holds none of it yet).
// `rows` is empty when nothing was verified since the last flush: time still passed.
class UsageObserver {
 public:
  virtual ~UsageObserver() = default;
  virtual void OnUsage(std::span<const store::UsageRow> rows, int64_t now_ms) = 0;
};

struct UsageOptions {
  std::chrono::milliseconds flush_interval{1000};
  size_t max_buffered = 1'000'000;
  // How long per-second rows and minute rollups are kept; hour rollups are kept 90 days and day
  // rollups 2 years, or this long if it is longer.
  std::chrono::milliseconds retention = std::chrono::hours(24 * 7);
};

class UsageRecorder {
 public:
  UsageRecorder(store::Store& store, Env& env, UsageOptions options);
  ~UsageRecorder();
  UsageRecorder(const UsageRecorder&) = delete;
  UsageRecorder& operator=(const UsageRecorder&) = delete;

  // Buffers `v`; never waits on I/O.
  void Record(Verification&& v);

  // Writes everything buffered now. Errors: the store's (the batch is then kept for the next
  // flush, within max_buffered).
  Status Flush();

  // Hands every flush's rows to `observer` (not owned; must outlive the recorder's last flush).
  // Call before Start().
  void SetObserver(UsageObserver* observer) { observer_ = observer; }

  // Starts the flushing thread; Stop() ends it and flushes once more. Both idempotent.
  void Start();
  void Stop();

  // Verifications waiting to be written, and those never to be (over max_buffered).
  size_t buffered() const { return buffered_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Flushes that wrote to the store (flushes with nothing to write are not counted), and those
  // the store refused (their rows wait for the next one).
  uint64_t flushes() const { return flushes_.load(std::memory_order_relaxed); }
  uint64_t failed_flushes() const { return failed_flushes_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 8;
  struct alignas(64) Shard {
    std::mutex mu;
    std::vector<Verification> events;  // guarded by mu
  };
  void Run();
  void PruneIfDue(int64_t now_ms);

  store::Store& store_;
  Env& env_;
  const UsageOptions options_;
  UsageObserver* observer_ = nullptr;
  Shard shards_[kShards];
  std::atomic<size_t> buffered_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> flushes_{0};
  std::atomic<uint64_t> failed_flushes_{0};
  std::mutex flush_mu_;                     // one flush at a time
  std::vector<store::UsageRow> unwritten_;  // guarded by flush_mu_: rows a failed flush kept
  int64_t last_prune_ms_ = 0;               // guarded by flush_mu_
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool running_ = false;   // guarded by run_mu_
  bool stopping_ = false;  // guarded by run_mu_
  std::thread thread_;
};

}  // namespace keyhold::service
