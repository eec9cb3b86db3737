// HttpRequest / HttpResponse: what handlers see, independent of the socket layer.
//
// Handlers are pure functions from a request to a response (see Handler); the listener in
// server.h does all reading, writing, timeouts and TLS.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace keyhold::http {

struct HttpRequest {
  std::string method;                                        // upper case, e.g. "POST"
  std::string target;                                        // path and query as received
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string remote_ip;

  // The first header named `name` (lower case), or empty.
  std::string_view Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
  bool HasHeader(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.first == name) return true;
    }
    return false;
  }
  std::string_view Path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
  }
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

}  // namespace keyhold::http
