// The JSON form of an audit entry, as `audit.listEvents` answers it and `keyhold audit export`
// writes it (one object per line, with "type":"event"):
//   {"seq":7,"time":1767225600000,"actor":"key_…","action":"key.create","target":"key_…",
//    "outcome":"success","clientIp":"203.0.113.7","requestId":"req_…","details":{…},
//    "hash":"<64 hex>"}
// A copy kept outside keyhold can re-check every hash from these fields alone (audit/chain.h).
#pragma once

#include <nlohmann/json.hpp>

#include "audit/alert.h"
#include "audit/chain.h"
#include "audit/checkpoint.h"

namespace keyhold::audit {

// `details` is the stored JSON object, or the stored text as a string if it is not one.
nlohmann::json EntryJson(const AuditEntry& entry);

// The line `keyhold audit export` writes for `entry`: EntryJson with "type":"event", on one line.
// Never throws: a byte that is not UTF-8 (in any field) is written as U+FFFD, so one bad entry
// cannot stop an export. The entry's hash is over the stored bytes, so such a line does not
// re-check; the log itself (`audit verify`) still does.
std::string EntryLine(const AuditEntry& entry);

// `j` on one line, a byte that is not UTF-8 written as U+FFFD rather than thrown on.
std::string DumpLenient(const nlohmann::json& j);

// {"valid":bool,"entries":N,"checkpoints":N,"head":"<hex>","signer":"<hex>"|null,
//  "firstBad":{"seq":N,"reason":"…"}|null}
nlohmann::json ReportJson(const ChainReport& report);

// An alert as alerts.list answers it and a webhook's "data" carries it:
//   {"id":"alert_…","kind":"anomaly.spike","severity":"warning","summary":"…","keyId":"key_…"|null,
//    "apiId":…|null,"clientIp":…|null,"evidence":{…},"dedupeKey":…|null,"count":1,
//    "createdAt":ms,"acknowledgedAt":ms|null,"acknowledgedBy":"key_…"|null}
nlohmann::json AlertJson(const Alert& alert);

// `ms` since the epoch as ISO 8601 UTC with milliseconds: "2026-01-01T00:00:00.000Z".
std::string Iso8601(int64_t ms);

}  // namespace keyhold::audit
