// Root-key authentication shared by every surface that takes one: `/v2/` and `/metrics`.
//
//   auto actor = AuthenticateRootKey(keys, req);
//   if (!actor.ok()) return MySurfaceError(ctx, actor.status());   // 401, reason says why
//   ctx.actor = *std::move(actor);
#pragma once

#include <optional>
#include <string_view>

#include "core/context.h"
#include "core/status.h"
#include "http/message.h"
#include "service/key_service.h"

namespace keyhold::http {

// The token of an `Authorization: Bearer <token>` value (scheme matched case-insensitively), or
// nullopt if the value is not of that form.
std::optional<std::string_view> BearerToken(std::string_view authorization);

// The root key `req` authenticates with: exactly one `Authorization: Bearer <root key>` header,
// resolved by `keys`. Errors, all kUnauthenticated: "authentication/malformed" (two headers, or
// not a bearer token), "authentication/missing" (no header), and KeyService::Authenticate's.
StatusOr<Principal> AuthenticateRootKey(service::KeyService& keys, const HttpRequest& req);

}  // namespace keyhold::http
