// WebhookDriver: a RotationDriver (service/secret_rotation.h) that POSTs each step to a URL the
// operator configured (setting secret_rotation_webhook), signed per Standard Webhooks with the
// secret in secret_rotation_webhook_secret_file, as alerts are (audit/webhook.h).
//
// The body, one per step (webhook-id "msg_…", webhook-timestamp, webhook-signature headers):
//   {"type":"secret.rotation_step","timestamp":"2026-…Z",
//    "data":{"step":"set","mount":"secret","path":"db/password",
//            "keyholdAddr":"http://127.0.0.1:8080","token":"khrot_…","tokenExpiresInMs":35000}}
// The receiver reads and writes the pending value through keyhold with the token (valid for that
// one path while the step runs); no value is ever in the body. A 2xx answer is success; any
// other status, no answer, or none within the timeout fails the step. Interrupt (the server is
// stopping) abandons the calls under way: their steps end interrupted, not failed.
//
//   WebhookDriver driver(env, {.url = *ParseWebhookUrl(url), .key = key, .timeout_ms = 30'000});
//
// Thread-safety: Run may be called concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "audit/webhook.h"
#include "audit/webhook_delivery.h"
#include "core/env.h"
#include "service/secret_rotation.h"

namespace keyhold::server {

struct RotationWebhookOptions {
  audit::WebhookUrl url;
  std::vector<uint8_t> key;  // the signing secret's key bytes
  int64_t timeout_ms = 30'000;
  int64_t token_ttl_ms = 35'000;
  bool allow_private_networks = false;
  std::function<std::string()> address;  // keyholdAddr, asked at each run
  audit::WebhookSender sender;           // default: audit::SendWebhook (tests replace it)
};

class WebhookDriver final : public service::RotationDriver {
 public:
  WebhookDriver(Env& env, RotationWebhookOptions options)
      : env_(env), options_(std::move(options)) {}
  // OK on a 2xx answer. Errors: kUnavailable ("rotation/step_failed") naming the HTTP status, or
  // why there was no answer; kUnavailable (service::kStepInterrupted) once Interrupt was called.
  Status Run(const Call& call) override;
  // Closes the connections of the calls under way (within about 50 ms); later runs end at once.
  void Interrupt(service::StopReason reason) override {
    reason_.store(reason, std::memory_order_relaxed);
    cancel_.Cancel();
  }

 private:
  Env& env_;
  RotationWebhookOptions options_;
  audit::WebhookCancel cancel_;
  std::atomic<service::StopReason> reason_{service::StopReason::kShutdown};  // before cancel_
};

}  // namespace keyhold::server
