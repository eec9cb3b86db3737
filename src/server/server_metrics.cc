#include "server/server_metrics.h"

#include "metrics/process.h"

namespace keyhold::server {
namespace {

using metrics::Sample;
using metrics::Type;

std::vector<Sample> One(double v) { return {Sample{{}, v}}; }

void RegisterKeyServiceMetrics(metrics::Registry& registry, const service::KeyService& keys) {
  registry.AddCallback(
      "keyhold_verifications_total", "Key verifications answered, by outcome code.", Type::kCounter,
      {"code"}, [&keys] {
        service::ServiceStats s = keys.Stats();
        std::vector<Sample> out;
        for (size_t i = 0; i < service::kVerifyCodeCount; ++i) {
          auto code = static_cast<service::VerifyCode>(i);
          out.push_back({{service::VerifyCodeName(code)}, static_cast<double>(s.verifications[i])});
        }
        return out;
      });
  registry.AddCallback("keyhold_key_cache_entries", "Live keys held in memory (app and root).",
                       Type::kGauge, {},
                       [&keys] { return One(static_cast<double>(keys.Stats().keys)); });
  registry.AddCallback(
      "keyhold_audit_entries_written_total",
      "Audit log entries committed together with the change they record.", Type::kCounter, {},
      [&keys] { return One(static_cast<double>(keys.Stats().audit_entries_written)); });
}

void RegisterLimitMetrics(metrics::Registry& registry, const service::KeyService& keys) {
  registry.AddCallback(
      "keyhold_ratelimit_checks_total",
      "ratelimit.limit and ratelimit.multiLimit calls, by decision (keys' limits show as "
      "keyhold_verifications_total{code=\"RATE_LIMITED\"}).",
      Type::kCounter, {"result"}, [&keys] {
        service::ServiceStats s = keys.Stats();
        return std::vector<Sample>{{{"passed"}, static_cast<double>(s.ratelimit_passed)},
                                   {{"refused"}, static_cast<double>(s.ratelimit_refused)}};
      });
  registry.AddCallback("keyhold_ratelimit_states",
                       "Rate limits (of keys, identities and namespaces) whose bucket is not full.",
                       Type::kGauge, {},
                       [&keys] { return One(static_cast<double>(keys.Stats().ratelimit_states)); });
  registry.AddCallback(
      "keyhold_bruteforce_blocks_total",
      "End-user addresses blocked for failing verification too often.", Type::kCounter, {},
      [&keys] { return One(static_cast<double>(keys.Stats().addresses_blocked)); });
}

void RegisterUsageMetrics(metrics::Registry& registry, const service::UsageRecorder& usage) {
  registry.AddCallback("keyhold_usage_buffered_events",
                       "Verifications waiting in memory to be written as usage.", Type::kGauge, {},
                       [&usage] { return One(static_cast<double>(usage.buffered())); });
  registry.AddCallback("keyhold_usage_dropped_events_total",
                       "Verifications not recorded as usage because the buffer was full.",
                       Type::kCounter, {},
                       [&usage] { return One(static_cast<double>(usage.dropped())); });
  registry.AddCallback(
      "keyhold_usage_flushes_total", "Writes of buffered usage to the usage journal, by result.",
      Type::kCounter, {"result"}, [&usage] {
        return std::vector<Sample>{{{"ok"}, static_cast<double>(usage.flushes())},
                                   {{"failed"}, static_cast<double>(usage.failed_flushes())}};
      });
  registry.AddCallback(
      "keyhold_usage_minute_writes_total",
      "Writes of ended minutes of usage from the journal to the usage log (one may hold several "
      "minutes), by result.",
      Type::kCounter, {"result"}, [&usage] {
        return std::vector<Sample>{{{"ok"}, static_cast<double>(usage.minute_writes())},
                                   {{"failed"}, static_cast<double>(usage.failed_minute_writes())}};
      });
}

}  // namespace

void RegisterServerMetrics(metrics::Registry& registry, const service::KeyService& keys,
                           const service::UsageRecorder& usage, const std::string& version) {
  registry.AddCallback("keyhold_build_info", "The running keyhold's version; always 1.",
                       Type::kGauge, {"version"}, [version] {
                         return std::vector<Sample>{{{version}, 1}};
                       });
  RegisterKeyServiceMetrics(registry, keys);
  RegisterLimitMetrics(registry, keys);
  RegisterUsageMetrics(registry, usage);
  metrics::AddProcessMetrics(registry);
}

void RegisterAlertMetrics(metrics::Registry& registry, const audit::AlertQueue& queue) {
  registry.AddCallback(
      "keyhold_alert_queue_depth", "Alerts of detectors waiting to be stored in the alert outbox.",
      Type::kGauge, {}, [&queue] { return One(static_cast<double>(queue.Depth())); });
  registry.AddCallback("keyhold_alerts_dropped_total",
                       "Alerts of detectors dropped because their queue was full.", Type::kCounter,
                       {}, [&queue] { return One(static_cast<double>(queue.Dropped())); });
}

void RegisterDeliveryMetrics(metrics::Registry& registry, std::function<int64_t()> pending) {
  registry.AddCallback(
      "keyhold_webhook_deliveries_pending",
      "Alert deliveries to webhook endpoints not yet made (due, or waiting for a "
      "retry); -1 while sealed, until first counted, or while the store cannot be read.",
      Type::kGauge, {},
      [pending = std::move(pending)] { return One(static_cast<double>(pending())); });
}

void RegisterSealMetric(metrics::Registry& registry, const http::Readiness& readiness) {
  registry.AddCallback("keyhold_sealed",
                       "1 while the server is sealed: keys verify, secrets wait for unseal shares.",
                       Type::kGauge, {},
                       [&readiness] { return One(readiness.Sealed() ? 1.0 : 0.0); });
}

}  // namespace keyhold::server
