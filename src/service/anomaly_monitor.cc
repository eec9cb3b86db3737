#include "service/anomaly_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace keyhold::service {

AnomalyMonitor::AnomalyMonitor(store::Store& store, anomaly::Options options, Sink sink)
    : store_(store),
      wants_tags_(!options.sensitive_tags.empty()),
      detector_(std::move(options)),
      sink_(std::move(sink)) {}

anomaly::Observation AnomalyMonitor::ToObservation(const store::UsageRow& row) const {
  anomaly::Observation o;
  o.second_ms = row.second_ms;
  o.key_id = row.key_id;
  o.identity_id = row.identity_id;
  o.api_id = row.api_id;
  o.outcome = row.outcome;
  o.client_ip = row.client_ip;
  o.route = row.route;
  o.count = row.count;
  if (wants_tags_ && !row.tags_json.empty()) {
    auto tags = nlohmann::json::parse(row.tags_json, nullptr, /*allow_exceptions=*/false);
    if (tags.is_array()) {
      for (const auto& t : tags) {
        if (t.is_string()) o.tags.push_back(t.get<std::string>());
      }
    }
  }
  return o;
}

void AnomalyMonitor::OnReplay(std::span<const store::UsageRow> journaled, int64_t now_ms) {
  constexpr int64_t kDayMs = 24LL * 3'600'000;
  constexpr int64_t kMinuteMs = 60'000;
  const int64_t since = now_ms - kDayMs;
  auto written = store_.ReadUsage("", since, now_ms, store::kMaxUsageRows);
  if (!written.ok()) {
    spdlog::warn("anomaly detection starts without the usage log: {}", written.status().message());
  }
  // The usage log and the journal hold different verifications (a minute leaves the journal in
  // the transaction that writes it to the log): each row is learned once.
  std::vector<const store::UsageRow*> past;
  if (written.ok()) {
    for (const store::UsageRow& r : *written) past.push_back(&r);
  }
  for (const store::UsageRow& r : journaled) {
    if (r.second_ms >= since) past.push_back(&r);
  }
  std::stable_sort(past.begin(), past.end(),
                   [](const auto* a, const auto* b) { return a->second_ms < b->second_ms; });
  for (const store::UsageRow* row : past) {
    anomaly::Observation o = ToObservation(*row);
    // Stored rows are per minute (a row off the minute is a second's, written by an older
    // version): its verifications happened anywhere in it.
    if (row->second_ms % kMinuteMs == 0) o.span_ms = kMinuteMs;
    detector_.Seed(o);
  }
  tracked_keys_.store(detector_.tracked_keys(), std::memory_order_relaxed);
  spdlog::info(
      "anomaly detection learned from {} usage rows of the last day ({} read back from "
      "the usage journal)",
      past.size(), past.size() - (written.ok() ? written->size() : 0));
}

void AnomalyMonitor::OnUsage(std::span<const store::UsageRow> rows, int64_t now_ms) {
  std::vector<anomaly::Detection> found;
  for (const store::UsageRow& row : rows) detector_.Observe(ToObservation(row), &found);
  detector_.Advance(now_ms, &found);
  tracked_keys_.store(detector_.tracked_keys(), std::memory_order_relaxed);
  for (const anomaly::Detection& d : found) sink_(d);
}

nlohmann::json DetectionJson(const anomaly::Detection& d) {
  nlohmann::json j = {{"kind", d.kind},
                      {"summary", d.summary},
                      {"windowStart", d.window_start_ms},
                      {"windowEnd", d.window_end_ms},
                      {"count", d.count}};
  auto put = [&j](const char* name, const std::string& v) {
    if (!v.empty()) j[name] = v;
  };
  put("keyId", d.key_id);
  put("apiId", d.api_id);
  put("identityId", d.identity_id);
  put("clientAddress", d.client_ip);
  put("network", d.network);
  put("matched", d.matched);
  if (d.threshold > 0) j["threshold"] = d.threshold;
  if (!d.addresses.empty()) j["addresses"] = d.addresses;
  if (!d.key_ids.empty()) j["keyIds"] = d.key_ids;
  if (d.kind == anomaly::kSpike) {
    j["perMinute"] = d.per_minute;
    j["baselinePerMinute"] = d.baseline;
    j["deviation"] = d.deviation;
  }
  if (d.kind == anomaly::kNewNetwork) j["knownNetworks"] = d.known_networks;
  return j;
}

}  // namespace keyhold::service
