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
// given, for its one path.
//
//   RotationApi rotation(keys, rotator, secrets);
//   router.Mount("/v2/secrets.", rotation);
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <string>
#include <vector>

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
  RotationApi(service::KeyService& keys, service::SecretRotator& rotator,
              service::SecretService& secrets)
      : keys_(keys), rotator_(rotator), secrets_(secrets) {}

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

  service::KeyService& keys_;
  service::SecretRotator& rotator_;
  service::SecretService& secrets_;
};

}  // namespace keyhold::http::unkey
