// AnomalyMonitor: the anomaly detectors (core/anomaly.h) run over every usage flush.
//
// The usage recorder calls OnUsage() from its flushing thread with the rows it has just
// aggregated; the monitor feeds them to the detectors and hands each detection to its sink (the
// alert outbox, and the log). Before its first batch it learns from the stored usage of the
// recent past (the newest kMaxUsageRows rows of the last day), so a restart neither forgets which
// networks keys are used from nor restarts every baseline.
//
//   AnomalyMonitor monitor(store, options, [](const anomaly::Detection& d) { ... });
//   usage.SetObserver(&monitor);
//
// Thread-safety: OnUsage is called by one thread at a time (the recorder's flush lock);
// tracked_keys() may be read from any thread.
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

  void OnUsage(std::span<const store::UsageRow> rows, int64_t now_ms) override;

  size_t tracked_keys() const { return tracked_keys_.load(std::memory_order_relaxed); }

 private:
  void Seed(int64_t now_ms);
  anomaly::Observation ToObservation(const store::UsageRow& row) const;

  store::Store& store_;
  const bool wants_tags_;
  anomaly::Detector detector_;
  Sink sink_;
  bool seeded_ = false;
  std::atomic<size_t> tracked_keys_{0};
};

// A detection as the evidence of an alert: kind, subject, window and counts; ids and addresses
// only.
nlohmann::json DetectionJson(const anomaly::Detection& d);

}  // namespace keyhold::service
