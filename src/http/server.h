// HttpServer: the listener and sessions — all socket I/O, TLS and timeouts, nothing else.
//
// It reads each request (bodies over `max_body_bytes` get 413 without being read), passes it
// to the Handler, and writes the response. Keep-alive is honoured. Shutdown() stops accepting,
// closes idle connections, lets in-flight requests finish, and returns when all are done (or a
// deadline passed).
//
//   KH_ASSIGN_OR_RETURN(auto srv, HttpServer::Start(opts, handler));
//   spdlog::info("listening on {}", srv->LocalAddress());
//   srv->Shutdown(std::chrono::seconds(10));
//
// Thread-safety: Start, LocalAddress and Shutdown are called from one controlling thread; the
// handler is called concurrently from `threads` I/O threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/message.h"

namespace keyhold::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 2;
  size_t max_body_bytes = 1 << 20;
  std::chrono::seconds read_timeout{30};
  std::string tls_cert_file;  // both set: serve HTTPS (TLS 1.2 and later)
  std::string tls_key_file;
  // Builds the response for a request the server rejects itself (413, malformed HTTP).
  std::function<HttpResponse(int status, const std::string& reason, const std::string& detail)>
      error_response;
  // Called after each response, for the access log. Must not log bodies or query strings.
  std::function<void(const HttpRequest&, int status, std::chrono::microseconds took)> on_response;
};

class HttpServer {
 public:
  // Binds and starts serving. Errors: kUnavailable if the address cannot be bound;
  // kInvalidArgument if the TLS files cannot be loaded.
  static StatusOr<std::unique_ptr<HttpServer>> Start(ServerOptions options, Handler handler);
  virtual ~HttpServer() = default;

  // "host:port" actually bound (useful with port 0).
  virtual std::string LocalAddress() const = 0;
  virtual uint16_t LocalPort() const = 0;
  virtual void Shutdown(std::chrono::milliseconds drain_deadline) = 0;
};

}  // namespace keyhold::http
