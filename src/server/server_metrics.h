// The server's own metrics, read from the parts it wires together each time /metrics is scraped:
//
//   keyhold_build_info{version}                  1
//   keyhold_verifications_total{code}            verifications by outcome (VALID, NOT_FOUND, ...)
//   keyhold_key_cache_entries                    live keys held in memory (app and root)
//   keyhold_audit_entries_written_total          audit entries committed with their change
//   keyhold_usage_buffered_events                verifications waiting to be written as usage
//   keyhold_usage_dropped_events_total           verifications not recorded (buffer full)
//   keyhold_usage_flushes_total{result}          usage journal writes, "ok" or "failed"
//   keyhold_usage_minute_writes_total{result}    ended minutes written to the usage log, same
//   keyhold_ratelimit_checks_total{result}       ratelimit.limit/multiLimit, "passed" or "refused"
//   keyhold_ratelimit_states                     limits whose bucket is not full
//   keyhold_bruteforce_blocks_total              end-user addresses blocked
//   keyhold_alert_queue_depth                    detectors' alerts waiting for the outbox
//   keyhold_alerts_dropped_total                 detectors' alerts dropped (queue full)
//   keyhold_sealed                               1 while the master key waits for unseal shares
//
// plus the process_* families (metrics/process.h). HTTP request metrics are http/http_metrics.h.
//
//   metrics::Registry registry;
//   RegisterServerMetrics(registry, keys, usage, KEYHOLD_VERSION);
#pragma once

#include <functional>
#include <string>

#include "audit/alert_queue.h"
#include "http/health.h"
#include "metrics/metrics.h"
#include "service/key_service.h"
#include "service/usage_recorder.h"

namespace keyhold::server {

// `keys` and `usage` must outlive `registry`'s last Render.
void RegisterServerMetrics(metrics::Registry& registry, const service::KeyService& keys,
                           const service::UsageRecorder& usage, const std::string& version);

// `queue` must outlive `registry`'s last Render.
void RegisterAlertMetrics(metrics::Registry& registry, const audit::AlertQueue& queue);
// The webhook outbox's depth: deliveries pending, as the delivery worker last counted them.
// `pending` is called on each scrape and must not wait (WebhookDelivery::Pending).
void RegisterDeliveryMetrics(metrics::Registry& registry, std::function<int64_t()> pending);

// keyhold_sealed, from `readiness` (which must outlive `registry`'s last Render).
void RegisterSealMetric(metrics::Registry& registry, const http::Readiness& readiness);

}  // namespace keyhold::server
