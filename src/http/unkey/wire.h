// Wire helpers for the Unkey-compatible API: reading request bodies field by field with precise
// errors, the response envelopes, and JSON forms of keyhold's records.
//
//   BodyReader r(body_json);
//   auto api_id = r.String("apiId", {.required = true, .max = 256});
//   r.Finish();                       // unknown fields become errors
//   if (!r.ok()) return BadRequest(request_id, r.errors());
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/message.h"
#include "service/key_service.h"

namespace keyhold::http::unkey {

using nlohmann::json;

struct FieldError {
  std::string location;  // e.g. "body.credits.remaining"
  std::string message;
  std::string fix;
};

struct StringRule {
  bool required = false;
  size_t min = 0;
  size_t max = 1024;
};

struct IntRule {
  bool required = false;
  int64_t min = 0;
  int64_t max = INT64_MAX;
};

// Reads one JSON object. Each accessor records an error (and returns nullopt) on a wrong type
// or a value out of range; fields never asked for are reported by Finish().
class BodyReader {
 public:
  BodyReader(const json& object, std::string location, std::vector<FieldError>* errors);

  std::optional<std::string> String(const char* name, StringRule rule);
  std::optional<int64_t> Int(const char* name, IntRule rule);
  std::optional<bool> Bool(const char* name, bool required = false);
  std::optional<std::vector<std::string>> Strings(const char* name, StringRule item,
                                                  size_t max_items, bool required = false);
  // A JSON object, returned as its text (for opaque `meta`).
  std::optional<std::string> ObjectText(const char* name, size_t max_bytes);
  // A nested object or array, for the caller to read further (nullptr if absent or wrong type).
  const json* Object(const char* name, bool required = false);
  const json* Array(const char* name, size_t max_items, bool required = false);

  // True if the field is present (even as null).
  bool Has(const char* name) const;
  bool IsNull(const char* name) const;
  std::string Location(const char* name) const { return location_ + "." + name; }
  void Error(std::string location, std::string message, std::string fix = "");

  // Reports every field of the object that was not read.
  void Finish();
  bool ok() const { return errors_->empty(); }

 private:
  const json* Field(const char* name);
  const json& object_;
  std::string location_;
  std::vector<FieldError>* errors_;
  std::vector<std::string_view> seen_;  // field names are string literals
};

// --- envelopes ----------------------------------------------------------------------------

HttpResponse Ok(const std::string& request_id, const json& data);
HttpResponse OkPage(const std::string& request_id, const json& data, const std::string& cursor,
                    bool has_more);
// Ok with `data_text`, data already written as JSON (see JsonWriter).
HttpResponse OkText(const std::string& request_id, std::string_view data_text);
HttpResponse Error(const std::string& request_id, const Status& status);
HttpResponse BadRequest(const std::string& request_id, const std::vector<FieldError>& errors);
HttpResponse ErrorWith(const std::string& request_id, int http_status, const std::string& reason,
                       const std::string& detail);

// --- request framing ----------------------------------------------------------------------

// True if `text` (JSON or not) opens more than `max_depth` arrays and objects at once. Linear,
// no recursion, so it is safe on any input; run before parsing, which recurses.
bool JsonDepthExceeds(std::string_view text, int max_depth);

// Parses `text` as JSON; discarded (is_discarded()) if it is not. An object naming a key twice is
// refused too, with `*duplicate` set: JSON leaves its meaning open, and two readers of one request
// (a proxy, a log, this server) must not see different values. REQUIRES: the depth was checked
// (JsonDepthExceeds), as parsing recurses.
json ParseJsonStrict(std::string_view text, bool* duplicate);

// Writes a JSON object member by member into a string, byte for byte as json::dump(-1, ' ',
// false, replace) writes the same values when members are added in name order (json sorts its
// members by name). For hot answers, where building a json document first costs more than the
// answer's work.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) { out_ += '{'; }
  JsonWriter& Bool(std::string_view name, bool v);
  JsonWriter& Int(std::string_view name, int64_t v);
  JsonWriter& String(std::string_view name, std::string_view v);
  JsonWriter& Strings(std::string_view name, const std::vector<std::string>& v);
  JsonWriter& Value(std::string_view name, const json& v);  // any value, written by json
  void End() { out_ += '}'; }

 private:
  void Name(std::string_view name);
  std::string& out_;
  bool first_ = true;
};

// Appends `s` as a JSON string, as json::dump(-1, ' ', false, replace) writes it.
void AppendJsonString(std::string& out, std::string_view s);

// --- record forms -------------------------------------------------------------------------

json MetaJson(const std::string& meta_text);  // an object, or null when empty
json RatelimitJson(const service::Ratelimit& r);
json IdentityJson(const service::IdentityInfo& r);  // meta only when the caller may see it
json PermissionJson(const service::PermissionInfo& r);
json RoleJson(const service::RoleInfo& r);
json CreditsJson(const CreditsState& c);
json KeyJson(const service::KeyView& v);

// Reads `ratelimits` entries ({name, limit, duration, autoApply}).
std::vector<service::Ratelimit> ReadRatelimits(BodyReader& r, const char* name);
// Reads keys.verifyKey's `ratelimits` entries ({name, cost?, limit?, duration?}).
std::vector<service::RatelimitRequest> ReadVerifyRatelimits(BodyReader& r, const char* name);
// keys.verifyKey's `ratelimits` answer: {exceeded, id, name, limit, duration, reset, remaining,
// autoApply} per limit checked.
json RatelimitOutcomesJson(const std::vector<service::RatelimitOutcome>& outcomes);
// Reads a credits object ({remaining, refill}); `patch` gets which parts were present.
std::optional<service::CreditsPatch> ReadCredits(BodyReader& r, const char* name);

}  // namespace keyhold::http::unkey
