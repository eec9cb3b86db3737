#include "audit/alert.h"

#include <array>

namespace keyhold::audit {

bool IsAlertKind(std::string_view kind) {
  static constexpr std::array kKinds = {
      kAlertSpike,      kAlertNewNetwork,       kAlertFailedBurst,    kAlertSensitiveRoute,
      kAlertBruteForce, kAlertKeyLeaked,        kAlertKeyRotationDue, kAlertSecretRotationDue,
      kAlertCreditsLow, kAlertAuditSinkFailing, kAlertWebhookTest};
  for (std::string_view k : kKinds) {
    if (k == kind) return true;
  }
  return false;
}

bool KindAccepted(const std::vector<std::string>& kinds, std::string_view kind) {
  if (kinds.empty()) return true;
  for (const std::string& k : kinds) {
    if (k == kind) return true;
    if (k.ends_with(".*") && kind.starts_with(std::string_view(k).substr(0, k.size() - 1))) {
      return true;
    }
  }
  return false;
}

std::string_view SeverityName(AlertSeverity s) {
  switch (s) {
    case AlertSeverity::kInfo:
      return "info";
    case AlertSeverity::kCritical:
      return "critical";
    case AlertSeverity::kWarning:
      break;
  }
  return "warning";
}

std::optional<AlertSeverity> ParseSeverity(std::string_view name) {
  for (AlertSeverity s :
       {AlertSeverity::kInfo, AlertSeverity::kWarning, AlertSeverity::kCritical}) {
    if (SeverityName(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace keyhold::audit
