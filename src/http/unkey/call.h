// Call: one request to the Unkey-compatible API as its handler sees it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "http/unkey/wire.h"

namespace keyhold::http::unkey {

class Call {
 public:
  Call(const HttpRequest& request, std::string request_id, service::Principal caller, json body)
      : http(request),
        id(std::move(request_id)),
        principal(std::move(caller)),
        body_(std::move(body)),
        r(body_, "body", &errors) {}

  // Reports unknown fields; returns the 400 response if any field was bad.
  std::optional<HttpResponse> Finish() {
    r.Finish();
    if (errors.empty()) return std::nullopt;
    return BadRequest(id, errors);
  }

  const HttpRequest& http;
  std::string id;
  service::Principal principal;

 private:
  json body_;

 public:
  std::vector<FieldError> errors;
  BodyReader r;
};

// Returns the error response of a failed StatusOr, or continues. `var` names a new variable.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KH_HTTP_TRY(var, expr) \
  auto var = (expr);           \
  if (!var.ok()) return ::keyhold::http::unkey::Error(c.id, var.status())
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace keyhold::http::unkey
