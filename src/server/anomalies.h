// The options of the anomaly detectors and the brute-force guard, from the anomaly_* and
// brute_force_* settings (docs/anomalies.md).
#pragma once

#include <chrono>

#include "core/anomaly.h"
#include "core/status.h"
#include "server/settings.h"
#include "service/brute_force.h"

namespace keyhold::server {

// Reads the anomaly_* settings; `flush_interval` (the usage recorder's) sets how late a minute's
// rows may arrive. `*enabled` tells whether anomaly_detection is on. Errors: kInvalidArgument
// naming the setting whose value is malformed or out of range.
StatusOr<anomaly::Options> AnomalyOptions(const Settings& settings,
                                          std::chrono::milliseconds flush_interval, bool* enabled);

// Reads the brute_force_* settings. Errors: kInvalidArgument naming the malformed setting.
StatusOr<service::BruteForceOptions> BruteForceOptions(const Settings& settings);

}  // namespace keyhold::server
