#include "http/forward_auth/forward_auth.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace keyhold::http::forward_auth {
namespace {

Principal VerifierFor(const std::vector<std::string>& api_ids) {
  Principal p;
  p.key_id = "forward-auth";
  for (const std::string& id : api_ids) p.permissions.push_back("api." + id + ".verify_key");
  return p;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

int64_t CeilSeconds(int64_t ms) { return ms <= 0 ? 0 : (ms + 999) / 1000; }

// A structured-field string (RFC 8941 sf-string) holding `s`, which is printable ASCII.
std::string SfString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Codes the brute-force guard counts as a guess (brute_force.h); Decide counts two different
// keys too.
bool IsFailure(service::VerifyCode code) {
  using service::VerifyCode;
  return code == VerifyCode::kNotFound || code == VerifyCode::kDisabled ||
         code == VerifyCode::kExpired || code == VerifyCode::kForbidden ||
         code == VerifyCode::kInsufficientPermissions;
}

int StatusFor(service::VerifyCode code) {
  using service::VerifyCode;
  switch (code) {
    case VerifyCode::kValid:
      return 200;
    case VerifyCode::kNotFound:
    case VerifyCode::kDisabled:
    case VerifyCode::kExpired:
      return 401;
    case VerifyCode::kRateLimited:
      return 429;
    case VerifyCode::kForbidden:
    case VerifyCode::kInsufficientPermissions:
    case VerifyCode::kUsageExceeded:
      return 403;
  }
  return 403;
}

service::VerifyRequest VerifyRequestFor(const RouteRule& rule, std::string_view key) {
  service::VerifyRequest v;
  v.key = key;
  v.permissions_query = rule.permissions;
  v.cost = rule.cost;
  for (const RouteLimit& l : rule.ratelimits) {
    v.ratelimits.push_back(
        {.name = l.name, .cost = l.cost, .limit = l.limit, .duration_ms = l.duration_ms});
  }
  return v;
}

}  // namespace

std::string HeaderSafe(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> IdentityHeaders(const service::KeyView* key) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"X-Keyhold-Key-Id", ""},
      {"X-Keyhold-Api-Id", ""},
      {"X-Keyhold-Key-Name", ""},
      {"X-Keyhold-Identity", ""},
      {"X-Keyhold-Identity-Id", ""},
      {"X-Keyhold-Permissions", ""},
      {"X-Keyhold-Roles", ""},
      {"X-Keyhold-Meta", ""},
      {"X-Keyhold-Credits-Remaining", ""},
  };
  if (!key) return h;
  h[0].second = key->id();
  h[1].second = key->api_id();
  h[2].second = HeaderSafe(key->name().value_or(""));
  if (key->identity()) {
    h[3].second = HeaderSafe(key->identity()->external_id);
    h[4].second = key->identity()->id;
  }
  h[5].second = HeaderSafe(Join(key->effective_permissions()));
  h[6].second = HeaderSafe(Join(key->roles()));
  if (!key->meta_json().empty()) {
    // Re-serialized with every non-ASCII character escaped: a header value is ASCII.
    nlohmann::json meta = nlohmann::json::parse(key->meta_json(), nullptr, false);
    if (!meta.is_discarded()) {
      h[7].second = meta.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    }
  }
  if (key->credits().remaining) h[8].second = std::to_string(*key->credits().remaining);
  return h;
}

std::pair<std::string, std::string> RateLimitFields(
    const std::vector<service::RatelimitOutcome>& limits) {
  std::string policy;
  std::string state;
  for (const service::RatelimitOutcome& l : limits) {
    if (!policy.empty()) {
      policy += ", ";
      state += ", ";
    }
    std::string name = SfString(HeaderSafe(l.name));
    policy +=
        name + ";q=" + std::to_string(l.limit) + ";w=" + std::to_string(CeilSeconds(l.duration_ms));
    state += name + ";r=" + std::to_string(std::max<int64_t>(0, l.remaining)) +
             ";t=" + std::to_string(CeilSeconds(l.reset_ms));
  }
  return {policy, state};
}

ForwardAuth::ForwardAuth(service::KeyService& keys, Env& env, ForwardAuthOptions options)
    : keys_(keys),
      env_(env),
      options_(std::move(options)),
      verifier_(VerifierFor(options_.api_ids)) {
  if (options_.brute_force.threshold > 0) {
    guard_ = std::make_unique<service::BruteForceGuard>(options_.brute_force);
  }
}

int ForwardAuth::RouteIndex(std::string_view path) const {
  if (!path.starts_with(kPrefix)) return -1;
  path.remove_prefix(kPrefix.size());
  return path.empty() || path.starts_with('/') ? 0 : -1;
}

HttpResponse ForwardAuth::Deny(int status, std::string_view code) const {
  HttpResponse r;
  r.status = status;
  if (options_.nginx_mode && status != 401 && status != 403 && status < 500) {
    r.status = 403;
    r.headers.emplace_back("X-Keyhold-Status", std::to_string(status));
  }
  r.headers.emplace_back("X-Keyhold-Code", std::string(code));
  if (status == 401) {
    // RFC 6750 §3: no error attribute when the request carried no credentials.
    r.headers.emplace_back("WWW-Authenticate",
                           code == "MISSING_KEY"
                               ? R"(Bearer realm="keyhold")"
                               : R"(Bearer realm="keyhold", error="invalid_token")");
  }
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse ForwardAuth::Error(const RequestContext& /*ctx*/, int status, std::string_view reason,
                                std::string_view /*detail*/) const {
  std::string code(reason);
  for (char& c : code) {
    c = c == '/' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return Deny(status, code);
}

bool ForwardAuth::Guarded(const RequestContext& ctx) const {
  // Only an address a trusted proxy forwarded: the peer itself is the proxy, and blocking it
  // would refuse every user behind it.
  return guard_ && !ctx.client_ip.empty() && ctx.client_ip != ctx.peer_ip;
}

void ForwardAuth::CountFailure(const RequestContext& ctx) {
  if (!Guarded(ctx)) return;
  int64_t now = env_.NowMillis();
  int64_t failures = 0;
  if (guard_->Fail(ctx.client_ip, now, &failures) && options_.on_block) {
    options_.on_block(service::BruteForceSubject(ctx.client_ip), failures, now);
  }
}

HttpResponse ForwardAuth::Handle(RequestContext& ctx, const HttpRequest& req) {
  if (RouteIndex(req.Path()) < 0) return Deny(404, "ROUTE_NOT_FOUND");
  return Decide(ctx, req);
}

HttpResponse ForwardAuth::Decide(RequestContext& ctx, const HttpRequest& req) {
  StatusOr<OriginalRequest> original = RebuildOriginal(req, kPrefix, options_.original_source);
  if (!original.ok()) return Deny(400, "BAD_ORIGINAL_REQUEST");
  // Recorded with the verification; never the query, which may hold the key.
  ctx.route = original->method + " " + original->path;
  const RouteRule& rule = options_.routes->Match(*original);
  if (rule.anonymous) {
    HttpResponse allowed;
    allowed.headers = IdentityHeaders(nullptr);
    return allowed;
  }
  if (std::optional<HttpResponse> blocked = Blocked(ctx)) return std::move(*blocked);
  StatusOr<std::string> key = ExtractKey(req, *original, options_.key_sources);
  if (!key.ok()) {
    // Two different keys, or a query key that is not well encoded: a guess either way.
    CountFailure(ctx);
    const bool conflict = key.status().reason() == "authentication/conflicting_keys";
    return Deny(401, conflict ? "CONFLICTING_KEYS" : "NOT_FOUND");
  }
  if (key->empty()) return Deny(401, "MISSING_KEY");
  return Verify(ctx, rule, *key);
}

std::optional<HttpResponse> ForwardAuth::Blocked(const RequestContext& ctx) const {
  if (!Guarded(ctx)) return std::nullopt;
  int64_t now = env_.NowMillis();
  int64_t until = guard_->BlockedUntil(ctx.client_ip, now);
  if (until <= now) return std::nullopt;
  HttpResponse r = Deny(429, "RATE_LIMITED");
  r.headers.emplace_back("Retry-After", std::to_string(CeilSeconds(until - now)));
  return r;
}

HttpResponse ForwardAuth::Verify(RequestContext& ctx, const RouteRule& rule, std::string_view key) {
  RequestContext vctx = ctx;
  vctx.actor = verifier_;
  StatusOr<service::VerifyResult> result = keys_.Verify(vctx, VerifyRequestFor(rule, key));
  if (!result.ok()) {
    if (IsWouldBlock(result.status())) return HttpResponse::RunOnWorker();
    if (result.status().code() == StatusCode::kUnavailable) {
      return Error(ctx, 503, result.status().reason(), "");
    }
    // Rules are checked when the server starts, so this is a broken invariant, not a policy.
    spdlog::error("{} forward-auth rule at line {} could not be applied: {}", ctx.request_id,
                  rule.line, result.status().message());
    return Error(ctx, 500, "application/unexpected_error", "");
  }
  if (IsFailure(result->code)) CountFailure(ctx);
  return Answer(*result);
}

HttpResponse ForwardAuth::Answer(const service::VerifyResult& result) const {
  const int status = StatusFor(result.code);
  HttpResponse r;
  if (status == 200) {
    r.headers = IdentityHeaders(&*result.key);
  } else {
    r = Deny(status, service::VerifyCodeName(result.code));
  }
  if (result.code == service::VerifyCode::kRateLimited) {
    // -1: the cost is more than the limit holds, so waiting never helps; say a full window.
    int64_t wait = result.retry_after_ms;
    for (const auto& l : result.ratelimits) {
      if (wait < 0 && l.exceeded) wait = std::max(wait, l.duration_ms);
    }
    r.headers.emplace_back("Retry-After", std::to_string(std::max<int64_t>(1, CeilSeconds(wait))));
  }
  if (!result.ratelimits.empty()) {
    auto [policy, state] = RateLimitFields(result.ratelimits);
    r.headers.emplace_back("RateLimit-Policy", std::move(policy));
    r.headers.emplace_back("RateLimit", std::move(state));
  }
  return r;
}

}  // namespace keyhold::http::forward_auth
