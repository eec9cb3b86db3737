// UnkeyApi: the audit log (keyhold's own operations; Unkey keeps its audit log in its
// dashboard). Entries are written by the operations they record; these only read and check.
#include "audit/json.h"
#include "http/unkey/call.h"
#include "http/unkey/unkey_api.h"

namespace keyhold::http::unkey {

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

}  // namespace keyhold::http::unkey
