#include "http/unkey/wire.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>

#include "core/base62.h"
#include "core/json_names.h"
#include "http/json_response.h"
#include "service/secrets.h"

namespace keyhold::http::unkey {

static const char* kErrorTypeBase = "https://keyhold.dev/docs/errors/";

BodyReader::BodyReader(const json& object, std::string location, std::vector<FieldError>* errors)
    : object_(object), location_(std::move(location)), errors_(errors) {}

void BodyReader::Error(std::string location, std::string message, std::string fix) {
  errors_->push_back({std::move(location), std::move(message), std::move(fix)});
}

bool BodyReader::Has(const char* name) const { return object_.contains(name); }

bool BodyReader::IsNull(const char* name) const {
  auto it = object_.find(name);
  return it != object_.end() && it->is_null();
}

const json* BodyReader::Field(const char* name) {
  seen_.emplace_back(name);
  auto it = object_.find(name);
  if (it == object_.end()) return nullptr;
  return &*it;
}

std::optional<std::string> BodyReader::String(const char* name, StringRule rule) {
  const json* v = Field(name);
  if (!v || v->is_null()) {
    if (rule.required) Error(Location(name), "is required", "add the field " + std::string(name));
    return std::nullopt;
  }
  if (!v->is_string()) {
    Error(Location(name), "must be a string");
    return std::nullopt;
  }
  const std::string& s = v->get_ref<const std::string&>();
  if (s.size() < rule.min || s.size() > rule.max) {
    Error(Location(name), "must be " + std::to_string(rule.min) + " to " +
                              std::to_string(rule.max) + " characters long");
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> BodyReader::Int(const char* name, IntRule rule) {
  const json* v = Field(name);
  if (!v || v->is_null()) {
    if (rule.required) Error(Location(name), "is required");
    return std::nullopt;
  }
  int64_t out = 0;
  if (v->is_number_integer() && !v->is_number_unsigned()) {
    out = v->get<int64_t>();
  } else if (v->is_number_unsigned() && v->get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)) {
    out = static_cast<int64_t>(v->get<uint64_t>());
  } else if (v->is_number_float()) {
    double d = v->get<double>();
    if (d != static_cast<double>(static_cast<int64_t>(std::clamp(d, -9e18, 9e18))) ||
        std::abs(d) > 9e15) {
      Error(Location(name), "must be a whole number between " + std::to_string(rule.min) + " and " +
                                std::to_string(rule.max));
      return std::nullopt;
    }
    out = static_cast<int64_t>(d);
  } else if (v->is_number()) {
    Error(Location(name), "is out of range");
    return std::nullopt;
  } else {
    Error(Location(name), "must be an integer");
    return std::nullopt;
  }
  if (out < rule.min || out > rule.max) {
    Error(Location(name),
          "must be between " + std::to_string(rule.min) + " and " + std::to_string(rule.max));
    return std::nullopt;
  }
  return out;
}

std::optional<bool> BodyReader::Bool(const char* name, bool required) {
  const json* v = Field(name);
  if (!v || v->is_null()) {
    if (required) Error(Location(name), "is required");
    return std::nullopt;
  }
  if (!v->is_boolean()) {
    Error(Location(name), "must be a boolean");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<std::vector<std::string>> BodyReader::Strings(const char* name, StringRule item,
                                                            size_t max_items, bool required) {
  const json* v = Array(name, max_items, required);
  if (!v) return std::nullopt;
  std::vector<std::string> out;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string loc = Location(name) + "[" + std::to_string(i) + "]";
    if (!e.is_string()) {
      Error(loc, "must be a string");
      return std::nullopt;
    }
    const std::string& s = e.get_ref<const std::string&>();
    if (s.size() < std::max<size_t>(item.min, 1) || s.size() > item.max) {
      Error(loc, "must be 1 to " + std::to_string(item.max) + " characters long");
      return std::nullopt;
    }
    out.push_back(s);
  }
  return out;
}

std::optional<std::string> BodyReader::ObjectText(const char* name, size_t max_bytes) {
  const json* v = Object(name);
  if (!v) return std::nullopt;
  std::string text = v->dump();
  if (text.size() > max_bytes) {
    Error(Location(name), "must be at most " + std::to_string(max_bytes / 1024) + " KiB as JSON");
    return std::nullopt;
  }
  return text;
}

const json* BodyReader::Object(const char* name, bool required) {
  const json* v = Field(name);
  if (!v || v->is_null()) {
    if (required) Error(Location(name), "is required");
    return nullptr;
  }
  if (!v->is_object()) {
    Error(Location(name), "must be an object");
    return nullptr;
  }
  return v;
}

const json* BodyReader::Array(const char* name, size_t max_items, bool required) {
  const json* v = Field(name);
  if (!v || v->is_null()) {
    if (required) Error(Location(name), "is required");
    return nullptr;
  }
  if (!v->is_array()) {
    Error(Location(name), "must be an array");
    return nullptr;
  }
  if (v->size() > max_items) {
    Error(Location(name), "must have at most " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return v;
}

void BodyReader::Finish() {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (std::find(seen_.begin(), seen_.end(), it.key()) == seen_.end()) {
      Error(location_ + "." + it.key(), "is not a known field", "remove the field");
    }
  }
}

// --- envelopes ----------------------------------------------------------------------------

// {"meta":{"requestId":…},"data":…[,"pagination":…]} written around data's own serialization:
// an initializer list would deep-copy the whole document first.
static HttpResponse Envelope(const std::string& request_id, const json& data,
                             const json* pagination) {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", "application/json");
  std::string& out = r.body;
  out.reserve(256);
  out += R"({"meta":{"requestId":")";
  out += request_id;  // [A-Za-z0-9_] only: no escaping needed
  out += R"("},"data":)";
  out += data.dump(-1, ' ', false, json::error_handler_t::replace);
  if (pagination) {
    out += R"(,"pagination":)";
    out += pagination->dump();
  }
  out += '}';
  return r;
}

HttpResponse Ok(const std::string& request_id, const json& data) {
  return Envelope(request_id, data, nullptr);
}

HttpResponse OkText(const std::string& request_id, std::string_view data_text) {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", "application/json");
  std::string& out = r.body;
  out.reserve(48 + request_id.size() + data_text.size());
  out += R"({"meta":{"requestId":")";
  out += request_id;  // [A-Za-z0-9_] only: no escaping needed
  out += R"("},"data":)";
  out += data_text;
  out += '}';
  return r;
}

void AppendJsonString(std::string& out, std::string_view s) {
  // Printable ASCII other than '"' and '\\' is written as it is; anything else (escapes,
  // UTF-8, invalid bytes) the way json writes it.
  bool plain = true;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (!plain) {
    out += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

void JsonWriter::Name(std::string_view name) {
  if (!first_) out_ += ',';
  first_ = false;
  AppendJsonString(out_, name);
  out_ += ':';
}

JsonWriter& JsonWriter::Bool(std::string_view name, bool v) {
  Name(name);
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Int(std::string_view name, int64_t v) {
  Name(name);
  out_ += std::to_string(v);
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view name, std::string_view v) {
  Name(name);
  AppendJsonString(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Strings(std::string_view name, const std::vector<std::string>& v) {
  Name(name);
  out_ += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out_ += ',';
    AppendJsonString(out_, v[i]);
  }
  out_ += ']';
  return *this;
}

JsonWriter& JsonWriter::Value(std::string_view name, const json& v) {
  Name(name);
  out_ += v.dump(-1, ' ', false, json::error_handler_t::replace);
  return *this;
}

HttpResponse OkPage(const std::string& request_id, const json& data, const std::string& cursor,
                    bool has_more) {
  json pagination = {{"hasMore", has_more}};
  if (!cursor.empty()) pagination["cursor"] = cursor;
  return Envelope(request_id, data, &pagination);
}

static const char* TitleFor(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 431:
      return "Request Header Fields Too Large";
    case 429:
      return "Too Many Requests";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

// The error envelope; `errors` (400 only) lists what was wrong where.
static HttpResponse ErrorEnvelope(const std::string& request_id, int http_status,
                                  const std::string& reason, const std::string& detail,
                                  json errors) {
  json err = {{"title", TitleFor(http_status)},
              {"detail", detail},
              {"status", http_status},
              {"type", kErrorTypeBase + reason}};
  if (http_status == 400) err["errors"] = errors.is_array() ? std::move(errors) : json::array();
  return JsonResponse(http_status, {{"meta", {{"requestId", request_id}}}, {"error", err}});
}

HttpResponse ErrorWith(const std::string& request_id, int http_status, const std::string& reason,
                       const std::string& detail) {
  return ErrorEnvelope(request_id, http_status, reason, detail, nullptr);
}

HttpResponse Error(const std::string& request_id, const Status& status) {
  // What the engine said stays in the log, under the request id the client is given.
  if (!status.log_detail().empty()) {
    spdlog::error("{} {}: {}", request_id, status.reason(), status.log_detail());
  }
  json errors = nullptr;
  if (status.code() == StatusCode::kInvalidArgument) {
    // Service-level validation: name no field more precisely than the body.
    errors = json::array({{{"location", "body"}, {"message", status.message()}}});
  }
  HttpResponse r = ErrorEnvelope(request_id, HttpStatusFor(status.code()), status.reason(),
                                 status.message(), std::move(errors));
  // Too many secret reads wait for their audit entries: a moment's wait is enough.
  if (status.reason() == service::kReadsBackloggedReason) {
    r.headers.emplace_back("Retry-After", "1");
  }
  return r;
}

HttpResponse BadRequest(const std::string& request_id, const std::vector<FieldError>& errors) {
  // A body of 100,000 unknown fields must not earn an answer ten times its size.
  constexpr size_t kMaxListed = 20;
  json list = json::array();
  for (const FieldError& e : errors) {
    if (list.size() == kMaxListed) {
      list.push_back({{"location", "body"},
                      {"message", "and " + std::to_string(errors.size() - kMaxListed) +
                                      " more problems, not listed"}});
      break;
    }
    json item = {{"location", e.location}, {"message", e.message}};
    if (!e.fix.empty()) item["fix"] = e.fix;
    list.push_back(item);
  }
  std::string detail = errors.empty() ? "the request is invalid"
                                      : errors.front().location + " " + errors.front().message;
  return ErrorEnvelope(request_id, 400, "application/invalid_input", detail, std::move(list));
}

// --- request framing ----------------------------------------------------------------------

namespace {

// The common request body, a flat object of plain strings (`{"key":"sk_..."}`), parsed without
// the general parser: true and `*out` set if `text` is one, with every name and value printable
// ASCII without escapes; false, `*out` untouched, for anything else, which the general parser
// then reads (it gives the same answer for what this accepts, and its own errors for the rest).
bool ParsePlainStringObject(std::string_view text, json* out, bool* duplicate) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  auto plain_string = [&](std::string_view* s) {
    if (i >= text.size() || text[i] != '"') return false;
    const size_t start = ++i;
    while (i < text.size() && text[i] != '"') {
      const auto c = static_cast<unsigned char>(text[i]);
      if (c < 0x20 || c > 0x7e || c == '\\') return false;
      ++i;
    }
    if (i >= text.size()) return false;
    *s = text.substr(start, i - start);
    ++i;  // the closing quote
    return true;
  };
  skip_space();
  if (i >= text.size() || text[i] != '{') return false;
  ++i;
  json object(json::value_t::object);
  skip_space();
  if (i < text.size() && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      std::string_view name, value;
      skip_space();
      if (!plain_string(&name)) return false;
      skip_space();
      if (i >= text.size() || text[i] != ':') return false;
      ++i;
      skip_space();
      if (!plain_string(&value)) return false;
      if (!object.emplace(std::string(name), std::string(value)).second) {
        *duplicate = true;
        *out = json(json::value_t::discarded);
        return true;
      }
      skip_space();
      if (i < text.size() && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < text.size() && text[i] == '}') {
        ++i;
        break;
      }
      return false;
    }
  }
  skip_space();
  if (i != text.size()) return false;
  *out = std::move(object);
  return true;
}

}  // namespace

json ParseJsonStrict(std::string_view text, bool* duplicate) {
  *duplicate = false;
  if (json plain; ParsePlainStringObject(text, &plain, duplicate)) return plain;
  // Two linear passes: names first (NamesMemberTwice), then the document.
  if (NamesMemberTwice<json>(text)) {
    *duplicate = true;
    return json(json::value_t::discarded);
  }
  return json::parse(text, nullptr, /*allow_exceptions=*/false);
}

bool JsonDepthExceeds(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (in_string) {
      if (ch == '\\') {
        ++i;  // whatever is escaped cannot end the string
      } else if (ch == '"') {
        in_string = false;
      }
    } else if (ch == '"') {
      in_string = true;
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth) return true;
    } else if (ch == ']' || ch == '}') {
      --depth;
    }
  }
  return false;
}

// --- record forms -------------------------------------------------------------------------

json MetaJson(const std::string& meta_text) {
  if (meta_text.empty()) return nullptr;
  json v = json::parse(meta_text, nullptr, false);
  return v.is_object() ? v : json(nullptr);
}

json RatelimitJson(const service::Ratelimit& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"limit", r.limit},
          {"duration", r.duration_ms},
          {"autoApply", r.auto_apply}};
}

static json RatelimitsJson(const std::vector<service::Ratelimit>& rls) {
  json arr = json::array();
  for (const auto& r : rls) arr.push_back(RatelimitJson(r));
  return arr;
}

json IdentityJson(const service::IdentityInfo& r) {
  json j = {
      {"id", r.id}, {"externalId", r.external_id}, {"ratelimits", RatelimitsJson(r.ratelimits)}};
  if (r.meta_json) {
    json meta = MetaJson(*r.meta_json);
    j["meta"] = meta.is_null() ? json::object() : meta;
  }
  return j;
}

json PermissionJson(const service::PermissionInfo& r) {
  json j = {{"id", r.id}, {"name", r.name}, {"slug", r.slug}};
  if (!r.description.empty()) j["description"] = r.description;
  return j;
}

json RoleJson(const service::RoleInfo& r) {
  json perms = json::array();
  for (const auto& p : r.permissions) perms.push_back(PermissionJson(p));
  json j = {{"id", r.id}, {"name", r.name}, {"permissions", perms}};
  if (!r.description.empty()) j["description"] = r.description;
  return j;
}

json CreditsJson(const CreditsState& c) {
  json j = {{"remaining", c.remaining ? json(*c.remaining) : json(nullptr)}};
  if (c.refill) {
    json refill = {{"interval", c.refill->interval == RefillInterval::kDaily ? "daily" : "monthly"},
                   {"amount", c.refill->amount}};
    if (c.refill->interval == RefillInterval::kMonthly) refill["refillDay"] = c.refill->refill_day;
    j["refill"] = refill;
  }
  return j;
}

json KeyJson(const service::KeyView& v) {
  json j = {{"keyId", v.id()},
            {"start", v.start()},
            {"enabled", v.enabled()},
            {"createdAt", v.created_at()},
            {"permissions", v.permissions()},
            {"roles", v.roles()},
            {"ratelimits", RatelimitsJson(v.ratelimits())}};
  if (v.name()) j["name"] = *v.name();
  json meta = MetaJson(v.meta_json());
  if (!meta.is_null()) j["meta"] = meta;
  if (v.updated_at()) j["updatedAt"] = v.updated_at();
  if (v.last_used_at()) j["lastUsedAt"] = v.last_used_at();
  if (v.expires()) j["expires"] = *v.expires();
  const CreditsState& credits = v.credits();
  if (credits.remaining || credits.refill) j["credits"] = CreditsJson(credits);
  if (v.identity()) j["identity"] = IdentityJson(*v.identity());
  // keyhold's own IP allowlist of the key (beside its API's).
  if (!v.ip_allowlist().empty()) j["ipAllowlist"] = v.ip_allowlist();
  // keyhold's lineage of rerolled keys (the replaced key stops at `expires`).
  if (!v.rerolled_from().empty()) j["rerolledFrom"] = v.rerolled_from();
  if (!v.rerolled_to().empty()) j["rerolledTo"] = v.rerolled_to();
  if (v.rerolled_at()) j["rerolledAt"] = *v.rerolled_at();
  if (v.revoked_at()) {
    j["revokedAt"] = *v.revoked_at();
    j["revocationReason"] = v.revocation_reason();
  }
  return j;
}

std::vector<service::Ratelimit> ReadRatelimits(BodyReader& r, const char* name) {
  std::vector<service::Ratelimit> out;
  const json* arr = r.Array(name, 100);
  if (!arr) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    std::string loc = r.Location(name) + "[" + std::to_string(i) + "]";
    const json& item = (*arr)[i];
    if (!item.is_object()) {
      r.Error(loc, "must be an object");
      continue;
    }
    std::vector<FieldError> errs;
    BodyReader ir(item, loc, &errs);
    service::Ratelimit rl;
    rl.name = ir.String("name", {.required = true, .min = 1, .max = 128}).value_or("");
    rl.limit = ir.Int("limit", {.required = true, .min = 1, .max = service::kMaxRatelimitLimit})
                   .value_or(0);
    rl.duration_ms =
        ir.Int("duration", {.required = true, .min = 1000, .max = service::kMaxRatelimitDurationMs})
            .value_or(0);
    rl.auto_apply = ir.Bool("autoApply").value_or(false);
    ir.Finish();
    for (auto& e : errs) r.Error(e.location, e.message, e.fix);
    out.push_back(std::move(rl));
  }
  return out;
}

std::vector<service::RatelimitRequest> ReadVerifyRatelimits(BodyReader& r, const char* name) {
  std::vector<service::RatelimitRequest> out;
  const json* arr = r.Array(name, 100);
  if (!arr) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    std::string loc = r.Location(name) + "[" + std::to_string(i) + "]";
    const json& item = (*arr)[i];
    if (!item.is_object()) {
      r.Error(loc, "must be an object");
      continue;
    }
    std::vector<FieldError> errs;
    BodyReader ir(item, loc, &errs);
    service::RatelimitRequest rl;
    rl.name = ir.String("name", {.required = true, .min = 1, .max = 128}).value_or("");
    rl.cost = ir.Int("cost", {.min = 0, .max = service::kMaxRatelimitLimit}).value_or(1);
    rl.limit = ir.Int("limit", {.min = 0, .max = service::kMaxRatelimitLimit});
    rl.duration_ms = ir.Int("duration", {.min = 1000, .max = service::kMaxRatelimitDurationMs});
    ir.Finish();
    for (auto& e : errs) r.Error(e.location, e.message, e.fix);
    out.push_back(std::move(rl));
  }
  return out;
}

json RatelimitOutcomesJson(const std::vector<service::RatelimitOutcome>& outcomes) {
  json arr = json::array();
  for (const service::RatelimitOutcome& o : outcomes) {
    arr.push_back({{"exceeded", o.exceeded},
                   {"id", o.id},  // empty for a limit given whole in the request
                   {"name", o.name},
                   {"limit", o.limit},
                   {"duration", o.duration_ms},
                   {"reset", o.reset_ms},
                   {"remaining", o.remaining},
                   {"autoApply", o.auto_apply}});
  }
  return arr;
}

std::optional<service::CreditsPatch> ReadCredits(BodyReader& r, const char* name) {
  const json* obj = r.Object(name);
  if (!obj) return std::nullopt;
  std::vector<FieldError> errs;
  BodyReader cr(*obj, r.Location(name), &errs);
  service::CreditsPatch patch;
  patch.set_remaining = cr.Has("remaining");
  patch.remaining = cr.Int("remaining", {.min = 0, .max = kMaxCredits});
  patch.set_refill = cr.Has("refill");
  if (const json* refill = cr.Object("refill")) {
    BodyReader rr(*refill, cr.Location("refill"), &errs);
    RefillRule rule;
    auto interval = rr.String("interval", {.required = true, .max = 16});
    if (interval && *interval != "daily" && *interval != "monthly") {
      rr.Error(rr.Location("interval"), "must be 'daily' or 'monthly'");
    }
    rule.interval = interval == "monthly" ? RefillInterval::kMonthly : RefillInterval::kDaily;
    rule.amount = rr.Int("amount", {.required = true, .min = 0, .max = kMaxCredits}).value_or(0);
    auto day = rr.Int("refillDay", {.min = 1, .max = 31});
    if (day && rule.interval == RefillInterval::kDaily) {
      rr.Error(rr.Location("refillDay"), "applies only to monthly refills");
    }
    rule.refill_day = static_cast<int>(day.value_or(1));
    rr.Finish();
    patch.refill = rule;
  }
  cr.Finish();
  for (auto& e : errs) r.Error(e.location, e.message, e.fix);
  return patch;
}

}  // namespace keyhold::http::unkey
