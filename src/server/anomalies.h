// The anomaly detectors' options, from the anomaly_* settings (docs/anomalies.md).
#pragma once

#include <chrono>

#include "core/anomaly.h"
#include "core/status.h"
#include "server/settings.h"

namespace keyhold::server {

// Reads the anomaly_* settings; `flush_interval` (the usage recorder's) sets how late a minute's
// rows may arrive. `*enabled` tells whether anomaly_detection is on. Errors: kInvalidArgument
// naming the setting whose value is malformed or out of range.
StatusOr<anomaly::Options> AnomalyOptions(const Settings& settings,
                                          std::chrono::milliseconds flush_interval, bool* enabled);

}  // namespace keyhold::server
