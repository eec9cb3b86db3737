// Fuzzes what a proxy sends /forward-auth (http/forward_auth/original_request.h, routes.h).
//
// Input: lines. Line 1: the target after "/forward-auth" (Envoy's original path, or empty);
// each further line (at most 16) a header "name: value", the name lower-cased as the listener
// does. Beyond "no crash" it checks:
//   - RebuildOriginal, from any source, rebuilds a path that starts with '/', has no empty, '.'
//     or '..' segment and no control byte, and normalizes to itself, and an upper-case method;
//     from every proxy's headers (kAuto) it fails only with its three reasons;
//   - ExtractKey fails only with kUnauthenticated; a key it finds is the value of one of the
//     places it reads (bearer, the key header, the decoded query parameter);
//   - "/**" matches every rebuilt path, and a path without '*' that is a valid pattern matches
//     itself.
#include <cctype>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/property.h"
#include "http/forward_auth/original_request.h"
#include "http/forward_auth/routes.h"

namespace keyhold::http::forward_auth {
namespace {

using fuzz::Require;

HttpRequest Parse(std::string_view text) {
  HttpRequest req{.method = "GET", .target = "/forward-auth"};
  size_t nl = text.find('\n');
  req.target += text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  while (!text.empty() && req.headers.size() < 16) {
    nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    if (value.starts_with(' ')) value.remove_prefix(1);
    req.headers.emplace_back(std::move(name), std::string(value));
  }
  return req;
}

void CheckOriginal(const OriginalRequest& o) {
  Require(o.path.starts_with('/'), "a rebuilt path does not start with '/'");
  Require(o.path.find("//") == std::string::npos, "a rebuilt path has an empty segment");
  Require(o.path.find("/./") == std::string::npos && o.path.find("/../") == std::string::npos &&
              !o.path.ends_with("/.") && !o.path.ends_with("/.."),
          "a rebuilt path has a '.' or '..' segment");
  for (char c : o.path) {
    Require(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f,
            "a rebuilt path has a control byte");
  }
  auto again = NormalizePath(o.path);
  Require(again.ok() && *again == o.path, "a normalized path does not normalize to itself");
  Require(!o.method.empty(), "an empty method");
  for (char c : o.method) {
    Require(!std::islower(static_cast<unsigned char>(c)), "a method is not upper case");
  }
  Require(PathMatches("/**", o.path), "'/**' does not match a path");
  if (o.path.find('*') == std::string::npos && CheckPathPattern(o.path).ok()) {
    Require(PathMatches(o.path, o.path), "a literal pattern does not match itself");
  }
}

// Every value ExtractKey may return for `req`.
std::set<std::string> Candidates(const HttpRequest& req, const OriginalRequest& o,
                                 const KeySources& src) {
  std::set<std::string> out;
  auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return std::string(s);
  };
  for (const auto& [name, value] : req.headers) {
    std::string v = trim(value);
    if (name == "authorization" && v.size() > 7) out.insert(trim(std::string_view(v).substr(7)));
    if (name == src.header) out.insert(v);
  }
  std::string_view rest = o.query;
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string decoded;
    if (eq != std::string_view::npos && PercentDecode(pair.substr(eq + 1), &decoded)) {
      out.insert(decoded);
    }
  }
  return out;
}

}  // namespace
}  // namespace keyhold::http::forward_auth

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyhold::http::forward_auth;  // NOLINT(google-build-using-namespace)
  if (size > 16384) return 0;
  keyhold::http::HttpRequest req =
      Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  // Every source gives a checked answer; the key is looked for in what kAuto rebuilt.
  for (OriginalSource source :
       {OriginalSource::kXOriginal, OriginalSource::kXForwarded, OriginalSource::kPath}) {
    auto one = RebuildOriginal(req, "/forward-auth", source);
    if (one.ok()) CheckOriginal(*one);
  }
  auto o = RebuildOriginal(req, "/forward-auth");
  if (!o.ok()) {
    static const std::set<std::string> kReasons = {"forward_auth/no_original_uri",
                                                   "forward_auth/conflicting_original",
                                                   "forward_auth/bad_original_uri"};
    keyhold::fuzz::Require(kReasons.contains(o.status().reason()),
                           "RebuildOriginal failed with another reason");
    return 0;
  }
  CheckOriginal(*o);
  KeySources src{.header = "x-api-key", .query_param = "api_key"};
  auto key = ExtractKey(req, *o, src);
  if (!key.ok()) {
    keyhold::fuzz::Require(key.status().code() == keyhold::StatusCode::kUnauthenticated,
                           "ExtractKey failed with another code");
    return 0;
  }
  if (!key->empty()) {
    keyhold::fuzz::Require(Candidates(req, *o, src).contains(*key),
                           "ExtractKey found a key in none of the places it reads");
  }
  return 0;
}
