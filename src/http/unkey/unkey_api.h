// UnkeyApi: keyhold's keys API, wire-compatible with Unkey's v2 API (`POST /v2/<ns>.<op>`).
//
// Translates requests to KeyService calls and results back to Unkey's envelopes; it holds no
// state and no business rules of its own. Every error is the spec's envelope with the request
// id; a 400 lists each bad field in `errors[]` with its `location`.
//
//   UnkeyApi api(service, env);
//   HttpResponse r = api.Handle(request);   // request.target "/v2/keys.verifyKey"
//
// Thread-safety: Handle may be called concurrently.
#pragma once

#include <map>
#include <string>

#include "core/env.h"
#include "http/message.h"
#include "service/key_service.h"

namespace keyhold::http::unkey {

class Call;

class UnkeyApi {
 public:
  UnkeyApi(service::KeyService& service, Env& env);
  HttpResponse Handle(const HttpRequest& req);

  using Operation = HttpResponse (UnkeyApi::*)(Call&);

 private:
  HttpResponse CreateApi(Call& c);
  HttpResponse GetApi(Call& c);
  HttpResponse DeleteApi(Call& c);
  HttpResponse ListKeys(Call& c);
  HttpResponse CreateKey(Call& c);
  HttpResponse VerifyKey(Call& c);
  HttpResponse GetKey(Call& c);
  HttpResponse Whoami(Call& c);
  HttpResponse UpdateKey(Call& c);
  HttpResponse UpdateCredits(Call& c);
  HttpResponse DeleteKey(Call& c);
  HttpResponse AddPermissions(Call& c);
  HttpResponse SetPermissions(Call& c);
  HttpResponse RemovePermissions(Call& c);
  HttpResponse ChangePermissions(Call& c, service::KeyService::SetMode mode);
  HttpResponse AddRoles(Call& c);
  HttpResponse SetRoles(Call& c);
  HttpResponse RemoveRoles(Call& c);
  HttpResponse ChangeRoles(Call& c, service::KeyService::SetMode mode);
  HttpResponse CreateIdentity(Call& c);
  HttpResponse GetIdentity(Call& c);
  HttpResponse ListIdentities(Call& c);
  HttpResponse UpdateIdentity(Call& c);
  HttpResponse DeleteIdentity(Call& c);
  HttpResponse CreatePermission(Call& c);
  HttpResponse GetPermission(Call& c);
  HttpResponse ListPermissions(Call& c);
  HttpResponse DeletePermission(Call& c);
  HttpResponse CreateRole(Call& c);
  HttpResponse GetRole(Call& c);
  HttpResponse ListRoles(Call& c);
  HttpResponse DeleteRole(Call& c);
  HttpResponse CreateRootKey(Call& c);
  HttpResponse ListRootKeys(Call& c);
  HttpResponse DeleteRootKey(Call& c);

  service::KeyService& service_;
  Env& env_;
  std::map<std::string, Operation, std::less<>> operations_;
};

}  // namespace keyhold::http::unkey
