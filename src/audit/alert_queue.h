// AlertQueue: raising alerts from a path that must not wait. Post() hands an alert to a bounded
// in-memory queue and returns at once; a thread of the queue's own raises it through the sink
// (which stores it, and may wait on the disk). For detectors on or near the verification path.
//
//   AlertQueue queue(alert_service);   // any AlertSink that outlives the queue
//   queue.Start();
//   queue.Post(alert);                 // never blocks on I/O, never fails a verification
//   queue.Stop();                      // raises what is queued, then stops
//
// An alert posted while the queue is full is dropped and counted (Dropped()), and the drop is
// logged once per full spell: alerts are deduplicated anyway, and memory stays bounded. A raise
// that fails is logged by the sink and not retried.
//
// Thread-safety: Post and Dropped may be called from any thread; Start and Stop from one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "audit/alert.h"

namespace keyhold::audit {

class AlertQueue {
 public:
  // `sink` must outlive the queue. REQUIRES: capacity >= 1.
  explicit AlertQueue(AlertSink& sink, size_t capacity = 1024);
  ~AlertQueue();
  AlertQueue(const AlertQueue&) = delete;
  AlertQueue& operator=(const AlertQueue&) = delete;

  void Start();
  // Raises every alert still queued, then stops the thread. Idempotent.
  void Stop();

  // Queues `alert`; false if the queue was full or stopped (the alert is dropped and counted).
  bool Post(Alert alert);
  uint64_t Dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Alerts queued and not yet raised.
  size_t Depth() const {
    std::lock_guard lock(mu_);
    return queue_.size();
  }

 private:
  void Run();

  AlertSink& sink_;
  const size_t capacity_;
  std::atomic<uint64_t> dropped_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Alert> queue_;   // guarded by mu_
  bool stopping_ = false;     // guarded by mu_
  bool full_logged_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace keyhold::audit
