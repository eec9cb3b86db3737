#include "server/rotation_webhook.h"

#include <array>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "core/base62.h"

namespace keyhold::server {
namespace {

std::string Iso8601(int64_t ms) {
  auto t = static_cast<std::time_t>(ms / 1000);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return out;
}

Status StepFailed(const std::string& why) {
  return Status(StatusCode::kUnavailable, "rotation/step_failed", why);
}

Status StepInterrupted(service::StopReason reason) {
  return Status(StatusCode::kUnavailable, std::string(service::kStepInterrupted),
                "the webhook call was abandoned as " +
                    std::string(service::StoppedBecause(reason)) + "; " +
                    std::string(service::RetryAdvice(reason)));
}

}  // namespace

Status WebhookDriver::Run(const Call& call) {
  if (cancel_.cancelled()) return StepInterrupted(reason_.load(std::memory_order_relaxed));
  const int64_t now = env_.NowMillis();
  std::array<uint8_t, 16> id_bytes{};
  env_.RandomBytes(id_bytes);
  const std::string id = "msg_" + Base62EncodeFixed(id_bytes);
  audit::WebhookRequest r;
  r.url = options_.url;
  r.body = nlohmann::json{{"type", "secret.rotation_step"},
                          {"timestamp", Iso8601(now)},
                          {"data",
                           {{"step", std::string(service::RotationStepName(call.step))},
                            {"mount", call.mount},
                            {"path", call.path},
                            {"keyholdAddr", options_.address ? options_.address() : std::string()},
                            {"token", call.token},
                            {"tokenExpiresInMs", options_.token_ttl_ms}}}}
               .dump();
  const int64_t ts = now / 1000;
  r.headers = {{"content-type", "application/json"},
               {"user-agent", "keyhold-webhooks"},
               {"webhook-id", id},
               {"webhook-timestamp", std::to_string(ts)},
               {"webhook-signature", audit::SignWebhook(options_.key, id, ts, r.body)}};
  audit::WebhookResponse answer =
      options_.sender
          ? options_.sender(r)
          : audit::SendWebhook(r, options_.allow_private_networks,
                               std::chrono::milliseconds(options_.timeout_ms), &cancel_);
  if (answer.status >= 200 && answer.status < 300) return OkStatus();
  // Whatever ended it once keyhold began to stop: the receiver may not have done the step yet.
  if (answer.cancelled || (answer.status == 0 && cancel_.cancelled())) {
    return StepInterrupted(reason_.load(std::memory_order_relaxed));
  }
  if (answer.status == 0) {
    // The error names an address or a TLS problem, never a value: the body holds none.
    return StepFailed("the webhook was not answered: " + answer.error.substr(0, 200));
  }
  return StepFailed("the webhook answered HTTP " + std::to_string(answer.status));
}

}  // namespace keyhold::server
