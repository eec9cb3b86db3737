// RotationApi: framing as UnkeyApi's operations (POST, a strict JSON object), then one service
// call each; values only ever in putPendingValue's body and getStageValue's answer.
#include "http/unkey/rotation_api.h"

#include <array>

#include "core/secret_path.h"
#include "http/auth.h"
#include "http/unkey/call.h"
#include "service/key_service.h"
#include "service/secret_rotation.h"
#include "service/secrets.h"

namespace keyhold::http::unkey {
namespace {

constexpr std::string_view kPrefix = "/v2/secrets.";
constexpr std::array<std::string_view, 6> kOperations = {
    "rotate", "getRotation", "cancelRotation", "putPendingValue", "getStageValue", "listDue"};
constexpr std::array<std::string_view, 6> kRoutes = {
    "secrets.rotate",          "secrets.getRotation",   "secrets.cancelRotation",
    "secrets.putPendingValue", "secrets.getStageValue", "secrets.listDue"};
constexpr int kMaxBodyDepth = 64;
constexpr int64_t kMaxWithinMs = 10LL * 366 * 24 * 3600 * 1000;

json OptionalInt(const std::optional<int64_t>& v) { return v ? json(*v) : json(nullptr); }

// The last attempt's outcome, or null if there is none.
json OutcomeJson(const std::optional<service::RotationOutcome>& o) {
  if (!o) return nullptr;
  return {{"result", o->result},
          {"step", o->step.empty() ? json(nullptr) : json(o->step)},
          {"error", o->error.empty() ? json(nullptr) : json(o->error)},
          {"at", o->at_ms}};
}

json StatusJson(const service::RotationStatus& s) {
  return {{"mount", s.mount},
          {"path", s.path},
          {"currentVersion", s.current_version},
          {"pendingVersion", OptionalInt(s.pending_version)},
          {"previousVersion", OptionalInt(s.previous_version)},
          {"lastStep", s.last_step},
          {"failure", s.failure.empty() ? json(nullptr) : json(s.failure)},
          {"rotationPeriodMs", OptionalInt(s.rotation_period_ms)},
          {"nextRotationAt", OptionalInt(s.next_rotation_at_ms)},
          {"running", s.running},
          {"lastOutcome", OutcomeJson(s.last_outcome)}};
}

struct Target {
  std::string mount;
  std::string path;
};

Target ReadTarget(Call& c) {
  Target t;
  t.mount = c.r.String("mount", {.min = 1, .max = kMaxMountNameLength}).value_or("secret");
  t.path =
      c.r.String("path", {.required = true, .min = 1, .max = kMaxSecretPathLength}).value_or("");
  return t;
}

}  // namespace

HttpResponse RotationApi::Error(const RequestContext& ctx, int status, std::string_view reason,
                                std::string_view detail) const {
  return ErrorWith(ctx.request_id, status, std::string(reason), std::string(detail));
}

std::vector<std::string_view> RotationApi::Routes() const {
  return {kRoutes.begin(), kRoutes.end()};
}

int RotationApi::RouteIndex(std::string_view path) const {
  if (!path.starts_with(kPrefix)) return -1;
  path.remove_prefix(kPrefix.size());
  for (size_t i = 0; i < kOperations.size(); ++i) {
    if (kOperations[i] == path) return static_cast<int>(i);
  }
  return -1;
}

HttpResponse RotationApi::Handle(RequestContext& ctx, const HttpRequest& req) {
  int op = RouteIndex(req.Path());
  if (op < 0) {
    return ErrorWith(ctx.request_id, 404, "application/route_not_found",
                     "no operation at this path");
  }
  if (req.method != "POST") {
    HttpResponse r = ErrorWith(ctx.request_id, 405, "application/method_not_allowed",
                               "operations are called with POST");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (!ctx.may_block) return HttpResponse::RunOnWorker();
  // Held until the answer is made: the rotator and the secrets stay (a seal waits) meanwhile.
  RequestGate::Pass pass = gate_.Enter();
  if (!pass) {
    return ErrorWith(ctx.request_id, 503, "server/sealed",
                     "keyhold is sealed: secrets can be rotated once it is unsealed");
  }
  // A rotation command's token first: it is no root key, and never looked up as one.
  auto bearer = BearerToken(req.Header("authorization"));
  if (auto scoped = bearer ? rotator().AuthenticateToken(*bearer) : std::nullopt) {
    ctx.actor = *std::move(scoped);
  } else {
    auto principal = AuthenticateRootKey(keys_, req);
    if (!principal.ok()) return unkey::Error(ctx.request_id, principal.status());
    ctx.actor = *std::move(principal);
  }
  if (req.body.empty()) {
    return BadRequest(ctx.request_id, {{"body", "is missing: it must be a JSON object",
                                        "send a JSON object, {} if no field is needed"}});
  }
  bool duplicate = false;
  if (req.body.find('\0') != std::string::npos || JsonDepthExceeds(req.body, kMaxBodyDepth)) {
    return BadRequest(ctx.request_id, {{"body", "is not a JSON object this server reads",
                                        "send a flat JSON object encoded as UTF-8"}});
  }
  json body = ParseJsonStrict(req.body, &duplicate);
  if (duplicate || !body.is_object()) {
    return BadRequest(ctx.request_id, {{"body", "must be a JSON object naming each field once",
                                        "send a JSON object encoded as UTF-8"}});
  }
  Call call(req, ctx, std::move(body));
  switch (op) {
    case 0:
      return Rotate(call);
    case 1:
      return GetRotation(call);
    case 2:
      return CancelRotation(call);
    case 3:
      return PutPendingValue(call);
    case 4:
      return GetStageValue(call);
    default:
      return ListDue(call);
  }
}

HttpResponse RotationApi::Rotate(Call& c) {
  Target t = ReadTarget(c);
  std::optional<service::RotationStep> step;
  if (auto name = c.r.String("step", {.max = 16})) {
    step = service::ParseRotationStep(*name);
    if (!step) c.r.Error("body.step", "must be create, set, test or finish");
  }
  if (auto bad = c.Finish()) return *bad;
  // The steps run on the rotator's threads (a rotation command calls back into this server while
  // its step runs): 202 with the state, then secrets.getRotation until running is false.
  auto s = rotator().Start(c.ctx, t.mount, t.path, step);
  if (!s.ok()) {
    HttpResponse r = unkey::Error(c.id, s.status());
    if (s.status().code() == StatusCode::kResourceExhausted) {
      r.headers.emplace_back("Retry-After", "5");
    }
    return r;
  }
  HttpResponse r = Ok(c.id, StatusJson(*s));
  r.status = 202;
  return r;
}

HttpResponse RotationApi::GetRotation(Call& c) {
  Target t = ReadTarget(c);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, s, rotator().Get(c.ctx, t.mount, t.path));
  return Ok(c.id, StatusJson(*s));
}

HttpResponse RotationApi::CancelRotation(Call& c) {
  Target t = ReadTarget(c);
  bool force = c.r.Bool("force").value_or(false);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, s, rotator().Cancel(c.ctx, t.mount, t.path, force));
  return Ok(c.id, StatusJson(*s));
}

HttpResponse RotationApi::PutPendingValue(Call& c) {
  Target t = ReadTarget(c);
  const json* data = c.r.Object("data", /*required=*/true);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, v, secrets().WritePending(c.ctx, t.mount, t.path, crypto::Secret(data->dump())));
  return Ok(c.id, {{"version", v->version}, {"createdAt", v->created_at_ms}});
}

HttpResponse RotationApi::GetStageValue(Call& c) {
  Target t = ReadTarget(c);
  std::string stage_name = c.r.String("stage", {.max = 16}).value_or("current");
  service::SecretStage stage = service::SecretStage::kCurrent;
  if (stage_name == "pending") {
    stage = service::SecretStage::kPending;
  } else if (stage_name == "previous") {
    stage = service::SecretStage::kPrevious;
  } else if (stage_name != "current") {
    c.r.Error("body.stage", "must be current, pending or previous");
  }
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, v, secrets().ReadStage(c.ctx, t.mount, t.path, stage));
  if (!v->available) {
    return ErrorWith(c.id, 404, "data/secret_not_found",
                     "the version at that stage is deleted or destroyed");
  }
  json data = json::parse(v->data_json.Reveal(), nullptr, false);
  return Ok(c.id, {{"stage", stage_name}, {"version", v->version.version}, {"data", data}});
}

HttpResponse RotationApi::ListDue(Call& c) {
  int64_t within = c.r.Int("within", {.min = 0, .max = kMaxWithinMs}).value_or(0);
  if (auto bad = c.Finish()) return *bad;
  KH_HTTP_TRY(c, due, rotator().ListDue(c.ctx, within));
  json out = json::array();
  for (const auto& d : *due) {
    out.push_back({{"mount", d.mount},
                   {"path", d.path},
                   {"dueAt", d.due_at_ms},
                   {"overdue", d.overdue},
                   {"rotating", d.rotating},
                   {"running", d.running},
                   {"stagedStep", d.staged_step.empty() ? json(nullptr) : json(d.staged_step)},
                   {"cancelNeedsForce", d.cancel_needs_force},
                   {"rotationPeriodMs", OptionalInt(d.rotation_period_ms)},
                   {"lastOutcome", OutcomeJson(d.last_outcome)}});
  }
  return Ok(c.id, out);
}

}  // namespace keyhold::http::unkey
