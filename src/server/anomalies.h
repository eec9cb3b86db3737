// The options of the anomaly detectors and the brute-force guard, from the anomaly_* and
// brute_force_* settings (docs/anomalies.md).
#pragma once

#include <chrono>

#include "audit/alert.h"
#include "core/anomaly.h"
#include "core/status.h"
#include "server/settings.h"
#include "service/brute_force.h"
#include "service/types.h"

namespace keyhold::server {

// Reads the anomaly_* settings; `flush_interval` (the usage recorder's) sets how late a minute's
// rows may arrive. `*enabled` tells whether anomaly_detection is on. Errors: kInvalidArgument
// naming the setting whose value is malformed or out of range.
StatusOr<anomaly::Options> AnomalyOptions(const Settings& settings,
                                          std::chrono::milliseconds flush_interval, bool* enabled);

// Reads the brute_force_* settings. Errors: kInvalidArgument naming the malformed setting.
StatusOr<service::BruteForceOptions> BruteForceOptions(const Settings& settings);

// The alert of a detection: its kind, subject and dedupe key, the evidence as its JSON.
audit::Alert AlertOf(const anomaly::Detection& d);

// The alert of a key whose remaining credits fell below `threshold`.
audit::Alert CreditsLowAlert(const service::KeyView& key, int64_t remaining, int64_t threshold);

// The credits_low_threshold setting. Errors: kInvalidArgument if it is not a whole number >= 0.
StatusOr<int64_t> CreditsLowThreshold(const Settings& settings);

// The alert of an end-user address blocked by the brute-force guard.
audit::Alert BruteForceAlert(const std::string& address, int64_t failures, int64_t from_ms,
                             int64_t until_ms);

}  // namespace keyhold::server
