// ForwardAuth: the /forward-auth surface, which answers a reverse proxy asking whether to let a
// request through (nginx auth_request, Envoy ext_authz in HTTP mode, Traefik forwardAuth, Caddy
// forward_auth). Its answers are status codes and headers only, never a body:
//
//   200  allowed. X-Keyhold-Key-Id, -Api-Id, -Key-Name, -Identity (the identity's externalId),
//        -Identity-Id, -Permissions and -Roles (comma-separated), -Meta (the key's meta as JSON)
//        and -Credits-Remaining are always sent, empty when the key has none, so a proxy that
//        copies them onto the upstream request overwrites whatever the client sent.
//   401  no key, a key that is not valid (not found, disabled, expired, or of an API not
//        accepted), or two different keys: WWW-Authenticate: Bearer realm="keyhold".
//   403  the key may not do this (permissions, IP allowlist) or has no credits left.
//   429  a rate limit, or the client address is blocked for guessing keys: Retry-After, and for
//        rate limits RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers).
//   400  the proxy did not say which request it asks about, or said it two ways (configuration).
// Every refusal says why in X-Keyhold-Code (verifyKey's code, or MISSING_KEY, CONFLICTING_KEYS,
// BAD_ORIGINAL_REQUEST). nginx treats any status but 200, 401 and 403 as an error; in nginx mode
// 400 and 429 are answered 403 with X-Keyhold-Status naming the real status.
//
//   ForwardAuth fa(keys, env, options);        // both must outlive it
//   router.Mount("/forward-auth", fa);
//
// Thread-safety: Handle may be called concurrently from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/env.h"
#include "http/forward_auth/original_request.h"
#include "http/forward_auth/routes.h"
#include "http/router.h"
#include "service/brute_force.h"
#include "service/key_service.h"

namespace keyhold::http::forward_auth {

inline constexpr std::string_view kPrefix = "/forward-auth";

struct ForwardAuthOptions {
  std::vector<std::string> api_ids;  // whose keys are accepted
  KeySources key_sources;
  OriginalSource original_source = OriginalSource::kAuto;
  std::shared_ptr<const RouteTable> routes;  // required
  bool nginx_mode = false;
  // Failed verifications per forwarded client address (threshold 0: not guarded).
  service::BruteForceOptions brute_force;
  // Hears of each address blocked (may be empty); called on the request's thread.
  service::KeyService::BlockedAddressFn on_block;
};

class ForwardAuth final : public Surface {
 public:
  // REQUIRES: options.routes is set.
  ForwardAuth(service::KeyService& keys, Env& env, ForwardAuthOptions options);

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  // An empty-bodied response with `status` (nginx mode applied) and X-Keyhold-Code naming
  // `reason`.
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  std::string_view Name() const override { return "forward_auth"; }
  std::vector<std::string_view> Routes() const override { return {kPrefix}; }
  int RouteIndex(std::string_view path) const override;

 private:
  HttpResponse Decide(RequestContext& ctx, const HttpRequest& req);
  // 429 while ctx's client address is blocked for guessing; nullopt when it is not.
  std::optional<HttpResponse> Blocked(const RequestContext& ctx) const;
  // Verifies `key` under `rule` and answers; counts a failure against ctx's client address.
  HttpResponse Verify(RequestContext& ctx, const RouteRule& rule, std::string_view key);
  // The answer for a verification: its status, identity or refusal headers, rate-limit fields.
  HttpResponse Answer(const service::VerifyResult& result) const;
  HttpResponse Deny(int status, std::string_view code) const;
  // Counts a failure from ctx's client address, if it is guarded.
  void CountFailure(const RequestContext& ctx);
  bool Guarded(const RequestContext& ctx) const;

  service::KeyService& keys_;
  Env& env_;
  const ForwardAuthOptions options_;
  const Principal verifier_;  // may verify keys of the accepted APIs, nothing else
  std::unique_ptr<service::BruteForceGuard> guard_;
};

// The response headers of an allowed request for `key` (nullptr: anonymous), in a fixed order.
std::vector<std::pair<std::string, std::string>> IdentityHeaders(const service::KeyView* key);

// RateLimit-Policy and RateLimit field values for `limits` (empty strings when none).
std::pair<std::string, std::string> RateLimitFields(
    const std::vector<service::RatelimitOutcome>& limits);

// `value` made safe as a header value: bytes outside printable ASCII, and '%', as %XX.
std::string HeaderSafe(std::string_view value);

}  // namespace keyhold::http::forward_auth
