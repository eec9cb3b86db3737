#include "server/forward_auth_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "core/permissions.h"
#include "server/anomalies.h"
#include "service/types.h"

namespace keyhold::server {
namespace {

using http::forward_auth::RouteLimit;
using http::forward_auth::RouteRule;
using http::forward_auth::RouteTable;

constexpr int64_t kMaxCost = 1'000'000'000;

// `text` with control bytes written as \xNN: a message is one line per problem, whatever a file
// holds (a quoted key may contain a newline, and the TOML parser quotes what it saw).
std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

// Collects every problem of a rules file, each with its line.
class Problems {
 public:
  explicit Problems(std::string_view source) : source_(Printable(source)) {}
  void Add(const toml::node& at, std::string_view what) { Add(at.source().begin.line, what); }
  void Add(uint32_t line, std::string_view what) {
    text_ += std::string(text_.empty() ? "" : "\n") + source_ + ", line " + std::to_string(line) +
             ": " + Printable(what);
  }
  bool empty() const { return text_.empty(); }
  const std::string& text() const { return text_; }

 private:
  std::string source_;
  std::string text_;
};

bool IsMethodToken(std::string_view s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

bool IsLimitName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == ':';
  });
}

// An integer within [min, max], else a problem naming `key`.
std::optional<int64_t> Int(const toml::node& n, std::string_view key, int64_t min, int64_t max,
                           Problems& p) {
  std::optional<int64_t> v = n.value_exact<int64_t>();
  if (!v || *v < min || *v > max) {
    p.Add(n, std::string(key) + " must be a whole number from " + std::to_string(min) + " to " +
                 std::to_string(max));
    return std::nullopt;
  }
  return v;
}

// A duration: a string such as "30s" or "1m", or an integer number of milliseconds.
std::optional<int64_t> DurationMs(const toml::node& n, Problems& p) {
  std::optional<int64_t> ms = n.value_exact<int64_t>();
  if (auto s = n.value_exact<std::string>()) {
    auto d = ParseDuration(*s);
    if (d.ok()) ms = d->count();
  }
  if (!ms || *ms < 1000 || *ms > service::kMaxRatelimitDurationMs) {
    p.Add(n, "duration must be from 1s to 30d (\"1m\", \"1h\", or milliseconds)");
    return std::nullopt;
  }
  return ms;
}

void ReadLimit(const toml::node& n, RouteRule& rule, Problems& p) {
  const toml::table* t = n.as_table();
  if (!t) return p.Add(n, "a rate limit is a table {name, limit, duration, cost}");
  RouteLimit l;
  bool complete = true;
  for (const auto& [k, v] : *t) {
    if (k == "name") {
      auto s = v.value_exact<std::string>();
      if (!s || !IsLimitName(*s)) {
        p.Add(v, "name must be 1 to 64 of a-z, A-Z, 0-9, '_', '-', '.', ':'");
        complete = false;
      } else {
        l.name = *s;
      }
    } else if (k == "limit") {
      auto i = Int(v, "limit", 1, service::kMaxRatelimitLimit, p);
      complete = complete && i;
      l.limit = i.value_or(0);
    } else if (k == "duration") {
      auto d = DurationMs(v, p);
      complete = complete && d;
      l.duration_ms = d.value_or(0);
    } else if (k == "cost") {
      auto i = Int(v, "cost", 0, service::kMaxRatelimitLimit, p);
      complete = complete && i;
      l.cost = i.value_or(1);
    } else {
      p.Add(k.source().begin.line, "unknown rate limit field '" + std::string(k.str()) + "'");
    }
  }
  if (!complete) return;
  if (l.name.empty() || l.limit == 0 || l.duration_ms == 0) {
    return p.Add(n, "a rate limit needs name, limit and duration");
  }
  if (l.cost > l.limit) return p.Add(n, "a rate limit's cost cannot be more than its limit");
  if (std::any_of(rule.ratelimits.begin(), rule.ratelimits.end(),
                  [&](const RouteLimit& o) { return o.name == l.name; })) {
    return p.Add(n, "rate limit '" + l.name + "' is named twice in this rule");
  }
  rule.ratelimits.push_back(std::move(l));
}

void ReadMethods(const toml::node& v, RouteRule& rule, Problems& p) {
  auto add = [&](const toml::node& m) {
    auto s = m.value_exact<std::string>();
    std::string upper = s.value_or("");
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "*") return;
    if (!IsMethodToken(upper)) return p.Add(m, "a method is a name such as \"GET\", or \"*\"");
    rule.methods.push_back(upper);
  };
  if (const toml::array* a = v.as_array()) {
    for (const toml::node& m : *a) add(m);
    if (a->empty()) p.Add(v, "methods is empty: leave it out to match any method");
    if (std::find(rule.methods.begin(), rule.methods.end(), "*") != rule.methods.end()) {
      rule.methods.clear();
    }
  } else {
    add(v);
  }
}

// One rule; `is_default` refuses the keys that choose requests.
RouteRule ReadRule(const toml::table& t, bool is_default, Problems& p) {
  RouteRule rule;
  rule.line = static_cast<int>(t.source().begin.line);
  bool any_method = false;
  for (const auto& [k, v] : t) {
    const std::string key(k.str());
    const bool selects = key == "method" || key == "methods" || key == "path" || key == "host";
    if (is_default && selects) {
      p.Add(k.source().begin.line, "the default rule matches every request: no '" + key + "'");
    } else if (key == "method" || key == "methods") {
      any_method = any_method || v.value_exact<std::string>().value_or("") == "*";
      ReadMethods(v, rule, p);
    } else if (key == "path") {
      auto s = v.value_exact<std::string>();
      Status ok = s ? http::forward_auth::CheckPathPattern(*s)
                    : InvalidArgument("path must be a string such as \"/tickets/**\"");
      if (!ok.ok()) p.Add(v, ok.message());
      rule.path = s.value_or("/**");
    } else if (key == "host") {
      auto s = v.value_exact<std::string>();
      if (!s || s->empty()) p.Add(v, "host must be a non-empty string");
      rule.host = s.value_or("");
      for (char& c : rule.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (key == "permissions") {
      auto s = v.value_exact<std::string>();
      if (!s) {
        p.Add(v, "permissions must be a string (a query such as \"a.read AND b.write\")");
      } else if (!s->empty()) {
        auto q = PermissionQuery::Parse(*s);
        if (!q.ok()) p.Add(v, "permissions: " + q.status().message());
        rule.permissions = *s;
      }
    } else if (key == "cost") {
      rule.cost = Int(v, "cost", 0, kMaxCost, p).value_or(1);
    } else if (key == "ratelimits") {
      const toml::array* a = v.as_array();
      if (!a) p.Add(v, "ratelimits must be an array of tables");
      if (a) {
        for (const toml::node& n : *a) ReadLimit(n, rule, p);
      }
    } else if (key == "anonymous") {
      auto b = v.value_exact<bool>();
      if (!b) p.Add(v, "anonymous must be true or false");
      rule.anonymous = b.value_or(false);
    } else {
      p.Add(k.source().begin.line, "unknown field '" + key + "'");
    }
  }
  if (rule.anonymous && (rule.permissions || !rule.ratelimits.empty() || t.contains("cost"))) {
    p.Add(t, "an anonymous rule checks no key: it takes no permissions, cost or ratelimits");
  }
  if (rule.anonymous) rule.cost = 0;
  return rule;
}

}  // namespace

StatusOr<RouteTable> ParseForwardAuthRules(std::string_view text, std::string_view source_name) {
  toml::table doc;
  try {
    doc = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return InvalidArgument(Printable(source_name) + ", line " +
                           std::to_string(e.source().begin.line) + ": " +
                           Printable(e.description()));
  }
  Problems p(source_name);
  std::vector<RouteRule> routes;
  RouteRule fallback;
  for (const auto& [k, v] : doc) {
    if (k == "default") {
      if (const toml::table* t = v.as_table()) {
        fallback = ReadRule(*t, true, p);
      } else {
        p.Add(v, "default must be a table: [default]");
      }
    } else if (k == "route") {
      const toml::array* a = v.as_array();
      if (!a) p.Add(v, "routes are written [[route]]");
      if (!a) continue;
      for (const toml::node& n : *a) {
        if (const toml::table* t = n.as_table()) {
          routes.push_back(ReadRule(*t, false, p));
        } else {
          p.Add(n, "routes are written [[route]]");
        }
      }
    } else {
      p.Add(k.source().begin.line, "unknown section '" + std::string(k.str()) +
                                       "' (a rules file has [default] and [[route]])");
    }
  }
  if (!p.empty()) return InvalidArgument(p.text());
  return RouteTable(std::move(routes), std::move(fallback));
}

StatusOr<RouteTable> LoadForwardAuthRules(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument("forward_auth_rules: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 1'000'000) {
    return InvalidArgument("forward_auth_rules: " + path + " is over 1 MB");
  }
  return ParseForwardAuthRules(text.str(), path);
}

StatusOr<std::optional<http::forward_auth::ForwardAuthOptions>> ForwardAuthSettings(
    const Settings& s) {
  http::forward_auth::ForwardAuthOptions o;
  std::string_view apis = s.Get("forward_auth_apis");
  while (!apis.empty()) {
    size_t comma = apis.find(',');
    std::string_view id = apis.substr(0, comma);
    apis = comma == std::string_view::npos ? std::string_view{} : apis.substr(comma + 1);
    while (!id.empty() && id.front() == ' ') id.remove_prefix(1);
    while (!id.empty() && id.back() == ' ') id.remove_suffix(1);
    if (id.empty()) continue;
    if (!std::all_of(id.begin(), id.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        })) {
      return InvalidArgument("forward_auth_apis: '" + std::string(id) + "' is not an API id");
    }
    o.api_ids.emplace_back(id);
  }
  if (o.api_ids.empty()) return std::optional<http::forward_auth::ForwardAuthOptions>();

  std::string header = s.Get("forward_auth_key_header");
  for (char& c : header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!std::all_of(header.begin(), header.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      })) {
    return InvalidArgument("forward_auth_key_header must be a header name such as X-API-Key");
  }
  // "authorization" is read as a bearer token anyway.
  if (header == "none" || header == "authorization") header.clear();
  o.key_sources.header = header;
  o.key_sources.query_param = s.Get("forward_auth_key_query");
  if (!std::all_of(o.key_sources.query_param.begin(), o.key_sources.query_param.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      })) {
    return InvalidArgument("forward_auth_key_query must be a parameter name such as api_key");
  }

  using http::forward_auth::OriginalSource;
  const std::string& proxy = s.Get("forward_auth_proxy");
  if (proxy == "auto") {
    o.original_source = OriginalSource::kAuto;
  } else if (proxy == "nginx") {
    o.original_source = OriginalSource::kXOriginal;
  } else if (proxy == "traefik" || proxy == "caddy") {
    o.original_source = OriginalSource::kXForwarded;
  } else if (proxy == "envoy") {
    o.original_source = OriginalSource::kPath;
  } else {
    return InvalidArgument("forward_auth_proxy: use auto, nginx, traefik, caddy or envoy");
  }

  const std::string& nginx = s.Get("forward_auth_nginx_mode");
  if (nginx != "true" && nginx != "false") {
    return InvalidArgument("forward_auth_nginx_mode: use true or false");
  }
  o.nginx_mode = nginx == "true";

  auto brute_force = BruteForceOptions(s);  // window and cool-down
  if (!brute_force.ok()) return brute_force.status();
  o.brute_force = *brute_force;
  const std::string& threshold = s.Get("forward_auth_brute_force_threshold");
  if (threshold.empty() || threshold.size() > 9 ||
      threshold.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgument("forward_auth_brute_force_threshold must be a whole number >= 0");
  }
  o.brute_force.threshold = std::stoll(threshold);

  const std::string& rules = s.Get("forward_auth_rules");
  if (rules.empty()) {
    o.routes = std::make_shared<const RouteTable>(std::vector<RouteRule>{}, RouteRule{});
  } else {
    KH_ASSIGN_OR_RETURN(RouteTable table, LoadForwardAuthRules(rules));
    o.routes = std::make_shared<const RouteTable>(std::move(table));
  }
  return std::optional(std::move(o));
}

}  // namespace keyhold::server
