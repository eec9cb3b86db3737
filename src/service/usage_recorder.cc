#include "service/usage_recorder.h"

#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

namespace keyhold::service {

UsageRecorder::UsageRecorder(store::Store& store, Env& env, UsageOptions options)
    : store_(store), env_(env), options_(options) {}

UsageRecorder::~UsageRecorder() { Stop(); }

void UsageRecorder::Record(Verification&& v) {
  if (buffered_.fetch_add(1, std::memory_order_relaxed) >= options_.max_buffered) {
    buffered_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  static thread_local const size_t shard = std::hash<std::thread::id>()(std::this_thread::get_id());
  Shard& s = shards_[shard % kShards];
  std::lock_guard lock(s.mu);
  s.events.push_back(std::move(v));
}

Status UsageRecorder::Flush() {
  std::lock_guard flush_lock(flush_mu_);
  std::vector<Verification> events;
  for (Shard& s : shards_) {
    std::vector<Verification> taken;
    {
      std::lock_guard lock(s.mu);
      taken.swap(s.events);
    }
    if (events.empty()) {
      events = std::move(taken);
    } else {
      events.insert(events.end(), std::make_move_iterator(taken.begin()),
                    std::make_move_iterator(taken.end()));
    }
  }
  // Verifications of one second with the same attributes become one row with their count.
  using Key = std::tuple<int64_t, std::string, std::string, std::string, std::string, std::string,
                         std::string, std::string>;
  std::map<Key, int64_t> counts;
  for (Verification& v : events) {
    std::string tags;
    if (!v.tags.empty()) tags = nlohmann::json(v.tags).dump();
    counts[{v.time_ms - v.time_ms % 1000, std::move(v.key_id), std::move(v.identity_id),
            std::move(v.api_id), v.outcome, std::move(v.client_ip), std::move(v.route),
            std::move(tags)}] += 1;
  }
  std::vector<store::UsageRow> rows = std::move(unwritten_);
  unwritten_.clear();
  const size_t retried = rows.size();
  for (auto& [k, n] : counts) {
    auto& [second, key, identity, api, outcome, ip, route, tags] = k;
    rows.push_back({second, key, identity, api, outcome, ip, route, tags, n});
  }
  buffered_.fetch_sub(events.size(), std::memory_order_relaxed);
  // Observed before it is written: an observer reading the store sees none of this batch there.
  if (observer_ != nullptr) {
    observer_->OnUsage(std::span<const store::UsageRow>(rows).subspan(retried), env_.NowMillis());
  }
  Status st = rows.empty() ? OkStatus() : store_.RecordUsage(rows);
  if (rows.empty()) return OkStatus();
  (st.ok() ? flushes_ : failed_flushes_).fetch_add(1, std::memory_order_relaxed);
  if (!st.ok()) {
    // Kept for the next flush, as long as they fit: usage is best effort, memory is bounded.
    if (rows.size() <= options_.max_buffered) {
      unwritten_ = std::move(rows);
    } else {
      dropped_.fetch_add(rows.size(), std::memory_order_relaxed);
    }
    return st;
  }
  PruneIfDue(env_.NowMillis());
  return OkStatus();
}

void UsageRecorder::PruneIfDue(int64_t now_ms) {
  constexpr int64_t kHourMs = 3'600'000;
  if (now_ms - last_prune_ms_ < kHourMs / 6) return;  // every 10 minutes
  last_prune_ms_ = now_ms;
  int64_t keep = options_.retention.count();
  int64_t hours = std::max<int64_t>(keep, 90 * 24 * kHourMs);
  int64_t days = std::max<int64_t>(keep, 730 * 24 * kHourMs);
  Status st = store_.PruneUsage(now_ms - keep, now_ms - hours, now_ms - days);
  if (!st.ok()) spdlog::warn("usage not pruned: {} ({})", st.message(), st.log_detail());
}

void UsageRecorder::Start() {
  std::lock_guard lock(run_mu_);
  if (running_) return;
  running_ = true;
  thread_ = std::thread([this] { Run(); });
}

void UsageRecorder::Stop() {
  {
    std::lock_guard lock(run_mu_);
    if (!running_ || stopping_) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  thread_.join();
  Status st = Flush();
  if (!st.ok()) spdlog::warn("usage not written at stop: {} ({})", st.message(), st.log_detail());
}

void UsageRecorder::Run() {
  std::unique_lock lock(run_mu_);
  while (!run_cv_.wait_for(lock, options_.flush_interval, [&] { return stopping_; })) {
    lock.unlock();
    Status st = Flush();
    if (!st.ok()) spdlog::warn("usage not written: {} ({})", st.message(), st.log_detail());
    lock.lock();
  }
}

}  // namespace keyhold::service
