#include "http/vault/vault_api.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>

#include "core/secret_path.h"
#include "http/auth.h"
#include "http/json_response.h"
#include "http/unkey/wire.h"
#include "service/key_service.h"
#include "service/secrets.h"

namespace keyhold::http::vault {

using nlohmann::json;

namespace {

constexpr int kMaxJsonDepth = 64;

// The route labels of metrics: fixed names, never a mount or path a client sent.
constexpr std::string_view kRoutes[] = {"sys/health",
                                        "sys/seal-status",
                                        "sys/mounts",
                                        "sys/internal/ui/mounts",
                                        "sys/rotate",
                                        "auth/token/lookup-self",
                                        "auth/token/renew-self",
                                        "kv/data",
                                        "kv/metadata",
                                        "kv/delete",
                                        "kv/undelete",
                                        "kv/destroy",
                                        "kv/config",
                                        "sys/unseal",
                                        "sys/seal"};

HttpResponse PermissionDenied() { return VaultError(403, "permission denied"); }

// Vault's seal-status shape (also the answer to sys/unseal).
json SealStatusJson(const SealControl::State& state, const VaultOptions& options) {
  return {
      {"type", "shamir"},     {"initialized", true},        {"sealed", state.sealed},
      {"t", state.threshold}, {"n", state.shares},          {"progress", state.progress},
      {"nonce", state.nonce}, {"version", options.version}, {"build_date", ""},
      {"migration", false},   {"recovery_seal", false},     {"storage_type", options.storage_type}};
}

// Vault's 404 for a path nothing serves, without the path Vault quotes: a client may have put
// a key or a token in it, and an answer is no place to repeat one.
HttpResponse NoHandler() { return VaultError(404, "no handler for route: route entry not found"); }

HttpResponse MalformedPath() {
  return VaultError(400,
                    "invalid secret path: a malformed %-escape (a % not followed by two hex "
                    "digits) or an encoded NUL");
}

HttpResponse MalformedSystemPath() {
  return VaultError(400,
                    "invalid path: a malformed %-escape (a % not followed by two hex digits) "
                    "or an encoded NUL");
}

// Vault's 405 says no more than "unsupported operation"; this one names the method too.
HttpResponse UnsupportedOperation(const HttpRequest& req) {
  return VaultError(405, "unsupported operation: " + req.method + " is not served on this path");
}

HttpResponse NoContent() {
  HttpResponse r;
  r.status = 204;
  return r;
}

}  // namespace

HttpResponse ErrorOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
      return PermissionDenied();
    case StatusCode::kNotFound:
      return VaultError(404, "");
    case StatusCode::kInvalidArgument:
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return VaultError(400, st.message());
    case StatusCode::kPayloadTooLarge:
      return VaultError(413, st.message());
    case StatusCode::kUnavailable: {
      HttpResponse r = VaultError(503, st.message());
      // Too many reads wait for their audit entries: a moment's wait is enough (Vault's clients
      // retry a 503 by themselves).
      if (st.reason() == service::kReadsBackloggedReason)
        r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    default:
      return VaultError(500, st.message());
  }
}

namespace {

// The token of a request: X-Vault-Token, else (as Vault, also when it is empty) Authorization:
// Bearer.
std::optional<std::string_view> TokenOf(const HttpRequest& req) {
  if (!req.Header("x-vault-token").empty()) return req.Header("x-vault-token");
  if (req.HasHeader("authorization")) return BearerToken(req.Header("authorization"));
  return std::nullopt;
}

// The request body as a JSON object; an empty body is an empty object.
StatusOr<json> BodyObject(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  if (unkey::JsonDepthExceeds(req.body, kMaxJsonDepth)) {
    return InvalidArgument("the request body is nested too deeply");
  }
  bool duplicate = false;
  json body = unkey::ParseJsonStrict(req.body, &duplicate);
  if (duplicate) return InvalidArgument("the request body repeats a key");
  if (!body.is_object()) return InvalidArgument("failed to parse JSON input: not an object");
  return body;
}

json VersionMetadata(const service::SecretVersionInfo& v, const std::string& custom) {
  json custom_json = custom.empty() ? json(nullptr) : json::parse(custom, nullptr, false);
  return {{"created_time", VaultTime(v.created_at_ms)},
          {"custom_metadata", custom_json.is_discarded() ? json(nullptr) : custom_json},
          {"deletion_time", v.deletion_time_ms ? VaultTime(*v.deletion_time_ms) : ""},
          {"destroyed", v.destroyed},
          {"version", v.version}};
}

// `?version=` of a data read: absent or empty (as Vault) is 0, the current version; else decimal
// digits, leading zeros allowed, of a number below 10^18. kInvalidArgument for anything else.
StatusOr<int64_t> VersionParam(const HttpRequest& req) {
  KH_ASSIGN_OR_RETURN(auto v, QueryParam(req.target, "version"));
  if (!v || v->empty()) return 0;
  std::optional<int64_t> version = ParseGoInt(*v, 0, 999'999'999'999'999'999);
  if (!version) return InvalidArgument("version must be a whole number of at most 18 digits");
  return *version;
}

// A flag of the query, `name`, as Vault reads `list`: absent or empty is false; else a value
// Go's strconv.ParseBool takes. kInvalidArgument naming the flag for anything else.
StatusOr<bool> FlagParam(const HttpRequest& req, std::string_view name) {
  KH_ASSIGN_OR_RETURN(auto v, QueryParam(req.target, name));
  if (!v || v->empty()) return false;
  std::optional<bool> flag = ParseGoBool(*v);
  if (!flag) {
    return InvalidArgument(
        std::string(name) +
        " must be one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False");
  }
  return *flag;
}

// The answer to a read of a secret's data, for the request `request_id`: Vault's envelope
// around the data and its version's metadata, 404 with the metadata for a deleted or destroyed
// version. The stored data is the text of one JSON object (every write checks that), so it goes
// into the envelope as it is, in the place nlohmann's sorted keys would give it; what the HTTP
// surface stores is nlohmann's own dump, so the bytes are those parsing and dumping it gave.
HttpResponse SecretDataAnswer(const std::string& request_id,
                              const StatusOr<service::SecretValue>& got) {
  if (!got.ok()) return ErrorOf(got.status());
  std::string metadata = VersionMetadata(got->version, got->custom_metadata_json)
                             .dump(-1, ' ', false, json::error_handler_t::replace);
  std::string_view data = got->available ? got->data_json.Reveal() : "null";
  HttpResponse r;
  r.status = got->available ? 200 : 404;
  r.headers.emplace_back("Content-Type", "application/json");
  std::string id = json(request_id).dump(-1, ' ', false, json::error_handler_t::replace);
  r.body.reserve(data.size() + metadata.size() + id.size() + 160);
  r.body.append(R"({"auth":null,"data":{"data":)")
      .append(data)
      .append(R"(,"metadata":)")
      .append(metadata)
      .append(R"(},"lease_duration":0,"lease_id":"","renewable":false,"request_id":)")
      .append(id)
      .append(R"(,"warnings":null,"wrap_info":null})");
  return r;
}

// `options.cas` of a write body: absent, or a non-negative integer.
StatusOr<std::optional<int64_t>> CasOf(const json& body) {
  auto options = body.find("options");
  if (options == body.end() || options->is_null()) return std::optional<int64_t>();
  if (!options->is_object()) return InvalidArgument("options must be an object");
  auto cas = options->find("cas");
  if (cas == options->end() || cas->is_null()) return std::optional<int64_t>();
  if (!cas->is_number_integer() || cas->get<int64_t>() < 0) {
    return InvalidArgument("cas must be a non-negative integer");
  }
  return std::optional<int64_t>(cas->get<int64_t>());
}

// `versions` of a delete/undelete/destroy body: integers, as numbers or numeric strings.
StatusOr<std::vector<int64_t>> VersionsOf(const json& body) {
  auto versions = body.find("versions");
  if (versions == body.end() || !versions->is_array() || versions->empty()) {
    return InvalidArgument("no version number provided");
  }
  if (versions->size() > 1000) return InvalidArgument("too many versions");
  std::vector<int64_t> out;
  for (const json& v : *versions) {
    if (v.is_number_integer()) {
      out.push_back(v.get<int64_t>());
    } else if (v.is_string() && !v.get_ref<const std::string&>().empty() &&
               v.get_ref<const std::string&>().size() < 19 &&
               std::all_of(v.get_ref<const std::string&>().begin(),
                           v.get_ref<const std::string&>().end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      out.push_back(std::stoll(v.get<std::string>()));
    } else {
      return InvalidArgument("versions must be integers");
    }
  }
  return out;
}

// A duration field given as a Go duration string or a number of seconds.
StatusOr<std::optional<int64_t>> DurationOf(const json& body, const char* name) {
  auto d = body.find(name);
  if (d == body.end() || d->is_null()) return std::optional<int64_t>();
  std::optional<int64_t> ms;
  if (d->is_number_unsigned() || (d->is_number_integer() && d->get<int64_t>() >= 0)) {
    ms = ParseGoDuration(std::to_string(d->get<int64_t>()));
  } else if (d->is_string()) {
    ms = ParseGoDuration(d->get<std::string>());
  }
  if (!ms) return InvalidArgument(std::string(name) + " must be a duration such as \"1h30m\"");
  return ms;
}

StatusOr<std::optional<int32_t>> MaxVersionsOf(const json& body) {
  auto m = body.find("max_versions");
  if (m == body.end() || m->is_null()) return std::optional<int32_t>();
  if (!m->is_number_integer() || m->get<int64_t>() < 0 ||
      m->get<int64_t>() > service::kMaxSecretVersions) {
    return InvalidArgument("max_versions must be an integer between 0 and " +
                           std::to_string(service::kMaxSecretVersions));
  }
  return std::optional<int32_t>(static_cast<int32_t>(m->get<int64_t>()));
}

StatusOr<std::optional<bool>> BoolOf(const json& body, const char* name) {
  auto b = body.find(name);
  if (b == body.end() || b->is_null()) return std::optional<bool>();
  if (!b->is_boolean()) return InvalidArgument(std::string(name) + " must be true or false");
  return std::optional<bool>(b->get<bool>());
}

bool IsMergePatch(const HttpRequest& req) {
  std::string_view type = req.Header("content-type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  constexpr std::string_view kMergePatch = "application/merge-patch+json";
  return type.size() == kMergePatch.size() &&
         std::equal(type.begin(), type.end(), kMergePatch.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// A string member of `body` ("" if absent); false if it is there but not a string.
bool StringMember(const json& body, const char* name, std::string* out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return true;
  if (!it->is_string()) return false;
  *out = it->get<std::string>();
  return true;
}

// `keyhold_stage` of a data read (Vault has no such parameter, so no Vault client sends it):
// current, pending or previous.
StatusOr<std::optional<service::SecretStage>> StageOf(const HttpRequest& req) {
  KH_ASSIGN_OR_RETURN(auto v, QueryParam(req.target, "keyhold_stage"));
  if (!v) return std::optional<service::SecretStage>();
  if (*v == "current") return std::optional(service::SecretStage::kCurrent);
  if (*v == "pending") return std::optional(service::SecretStage::kPending);
  if (*v == "previous") return std::optional(service::SecretStage::kPrevious);
  return InvalidArgument("keyhold_stage must be current, pending or previous");
}

// keyhold's own metadata of a secret: its rotation schedule and the stages of its versions.
json KeyholdMetadata(const service::SecretMetadata& m) {
  auto version = [](const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); };
  json out = {
      {"rotation_period", m.rotation_period_ms ? GoDuration(*m.rotation_period_ms) : ""},
      {"next_rotation_time", m.next_rotation_at_ms ? VaultTime(*m.next_rotation_at_ms) : ""},
      {"current_version", m.current_version},
      {"pending_version", version(m.pending_version)},
      {"previous_version", version(m.previous_version)},
      {"rotation_step", m.rotation_step},
      {"rotation_failure", m.rotation_failure}};
  return out;
}

}  // namespace

HttpResponse VaultError(int status, std::string_view detail) {
  json errors = json::array();
  if (!detail.empty()) errors.push_back(detail);
  return JsonResponse(status, {{"errors", errors}});
}

HttpResponse VaultApi::Error(const RequestContext& /*ctx*/, int status, std::string_view /*reason*/,
                             std::string_view detail) const {
  return VaultError(status, detail);
}

std::vector<std::string_view> VaultApi::Routes() const {
  return {std::begin(kRoutes), std::end(kRoutes)};
}

int VaultApi::RouteIndex(std::string_view path) const {
  if (!path.starts_with("/v1/")) return -1;
  path.remove_prefix(4);
  auto index_of = [](std::string_view label) {
    for (size_t i = 0; i < std::size(kRoutes); ++i) {
      if (kRoutes[i] == label) return static_cast<int>(i);
    }
    return -1;
  };
  std::string system;
  if (auto sys = ParseSystemPath(path)) {
    if (sys->malformed) return -1;
    system = std::move(sys->path);
    path = system;
  }
  if (path.starts_with("sys/internal/ui/mounts")) return index_of("sys/internal/ui/mounts");
  if (path.starts_with("sys/mounts")) return index_of("sys/mounts");
  if (path.starts_with("sys/") || path.starts_with("auth/")) return index_of(path);
  auto route = ParseKvPath(path);
  if (!route) return -1;
  return index_of("kv/" + route->kind);
}

HttpResponse VaultApi::Envelope(const RequestContext& ctx, int status, json data) const {
  return JsonResponse(status, {{"request_id", ctx.request_id},
                               {"lease_id", ""},
                               {"renewable", false},
                               {"lease_duration", 0},
                               {"data", std::move(data)},
                               {"wrap_info", nullptr},
                               {"warnings", nullptr},
                               {"auth", nullptr}});
}

HttpResponse VaultApi::Handle(RequestContext& ctx, const HttpRequest& req) {
  std::string_view path = req.Path().substr(4);  // after "/v1/"
  // A parameter that cannot be read is refused, never taken as absent: `version=1%00` must not
  // read the current version, nor a bad `after` start a listing over.
  if (auto problem = QueryProblem(req.target)) return VaultError(400, *problem);
  // sys/ and auth/ paths are decoded here, once, as KV paths are by ParseKvPath: the routes
  // below compare the decoded path.
  std::optional<SystemPath> system = ParseSystemPath(path);
  if (system && system->malformed) return MalformedSystemPath();
  if (system) path = system->path;
  if (path == "sys/health") return Health(req);
  if (path == "sys/seal-status") {
    if (req.method != "GET") return UnsupportedOperation(req);
    return SealStatus(ctx);
  }
  if (path == "sys/unseal") return Unseal(ctx, req);
  if (path == "sys/seal") return Seal(ctx, req);  // before the pass: sealing waits for passes
  // Held until the answer is made: the secret service stays (a seal waits) while it is used.
  RequestGate::Pass pass = secrets_.Enter();
  if (!pass && options_.seal && options_.seal->IsSealed()) {
    return VaultError(503, "Vault is sealed");
  }
  if (!keys_ || !pass) return NoHandler();
  if (!ctx.may_block) {
    // Everything else reads the store (tokens are in memory, but secrets and mounts are not):
    // on a worker, unless it is a read of a secret's data that can be answered without one.
    if (auto later = ReadWithoutWorker(ctx, req, path)) return *std::move(later);
    return HttpResponse::RunOnWorker();
  }
  return Authenticated(ctx, req, path);
}

// The most frequent call, a read of a secret's current (or a given) version, answered from the
// I/O thread: the value is read and opened here, and the answer is sent once the read's audit
// entry is committed, by the store's commit thread, so that neither thread waits for the other.
// Anything this does not take (no valid token, a refusal, a stage, a mount not known at once)
// goes to a worker through Authenticated, which gives every answer; nothing has changed by then.
std::optional<HttpResponse> VaultApi::ReadWithoutWorker(RequestContext& ctx, const HttpRequest& req,
                                                        std::string_view path) {
  if (req.method != "GET" || path.starts_with("sys/") || path.starts_with("auth/") ||
      req.HasHeader("x-vault-wrap-ttl")) {
    return std::nullopt;
  }
  // Anything but a plain read of a version (a stage, a list, a malformed query) is for
  // Authenticated.
  auto stage = QueryParam(req.target, "keyhold_stage");
  if (!stage.ok() || *stage) return std::nullopt;
  StatusOr<bool> list = FlagParam(req, "list");
  if (!list.ok() || *list) return std::nullopt;
  auto route = ParseKvPath(path);
  if (!route || route->malformed || route->kind != "data" || !IsValidMountName(route->mount)) {
    return std::nullopt;
  }
  StatusOr<int64_t> version = VersionParam(req);
  if (!version.ok()) return std::nullopt;
  // A blocked address, and a failed check (which the guard counts there), are Authenticated's.
  if (keys_->AuthenticationBlockedForMs(ctx) > 0) return std::nullopt;
  auto token = TokenOf(req);
  if (!token || token->empty()) return std::nullopt;
  auto actor = keys_->Authenticate(*token);
  if (!actor.ok()) return std::nullopt;
  RequestContext reader = ctx;
  reader.actor = *std::move(actor);
  // The read may end before the server asks for the answer, or after: whichever comes second
  // sends it.
  struct Meeting {
    std::mutex mu;
    std::optional<HttpResponse> answer;            // guarded by mu
    std::optional<HttpResponse::Respond> respond;  // guarded by mu
  };
  auto meeting = std::make_shared<Meeting>();
  bool taken = secrets_->ReadLater(
      reader, route->mount, route->path, *version,
      [request_id = ctx.request_id, meeting](const StatusOr<service::SecretValue>& got) {
        HttpResponse answer = SecretDataAnswer(request_id, got);
        std::unique_lock lock(meeting->mu);
        if (!meeting->respond) {
          meeting->answer = std::move(answer);
          return;
        }
        HttpResponse::Respond respond = std::move(*meeting->respond);
        lock.unlock();
        respond(std::move(answer));
      });
  if (!taken) return std::nullopt;
  ctx.actor = std::move(reader.actor);
  return HttpResponse::Later([meeting](HttpResponse::Respond respond) {
    std::unique_lock lock(meeting->mu);
    if (!meeting->answer) {
      meeting->respond = std::move(respond);
      return;
    }
    HttpResponse answer = std::move(*meeting->answer);
    lock.unlock();
    respond(std::move(answer));
  });
}

std::optional<HttpResponse> VaultApi::SignIn(RequestContext& ctx, const HttpRequest& req) {
  // An address blocked for guessing tokens (or keys) is not even told whether this one is good.
  if (int64_t blocked_ms = keys_->AuthenticationBlockedForMs(ctx); blocked_ms > 0) {
    HttpResponse r = VaultError(429, "too many failed token checks from this address; retry later");
    r.headers.emplace_back("Retry-After", std::to_string((blocked_ms + 999) / 1000));
    return r;
  }
  auto token = TokenOf(req);
  if (!token || token->empty()) return PermissionDenied();
  auto actor = keys_->AuthenticateFrom(ctx, *token);
  if (!actor.ok()) return PermissionDenied();
  ctx.actor = *std::move(actor);
  return std::nullopt;
}

HttpResponse VaultApi::Authenticated(RequestContext& ctx, const HttpRequest& req,
                                     std::string_view path) {
  if (auto refused = SignIn(ctx, req)) return *std::move(refused);
  if (req.HasHeader("x-vault-wrap-ttl")) {
    return VaultError(400, "response wrapping is not supported: ask without X-Vault-Wrap-TTL");
  }
  if (path.starts_with("sys/")) return Sys(ctx, req, path);
  if (path.starts_with("auth/")) return Token(ctx, req, path);
  auto route = ParseKvPath(path);
  // A path that cannot be read (its mount included) names nothing to check access to.
  if (route && route->malformed) return MalformedPath();
  // Only a caller who may use something in a mount learns whether it exists.
  if (route && !SecretAnyAccessReaches(ctx.actor.permissions, route->mount + "/")) {
    return PermissionDenied();
  }
  if (!route || !IsValidMountName(route->mount) || !secrets_->MountExists(route->mount)) {
    return NoHandler();
  }
  return Kv(ctx, req, *route);
}

HttpResponse VaultApi::Kv(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  if (route.malformed) return MalformedPath();
  if (route.kind == "data") return Data(ctx, req, route);
  if (route.kind == "metadata") return Metadata(ctx, req, route);
  if (route.kind == "delete" || route.kind == "undelete" || route.kind == "destroy") {
    return Versions(ctx, req, route);
  }
  if (route.kind == "config" && route.path.empty()) return Config(ctx, req, route);
  return NoHandler();
}

HttpResponse VaultApi::Data(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  StatusOr<bool> list = FlagParam(req, "list");
  if (!list.ok()) return ErrorOf(list.status());
  if (req.method == "LIST" || (req.method == "GET" && *list)) {
    return VaultError(405,
                      "unsupported operation: data/ paths cannot be listed; list a folder "
                      "with LIST <mount>/metadata/<folder>/");
  }
  if (req.method == "GET") {
    StatusOr<int64_t> parsed = VersionParam(req);
    if (!parsed.ok()) return ErrorOf(parsed.status());
    int64_t version = *parsed;
    auto stage = StageOf(req);
    if (!stage.ok()) return ErrorOf(stage.status());
    if (*stage && version != 0) return VaultError(400, "give either version or keyhold_stage");
    auto got = *stage ? secrets_->ReadStage(ctx, route.mount, route.path, **stage)
                      : secrets_->Read(ctx, route.mount, route.path, version);
    return SecretDataAnswer(ctx.request_id, got);
  }
  if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    bool patch = req.method == "PATCH";
    if (patch && !IsMergePatch(req)) {
      return VaultError(415, "PATCH requires Content-Type: application/merge-patch+json");
    }
    auto body = BodyObject(req);
    if (!body.ok()) return ErrorOf(body.status());
    auto cas = CasOf(*body);
    if (!cas.ok()) return ErrorOf(cas.status());
    auto data = body->find("data");
    if (data == body->end() || !data->is_object()) return VaultError(400, "no data provided");
    crypto::Secret text(data->dump());
    auto written = patch ? secrets_->Patch(ctx, route.mount, route.path, std::move(text), *cas)
                         : secrets_->Write(ctx, route.mount, route.path, std::move(text), *cas);
    if (!written.ok()) return ErrorOf(written.status());
    return Envelope(ctx, 200, VersionMetadata(*written, ""));
  }
  if (req.method == "DELETE") {
    Status st = secrets_->DeleteVersions(ctx, route.mount, route.path, {});
    if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorOf(st);
    return NoContent();
  }
  return UnsupportedOperation(req);
}

HttpResponse VaultApi::Metadata(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  StatusOr<bool> list = FlagParam(req, "list");
  if (!list.ok()) return ErrorOf(list.status());
  if (req.method == "LIST" || (req.method == "GET" && *list)) return List(ctx, req, route);
  if (req.method == "GET") {
    auto m = secrets_->ReadMetadata(ctx, route.mount, route.path);
    if (!m.ok()) return ErrorOf(m.status());
    json versions = json::object();
    for (const auto& v : m->versions) {
      versions[std::to_string(v.version)] = {
          {"created_time", VaultTime(v.created_at_ms)},
          {"deletion_time", v.deletion_time_ms ? VaultTime(*v.deletion_time_ms) : ""},
          {"destroyed", v.destroyed}};
    }
    json custom = m->custom_metadata_json.empty()
                      ? json(nullptr)
                      : json::parse(m->custom_metadata_json, nullptr, false);
    json data = {{"cas_required", m->cas_required},
                 {"created_time", VaultTime(m->created_at_ms)},
                 {"current_version", m->current_version},
                 {"custom_metadata", custom},
                 {"delete_version_after", GoDuration(m->delete_version_after_ms)},
                 {"max_versions", m->max_versions},
                 {"oldest_version", m->oldest_version},
                 {"updated_time", VaultTime(m->updated_at_ms)},
                 {"versions", versions}};
    if (m->rotation_period_ms || m->pending_version || m->previous_version) {
      data["keyhold"] = KeyholdMetadata(*m);
    }
    return Envelope(ctx, 200, data);
  }
  if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    if (req.method == "PATCH" && !IsMergePatch(req)) {
      return VaultError(415, "PATCH requires Content-Type: application/merge-patch+json");
    }
    auto body = BodyObject(req);
    if (!body.ok()) return ErrorOf(body.status());
    service::MetadataChange change;
    auto max_versions = MaxVersionsOf(*body);
    auto cas_required = BoolOf(*body, "cas_required");
    auto dva = DurationOf(*body, "delete_version_after");
    auto rotation = DurationOf(*body, "rotation_period");
    for (const Status& st :
         {max_versions.status(), cas_required.status(), dva.status(), rotation.status()}) {
      if (!st.ok()) return ErrorOf(st);
    }
    change.max_versions = *max_versions;
    change.cas_required = *cas_required;
    change.delete_version_after_ms = *dva;
    change.rotation_period_ms = *rotation;
    if (auto custom = body->find("custom_metadata"); custom != body->end() && !custom->is_null()) {
      change.custom_metadata_json = custom->dump();
    }
    Status st = secrets_->WriteMetadata(ctx, route.mount, route.path, change);
    return st.ok() ? NoContent() : ErrorOf(st);
  }
  if (req.method == "DELETE") {
    Status st = secrets_->DeleteMetadata(ctx, route.mount, route.path);
    if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorOf(st);
    return NoContent();
  }
  return UnsupportedOperation(req);
}

HttpResponse VaultApi::List(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  std::string folder = route.path;
  if (!folder.empty() && !folder.ends_with('/')) folder += '/';
  StatusOr<bool> recursive = FlagParam(req, "recursive");
  if (!recursive.ok()) return ErrorOf(recursive.status());
  if (*recursive) return ListRecursive(ctx, req, route, folder);
  auto names = secrets_->List(ctx, route.mount, folder);
  if (!names.ok()) return ErrorOf(names.status());
  if (names->empty()) return VaultError(404, "");
  return Envelope(ctx, 200, {{"keys", *names}});
}

// Beyond Vault: every secret under the folder, at any depth, a page at a time:
// `?recursive=true[&limit=N][&after=PATH]`. `keys` are paths relative to the folder; `next_after`,
// when present, is the `after` of the next page. An empty first page is Vault's empty LIST, 404.
HttpResponse VaultApi::ListRecursive(RequestContext& ctx, const HttpRequest& req,
                                     const KvPath& route, const std::string& folder) {
  auto limit_text = QueryParam(req.target, "limit");
  if (!limit_text.ok()) return ErrorOf(limit_text.status());
  int limit = kDefaultListPage;
  if (*limit_text) {
    // Leading zeros as Go's strconv.Atoi reads them; no sign.
    std::optional<int64_t> v = ParseGoInt(**limit_text, 1, service::SecretService::kMaxListPage);
    if (!v) {
      return VaultError(400, "limit must be a whole number from 1 to " +
                                 std::to_string(service::SecretService::kMaxListPage));
    }
    limit = static_cast<int>(*v);
  }
  auto after_text = QueryParam(req.target, "after");
  if (!after_text.ok()) return ErrorOf(after_text.status());
  std::string after = after_text->value_or("");
  auto page = secrets_->ListRecursive(ctx, route.mount, folder, after, limit);
  if (!page.ok()) return ErrorOf(page.status());
  if (page->keys.empty() && !page->next_after && after.empty()) return VaultError(404, "");
  json data = {{"keys", page->keys}};
  if (page->next_after) data["next_after"] = *page->next_after;
  return Envelope(ctx, 200, std::move(data));
}

HttpResponse VaultApi::Versions(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  if (req.method != "POST" && req.method != "PUT") return UnsupportedOperation(req);
  auto body = BodyObject(req);
  if (!body.ok()) return ErrorOf(body.status());
  auto versions = VersionsOf(*body);
  if (!versions.ok()) return ErrorOf(versions.status());
  Status st;
  if (route.kind == "delete") {
    st = secrets_->DeleteVersions(ctx, route.mount, route.path, *versions);
  } else if (route.kind == "undelete") {
    st = secrets_->UndeleteVersions(ctx, route.mount, route.path, *versions);
  } else {
    st = secrets_->DestroyVersions(ctx, route.mount, route.path, *versions);
  }
  if (!st.ok() && st.code() != StatusCode::kNotFound) return ErrorOf(st);
  return NoContent();
}

HttpResponse VaultApi::Config(RequestContext& ctx, const HttpRequest& req, const KvPath& route) {
  if (req.method == "GET") {
    auto c = secrets_->ReadMountConfig(ctx, route.mount);
    if (!c.ok()) return ErrorOf(c.status());
    return Envelope(ctx, 200,
                    {{"cas_required", c->cas_required},
                     {"delete_version_after", GoDuration(c->delete_version_after_ms)},
                     {"max_versions", c->max_versions}});
  }
  if (req.method != "POST" && req.method != "PUT") return UnsupportedOperation(req);
  auto body = BodyObject(req);
  if (!body.ok()) return ErrorOf(body.status());
  auto current = secrets_->ReadMountConfig(ctx, route.mount);
  if (!current.ok()) return ErrorOf(current.status());
  auto max_versions = MaxVersionsOf(*body);
  auto cas_required = BoolOf(*body, "cas_required");
  auto dva = DurationOf(*body, "delete_version_after");
  for (const Status& st : {max_versions.status(), cas_required.status(), dva.status()}) {
    if (!st.ok()) return ErrorOf(st);
  }
  service::MountConfig c = *current;
  if (*max_versions) c.max_versions = **max_versions;
  if (*cas_required) c.cas_required = **cas_required;
  if (*dva) c.delete_version_after_ms = **dva;
  Status st = secrets_->WriteMountConfig(ctx, c);
  return st.ok() ? NoContent() : ErrorOf(st);
}

HttpResponse VaultApi::Sys(RequestContext& ctx, const HttpRequest& req, std::string_view path) {
  if (path == "sys/rotate") {
    if (req.method != "POST" && req.method != "PUT") return UnsupportedOperation(req);
    auto term = secrets_->RotateKeyring(ctx);
    return term.ok() ? NoContent() : ErrorOf(term.status());
  }
  if (path.starts_with("sys/internal/ui/mounts/")) {
    // Decoded already, with the whole path (Handle).
    std::string_view rest = path.substr(std::string_view("sys/internal/ui/mounts/").size());
    std::string mount(rest.substr(0, rest.find('/')));
    if (!IsValidMountName(mount) || !SecretAnyAccessReaches(ctx.actor.permissions, mount + "/") ||
        !secrets_->MountExists(mount)) {
      return PermissionDenied();
    }
    return Envelope(ctx, 200,
                    {{"path", mount + "/"},
                     {"type", "kv"},
                     {"options", {{"version", "2"}}},
                     {"description", "key/value secret storage"}});
  }
  if (path.starts_with("sys/mounts/")) {
    std::string name(path.substr(std::string_view("sys/mounts/").size()));  // decoded (Handle)
    if (req.method != "POST" && req.method != "PUT") return UnsupportedOperation(req);
    auto body = BodyObject(req);
    if (!body.ok()) return ErrorOf(body.status());
    std::string type;
    std::string version;
    auto options = body->find("options");
    if (!StringMember(*body, "type", &type) ||
        (options != body->end() && !options->is_null() &&
         (!options->is_object() || !StringMember(*options, "version", &version)))) {
      return VaultError(400, "type and options.version must be strings");
    }
    if (type != "kv" && type != "kv-v2") {
      return VaultError(400, "only the kv secrets engine (version 2) is served");
    }
    if (type == "kv" && version != "2") return VaultError(400, "only kv version 2 is served");
    Status st = secrets_->EnableMount(ctx, {.name = name});
    if (st.code() == StatusCode::kAlreadyExists) {
      return VaultError(400, "path is already in use at " + name + "/");
    }
    return st.ok() ? NoContent() : ErrorOf(st);
  }
  return NoHandler();
}

HttpResponse VaultApi::Token(RequestContext& ctx, const HttpRequest& req, std::string_view path) {
  const Principal& p = ctx.actor;
  json policies = json::array();
  for (const std::string& perm : p.permissions) policies.push_back(perm == "*" ? "root" : perm);
  if (path == "auth/token/lookup-self") {
    if (req.method != "GET") return UnsupportedOperation(req);
    // The token itself is never echoed: `id` is the root key's id, which names it.
    return Envelope(ctx, 200,
                    {{"accessor", p.key_id},
                     {"creation_ttl", 0},
                     {"display_name", "keyhold-root-key"},
                     {"entity_id", ""},
                     {"expire_time", nullptr},
                     {"explicit_max_ttl", 0},
                     {"id", p.key_id},
                     {"meta", nullptr},
                     {"num_uses", 0},
                     {"orphan", true},
                     {"path", "auth/token/create"},
                     {"policies", policies},
                     {"renewable", false},
                     {"ttl", 0},
                     {"type", "service"}});
  }
  if (path == "auth/token/renew-self") {
    if (req.method != "POST" && req.method != "PUT") return UnsupportedOperation(req);
    json body = {{"request_id", ctx.request_id}, {"lease_id", ""},  {"renewable", false},
                 {"lease_duration", 0},          {"data", nullptr}, {"wrap_info", nullptr},
                 {"warnings", nullptr}};
    body["auth"] = {{"client_token", ""},      {"accessor", p.key_id},
                    {"policies", policies},    {"token_policies", policies},
                    {"metadata", nullptr},     {"lease_duration", 0},
                    {"renewable", false},      {"entity_id", ""},
                    {"token_type", "service"}, {"orphan", true}};
    return JsonResponse(200, body);
  }
  return NoHandler();
}

namespace {

// A status that carries the health body: 200-599, and not 204 or 304 (which carry none).
bool IsHealthCode(const std::string& code) {
  return code.size() == 3 &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         code[0] >= '2' && code[0] <= '5' && code != "204" && code != "304";
}

}  // namespace

// Vault's health: 200 when unsealed; when sealed 503, or `sealedcode` if given (as Vault).
// There is no standby, so `standbyok` and `standbycode` change nothing; `activecode` replaces
// the 200. As Vault, every code given is checked, whether or not it applies, and so are the
// standby flags.
HttpResponse VaultApi::Health(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") return UnsupportedOperation(req);
  bool sealed = options_.seal && options_.seal->IsSealed();
  int status = sealed ? 503 : 200;
  for (const char* name :
       {"activecode", "standbycode", "sealedcode", "uninitcode", "drsecondarycode",
        "performancestandbycode", "removedcode", "haunhealthycode"}) {
    auto asked = QueryParam(req.target, name);
    if (!asked.ok()) return ErrorOf(asked.status());
    if (!*asked) continue;
    if (!IsHealthCode(**asked)) return VaultError(400, "bad code");
    if (name == std::string_view(sealed ? "sealedcode" : "activecode")) {
      status = std::stoi(**asked);
    }
  }
  for (const char* flag : {"standbyok", "perfstandbyok"}) {
    if (auto ok = FlagParam(req, flag); !ok.ok()) return ErrorOf(ok.status());
  }
  json body = {{"initialized", true},
               {"sealed", sealed},
               {"standby", false},
               {"performance_standby", false},
               {"replication_performance_mode", "disabled"},
               {"replication_dr_mode", "disabled"},
               {"server_time_utc", env_.NowMillis() / 1000},
               {"version", options_.version},
               {"cluster_name", "keyhold"}};
  return JsonResponse(status, body);  // for HEAD the listener sends the head alone
}

// Without a seal the server held its master key from start-up: always unsealed, t = n = 1.
HttpResponse VaultApi::SealStatus(RequestContext& ctx) {
  SealControl::State state;
  if (options_.seal) {
    if (!ctx.may_block) return HttpResponse::RunOnWorker();  // an unseal may be in progress
    state = options_.seal->Get();
  }
  return JsonResponse(200, SealStatusJson(state, options_));
}

// Vault's unseal: {"key": share} adds a share, {"reset": true} forgets those held. No token, as
// in Vault; the seal bounds how fast shares are taken. The share is never echoed or logged.
HttpResponse VaultApi::Unseal(RequestContext& ctx, const HttpRequest& req) {
  if (req.method != "PUT" && req.method != "POST") return UnsupportedOperation(req);
  if (!options_.seal) return JsonResponse(200, SealStatusJson({}, options_));
  if (req.body.size() > 4096) return VaultError(413, "the request body is too large");
  // Unsealing opens the secrets keyring, which reads the store.
  if (!ctx.may_block) return HttpResponse::RunOnWorker();
  auto body = BodyObject(req);
  if (!body.ok()) return VaultError(400, body.status().message());
  auto reset = BoolOf(*body, "reset");
  if (!reset.ok()) return VaultError(400, reset.status().message());
  if (*reset && **reset) {
    auto state = options_.seal->Reset(ctx);
    if (!state.ok()) return VaultError(429, state.status().message());
    return JsonResponse(200, SealStatusJson(*state, options_));
  }
  auto key = body->find("key");
  if (key == body->end() || !key->is_string() || key->get_ref<const std::string&>().empty()) {
    return VaultError(400,
                      "'key' must be specified in request body as JSON, or 'reset' set to true");
  }
  auto state = options_.seal->Submit(key->get_ref<const std::string&>(), ctx);
  OPENSSL_cleanse(key->get_ref<std::string&>().data(), key->get_ref<const std::string&>().size());
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kResourceExhausted) {
      HttpResponse r = VaultError(429, state.status().message());
      r.headers.emplace_back("Retry-After", "60");
      return r;
    }
    return ErrorOf(state.status());
  }
  return JsonResponse(200, SealStatusJson(*state, options_));
}

// Vault's seal: 204 once sealed, also when it was sealed already (as Vault). It needs a token
// holding kSealPermission, checked also while sealed (tokens are verified while sealed), so the
// answer tells a caller without it nothing. A server whose master key did not come from shares
// has no seal to close: 400, after the permission check.
HttpResponse VaultApi::Seal(RequestContext& ctx, const HttpRequest& req) {
  if (req.method != "PUT" && req.method != "POST") return UnsupportedOperation(req);
  if (!keys_) return NoHandler();
  // Authenticating may wait for the store (a failed check is counted), and sealing waits for the
  // requests under way.
  if (!ctx.may_block) return HttpResponse::RunOnWorker();
  if (auto refused = SignIn(ctx, req)) return *std::move(refused);
  if (!ctx.actor.Can(kSealPermission)) return PermissionDenied();
  if (!options_.seal) {
    return VaultError(400,
                      "this server cannot be sealed: its master key comes from a key file or "
                      "KEYHOLD_MASTER_KEY, not from unseal shares, so nothing could unseal it "
                      "again but a restart; split it into shares first (keyhold operator "
                      "init-shares, docs/deploy.md)");
  }
  Status st = options_.seal->Seal(ctx);
  return st.ok() ? NoContent() : ErrorOf(st);
}

}  // namespace keyhold::http::vault
