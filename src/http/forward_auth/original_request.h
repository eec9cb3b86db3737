// The request a proxy asks /forward-auth about, rebuilt from what the proxy sends, and the key
// found in it.
//
// Each proxy describes the request it holds in its own way:
//   nginx auth_request   X-Original-Method, X-Original-URI (set in its configuration)
//   Traefik forwardAuth  X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host
//   Caddy forward_auth   X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host
//   Envoy ext_authz      the request itself: its method, and its path after the prefix
//                        (path_prefix: /forward-auth)
//
//   StatusOr<OriginalRequest> o = RebuildOriginal(req, "/forward-auth");
//   StatusOr<std::string> key = ExtractKey(req, *o, {.header = "x-api-key"});
//
// Pure functions of the request: no I/O, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "http/message.h"

namespace keyhold::http::forward_auth {

struct OriginalRequest {
  std::string method;  // upper case, e.g. "GET"
  std::string path;    // normalized (NormalizePath), e.g. "/tickets/7"
  std::string query;   // as sent, without the '?'; may be empty
  std::string host;    // X-Forwarded-Host, else Host; lower case, may be empty
};

// Which headers describe the original request: those of any proxy (kAuto), or only those of one.
enum class OriginalSource {
  kAuto,        // X-Original-*, X-Forwarded-*, else the path after the prefix
  kXOriginal,   // nginx: X-Original-URI, X-Original-Method
  kXForwarded,  // Traefik, Caddy: X-Forwarded-Uri, X-Forwarded-Method, X-Forwarded-Host
  kPath,        // Envoy: the path after the prefix and the request's own method
};

// Rebuilds the original request. Under kAuto the URI comes from X-Original-URI or
// X-Forwarded-Uri; if neither is sent, from the target after `prefix` (Envoy:
// "/forward-auth/tickets?x=1" is "/tickets?x=1"); the method from X-Original-Method or
// X-Forwarded-Method, else the request's own. When both headers of a pair are sent they must say
// the same: a client can add the one its proxy does not set, and which one a rule sees must not be
// the client's choice. Naming one proxy's source ignores every other header.
// Errors: kInvalidArgument reason "forward_auth/no_original_uri" when nothing names the URI,
// "forward_auth/conflicting_original" when two sources disagree, "forward_auth/bad_original_uri"
// for a URI NormalizePath refuses or a method that is not a token.
StatusOr<OriginalRequest> RebuildOriginal(const HttpRequest& req, std::string_view prefix,
                                          OriginalSource source = OriginalSource::kAuto);

// The path rules are matched against: an absolute-form URI's scheme and authority dropped,
// percent-escapes decoded (%2F too, as nginx does), empty and "." segments dropped, ".." segments
// applied; a trailing '/' is kept. "/a//b/./c/../d%2Fe" is "/a/b/d/e".
// Errors: kInvalidArgument for a path not starting with '/', a bad escape, a NUL or control
// byte, or ".." above the root.
StatusOr<std::string> NormalizePath(std::string_view raw);

// Where a key may be: `Authorization: Bearer <key>` always; `header` (lower case; empty: none);
// the query parameter `query_param` of the original URI (empty: none).
struct KeySources {
  std::string header;
  std::string query_param;
};

// The key the request carries, or "" if none. Every place holding one must hold the same:
// Errors: kUnauthenticated reason "authentication/conflicting_keys" when two disagree.
StatusOr<std::string> ExtractKey(const HttpRequest& req, const OriginalRequest& original,
                                 const KeySources& sources);

// Decodes %XX escapes. nullopt-like failure: false for a bad escape.
bool PercentDecode(std::string_view in, std::string* out);

}  // namespace keyhold::http::forward_auth
