#include "http/forward_auth/original_request.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace keyhold::http::forward_auth {
namespace {

constexpr size_t kMaxUri = 8192;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The one value the headers named `a` and `b` agree on ("" if neither is sent; an empty name
// is no header). Several copies of one header count as several sources.
StatusOr<std::string> Agreed(const HttpRequest& req, std::string_view a, std::string_view b) {
  std::string value;
  bool seen = false;
  for (const auto& [name, v] : req.headers) {
    if ((a.empty() || name != a) && (b.empty() || name != b)) continue;
    std::string_view t = Trim(v);
    if (seen && t != value) {
      return InvalidArgument("the proxy's headers describe two different original requests",
                             "forward_auth/conflicting_original");
    }
    value = t;
    seen = true;
  }
  return value;
}

Status BadUri(std::string msg) {
  return InvalidArgument(std::move(msg), "forward_auth/bad_original_uri");
}

}  // namespace

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

StatusOr<std::string> NormalizePath(std::string_view raw) {
  if (raw.size() > kMaxUri) return BadUri("the original URI is too long");
  if (raw.starts_with("http://") || raw.starts_with("https://")) {
    raw.remove_prefix(raw.find("//") + 2);
    size_t slash = raw.find('/');
    raw = slash == std::string_view::npos ? "/" : raw.substr(slash);
  }
  if (!raw.starts_with('/')) return BadUri("the original URI does not start with '/'");
  std::string decoded;
  if (!PercentDecode(raw, &decoded)) return BadUri("the original URI has a bad %-escape");
  for (char c : decoded) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return BadUri("the original URI has a control character");
  }
  std::vector<std::string_view> segments;
  std::string_view rest = decoded;
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty() || seg == ".") continue;
    // "/admin;x=1/" is /admin/ to Tomcat or Spring but would not match a rule for /admin: refused
    // rather than matched as something the backend does not serve.
    if (seg.find(';') != std::string_view::npos) {
      return BadUri("the original URI has a path parameter (';'), which backends read differently");
    }
    if (seg == "..") {
      if (segments.empty()) return BadUri("the original URI climbs above the root");
      segments.pop_back();
      continue;
    }
    segments.push_back(seg);
  }
  std::string out;
  for (std::string_view seg : segments) {
    out += '/';
    out += seg;
  }
  // A trailing '/' (or "/.", "/..") names a directory: kept, so "/a/" can differ from "/a".
  const bool trailing =
      decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/..");
  if (out.empty() || trailing) out += '/';
  return out;
}

StatusOr<OriginalRequest> RebuildOriginal(const HttpRequest& req, std::string_view prefix,
                                          OriginalSource source) {
  // The headers read for the URI and the method under `source`; "" for none.
  std::string_view uri_a = "x-original-uri";
  std::string_view uri_b = "x-forwarded-uri";
  std::string_view method_a = "x-original-method";
  std::string_view method_b = "x-forwarded-method";
  if (source == OriginalSource::kXOriginal) uri_b = method_b = "";
  if (source == OriginalSource::kXForwarded) uri_a = method_a = "";
  if (source == OriginalSource::kPath) uri_a = uri_b = method_a = method_b = "";
  const bool from_path = source == OriginalSource::kAuto || source == OriginalSource::kPath;

  OriginalRequest o;
  KH_ASSIGN_OR_RETURN(std::string uri, Agreed(req, uri_a, uri_b));
  // Envoy's description: the path after the prefix, and the request's own method.
  std::string path_uri;
  if (from_path) {
    std::string_view target = req.target;
    if (target.starts_with(prefix)) target.remove_prefix(prefix.size());
    if (target.starts_with('/')) path_uri = target;
  }
  KH_ASSIGN_OR_RETURN(std::string header_method, Agreed(req, method_a, method_b));
  if (!path_uri.empty()) {
    // Both kinds of description (only possible under auto): a client behind Envoy could add
    // the headers to have another route's rule applied, so they must name the same request.
    bool same = header_method.empty() || Upper(header_method) == Upper(req.method);
    if (same && !uri.empty()) {
      auto path_of = [](const std::string& u) {
        return NormalizePath(std::string_view(u).substr(0, u.find('?')));
      };
      KH_ASSIGN_OR_RETURN(std::string a, path_of(uri));
      KH_ASSIGN_OR_RETURN(std::string b, path_of(path_uri));
      same = a == b;
    }
    if (!same) {
      return InvalidArgument("the proxy's headers describe two different original requests",
                             "forward_auth/conflicting_original");
    }
  }
  if (uri.empty()) uri = path_uri;
  if (uri.empty()) {
    return InvalidArgument(
        "the proxy named no original URI (X-Original-URI, X-Forwarded-Uri, or a path after "
        "/forward-auth)",
        "forward_auth/no_original_uri");
  }
  if (size_t fragment = uri.find('#'); fragment != std::string::npos) uri.resize(fragment);
  const size_t q = uri.find('?');
  KH_ASSIGN_OR_RETURN(o.path, NormalizePath(std::string_view(uri).substr(0, q)));
  if (q != std::string::npos) o.query = uri.substr(q + 1);

  std::string method = path_uri.empty() ? header_method : std::string(req.method);
  if (method.empty()) method = req.method;
  if (!IsToken(method)) return BadUri("the original method is not an HTTP method");
  o.method = Upper(method);

  std::string_view host;
  if (source == OriginalSource::kAuto || source == OriginalSource::kXForwarded) {
    host = Trim(req.Header("x-forwarded-host"));
  }
  if (host.empty()) host = Trim(req.Header("host"));
  o.host = Lower(host);
  return o;
}

StatusOr<std::string> ExtractKey(const HttpRequest& req, const OriginalRequest& original,
                                 const KeySources& sources) {
  std::string key;
  auto offer = [&key](std::string_view candidate) -> Status {
    if (candidate.empty()) return OkStatus();
    if (!key.empty() && key != candidate) {
      return Unauthenticated("the request carries two different keys",
                             "authentication/conflicting_keys");
    }
    key = candidate;
    return OkStatus();
  };
  for (const auto& [name, value] : req.headers) {
    if (name == "authorization") {
      std::string_view v = Trim(value);
      if (v.size() > 7 && Lower(v.substr(0, 7)) == "bearer ") {
        KH_RETURN_IF_ERROR(offer(Trim(v.substr(7))));
      }
    } else if (!sources.header.empty() && name == sources.header) {
      KH_RETURN_IF_ERROR(offer(Trim(value)));
    }
  }
  if (sources.query_param.empty()) return key;
  std::string_view rest = original.query;
  std::string name;
  std::string value;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    if (!PercentDecode(pair.substr(0, eq), &name) || name != sources.query_param) continue;
    if (eq == std::string_view::npos) continue;
    if (!PercentDecode(pair.substr(eq + 1), &value)) {
      return Unauthenticated("the key in the query is not well encoded",
                             "authentication/malformed");
    }
    KH_RETURN_IF_ERROR(offer(value));
  }
  return key;
}

}  // namespace keyhold::http::forward_auth
