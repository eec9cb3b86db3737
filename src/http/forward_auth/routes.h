// Route rules of /forward-auth: which permissions, rate limits and credits a request needs,
// chosen by its method, path and host. The first rule that matches wins; a request no rule
// matches gets the default rule.
//
//   RouteRule reads{.methods = {"GET"}, .path = "/tickets/**", .permissions = "tickets.read"};
//   RouteTable table({reads}, RouteRule{});
//   const RouteRule& r = table.Match(original);   // original: OriginalRequest
//
// Path patterns are matched segment by segment against the normalized path (NormalizePath):
// a literal segment matches itself, `*` any one segment, and `**`, as the last segment only, any
// number of segments, none included. A trailing '/' is not significant: "/tickets" matches
// "/tickets/" too. Matching is case-sensitive.
//
// Thread-safety: immutable once built; Match is safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "http/forward_auth/original_request.h"

namespace keyhold::http::forward_auth {

// A rate limit a route applies to each key on its own (verifyKey's inline ratelimits[]).
struct RouteLimit {
  std::string name;
  int64_t limit = 0;
  int64_t duration_ms = 0;
  int64_t cost = 1;
};

struct RouteRule {
  std::vector<std::string> methods;        // upper case; empty: any method
  std::string path = "/**";                // pattern, see above
  std::string host;                        // lower case; empty: any host
  std::optional<std::string> permissions;  // verifyKey's query language; nullopt: none needed
  int64_t cost = 1;                        // credits a request spends
  std::vector<RouteLimit> ratelimits;
  bool anonymous = false;  // allowed without a key (no verification, identity headers empty)
  int line = 0;            // where the rule is written, for messages; 0: built in
};

// Checks a path pattern. Errors: kInvalidArgument saying what is wrong (not starting with '/',
// `**` not last, '*' inside a segment, a '.' or '..' segment, a '%' or '?').
Status CheckPathPattern(std::string_view pattern);

// Whether normalized `path` matches `pattern` (which passed CheckPathPattern).
bool PathMatches(std::string_view pattern, std::string_view path);

class RouteTable {
 public:
  RouteTable(std::vector<RouteRule> routes, RouteRule fallback)
      : routes_(std::move(routes)), fallback_(std::move(fallback)) {}

  // The first rule matching `original`, else the default rule.
  const RouteRule& Match(const OriginalRequest& original) const;

  const std::vector<RouteRule>& routes() const { return routes_; }
  const RouteRule& fallback() const { return fallback_; }

 private:
  std::vector<RouteRule> routes_;
  RouteRule fallback_;
};

}  // namespace keyhold::http::forward_auth
