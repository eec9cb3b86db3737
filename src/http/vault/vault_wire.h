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

namespace keyhold::http::vault {

// Decodes %XX escapes; nullopt for a malformed escape or a decoded NUL.
std::optional<std::string> PercentDecode(std::string_view text);

// The value of query parameter `name` in `target` (percent-decoded), or nullopt if absent.
std::optional<std::string> QueryParam(std::string_view target, std::string_view name);

// A KV path after "/v1/": "<mount>/<kind>" or "<mount>/<kind>/<path>"; nullopt if it has no
// kind.
struct KvPath {
  std::string mount;
  std::string kind;        // data, metadata, delete, undelete, destroy, config, subkeys
  std::string path;        // decoded, may be empty or end in '/' (a folder to list)
  bool malformed = false;  // the path has a bad %-escape or an encoded NUL (path is empty)
};
std::optional<KvPath> ParseKvPath(std::string_view after_v1);

// RFC 3339 in UTC with milliseconds, as Go prints a time: "2026-01-01T00:00:00.123Z".
std::string VaultTime(int64_t ms);

// A duration as Go prints one: "0s", "90s" -> "1m30s", "1h0m0s", "1.5s".
std::string GoDuration(int64_t ms);

// Parses a duration as Vault accepts one: a Go duration ("1h30m", "45s", "1.5h", "100ms") or a
// whole number of seconds ("3600"). nullopt if malformed, negative or over 100 years.
std::optional<int64_t> ParseGoDuration(std::string_view text);

}  // namespace keyhold::http::vault
