// The /forward-auth surface's configuration: the flat settings (forward_auth_*) and the route
// rules file they name (docs/forward-auth.md).
//
//   # forward-auth.toml
//   [default]                      # requests no route matches (omitted: any valid key, cost 1)
//   cost = 1
//
//   [[route]]
//   methods = ["GET", "HEAD"]      # or method = "GET"; omitted or "*": any method
//   path = "/tickets/**"           # '*' one segment, '**' (last) any number
//   host = "api.example.com"       # optional
//   permissions = "tickets.read OR admin"
//   cost = 0                       # credits per request
//   ratelimits = [{ name = "reads", limit = 100, duration = "1m", cost = 1 }]
//
//   [[route]]
//   path = "/health"
//   anonymous = true               # no key needed
//
//   auto table = ParseForwardAuthRules(text, "forward-auth.toml");
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "http/forward_auth/forward_auth.h"
#include "server/settings.h"

namespace keyhold::server {

// Parses a rules file's text. Errors: kInvalidArgument whose message lists every problem, one
// per line as "<source_name>, line N: ..." (bad TOML, unknown keys, wrong types, a bad path
// pattern or permission query, limits out of range, a rate limit named twice in a rule).
StatusOr<http::forward_auth::RouteTable> ParseForwardAuthRules(std::string_view text,
                                                               std::string_view source_name);

// Reads and parses the rules file at `path`. Errors: as ParseForwardAuthRules, or kInvalidArgument
// if the file cannot be read.
StatusOr<http::forward_auth::RouteTable> LoadForwardAuthRules(const std::string& path);

// The surface's options from `settings`, nullopt when forward_auth_apis is empty (the surface is
// not served). on_block is left for the caller. Errors: kInvalidArgument naming the setting, or
// the rules file's problems.
StatusOr<std::optional<http::forward_auth::ForwardAuthOptions>> ForwardAuthSettings(
    const Settings& settings);

}  // namespace keyhold::server
