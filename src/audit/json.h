// The JSON form of an audit entry, as `audit.listEvents` answers it and `keyhold audit export`
// writes it (one object per line, with "type":"event"):
//   {"seq":7,"time":1767225600000,"actor":"key_…","action":"key.create","target":"key_…",
//    "outcome":"success","clientIp":"203.0.113.7","requestId":"req_…","details":{…},
//    "hash":"<64 hex>"}
// A copy kept outside keyhold can re-check every hash from these fields alone (audit/chain.h).
#pragma once

#include <nlohmann/json.hpp>

#include "audit/chain.h"
#include "audit/checkpoint.h"

namespace keyhold::audit {

// `details` is the stored JSON object, or the stored text as a string if it is not one.
nlohmann::json EntryJson(const AuditEntry& entry);

// {"valid":bool,"entries":N,"checkpoints":N,"head":"<hex>","signer":"<hex>"|null,
//  "firstBad":{"seq":N,"reason":"…"}|null}
nlohmann::json ReportJson(const ChainReport& report);

}  // namespace keyhold::audit
