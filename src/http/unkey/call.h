// Call: one request to the Unkey-compatible API as its handler sees it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "http/unkey/wire.h"

namespace keyhold::http::unkey {

class Call {
 public:
  // `ctx` carries the authenticated actor; it and `request` must outlive the call.
  Call(const HttpRequest& request, RequestContext& context, json body)
      : http(request),
        ctx(context),
        id(context.request_id),
        body_(std::move(body)),
        r(body_, "body", &errors) {}

  // Reports unknown fields; returns the 400 response if any field was bad.
  std::optional<HttpResponse> Finish() {
    r.Finish();
    if (errors.empty()) return std::nullopt;
    return BadRequest(id, errors);
  }

  const HttpRequest& http;
  RequestContext& ctx;
  const std::string& id;  // the request id

 private:
  json body_;

 public:
  std::vector<FieldError> errors;
  BodyReader r;
};

// In a handler of `call`: declares `var` as the result of `expr`, a StatusOr, or returns the
// error response for its status.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define KH_HTTP_TRY(call, var, expr) \
  auto var = (expr);                 \
  if (!var.ok()) return ::keyhold::http::unkey::Error((call).id, var.status())
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace keyhold::http::unkey
