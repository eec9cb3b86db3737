// JsonResponse: an HTTP response whose body is a JSON document, the one way every surface writes
// one. Invalid UTF-8 in strings (which a client may have sent and an error may quote) is replaced
// by U+FFFD instead of throwing.
//
//   return JsonResponse(404, {{"errors", {"no handler for route"}}});
#pragma once

#include <nlohmann/json.hpp>

#include "http/message.h"

namespace keyhold::http {

inline HttpResponse JsonResponse(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace keyhold::http
