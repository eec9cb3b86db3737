// ForEachParallel: runs jobs 0..n-1 on worker threads, each with its own scratch space,
// buffer, statistics and findings, merged when all are done.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
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

inline void ForEachParallel(size_t n, int threads,
                            const std::function<void(ParallelWorker&, size_t)>& job,
                            ScanStats& stats, std::vector<Finding>& found) {
  size_t workers = threads > 0 ? static_cast<size_t>(threads)
                               : std::max(1u, std::thread::hardware_concurrency());
  workers = std::max<size_t>(1, std::min(workers, n));
  std::vector<ParallelWorker> state(workers);
  std::atomic<size_t> next{0};
  auto run = [&](ParallelWorker& w) {
    for (size_t i; (i = next.fetch_add(1)) < n;) job(w, i);
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < workers; ++t) pool.emplace_back(run, std::ref(state[t]));
  if (n > 0) run(state[0]);
  for (auto& t : pool) t.join();
  for (ParallelWorker& w : state) {
    stats.files += w.stats.files;
    stats.bytes += w.stats.bytes;
    stats.skipped_binary += w.stats.skipped_binary;
    stats.skipped_large += w.stats.skipped_large;
    for (auto& warning : w.stats.warnings) stats.warnings.push_back(std::move(warning));
    for (Finding& f : w.found) found.push_back(std::move(f));
  }
}

// True if `data` looks like a binary file: a NUL byte in its first 8000 bytes, as git decides.
bool LooksBinary(std::string_view data);

}  // namespace keyhold::scan
