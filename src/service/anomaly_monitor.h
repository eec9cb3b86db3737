// AnomalyMonitor: the anomaly detectors (core/anomaly.h) run over every usage flush.
//
// The usage recorder calls OnUsage() from its flushing thread with the rows it has just
// aggregated; the monitor feeds them to the detectors and hands each detection to its sink (the
// alert outbox, and the log). Before its first batch, when the recorder has read its journal
// back (OnReplay), it learns from the usage of the recent past: the newest kMaxUsageRows rows of
// the last day in the usage log, and the minutes the recorder read back from the journal (not in
// the log yet; the journal is read once, by the recorder). So a restart neither forgets which
// networks keys are used from, nor restarts every baseline, nor forgets a burst of failures under
// way. Those rows are per minute: each counts as having happened anywhere in its minute (a
// failure stays in the failed-burst window until the minute's last second has left it).
//
//   AnomalyMonitor monitor(store, options, [](const anomaly::Detection& d) { ... });
//   usage.SetObserver(&monitor);
//
// Thread-safety: OnReplay and OnUsage are called by one thread at a time (the recorder's flush
// lock); tracked_keys() may be read from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/anomaly.h"
#include "service/usage_recorder.h"
#include "store/store.h"

namespace keyhold::service {

class AnomalyMonitor : public UsageObserver {
 public:
  using Sink = std::function<void(const anomaly::Detection&)>;
  AnomalyMonitor(store::Store& store, anomaly::Options options, Sink sink);

  void OnReplay(std::span<const store::UsageRow> journaled, int64_t now_ms) override;
  void OnUsage(std::span<const store::UsageRow> rows, int64_t now_ms) override;

  size_t tracked_keys() const { return tracked_keys_.load(std::memory_order_relaxed); }

 private:
  anomaly::Observation ToObservation(const store::UsageRow& row) const;

  store::Store& store_;
  const bool wants_tags_;
  anomaly::Detector detector_;
  Sink sink_;
  std::atomic<size_t> tracked_keys_{0};
};

// A detection as the evidence of an alert: kind, subject, window and counts; ids and addresses
// only.
nlohmann::json DetectionJson(const anomaly::Detection& d);

}  // namespace keyhold::service
