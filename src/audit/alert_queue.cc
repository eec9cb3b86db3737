#include "audit/alert_queue.h"

#include <spdlog/spdlog.h>

namespace keyhold::audit {

AlertQueue::AlertQueue(AlertSink& sink, size_t capacity) : sink_(sink), capacity_(capacity) {}

AlertQueue::~AlertQueue() { Stop(); }

void AlertQueue::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AlertQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool AlertQueue::Post(Alert alert) {
  {
    std::lock_guard lock(mu_);
    // Full, or stopped (no thread would raise it): dropped and counted either way.
    if (queue_.size() >= capacity_ || stopping_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (!full_logged_) {
        full_logged_ = true;
        spdlog::error("alert queue full ({} alerts): dropping {} alerts until it drains", capacity_,
                      alert.kind);
      }
      return false;
    }
    queue_.push_back(std::move(alert));
  }
  cv_.notify_one();
  return true;
}

void AlertQueue::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything raised
    Alert next = std::move(queue_.front());
    queue_.pop_front();
    if (queue_.size() <= capacity_ / 2) full_logged_ = false;  // a full spell ends half drained
    lock.unlock();
    (void)sink_.Raise(next);  // the sink logs a failure; an alert is not worth a retry loop
    lock.lock();
  }
}

}  // namespace keyhold::audit
