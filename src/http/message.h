// HttpRequest / HttpResponse, and the Handler the listener calls: what handlers see,
// independent of the socket layer.
//
// Handlers are pure functions from a request (and its RequestContext) to a response; the listener
// in server.h does all reading, writing, timeouts and TLS.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/context.h"

namespace keyhold::http {

struct HttpRequest {
  std::string method;                                        // upper case, e.g. "POST"
  std::string target;                                        // origin form: path and query
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

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
  // Set by a handler called with ctx.may_block == false that would have to wait on the disk: the
  // server calls it again with the same request on a worker thread, where blocking is allowed.
  // The handler must not have changed anything before answering this.
  bool run_on_worker = false;

  // Set by a handler whose answer comes later, from another thread (a read waiting for its
  // audit entry to be committed): the server calls `later` once, with a function that sends the
  // response when it is given. `respond` must be called once, from any thread, and soon (a
  // dropped one answers 500): the server's stop drains connections for its drain time and then
  // waits for every `respond` to be called or dropped; answers given after the drain time are
  // not sent. Nothing else of this response is used.
  using Respond = std::function<void(HttpResponse)>;
  std::function<void(Respond)> later;

  static HttpResponse RunOnWorker() {
    HttpResponse r;
    r.run_on_worker = true;
    return r;
  }
  static HttpResponse Later(std::function<void(Respond)> start) {
    HttpResponse r;
    r.later = std::move(start);
    return r;
  }
};

// What the listener calls. Implemented by the Router (router.h).
//
// Thread-safety: both methods are called concurrently from every I/O and worker thread.
class Handler {
 public:
  virtual ~Handler() = default;

  // Answers one request. Called first on an I/O thread with ctx.may_block == false; may answer
  // HttpResponse::RunOnWorker() to be called again on a worker thread, or HttpResponse::Later()
  // to answer from another thread without holding either. Exceptions are caught by the listener
  // and answered as 500 through Reject().
  virtual HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) = 0;

  // The response for a request the listener refuses itself (malformed HTTP 400, 408, 413, 500 for
  // a handler that threw, 503 when over capacity), in the error format of whatever owns `path`
  // (empty when not even the request line could be read). `detail` is shown to the client.
  virtual HttpResponse Reject(const RequestContext& ctx, std::string_view path, int status,
                              std::string_view reason, std::string_view detail) = 0;
};

}  // namespace keyhold::http
