// Process metrics, read from /proc/self when the registry is rendered, under the names every
// Prometheus client library uses: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds.
//
//   metrics::Registry registry;
//   metrics::AddProcessMetrics(registry);
//
// On a system without /proc (or when a file cannot be read) the affected samples are left out of
// the exposition rather than reported as zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics/metrics.h"

namespace keyhold::metrics {

struct ProcessStat {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  double resident_bytes = 0;
  double virtual_bytes = 0;
};

// Parses the text of /proc/self/stat, given the clock ticks per second, the page size and the
// boot time (seconds since the epoch, /proc/stat's btime). nullopt if it is not in that form.
std::optional<ProcessStat> ParseProcStat(std::string_view stat, int64_t ticks_per_second,
                                         int64_t page_size, int64_t boot_time);

// Registers the process_* families on `registry`.
void AddProcessMetrics(Registry& registry);

}  // namespace keyhold::metrics
