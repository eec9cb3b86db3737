// Alerts: what keyhold tells an operator about, and the sink every part of the server raises them
// through. An alert is stored durably (the outbox), written to the log, and delivered as a signed
// webhook to every endpoint that asked for its kind (docs/alerts.md).
//
//   audit::Alert a;
//   a.kind = std::string(audit::kAlertFailedBurst);
//   a.severity = audit::AlertSeverity::kWarning;
//   a.summary = "12 failed verifications in 10s";
//   a.key_id = key_id;
//   a.evidence_json = R"({"failures":12,"windowMs":10000})";
//   a.dedupe_key = "anomaly.failed_burst:" + key_id;
//   KH_ASSIGN_OR_RETURN(audit::RaiseOutcome r, sink.Raise(a));
//
// Nothing in an alert is key material: subjects are ids and addresses, never keys or secrets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace keyhold::audit {

// The alert kinds keyhold raises. Stored and delivered as these strings: never rename, only add.
inline constexpr std::string_view kAlertSpike = "anomaly.spike";
inline constexpr std::string_view kAlertNewNetwork = "anomaly.new_network";
inline constexpr std::string_view kAlertFailedBurst = "anomaly.failed_burst";
inline constexpr std::string_view kAlertSensitiveRoute = "anomaly.sensitive_route";
inline constexpr std::string_view kAlertBruteForce = "anomaly.brute_force";
inline constexpr std::string_view kAlertKeyLeaked = "key.leaked";
inline constexpr std::string_view kAlertKeyRotationDue = "key.rotation_due";
inline constexpr std::string_view kAlertSecretRotationDue = "secret.rotation_due";
inline constexpr std::string_view kAlertCreditsLow = "key.credits_low";
inline constexpr std::string_view kAlertAuditSinkFailing = "audit.sink_failing";
inline constexpr std::string_view kAlertWebhookTest = "webhook.test";

// True for the kinds above.
bool IsAlertKind(std::string_view kind);

// Whether an endpoint filter `kinds` (exact kinds or families such as "anomaly.*"; empty means
// every kind) accepts `kind`.
bool KindAccepted(const std::vector<std::string>& kinds, std::string_view kind);

enum class AlertSeverity : int32_t { kInfo = 1, kWarning = 2, kCritical = 3 };
// "info", "warning", "critical".
std::string_view SeverityName(AlertSeverity s);
// The severity named `name`, if it is one of SeverityName's.
std::optional<AlertSeverity> ParseSeverity(std::string_view name);

// One alert. The raiser fills kind .. dedupe_key (and count, if it stands for several); the
// sink fills id and created_at_ms.
struct Alert {
  std::string id;  // "alert_..."
  std::string kind;
  AlertSeverity severity = AlertSeverity::kWarning;
  std::string summary;  // one human-readable line
  // Subjects, each empty when not applicable.
  std::string key_id;
  std::string api_id;
  std::string client_ip;
  std::string evidence_json = "{}";  // a JSON object: the numbers that made this an alert
  std::string dedupe_key;            // empty: never deduplicated
  int64_t created_at_ms = 0;
  int64_t count = 1;  // how many raises this alert stands for (deduplicated ones add up)
  std::optional<int64_t> acknowledged_at_ms;
  std::string acknowledged_by;  // the root key id that acknowledged it
};

// What Raise did.
struct RaiseOutcome {
  std::string alert_id;       // the new alert, or the open one it was counted against
  bool deduplicated = false;  // true: counted against an open alert, nothing new delivered
  int deliveries = 0;         // webhook deliveries queued for it
};

// Where alerts go. Implementations store the alert and its deliveries in one transaction before
// returning, and write a log line for it.
//
// Thread-safety: Raise may be called from any thread. It writes to the store, so it may wait on
// the disk: a caller on the verification path posts alerts to an AlertQueue
// (audit/alert_queue.h) instead, and never fails a verification because Raise did.
class AlertSink {
 public:
  virtual ~AlertSink() = default;

  // Stores `alert` (its id and created_at_ms are set here; a count below 1 counts as 1) and
  // queues one delivery per enabled webhook endpoint that accepts its kind. If an unacknowledged
  // alert with the same non-empty dedupe_key was raised within the dedupe window, only that
  // alert's count grows.
  // Errors: kInvalidArgument for an unknown kind or evidence that is not a JSON object;
  // kUnavailable if the store cannot be written (nothing stored).
  virtual StatusOr<RaiseOutcome> Raise(const Alert& alert) = 0;
};

}  // namespace keyhold::audit
