#include "server/anomalies.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "service/anomaly_monitor.h"

namespace keyhold::server {
namespace {

Status Bad(std::string_view name, std::string_view why) {
  return InvalidArgument(std::string(name) + ": " + std::string(why));
}

// A whole number in [min, max].
Status ReadCount(const Settings& s, std::string_view name, int64_t min, int64_t max, int64_t* out) {
  const std::string& text = s.Get(std::string(name));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return Bad(name, "'" + text + "' is not a whole number from " + std::to_string(min) + " to " +
                         std::to_string(max));
  }
  *out = v;
  return OkStatus();
}

// A duration of at least `min_ms`.
Status ReadDuration(const Settings& s, std::string_view name, int64_t min_ms, int64_t* out_ms) {
  auto d = ParseDuration(s.Get(std::string(name)));
  if (!d.ok()) return Bad(name, d.status().message());
  if (d->count() < min_ms) return Bad(name, "must be at least " + std::to_string(min_ms) + "ms");
  *out_ms = d->count();
  return OkStatus();
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

StatusOr<anomaly::Options> AnomalyOptions(const Settings& s,
                                          std::chrono::milliseconds flush_interval, bool* enabled) {
  const std::string& on = s.Get("anomaly_detection");
  if (on != "true" && on != "false") return Bad("anomaly_detection", "use true or false");
  *enabled = on == "true";
  anomaly::Options o;
  int64_t z = 0, sustain = 0, baseline_ms = 0, warmup_ms = 0;
  constexpr int64_t kMinute = 60'000;
  KH_RETURN_IF_ERROR(ReadCount(s, "anomaly_spike_z", 1, 100, &z));
  KH_RETURN_IF_ERROR(ReadCount(s, "anomaly_spike_min", 1, 1'000'000'000, &o.spike_min_per_minute));
  KH_RETURN_IF_ERROR(ReadCount(s, "anomaly_spike_minutes", 1, 60, &sustain));
  KH_RETURN_IF_ERROR(ReadDuration(s, "anomaly_baseline", kMinute, &baseline_ms));
  if (baseline_ms > 24 * 60 * kMinute) return Bad("anomaly_baseline", "must be at most 24h");
  KH_RETURN_IF_ERROR(ReadDuration(s, "anomaly_warmup", 0, &warmup_ms));
  KH_RETURN_IF_ERROR(ReadDuration(s, "anomaly_network_learning", 0, &o.network_learning_ms));
  KH_RETURN_IF_ERROR(ReadDuration(s, "anomaly_failed_window", 1000, &o.failed_window_ms));
  KH_RETURN_IF_ERROR(ReadCount(s, "anomaly_failed_per_key", 0, 1'000'000'000, &o.failed_per_key));
  KH_RETURN_IF_ERROR(
      ReadCount(s, "anomaly_failed_per_address", 0, 1'000'000'000, &o.failed_per_address));
  KH_RETURN_IF_ERROR(ReadDuration(s, "anomaly_cooldown", 0, &o.cooldown_ms));
  o.spike_z = static_cast<double>(z);
  o.spike_sustain = static_cast<int>(sustain);
  o.baseline_minutes = static_cast<int>(std::min<int64_t>(baseline_ms / kMinute, 100'000));
  o.warmup_minutes = static_cast<int>(std::min<int64_t>(warmup_ms / kMinute, 100'000));
  o.sensitive_routes = SplitList(s.Get("anomaly_sensitive_routes"));
  o.sensitive_tags = SplitList(s.Get("anomaly_sensitive_tags"));
  o.grace_ms = flush_interval.count() + 1000;
  return o;
}

audit::Alert AlertOf(const anomaly::Detection& d) {
  audit::Alert a;
  a.kind = d.kind;  // the detector kinds are alert kinds
  a.severity = audit::AlertSeverity::kWarning;
  a.summary = d.summary;
  a.key_id = d.key_id;
  a.api_id = d.api_id;
  a.client_ip = d.client_ip;
  a.evidence_json = service::DetectionJson(d).dump();
  a.dedupe_key = d.dedupe_key;
  return a;
}

audit::Alert CreditsLowAlert(const service::KeyView& key, int64_t remaining, int64_t threshold) {
  audit::Alert a;
  a.kind = std::string(audit::kAlertCreditsLow);
  a.severity = audit::AlertSeverity::kWarning;
  a.key_id = std::string(key.id());
  a.api_id = std::string(key.api_id());
  a.summary = "key " + a.key_id + " has " + std::to_string(remaining) + " credits left";
  a.evidence_json =
      nlohmann::json({{"keyId", a.key_id}, {"remaining", remaining}, {"threshold", threshold}})
          .dump();
  a.dedupe_key = a.kind + ":" + a.key_id;
  return a;
}

StatusOr<int64_t> CreditsLowThreshold(const Settings& s) {
  int64_t v = 0;
  KH_RETURN_IF_ERROR(ReadCount(s, "credits_low_threshold", 0, 1'000'000'000'000'000, &v));
  return v;
}

audit::Alert BruteForceAlert(const std::string& address, int64_t failures, int64_t from_ms,
                             int64_t until_ms) {
  audit::Alert a;
  a.kind = std::string(audit::kAlertBruteForce);
  a.severity = audit::AlertSeverity::kWarning;
  a.summary = "address " + address + " refused until " + std::to_string(until_ms) + " after " +
              std::to_string(failures) + " failed verifications";
  a.client_ip = address;
  a.evidence_json = nlohmann::json({{"address", address},
                                    {"failures", failures},
                                    {"blockedFrom", from_ms},
                                    {"blockedUntil", until_ms}})
                        .dump();
  a.dedupe_key = a.kind + ":" + address;
  return a;
}

StatusOr<service::BruteForceOptions> BruteForceOptions(const Settings& s) {
  service::BruteForceOptions o;
  KH_RETURN_IF_ERROR(ReadCount(s, "brute_force_threshold", 0, 1'000'000'000, &o.threshold));
  KH_RETURN_IF_ERROR(ReadDuration(s, "brute_force_window", 1000, &o.window_ms));
  KH_RETURN_IF_ERROR(ReadDuration(s, "brute_force_cooldown", 1000, &o.cooldown_ms));
  return o;
}

}  // namespace keyhold::server
