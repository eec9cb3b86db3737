// SqliteStore: the alert outbox. An alert and its deliveries are written in one transaction, so
// an alert is never stored without the deliveries it is owed, and a delivery's outcome is stored
// before the worker moves on (store/store.h "alerts and webhooks").
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "store/sqlite/audit_log.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::InTransaction;
using sqlite::Stmt;

std::string DeliveryId(std::string_view alert_id, std::string_view endpoint_id) {
  auto tail = [](std::string_view id) {
    size_t us = id.find('_');
    return us == std::string_view::npos ? id : id.substr(us + 1);
  };
  return "msg_" + std::string(tail(alert_id)) + std::string(tail(endpoint_id));
}

namespace {

constexpr char kAlertColumns[] =
    "id, kind, severity, summary, key_id, api_id, client_ip, evidence, dedupe_key, count, "
    "created_at, acknowledged_at, acknowledged_by";
constexpr char kEndpointColumns[] =
    "id, url, description, kinds, enabled, secret, previous_secret, previous_secret_until, "
    "disabled_reason, created_at, updated_at";
constexpr char kDeliveryColumns[] =
    "id, alert_id, endpoint_id, status, attempts, next_attempt_at, last_status, last_error, "
    "created_at, updated_at";

audit::Alert ReadAlert(const Stmt& s) {
  audit::Alert a;
  a.id = s.Text(0);
  a.kind = s.Text(1);
  a.severity = static_cast<audit::AlertSeverity>(s.Int(2));
  a.summary = s.Text(3);
  a.key_id = s.Text(4);
  a.api_id = s.Text(5);
  a.client_ip = s.Text(6);
  a.evidence_json = s.Text(7);
  a.dedupe_key = s.Text(8);
  a.count = s.Int(9);
  a.created_at_ms = s.Int(10);
  a.acknowledged_at_ms = s.OptInt(11);
  a.acknowledged_by = s.Text(12);
  return a;
}

std::vector<uint8_t> ReadBlob(const Stmt& s, int c) {
  int size = 0;
  const auto* p = static_cast<const uint8_t*>(s.Blob(c, &size));
  return p ? std::vector<uint8_t>(p, p + size) : std::vector<uint8_t>();
}

Status ReadEndpoint(const Stmt& s, WebhookEndpointRecord& e) {
  e.id = s.Text(0);
  e.url = s.Text(1);
  e.description = s.Text(2);
  auto kinds = nlohmann::json::parse(s.View(3), nullptr, false);
  if (!kinds.is_array()) {
    return Internal("a webhook endpoint in the store is corrupt").WithLogDetail("kinds");
  }
  for (const auto& k : kinds) {
    if (k.is_string()) e.kinds.push_back(k.get<std::string>());
  }
  e.enabled = s.Int(4) != 0;
  e.secret_sealed = ReadBlob(s, 5);
  e.previous_secret_sealed = ReadBlob(s, 6);
  e.previous_secret_until_ms = s.OptInt(7);
  e.disabled_reason = s.Text(8);
  e.created_at_ms = s.Int(9);
  e.updated_at_ms = s.Int(10);
  return OkStatus();
}

DeliveryRecord ReadDelivery(const Stmt& s) {
  DeliveryRecord d;
  d.id = s.Text(0);
  d.alert_id = s.Text(1);
  d.endpoint_id = s.Text(2);
  d.status = static_cast<DeliveryStatus>(s.Int(3));
  d.attempts = static_cast<int32_t>(s.Int(4));
  d.next_attempt_ms = s.Int(5);
  d.last_http_status = static_cast<int32_t>(s.Int(6));
  d.last_error = s.Text(7);
  d.created_at_ms = s.Int(8);
  d.updated_at_ms = s.Int(9);
  return d;
}

Status CheckLimit(int limit) {
  if (limit < 1 || limit > kMaxAlertsPage) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxAlertsPage));
  }
  return OkStatus();
}

Status AppendOne(sqlite3* db, const audit::AuditEntry* audit) {
  if (!audit) return OkStatus();
  return sqlite::AppendAudit(db, {*audit});
}

// The open alert `alert` is a repeat of, if any. REQUIRES: a transaction on `db`.
StatusOr<std::string> OpenDuplicate(sqlite3* db, const audit::Alert& alert, int64_t since_ms) {
  if (alert.dedupe_key.empty()) return std::string();
  Stmt s(db,
         "SELECT id FROM alerts WHERE dedupe_key = ? AND acknowledged_at IS NULL AND "
         "created_at >= ? ORDER BY created_at DESC LIMIT 1");
  s.Bind(1, alert.dedupe_key);
  s.Bind(2, since_ms);
  std::string id;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kWrite, "find open alert", [&] {
    id = s.Text(0);
    return OkStatus();
  }));
  return id;
}

Status InsertAlertRow(sqlite3* db, const audit::Alert& a) {
  Stmt s(db, (std::string("INSERT INTO alerts (") + kAlertColumns +
              ") VALUES (?,?,?,?,?,?,?,?,?,?,?,NULL,'')")
                 .c_str());
  s.Bind(1, a.id);
  s.Bind(2, a.kind);
  s.Bind(3, int64_t{static_cast<int32_t>(a.severity)});
  s.Bind(4, a.summary);
  s.Bind(5, a.key_id);
  s.Bind(6, a.api_id);
  s.Bind(7, a.client_ip);
  s.Bind(8, a.evidence_json);
  s.Bind(9, a.dedupe_key);
  s.Bind(10, a.count);
  s.Bind(11, a.created_at_ms);
  return s.Run(Access::kWrite, "insert alert");
}

// The endpoints an alert goes to. REQUIRES: a transaction on `db`.
StatusOr<std::vector<std::string>> Recipients(sqlite3* db, const audit::Alert& a,
                                              const std::string& only_endpoint_id) {
  Stmt s(db, "SELECT id, kinds, enabled FROM webhook_endpoints ORDER BY id");
  std::vector<std::string> out;
  bool found_only = false;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kWrite, "read webhook endpoints", [&] {
    std::string id = s.Text(0);
    if (!only_endpoint_id.empty()) {
      if (id == only_endpoint_id) {
        found_only = true;
        out.push_back(id);
      }
      return OkStatus();
    }
    auto kinds = nlohmann::json::parse(s.View(1), nullptr, false);
    std::vector<std::string> filter;
    if (kinds.is_array()) {
      for (const auto& k : kinds) {
        if (k.is_string()) filter.push_back(k.get<std::string>());
      }
    }
    if (s.Int(2) != 0 && audit::KindAccepted(filter, a.kind)) out.push_back(id);
    return OkStatus();
  }));
  if (!only_endpoint_id.empty() && !found_only) return NotFound("no such webhook endpoint");
  return out;
}

Status InsertDeliveries(sqlite3* db, const audit::Alert& a, const std::vector<std::string>& to) {
  Stmt s(db, (std::string("INSERT INTO webhook_deliveries (") + kDeliveryColumns +
              ") VALUES (?,?,?,?,0,?,0,'',?,?)")
                 .c_str());
  for (const std::string& endpoint : to) {
    s.Bind(1, DeliveryId(a.id, endpoint));
    s.Bind(2, a.id);
    s.Bind(3, endpoint);
    s.Bind(4, int64_t{static_cast<int32_t>(DeliveryStatus::kPending)});
    s.Bind(5, a.created_at_ms);
    s.Bind(6, a.created_at_ms);
    s.Bind(7, a.created_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "insert webhook delivery"));
  }
  return OkStatus();
}

}  // namespace

StatusOr<audit::RaiseOutcome> SqliteStore::RaiseAlert(const audit::Alert& alert,
                                                      int64_t dedupe_since_ms,
                                                      const std::string& only_endpoint_id) {
  audit::RaiseOutcome out;
  std::lock_guard lock(mu_);
  Status st = InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_ASSIGN_OR_RETURN(std::string open, OpenDuplicate(db_, alert, dedupe_since_ms));
    if (!open.empty()) {
      Stmt s(db_, "UPDATE alerts SET count = count + ? WHERE id = ?");
      s.Bind(1, alert.count);
      s.Bind(2, open);
      out = {open, true, 0};
      return s.Run(Access::kWrite, "count repeated alert");
    }
    KH_ASSIGN_OR_RETURN(auto to, Recipients(db_, alert, only_endpoint_id));
    KH_RETURN_IF_ERROR(InsertAlertRow(db_, alert));
    KH_RETURN_IF_ERROR(InsertDeliveries(db_, alert, to));
    out = {alert.id, false, static_cast<int>(to.size())};
    return OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<std::vector<audit::Alert>> SqliteStore::ListAlerts(const AlertQuery& q) {
  KH_RETURN_IF_ERROR(CheckLimit(q.limit));
  std::string sql = std::string("SELECT ") + kAlertColumns +
                    " FROM alerts WHERE (? = '' OR kind = ?) AND (? = '' OR id < ?) "
                    "AND (? IS NULL OR created_at >= ?) ";
  if (q.acknowledged) {
    sql += *q.acknowledged ? "AND acknowledged_at IS NOT NULL " : "AND acknowledged_at IS NULL ";
  }
  sql += "ORDER BY id DESC LIMIT ?";
  std::lock_guard lock(mu_);
  Stmt s(db_, sql.c_str());
  s.Bind(1, q.kind);
  s.Bind(2, q.kind);
  s.Bind(3, q.before_id);
  s.Bind(4, q.before_id);
  s.Bind(5, q.since_ms);
  s.Bind(6, q.since_ms);
  s.Bind(7, int64_t{q.limit});
  std::vector<audit::Alert> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list alerts", [&] {
    out.push_back(ReadAlert(s));
    return OkStatus();
  }));
  return out;
}

StatusOr<audit::Alert> SqliteStore::GetAlert(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE id = ?").c_str());
  s.Bind(1, id);
  std::optional<audit::Alert> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read alert", [&] {
    found = ReadAlert(s);
    return OkStatus();
  }));
  if (!found) return NotFound("no such alert");
  return *found;
}

Status SqliteStore::AcknowledgeAlert(const std::string& id, const std::string& by, int64_t at_ms,
                                     const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_,
           "UPDATE alerts SET acknowledged_at = ?, acknowledged_by = ? "
           "WHERE id = ? AND acknowledged_at IS NULL");
    s.Bind(1, at_ms);
    s.Bind(2, by);
    s.Bind(3, id);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "acknowledge alert"));
    if (sqlite3_changes(db_) == 0) {
      Stmt exists(db_, "SELECT 1 FROM alerts WHERE id = ?");
      exists.Bind(1, id);
      bool found = false;
      KH_RETURN_IF_ERROR(exists.ForEachRow(Access::kWrite, "read alert", [&] {
        found = true;
        return OkStatus();
      }));
      return found ? OkStatus() : NotFound("no such alert");
    }
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::PutWebhookEndpoint(const WebhookEndpointRecord& e,
                                       const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, (std::string("INSERT OR REPLACE INTO webhook_endpoints (") + kEndpointColumns +
                 ") VALUES (?,?,?,?,?,?,?,?,?,?,?)")
                    .c_str());
    s.Bind(1, e.id);
    s.Bind(2, e.url);
    s.Bind(3, e.description);
    s.Bind(4, nlohmann::json(e.kinds).dump());
    s.Bind(5, int64_t{e.enabled ? 1 : 0});
    s.Bind(6, std::span<const uint8_t>(e.secret_sealed));
    if (e.previous_secret_sealed.empty()) {
      s.BindNull(7);
    } else {
      s.Bind(7, std::span<const uint8_t>(e.previous_secret_sealed));
    }
    s.Bind(8, e.previous_secret_until_ms);
    s.Bind(9, e.disabled_reason);
    s.Bind(10, e.created_at_ms);
    s.Bind(11, e.updated_at_ms);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "put webhook endpoint"));
    return AppendOne(db_, audit);
  });
}

Status SqliteStore::DeleteWebhookEndpoint(const std::string& id, const audit::AuditEntry* audit) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt s(db_, "DELETE FROM webhook_endpoints WHERE id = ?");
    s.Bind(1, id);
    KH_RETURN_IF_ERROR(s.Run(Access::kWrite, "delete webhook endpoint"));
    if (sqlite3_changes(db_) == 0) return NotFound("no such webhook endpoint");
    Stmt d(db_, "DELETE FROM webhook_deliveries WHERE endpoint_id = ?");
    d.Bind(1, id);
    KH_RETURN_IF_ERROR(d.Run(Access::kWrite, "delete webhook deliveries"));
    return AppendOne(db_, audit);
  });
}

StatusOr<std::vector<WebhookEndpointRecord>> SqliteStore::ListWebhookEndpoints() {
  std::lock_guard lock(mu_);
  Stmt s(
      db_,
      (std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints ORDER BY id").c_str());
  std::vector<WebhookEndpointRecord> out;
  Status st = s.ForEachRow(Access::kRead, "list webhook endpoints", [&] {
    WebhookEndpointRecord e;
    Status read = ReadEndpoint(s, e);
    out.push_back(std::move(e));
    return read;
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<WebhookEndpointRecord> SqliteStore::GetWebhookEndpoint(const std::string& id) {
  std::lock_guard lock(mu_);
  Stmt s(
      db_,
      (std::string("SELECT ") + kEndpointColumns + " FROM webhook_endpoints WHERE id = ?").c_str());
  s.Bind(1, id);
  std::optional<WebhookEndpointRecord> found;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read webhook endpoint", [&] {
    found.emplace();
    return ReadEndpoint(s, *found);
  }));
  if (!found) return NotFound("no such webhook endpoint");
  return *found;
}

StatusOr<std::vector<DeliveryRecord>> SqliteStore::DueDeliveries(int64_t now_ms, int limit) {
  KH_RETURN_IF_ERROR(CheckLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kDeliveryColumns +
               " FROM webhook_deliveries WHERE status = 1 AND next_attempt_at <= ? "
               "ORDER BY next_attempt_at, id LIMIT ?")
                  .c_str());
  s.Bind(1, now_ms);
  s.Bind(2, int64_t{limit});
  std::vector<DeliveryRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read due deliveries", [&] {
    out.push_back(ReadDelivery(s));
    return OkStatus();
  }));
  return out;
}

StatusOr<int64_t> SqliteStore::CountPendingDeliveries() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 1");
  int64_t n = 0;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "count pending deliveries", [&] {
    n = s.Int(0);
    return OkStatus();
  }));
  return n;
}

StatusOr<std::vector<DeliveryRecord>> SqliteStore::ListDeliveries(const std::string& endpoint_id,
                                                                  int limit) {
  KH_RETURN_IF_ERROR(CheckLimit(limit));
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kDeliveryColumns +
               " FROM webhook_deliveries WHERE endpoint_id = ? "
               "ORDER BY created_at DESC, id DESC LIMIT ?")
                  .c_str());
  s.Bind(1, endpoint_id);
  s.Bind(2, int64_t{limit});
  std::vector<DeliveryRecord> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "list deliveries", [&] {
    out.push_back(ReadDelivery(s));
    return OkStatus();
  }));
  return out;
}

Status SqliteStore::RecordDeliveryAttempt(const DeliveryRecord& d) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt cur(db_, "SELECT status FROM webhook_deliveries WHERE id = ?");
    cur.Bind(1, d.id);
    std::optional<int64_t> status;
    KH_RETURN_IF_ERROR(cur.ForEachRow(Access::kWrite, "read delivery", [&] {
      status = cur.Int(0);
      return OkStatus();
    }));
    if (!status) return NotFound("no such delivery");
    if (*status == static_cast<int32_t>(DeliveryStatus::kDelivered)) {
      return FailedPrecondition("the delivery was already made");
    }
    Stmt s(db_,
           "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
           "last_status = ?, last_error = ?, updated_at = ? WHERE id = ?");
    s.Bind(1, int64_t{static_cast<int32_t>(d.status)});
    s.Bind(2, int64_t{d.attempts});
    s.Bind(3, d.next_attempt_ms);
    s.Bind(4, int64_t{d.last_http_status});
    s.Bind(5, d.last_error);
    s.Bind(6, d.updated_at_ms);
    s.Bind(7, d.id);
    return s.Run(Access::kWrite, "record delivery attempt");
  });
}

Status SqliteStore::PruneAlerts(int64_t before_ms) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt d(db_, "DELETE FROM webhook_deliveries WHERE status != 1 AND updated_at < ?");
    d.Bind(1, before_ms);
    KH_RETURN_IF_ERROR(d.Run(Access::kWrite, "prune deliveries"));
    Stmt a(db_,
           "DELETE FROM alerts WHERE acknowledged_at IS NOT NULL AND created_at < ? AND id NOT "
           "IN (SELECT alert_id FROM webhook_deliveries)");
    a.Bind(1, before_ms);
    return a.Run(Access::kWrite, "prune alerts");
  });
}

}  // namespace keyhold::store
