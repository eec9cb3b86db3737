#include "audit/json.h"

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
