// Running scans on worker threads: each worker has its own scratch space, reading state,
// statistics and findings, merged when all are done.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "scan/sources.h"

namespace keyhold::scan {

struct ParallelWorker {
  std::optional<Scanner::Scratch> scratch_;
  std::shared_ptr<void> reader;  // the source's per-worker reading state
  ScanStats stats;
  std::vector<Finding> found;
  Scanner::Scratch& scratch(const Scanner& s) {
    if (!scratch_) scratch_ = s.NewScratch();
    return *scratch_;
  }
};

// Moves `from` to the end of `to`; whole, if `to` is empty (no copy, no fresh pages).
inline void AppendFindings(std::vector<Finding>& to, std::vector<Finding>&& from) {
  if (to.empty()) {
    to = std::move(from);
  } else {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
}

inline size_t WorkerCount(int threads) {
  return threads > 0 ? static_cast<size_t>(threads)
                     : std::max(1u, std::thread::hardware_concurrency());
}

// Runs `work` on `workers` threads while `produce` runs on the calling thread, then merges what
// the workers found into `stats` and `found`.
inline void RunParallel(size_t workers, const std::function<void(ParallelWorker&)>& work,
                        const std::function<void()>& produce, ScanStats& stats,
                        std::vector<Finding>& found) {
  std::vector<ParallelWorker> state(std::max<size_t>(1, workers));
  std::vector<std::thread> pool;
  pool.reserve(state.size());
  for (ParallelWorker& w : state) pool.emplace_back(work, std::ref(w));
  produce();
  for (auto& t : pool) t.join();
  for (ParallelWorker& w : state) {
    stats.files += w.stats.files;
    stats.bytes += w.stats.bytes;
    stats.skipped_binary += w.stats.skipped_binary;
    stats.skipped_large += w.stats.skipped_large;
    for (auto& warning : w.stats.warnings) stats.warnings.push_back(std::move(warning));
    for (auto& error : w.stats.errors) stats.errors.push_back(std::move(error));
    AppendFindings(found, std::move(w.found));
  }
}

// Runs jobs 0..n-1 on the workers.
inline void ForEachParallel(size_t n, int threads,
                            const std::function<void(ParallelWorker&, size_t)>& job,
                            ScanStats& stats, std::vector<Finding>& found) {
  std::atomic<size_t> next{0};
  size_t workers = std::max<size_t>(1, std::min(WorkerCount(threads), n));
  RunParallel(
      workers,
      [&](ParallelWorker& w) {
        for (size_t i; (i = next.fetch_add(1)) < n;) job(w, i);
      },
      [] {}, stats, found);
}

// Batches handed from a producer to workers; Pop blocks until a batch or the end comes.
template <typename T>
class BatchQueue {
 public:
  void Push(std::vector<T> batch) {
    if (batch.empty()) return;
    {
      std::lock_guard lock(mu_);
      batches_.push_back(std::move(batch));
    }
    cv_.notify_one();
  }
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  bool Pop(std::vector<T>& out) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || !batches_.empty(); });
    if (batches_.empty()) return false;
    out = std::move(batches_.front());
    batches_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<T>> batches_;
  bool closed_ = false;
};

// True if `data` looks like a binary file: a NUL byte in its first 8000 bytes, as git decides.
bool LooksBinary(std::string_view data);

}  // namespace keyhold::scan
