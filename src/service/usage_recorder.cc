#include "service/usage_recorder.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

namespace keyhold::service {
namespace {

constexpr int64_t kMinuteMs = 60'000;
// A minute is written once the clock is this far past its end: a verification timed just before
// the minute ended may reach the buffer a little later. One that comes later still is written as
// a further row of its minute.
constexpr int64_t kCloseMarginMs = 2'000;

// Adds `n` to `count`, stopping at the largest count rather than wrapping.
void AddCount(int64_t& count, int64_t n) {
  count = n > std::numeric_limits<int64_t>::max() - count ? std::numeric_limits<int64_t>::max()
                                                          : count + n;
}

int64_t MinuteOf(int64_t t) {
  int64_t m = t - t % kMinuteMs;
  return t < 0 && t % kMinuteMs != 0 ? m - kMinuteMs : m;
}

}  // namespace

UsageRecorder::UsageRecorder(store::Store& store, Env& env, UsageOptions options)
    : store_(store), env_(env), options_(options) {}

UsageRecorder::~UsageRecorder() { Stop(); }

void UsageRecorder::Record(Verification&& v) {
  if (buffered_.fetch_add(1, std::memory_order_relaxed) >= options_.max_buffered) {
    buffered_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // A caller that named no key chooses its route freely: kept, every route would be a row.
  if (v.key_id.empty()) v.route.clear();
  if (v.route.size() > kMaxRoute) v.route.resize(kMaxRoute);
  static thread_local const size_t shard = std::hash<std::thread::id>()(std::this_thread::get_id());
  Shard& s = shards_[shard % kShards];
  std::lock_guard lock(s.mu);
  s.events.push_back(std::move(v));
}

UsageRecorder::Attributes UsageRecorder::TakeAttributes(store::UsageRow& r) {
  return {std::move(r.key_id),   std::move(r.identity_id), std::move(r.api_id),
          std::move(r.outcome),  std::move(r.client_ip),   std::move(r.route),
          std::move(r.tags_json)};
}

store::UsageRow UsageRecorder::RowOf(int64_t time_ms, const Attributes& a, int64_t count) {
  return {time_ms,     a.key_id, a.identity_id, a.api_id, a.outcome,
          a.client_ip, a.route,  a.tags_json,   count};
}

Status UsageRecorder::Replay() {
  if (replayed_) return OkStatus();
  auto journal = store_.ReadUsageJournal();
  if (!journal.ok()) return journal.status();
  if (journal->unreadable > 0) {
    spdlog::warn("usage journal: {} entries could not be read and are skipped",
                 journal->unreadable);
  }
  // The observer learns of these minutes here and only here: they are not in the usage log yet,
  // and no later batch holds them.
  if (observer_ != nullptr) observer_->OnReplay(journal->rows, env_.NowMillis());
  const size_t read_back = journal->rows.size();
  std::lock_guard lock(open_mu_);
  for (store::UsageRow& r : journal->rows) {
    auto [it, added] = open_[r.second_ms].try_emplace(TakeAttributes(r), 0);
    AddCount(it->second, r.count);
    open_rows_ += added;
  }
  replayed_ = true;
  if (read_back > 0) spdlog::info("usage journal: {} rows read back", read_back);
  return OkStatus();
}

Status UsageRecorder::Flush(bool close_all) {
  std::lock_guard flush_lock(flush_mu_);
  // Read back before anything new is journaled or observed (writing a minute removes its journal
  // entries, read or not). Until then verifications wait in the buffer, within max_buffered.
  if (Status st = Replay(); !st.ok()) {
    failed_flushes_.fetch_add(1, std::memory_order_relaxed);
    return st;
  }
  // Verifications of one second with the same attributes become one row with their count.
  std::map<int64_t, Counts> seconds;
  for (size_t i = 0; i < kShards; ++i) {
    // Each shard's buffer and its spare are swapped, so neither is grown again every flush.
    std::vector<Verification>& taken = spare_[i];
    {
      std::lock_guard lock(shards_[i].mu);
      taken.swap(shards_[i].events);
    }
    for (Verification& v : taken) {
      std::string tags;
      if (!v.tags.empty()) tags = nlohmann::json(v.tags).dump();
      seconds[v.time_ms - v.time_ms % 1000]
             [{std::move(v.key_id), std::move(v.identity_id), std::move(v.api_id), v.outcome,
               std::move(v.client_ip), std::move(v.route), std::move(tags)}] += 1;
    }
    buffered_.fetch_sub(taken.size(), std::memory_order_relaxed);
    taken.clear();
  }
  std::vector<store::UsageRow> rows;
  for (auto& [second, counts] : seconds) {
    while (!counts.empty()) {
      auto node = counts.extract(counts.begin());
      Attributes& a = node.key();
      rows.push_back({second, std::move(a.key_id), std::move(a.identity_id), std::move(a.api_id),
                      std::move(a.outcome), std::move(a.client_ip), std::move(a.route),
                      std::move(a.tags_json), node.mapped()});
    }
  }
  // Observed before it is written: an observer reading the store sees none of this batch there.
  if (observer_ != nullptr) observer_->OnUsage(rows, env_.NowMillis());

  // The same rows, timed by their minute, wait for the journal (rows of one minute with the same
  // attributes are summed when they join the open minutes).
  {
    std::lock_guard lock(open_mu_);
    if (unjournaled_.size() + rows.size() > options_.max_buffered) {
      // Usage is best effort and memory is bounded: what the store could not take is dropped.
      for (const auto& r : unjournaled_) dropped_.fetch_add(r.count, std::memory_order_relaxed);
      unjournaled_.clear();
    }
    for (store::UsageRow& r : rows) {
      r.second_ms = MinuteOf(r.second_ms);
      unjournaled_.push_back(std::move(r));
    }
  }
  if (!unjournaled_.empty()) {
    // Only this thread changes unjournaled_; readers take open_mu_ and see each row once, here
    // or in open_.
    Status st = store_.JournalUsage(unjournaled_);
    if (!st.ok()) {
      failed_flushes_.fetch_add(1, std::memory_order_relaxed);
      return st;
    }
    std::lock_guard lock(open_mu_);
    for (store::UsageRow& r : unjournaled_) {
      auto [it, added] = open_[r.second_ms].try_emplace(TakeAttributes(r), 0);
      AddCount(it->second, r.count);
      open_rows_ += added;
    }
    unjournaled_.clear();
    flushes_.fetch_add(1, std::memory_order_relaxed);
  }
  KH_RETURN_IF_ERROR(CloseMinutes(close_all));
  PruneIfDue(env_.NowMillis());
  return OkStatus();
}

Status UsageRecorder::CloseMinutes(bool close_all) {
  std::lock_guard lock(open_mu_);
  if (open_.empty()) return OkStatus();
  int64_t before = close_all || open_rows_ > options_.max_open_rows
                       ? std::numeric_limits<int64_t>::max()
                       : MinuteOf(env_.NowMillis() - kCloseMarginMs);
  auto end = open_.lower_bound(before);
  if (end == open_.begin()) return OkStatus();
  std::vector<store::UsageRow> rows;
  size_t closed = 0;
  for (auto it = open_.begin(); it != end; ++it) {
    for (const auto& [a, n] : it->second) rows.push_back(RowOf(it->first, a, n));
    closed += it->second.size();
  }
  // Held while the minutes are written: a reader never sees them both here and in the store.
  Status st = store_.CloseUsage(before, rows);
  (st.ok() ? minute_writes_ : failed_minute_writes_).fetch_add(1, std::memory_order_relaxed);
  if (!st.ok() && open_rows_ > 2 * options_.max_open_rows) {
    // The store keeps refusing: memory stays bounded. The oldest minutes are dropped here (their
    // journal entries stay, so a restart reads them back unless a later close removes them).
    while (open_rows_ > options_.max_open_rows && !open_.empty()) {
      for (const auto& [a, n] : open_.begin()->second) {
        dropped_.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      }
      open_rows_ -= open_.begin()->second.size();
      open_.erase(open_.begin());
    }
  }
  KH_RETURN_IF_ERROR(st);
  open_.erase(open_.begin(), end);
  open_rows_ -= closed;
  return OkStatus();
}

void UsageRecorder::ReadWithUnwritten(
    const std::function<void(std::span<const store::UsageRow>)>& read) const {
  std::lock_guard lock(open_mu_);
  std::vector<store::UsageRow> rows(unjournaled_.begin(), unjournaled_.end());
  rows.reserve(rows.size() + open_rows_);
  for (const auto& [minute, counts] : open_) {
    for (const auto& [a, n] : counts) rows.push_back(RowOf(minute, a, n));
  }
  read(rows);
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

Status UsageRecorder::Start() {
  {
    std::lock_guard lock(flush_mu_);
    KH_RETURN_IF_ERROR(Replay());
  }
  std::lock_guard lock(run_mu_);
  if (running_) return OkStatus();
  running_ = true;
  thread_ = std::thread([this] { Run(); });
  return OkStatus();
}

void UsageRecorder::Stop() {
  {
    std::lock_guard lock(run_mu_);
    if (!running_ || stopping_) return;
    stopping_ = true;
  }
  run_cv_.notify_all();
  thread_.join();
  Status st = Flush(/*close_all=*/true);
  if (!st.ok()) spdlog::warn("usage not written at stop: {} ({})", st.message(), st.log_detail());
}

void UsageRecorder::Run() {
  pthread_setname_np(pthread_self(), "kh-usage");  // as top -H and perf show it
  std::unique_lock lock(run_mu_);
  while (!run_cv_.wait_for(lock, options_.flush_interval, [&] { return stopping_; })) {
    lock.unlock();
    Status st = Flush();
    if (!st.ok()) spdlog::warn("usage not written: {} ({})", st.message(), st.log_detail());
    lock.lock();
  }
}

}  // namespace keyhold::service
