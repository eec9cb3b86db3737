// RotationApi: keyhold's own operations for rotating held secrets (service/secret_rotation.h),
// in the `/v2/` envelope beside Unkey's operations, under `/v2/secrets.` (no Vault KV path can
// start there: Vault's paths are all under `/v1/`).
//
//   POST /v2/secrets.rotate           {mount?, path, step?}  run the steps not done (or `step`)
//   POST /v2/secrets.getRotation      {mount?, path}         the stages and the last step
//   POST /v2/secrets.cancelRotation   {mount?, path}         drop the pending version
//   POST /v2/secrets.putPendingValue  {mount?, path, data}   write the pending value (create)
//   POST /v2/secrets.getStageValue    {mount?, path, stage}  read current, pending or previous
//   POST /v2/secrets.listDue          {within?}              due or overdue, earliest first
// `mount` defaults to "secret". Every operation needs `secret.rotate:<glob>` on the path
// (getStageValue: `secret.read`). A root key authenticates, or the token a rotation command was
// given, for its one path. While the server is sealed (no rotator or secrets yet) every operation
// answers 503 `server/sealed`.
//
//   RotationApi rotation(keys);
//   router.Mount("/v2/secrets.", rotation);
//   rotation.Set(&rotator, &secrets);  // at start, or once unsealed
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "http/request_gate.h"
#include "http/router.h"

namespace keyhold::service {
class KeyService;
class SecretRotator;
class SecretService;
}  // namespace keyhold::service

namespace keyhold::http::unkey {

class Call;

class RotationApi final : public Surface {
 public:
  explicit RotationApi(service::KeyService& keys) : keys_(keys) {}
  // Makes the operations available; both must stay until Set(nullptr, nullptr) has returned.
  // Null (sealed, or being sealed) makes new requests answer 503 and returns once no request
  // uses the old ones. Any thread but one of this surface's requests.
  void Set(service::SecretRotator* rotator, service::SecretService* secrets) {
    if (rotator != nullptr) {
      secrets_.store(secrets, std::memory_order_release);
      rotator_.store(rotator, std::memory_order_release);
      gate_.Open();
    } else {
      gate_.Close();
      rotator_.store(nullptr, std::memory_order_release);
      secrets_.store(nullptr, std::memory_order_release);
    }
  }

  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override;
  HttpResponse Error(const RequestContext& ctx, int status, std::string_view reason,
                     std::string_view detail) const override;
  std::string_view Name() const override { return "secrets"; }
  std::vector<std::string_view> Routes() const override;
  int RouteIndex(std::string_view path) const override;

 private:
  HttpResponse Rotate(Call& c);
  HttpResponse GetRotation(Call& c);
  HttpResponse CancelRotation(Call& c);
  HttpResponse PutPendingValue(Call& c);
  HttpResponse GetStageValue(Call& c);
  HttpResponse ListDue(Call& c);

  service::SecretRotator& rotator() const { return *rotator_.load(std::memory_order_acquire); }
  service::SecretService& secrets() const { return *secrets_.load(std::memory_order_acquire); }

  service::KeyService& keys_;
  std::atomic<service::SecretRotator*> rotator_{nullptr};
  std::atomic<service::SecretService*> secrets_{nullptr};
  RequestGate gate_{false};  // a pass keeps rotator_ and secrets_ while a request uses them
};

}  // namespace keyhold::http::unkey
