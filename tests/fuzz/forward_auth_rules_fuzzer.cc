// Fuzzes the /forward-auth route rules file (server/forward_auth_config.h).
//
// Input: the text of a rules file (at most 16 KiB), to ParseForwardAuthRules. Beyond "no crash"
// it checks:
//   - a refused file is refused with kInvalidArgument, every line of whose message names the
//     file and a line ("rules.toml, line N: ...");
//   - in an accepted file every rule is one the surface can apply: its path passes
//     CheckPathPattern, its methods are upper-case tokens, its permissions parse, its credits cost
//     and its rate limits are in range (cost at most the limit, names unique within the rule), an
//     anonymous rule costs nothing and asks for nothing, and the default rule matches any request;
//   - a rule's pattern matches itself made literal ('*' as one segment, '**' as none).
#include <cctype>
#include <set>
#include <string>
#include <string_view>

#include "core/permissions.h"
#include "fuzz/property.h"
#include "server/forward_auth_config.h"
#include "service/types.h"

namespace keyhold::server {
namespace {

using fuzz::Require;
using http::forward_auth::RouteRule;

void CheckRule(const RouteRule& r, bool is_default) {
  Require(http::forward_auth::CheckPathPattern(r.path).ok(), "an accepted rule has a bad path");
  for (const std::string& m : r.methods) {
    Require(!m.empty(), "an accepted rule has an empty method");
    for (char c : m) {
      Require(!std::islower(static_cast<unsigned char>(c)), "a method is not upper case");
    }
  }
  if (r.permissions) {
    Require(PermissionQuery::Parse(*r.permissions).ok(), "accepted permissions do not parse");
  }
  Require(r.cost >= 0 && r.cost <= 1'000'000'000, "a credits cost out of range");
  std::set<std::string> names;
  for (const auto& l : r.ratelimits) {
    Require(names.insert(l.name).second, "a rate limit named twice in one rule");
    Require(l.limit >= 1 && l.limit <= service::kMaxRatelimitLimit, "a limit out of range");
    Require(l.duration_ms >= 1000 && l.duration_ms <= service::kMaxRatelimitDurationMs,
            "a duration out of range");
    Require(l.cost >= 0 && l.cost <= l.limit, "a rate limit's cost out of range");
  }
  if (r.anonymous) {
    Require(r.cost == 0 && !r.permissions && r.ratelimits.empty(),
            "an anonymous rule asks for something");
  }
  if (is_default) {
    Require(r.methods.empty() && r.host.empty() && r.path == "/**",
            "the default rule does not match every request");
  }
}

// `pattern` with every '*' segment replaced by a literal one ("x"), '**' dropped.
std::string Literal(std::string_view pattern) {
  std::string out;
  size_t start = 0;
  while (start < pattern.size()) {
    size_t slash = pattern.find('/', start + 1);
    std::string_view seg = pattern.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg == "/*") {
      out += "/x";
    } else if (seg != "/**" && seg != "/") {
      out += seg;
    }
    if (slash == std::string_view::npos) break;
    start = slash;
  }
  return out.empty() ? "/" : out;
}

}  // namespace
}  // namespace keyhold::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold::server;  // NOLINT(google-build-using-namespace)
  if (size > 16384) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto table = ParseForwardAuthRules(text, "rules.toml");
  if (!table.ok()) {
    keyhold::fuzz::Require(table.status().code() == keyhold::StatusCode::kInvalidArgument,
                           "a refused rules file is not kInvalidArgument");
    std::string_view m = table.status().message();
    while (!m.empty()) {
      size_t nl = m.find('\n');
      keyhold::fuzz::Require(m.starts_with("rules.toml, line "),
                             "a problem does not name the file and its line");
      m = nl == std::string_view::npos ? std::string_view{} : m.substr(nl + 1);
    }
    return 0;
  }
  CheckRule(table->fallback(), true);
  for (const auto& r : table->routes()) {
    CheckRule(r, false);
    keyhold::fuzz::Require(keyhold::http::forward_auth::PathMatches(r.path, Literal(r.path)),
                           "a rule does not match its own pattern made literal");
  }
  return 0;
}
