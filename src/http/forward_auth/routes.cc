#include "http/forward_auth/routes.h"

#include <algorithm>

namespace keyhold::http::forward_auth {
namespace {

// The next non-empty segment of `rest`, consumed; "" when none is left.
std::string_view NextSegment(std::string_view& rest) {
  while (rest.starts_with('/')) rest.remove_prefix(1);
  size_t slash = rest.find('/');
  std::string_view seg = rest.substr(0, slash);
  rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  return seg;
}

// `host` without a ":port" at its end.
std::string_view WithoutPort(std::string_view host) {
  size_t colon = host.rfind(':');
  if (colon == std::string_view::npos || host.find(']', colon) != std::string_view::npos) {
    return host;
  }
  std::string_view port = host.substr(colon + 1);
  if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return host;
  return host.substr(0, colon);
}

}  // namespace

Status CheckPathPattern(std::string_view pattern) {
  if (!pattern.starts_with('/')) return InvalidArgument("a path pattern starts with '/'");
  if (pattern.find_first_of("%?#") != std::string_view::npos) {
    return InvalidArgument("a path pattern is a decoded path: no '%', '?' or '#'");
  }
  std::string_view rest = pattern;
  for (std::string_view seg = NextSegment(rest); !seg.empty(); seg = NextSegment(rest)) {
    if (seg == "**" && !NextSegment(rest).empty()) {
      return InvalidArgument("'**' may only be the last segment of a path pattern");
    }
    if (seg != "*" && seg != "**" && seg.find('*') != std::string_view::npos) {
      return InvalidArgument("'*' stands for a whole segment: '/files/*', not '/files/*.txt'");
    }
    if (seg == "." || seg == "..") {
      return InvalidArgument("a path pattern has no '.' or '..' segments");
    }
  }
  return OkStatus();
}

bool PathMatches(std::string_view pattern, std::string_view path) {
  for (;;) {
    std::string_view want = NextSegment(pattern);
    if (want == "**") return true;
    std::string_view have = NextSegment(path);
    if (want.empty() || have.empty()) return want.empty() && have.empty();
    if (want != "*" && want != have) return false;
  }
}

const RouteRule& RouteTable::Match(const OriginalRequest& original) const {
  for (const RouteRule& r : routes_) {
    if (!r.methods.empty() &&
        std::find(r.methods.begin(), r.methods.end(), original.method) == r.methods.end()) {
      continue;
    }
    if (!r.host.empty() && r.host != original.host && r.host != WithoutPort(original.host)) {
      continue;
    }
    if (PathMatches(r.path, original.path)) return r;
  }
  return fallback_;
}

}  // namespace keyhold::http::forward_auth
