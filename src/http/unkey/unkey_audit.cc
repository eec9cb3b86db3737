// UnkeyApi: the audit log (keyhold's own operations; Unkey keeps its audit log in its
// dashboard). Entries are written by the operations they record; these only read and check.
#include "audit/json.h"
#include "http/unkey/call.h"
#include "http/unkey/unkey_api.h"

namespace keyhold::http::unkey {

static constexpr StringRule kIdListRule{.min = 1, .max = 128};

HttpResponse UnkeyApi::ListAuditEvents(Call& c) {
  service::AuditFilter f;
  f.actor = c.r.String("actor", {.max = 128}).value_or("");
  f.action = c.r.String("action", {.max = 128}).value_or("");
  f.target = c.r.String("target", {.max = 256}).value_or("");
  f.since_ms = c.r.Int("since", {.min = 0, .max = 253402300799999});
  f.until_ms = c.r.Int("until", {.min = 0, .max = 253402300799999});
  int limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 1000}).value_or(100));
  std::string cursor = c.r.String("cursor", {.max = 32}).value_or("");
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, page, audit_.ListEvents(c.ctx, f, cursor, limit));
  json data = json::array();
  for (const auto& e : page->events) data.push_back(audit::EntryJson(e));
  return OkPage(c.id, data, page->cursor, page->has_more);
}

HttpResponse UnkeyApi::VerifyAuditChain(Call& c) {
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, report, audit_.VerifyChain(c.ctx));
  return Ok(c.id, audit::ReportJson(*report));
}

// --- analytics -----------------------------------------------------------------------------

HttpResponse UnkeyApi::GetVerifications(Call& c) {
  if (c.r.String("query", {.max = 100000})) {
    c.r.Error("body.query",
              "SQL queries are not supported by this server; ask with the structured fields",
              "send since, until, granularity, groupBy and the keyIds / identityIds / apiIds / "
              "outcomes filters instead");
  }
  service::VerificationQuery q;
  q.since_ms = c.r.Int("since", {.required = true, .min = 0, .max = 253402300799999}).value_or(0);
  q.until_ms = c.r.Int("until", {.min = 1, .max = 253402300799999}).value_or(0);
  std::string granularity = c.r.String("granularity", {.max = 16}).value_or("hour");
  if (granularity == "minute") {
    q.granularity = store::UsageGranularity::kMinute;
  } else if (granularity == "day") {
    q.granularity = store::UsageGranularity::kDay;
  } else if (granularity != "hour") {
    c.r.Error("body.granularity", "must be minute, hour or day", "");
  }
  if (auto group = c.r.Strings("groupBy", {.max = 16}, 5)) {
    q.group_by_time = q.group_by_outcome = false;
    for (const std::string& g : *group) {
      if (g == "time") {
        q.group_by_time = true;
      } else if (g == "key") {
        q.group_by_key = true;
      } else if (g == "identity") {
        q.group_by_identity = true;
      } else if (g == "api") {
        q.group_by_api = true;
      } else if (g == "outcome") {
        q.group_by_outcome = true;
      } else {
        c.r.Error("body.groupBy", "'" + g + "' is not one of time, key, identity, api, outcome",
                  "");
      }
    }
  }
  q.key_ids = c.r.Strings("keyIds", kIdListRule, 1000).value_or(std::vector<std::string>{});
  q.identity_ids =
      c.r.Strings("identityIds", kIdListRule, 1000).value_or(std::vector<std::string>{});
  q.api_ids = c.r.Strings("apiIds", kIdListRule, 1000).value_or(std::vector<std::string>{});
  q.outcomes = c.r.Strings("outcomes", {.max = 32}, 16).value_or(std::vector<std::string>{});
  q.limit = static_cast<int>(c.r.Int("limit", {.min = 1, .max = 100000}).value_or(1000));
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, rows, analytics_.GetVerifications(c.ctx, q));
  json data = json::array();
  for (const store::UsageCount& r : *rows) {
    json row = {{"count", r.count}};
    if (q.group_by_time) row["time"] = r.bucket_ms;
    if (q.group_by_key) row["keyId"] = r.key_id;
    if (q.group_by_identity) row["identityId"] = r.identity_id;
    if (q.group_by_api) row["apiId"] = r.api_id;
    if (q.group_by_outcome) row["outcome"] = r.outcome;
    data.push_back(std::move(row));
  }
  return Ok(c.id, data);
}

}  // namespace keyhold::http::unkey
