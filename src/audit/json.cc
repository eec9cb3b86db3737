#include "audit/json.h"

#include <cstdio>
#include <ctime>

#include "crypto/crypto.h"

namespace keyhold::audit {

nlohmann::json EntryJson(const AuditEntry& e) {
  using nlohmann::json;
  json details = e.details_json.empty()
                     ? json::object()
                     : json::parse(e.details_json, nullptr, /*allow_exceptions=*/false);
  if (details.is_discarded()) details = e.details_json;  // shown as stored, never dropped
  return {{"seq", e.seq},
          {"time", e.time_ms},
          {"actor", e.actor},
          {"action", e.action},
          {"target", e.target},
          {"outcome", e.outcome},
          {"clientIp", e.client_ip},
          {"requestId", e.request_id},
          {"details", std::move(details)},
          {"hash", crypto::HexEncode(e.hash)}};
}

std::string EntryLine(const AuditEntry& entry) {
  nlohmann::json j = EntryJson(entry);
  j["type"] = "event";
  return DumpLenient(j);
}

std::string DumpLenient(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json ReportJson(const ChainReport& r) {
  using nlohmann::json;
  json first_bad = nullptr;
  if (r.first_bad) first_bad = {{"seq", r.first_bad->seq}, {"reason", r.first_bad->reason}};
  return {{"valid", !r.first_bad.has_value()},
          {"entries", r.entries},
          {"checkpoints", r.checkpoints},
          {"head", crypto::HexEncode(r.head)},
          {"signer", r.signer ? json(crypto::HexEncode(*r.signer)) : json(nullptr)},
          {"firstBad", std::move(first_bad)}};
}

}  // namespace keyhold::audit

namespace keyhold::audit {

nlohmann::json AlertJson(const Alert& a) {
  using nlohmann::json;
  auto or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
  json evidence = json::parse(a.evidence_json, nullptr, false);
  if (evidence.is_discarded()) evidence = json::object();
  return {{"id", a.id},
          {"kind", a.kind},
          {"severity", SeverityName(a.severity)},
          {"summary", a.summary},
          {"keyId", or_null(a.key_id)},
          {"apiId", or_null(a.api_id)},
          {"clientIp", or_null(a.client_ip)},
          {"evidence", std::move(evidence)},
          {"dedupeKey", or_null(a.dedupe_key)},
          {"count", a.count},
          {"createdAt", a.created_at_ms},
          {"acknowledgedAt", a.acknowledged_at_ms ? json(*a.acknowledged_at_ms) : json(nullptr)},
          {"acknowledgedBy", or_null(a.acknowledged_by)}};
}

std::string Iso8601(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms - secs * 1000));
  return buf;
}

}  // namespace keyhold::audit
