// Vault's wire details the `/v1/` surface shares: request paths split into mount, kind and secret
// path, query parameters, times and durations as Vault writes them.
//
//   auto route = ParseKvPath("secret/data/helpdesk/smtp");  // {"secret", "data", "helpdesk/smtp"}
//   std::string t = VaultTime(ms);                          // "2026-01-01T00:00:00.123Z"
//
// Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace keyhold::http::vault {

// Decodes %XX escapes; nullopt for a malformed escape or a decoded NUL.
std::optional<std::string> PercentDecode(std::string_view text);

// Decodes one name or value of a query as Go's url.QueryUnescape does (what Vault reads): %XX
// escapes, and `+` as a space. nullopt for a malformed escape or a decoded NUL.
std::optional<std::string> QueryUnescape(std::string_view text);

// The value of query parameter `name` in `target`: names and values are decoded as QueryUnescape
// does (so `ver%73ion=1` is `version`), the first occurrence counts and a name without `=` has the
// value "". nullopt if absent. Errors: kInvalidArgument naming the parameter when its value, or
// when any name of the query (which might have been `name`), does not decode.
StatusOr<std::optional<std::string>> QueryParam(std::string_view target, std::string_view name);

// What is wrong with the query of `target`, or nullopt if every name and value decodes: a
// message naming the first parameter whose name or value has a malformed %-escape or a NUL.
std::optional<std::string> QueryProblem(std::string_view target);

// A query flag as Go's strconv.ParseBool reads it (what Vault accepts): true for 1, t, T, TRUE,
// true, True; false for 0, f, F, FALSE, false, False; nullopt for anything else, "" included.
std::optional<bool> ParseGoBool(std::string_view text);

// A whole number as Go's strconv.Atoi reads one, leading zeros allowed ("0000000001" is 1), but
// without a sign: decimal digits only. nullopt if malformed or outside [min, max].
// REQUIRES: 0 <= min <= max < 10^18.
std::optional<int64_t> ParseGoInt(std::string_view text, int64_t min, int64_t max);

// A KV path after "/v1/": "<mount>/<kind>" or "<mount>/<kind>/<path>"; nullopt if it has no
// kind.
struct KvPath {
  std::string mount;       // decoded
  std::string kind;        // decoded: data, metadata, delete, undelete, destroy, config, subkeys
  std::string path;        // decoded, may be empty or end in '/' (a folder to list)
  bool malformed = false;  // a bad %-escape or an encoded NUL in any part (the part is empty)
};
std::optional<KvPath> ParseKvPath(std::string_view after_v1);

// A path after "/v1/" under sys/ or auth/, decoded part by part as ParseKvPath decodes (Go decodes
// a whole request path before Vault routes it): "%73ys/health" is "sys/health". nullopt if the
// path, decoded, is under neither; `malformed` if it is (its first part decodes to sys or auth)
// and a part has a bad %-escape or an encoded NUL.
struct SystemPath {
  std::string path;  // decoded; "" if malformed
  bool malformed = false;
};
std::optional<SystemPath> ParseSystemPath(std::string_view after_v1);

// RFC 3339 in UTC with milliseconds, as Go prints a time: "2026-01-01T00:00:00.123Z".
std::string VaultTime(int64_t ms);

// A duration as Go prints one: "0s", "90s" -> "1m30s", "1h0m0s", "1.5s".
std::string GoDuration(int64_t ms);

// Parses a duration as Vault accepts one: a Go duration ("1h30m", "45s", "1.5h", "100ms") or a
// whole number of seconds ("3600"). nullopt if malformed, negative or over 100 years.
std::optional<int64_t> ParseGoDuration(std::string_view text);

}  // namespace keyhold::http::vault
