// SqliteStore: usage counts. Each flush of the recorder appends one journal entry per minute it
// saw; when a minute is closed its rows are appended to usage_events and its rollups upserted
// (count = count + n) in the transaction that removes its journal entries. Queries read the
// rollups only.
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/statement.h"

namespace keyhold::store {

using sqlite::Access;
using sqlite::InTransaction;
using sqlite::Stmt;

namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;

int64_t BucketStart(int64_t t, int64_t size) {
  int64_t b = t - t % size;
  return t < 0 && t % size != 0 ? b - size : b;
}

// The SQL list "?,?,…" of n placeholders (n >= 1).
std::string Placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s;
}

// Appends `rows` to usage_events and adds them to the rollups; the caller holds the store's mutex
// and has a write transaction open.
Status WriteUsage(sqlite3* db, const std::vector<UsageRow>& rows) {
  using Key = std::tuple<int32_t, int64_t, std::string, std::string, std::string, std::string>;
  std::map<Key, int64_t> rollups;
  for (const UsageRow& r : rows) {
    const std::pair<UsageGranularity, int64_t> sizes[] = {{UsageGranularity::kMinute, kMinuteMs},
                                                          {UsageGranularity::kHour, kHourMs},
                                                          {UsageGranularity::kDay, kDayMs}};
    for (auto [g, size] : sizes) {
      rollups[{static_cast<int32_t>(g), BucketStart(r.second_ms, size), r.key_id, r.identity_id,
               r.api_id, r.outcome}] += r.count;
    }
  }
  Stmt add(db,
           "INSERT INTO usage_events (second_ms, key_id, identity_id, api_id, outcome, "
           "client_ip, route, tags, count) VALUES (?,?,?,?,?,?,?,?,?)");
  for (const UsageRow& r : rows) {
    add.Bind(1, r.second_ms);
    add.Bind(2, r.key_id);
    add.Bind(3, r.identity_id);
    add.Bind(4, r.api_id);
    add.Bind(5, r.outcome);
    add.Bind(6, r.client_ip);
    add.Bind(7, r.route);
    add.Bind(8, r.tags_json);
    add.Bind(9, r.count);
    KH_RETURN_IF_ERROR(add.Run(Access::kWrite, "record usage"));
  }
  Stmt roll(db,
            "INSERT INTO usage_rollups (granularity, bucket_ms, key_id, identity_id, api_id, "
            "outcome, count) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
            "count = count + excluded.count");
  for (const auto& [k, n] : rollups) {
    roll.Bind(1, int64_t{std::get<0>(k)});
    roll.Bind(2, std::get<1>(k));
    roll.Bind(3, std::get<2>(k));
    roll.Bind(4, std::get<3>(k));
    roll.Bind(5, std::get<4>(k));
    roll.Bind(6, std::get<5>(k));
    roll.Bind(7, n);
    KH_RETURN_IF_ERROR(roll.Run(Access::kWrite, "roll up usage"));
  }
  return OkStatus();
}

Status CheckCounts(const std::vector<UsageRow>& rows) {
  for (const UsageRow& r : rows) {
    if (r.count < 0) return InvalidArgument("usage counts cannot be negative");
  }
  return OkStatus();
}

// Appends `s` to `out` as a JSON string. Text that is not ASCII (a caller's route or tag) goes
// through the JSON library, which replaces invalid UTF-8.
void AppendJsonString(const std::string& s, std::string* out) {
  if (std::any_of(s.begin(), s.end(),
                  [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
    *out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  *out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (u < 0x20) {
      *out += "\\u00";
      *out += kHex[u >> 4];
      *out += kHex[u & 15];
    } else {
      *out += c;
    }
  }
  *out += '"';
}

// A journal entry: the rows of one minute as [[key, identity, api, outcome, address, route,
// tags, count], ...]. Written directly: a flush of a busy server journals thousands of rows.
std::string JournalText(const std::vector<const UsageRow*>& rows) {
  std::string out = "[";
  for (const UsageRow* r : rows) {
    if (out.size() > 1) out += ',';
    out += '[';
    for (const std::string* field : {&r->key_id, &r->identity_id, &r->api_id, &r->outcome,
                                     &r->client_ip, &r->route, &r->tags_json}) {
      AppendJsonString(*field, &out);
      out += ',';
    }
    out += std::to_string(r->count);
    out += ']';
  }
  out += ']';
  return out;
}

// Adds the rows of journal entry `text` (minute `minute_ms`) to `out`; false if it is not one.
bool ParseJournal(int64_t minute_ms, const std::string& text, std::vector<UsageRow>* out) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return false;
  size_t first = out->size();
  for (const auto& r : j) {
    // A count no flush could reach (2^40) is damage, not usage.
    bool ok = r.is_array() && r.size() == 8 && r[7].is_number_integer() &&
              r[7].get<int64_t>() >= 0 && r[7].get<int64_t>() < (int64_t{1} << 40);
    for (size_t i = 0; ok && i < 7; ++i) ok = r[i].is_string();
    if (!ok) {
      out->resize(first);
      return false;
    }
    out->push_back({minute_ms, r[0].get<std::string>(), r[1].get<std::string>(),
                    r[2].get<std::string>(), r[3].get<std::string>(), r[4].get<std::string>(),
                    r[5].get<std::string>(), r[6].get<std::string>(), r[7].get<int64_t>()});
  }
  return true;
}

}  // namespace

Status SqliteStore::RecordUsage(const std::vector<UsageRow>& rows) {
  if (rows.empty()) return OkStatus();
  KH_RETURN_IF_ERROR(CheckCounts(rows));
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&] { return WriteUsage(db_, rows); });
}

Status SqliteStore::JournalUsage(const std::vector<UsageRow>& rows) {
  if (rows.empty()) return OkStatus();
  KH_RETURN_IF_ERROR(CheckCounts(rows));
  std::map<int64_t, std::vector<const UsageRow*>> by_minute;
  for (const UsageRow& r : rows) {
    if (BucketStart(r.second_ms, kMinuteMs) != r.second_ms) {
      return InvalidArgument("journal rows must start on a minute");
    }
    by_minute[r.second_ms].push_back(&r);
  }
  std::vector<std::pair<int64_t, std::string>> entries;
  entries.reserve(by_minute.size());
  for (const auto& [minute, of_minute] : by_minute)
    entries.emplace_back(minute, JournalText(of_minute));
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt add(db_, "INSERT INTO usage_journal (minute_ms, rows) VALUES (?, ?)");
    for (const auto& [minute, text] : entries) {
      add.Bind(1, minute);
      add.Bind(2, text);
      KH_RETURN_IF_ERROR(add.Run(Access::kWrite, "journal usage"));
    }
    return OkStatus();
  });
}

StatusOr<UsageJournal> SqliteStore::ReadUsageJournal() {
  std::vector<std::pair<int64_t, std::string>> entries;
  {
    std::lock_guard lock(mu_);
    Stmt s(db_, "SELECT minute_ms, rows FROM usage_journal ORDER BY id");
    KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read usage journal", [&] {
      entries.emplace_back(s.Int(0), s.Text(1));
      return OkStatus();
    }));
  }
  UsageJournal out;
  for (const auto& [minute, text] : entries) {
    if (BucketStart(minute, kMinuteMs) != minute || !ParseJournal(minute, text, &out.rows)) {
      ++out.unreadable;
    }
  }
  return out;
}

Status SqliteStore::CloseUsage(int64_t before_ms, const std::vector<UsageRow>& rows) {
  KH_RETURN_IF_ERROR(CheckCounts(rows));
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    KH_RETURN_IF_ERROR(WriteUsage(db_, rows));
    Stmt done(db_, "DELETE FROM usage_journal WHERE minute_ms < ?");
    done.Bind(1, before_ms);
    return done.Run(Access::kWrite, "close usage journal");
  });
}

StatusOr<std::vector<UsageCount>> SqliteStore::QueryUsage(const UsageQuery& q) {
  if (q.limit < 1 || q.limit > kMaxUsageRows) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxUsageRows));
  }
  if (q.until_ms <= q.since_ms) return InvalidArgument("until must be after since");
  // Only these fixed column names ever reach the SQL text; every value is bound.
  std::vector<std::string> group;
  if (q.by_time) group.push_back("bucket_ms");
  if (q.by_key) group.push_back("key_id");
  if (q.by_identity) group.push_back("identity_id");
  if (q.by_api) group.push_back("api_id");
  if (q.by_outcome) group.push_back("outcome");
  std::string select = "SELECT ";
  for (const char* col : {"bucket_ms", "key_id", "identity_id", "api_id", "outcome"}) {
    bool grouped = std::find(group.begin(), group.end(), col) != group.end();
    bool numeric = std::string_view(col) == "bucket_ms";
    select += grouped ? std::string(col) + ", " : std::string(numeric ? "0, " : "'', ");
  }
  std::string sql = select +
                    "SUM(count) FROM usage_rollups WHERE granularity = ? AND bucket_ms >= ? "
                    "AND bucket_ms < ?";
  const std::pair<const char*, const std::vector<std::string>*> filters[] = {
      {"key_id", &q.key_ids},
      {"identity_id", &q.identity_ids},
      {"api_id", &q.api_ids},
      {"outcome", &q.outcomes}};
  for (const auto& [col, values] : filters) {
    if (!values->empty()) {
      sql += std::string(" AND ") + col + " IN (" + Placeholders(values->size()) + ")";
    }
  }
  if (!group.empty()) {
    std::string cols;
    for (const std::string& g : group) cols += (cols.empty() ? "" : ", ") + g;
    sql += " GROUP BY " + cols + " ORDER BY " + cols;
  }
  sql += " LIMIT ?";
  std::lock_guard lock(mu_);
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return sqlite::EngineError(db_, Access::kRead, "prepare usage query");
  int i = 1;
  s.Bind(i++, int64_t{static_cast<int32_t>(q.granularity)});
  s.Bind(i++, q.since_ms);
  s.Bind(i++, q.until_ms);
  for (const auto& [col, values] : filters) {
    for (const std::string& v : *values) s.Bind(i++, v);
  }
  s.Bind(i++, int64_t{q.limit});
  std::vector<UsageCount> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "query usage", [&] {
    if (s.IsNull(5)) return OkStatus();  // SUM over no rows
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Int(5)});
    return OkStatus();
  }));
  return out;
}

StatusOr<std::vector<UsageRow>> SqliteStore::ReadUsage(const std::string& key_id, int64_t since_ms,
                                                       int64_t until_ms, int limit) {
  if (limit < 1 || limit > kMaxUsageRows) {
    return InvalidArgument("limit must be between 1 and " + std::to_string(kMaxUsageRows));
  }
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT second_ms, key_id, identity_id, api_id, outcome, client_ip, route, tags, count "
         "FROM usage_events WHERE (? = '' OR key_id = ?) AND second_ms >= ? AND second_ms < ? "
         "ORDER BY second_ms DESC LIMIT ?");
  s.Bind(1, key_id);
  s.Bind(2, key_id);
  s.Bind(3, since_ms);
  s.Bind(4, until_ms);
  s.Bind(5, int64_t{limit});
  std::vector<UsageRow> out;
  KH_RETURN_IF_ERROR(s.ForEachRow(Access::kRead, "read usage", [&] {
    out.push_back({s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Text(4), s.Text(5), s.Text(6),
                   s.Text(7), s.Int(8)});
    return OkStatus();
  }));
  return out;
}

Status SqliteStore::PruneUsage(int64_t rows_before_ms, int64_t hours_before_ms,
                               int64_t days_before_ms) {
  std::lock_guard lock(mu_);
  return InTransaction(db_, Access::kWrite, [&]() -> Status {
    Stmt rows(db_, "DELETE FROM usage_events WHERE second_ms < ?");
    rows.Bind(1, rows_before_ms);
    KH_RETURN_IF_ERROR(rows.Run(Access::kWrite, "prune usage"));
    Stmt roll(db_, "DELETE FROM usage_rollups WHERE granularity = ? AND bucket_ms < ?");
    const std::pair<UsageGranularity, int64_t> horizons[] = {
        {UsageGranularity::kMinute, rows_before_ms},
        {UsageGranularity::kHour, hours_before_ms},
        {UsageGranularity::kDay, days_before_ms}};
    for (auto [g, before] : horizons) {
      roll.Bind(1, int64_t{static_cast<int32_t>(g)});
      roll.Bind(2, before);
      KH_RETURN_IF_ERROR(roll.Run(Access::kWrite, "prune usage rollups"));
    }
    return OkStatus();
  });
}

}  // namespace keyhold::store
