// HttpServer: the listener and sessions — all socket I/O, TLS and timeouts, nothing else.
//
// It reads each request, checks its head before any of the body (framing, method, target form:
// http/request_checks.h; bodies over `max_body_bytes` get 413 without being read), gives it a
// RequestContext (request id, client address, deadline), passes both to the Handler on the
// connection's I/O thread, and writes the response. A handler that would wait on the disk asks to
// be run again on one of `worker_threads` worker threads (HttpResponse::RunOnWorker), so I/O
// threads keep answering requests that need no write. A handler that throws is answered 500 and
// the server keeps serving. Keep-alive is honoured. Shutdown() stops accepting, closes idle
// connections, lets in-flight requests finish, and returns when all are done (or a deadline
// passed).
//
// Against hostile or broken clients:
// - a request must arrive whole (head and body) within `read_timeout` of its first byte, however
//   its bytes trickle in; past that it is answered 408 and the connection closed;
// - a connection waiting for a request's first byte is closed after `idle_timeout`;
// - a response must be taken by the client within `read_timeout`, or the connection is closed;
// - a request the server refuses itself is answered in the format of the path's owner
//   (Handler::Reject) and the connection closed; what the client still sends is read and dropped
//   for at most 2 s in total (never longer than `read_timeout`), so it can read the answer;
// - past `max_connections` open connections, a new one is answered 503 (plain JSON, without
//   reading the request; over TLS it is closed at once) and closed, while the others carry on;
// - when accepting fails for want of descriptors or memory, the listener waits 100 ms before
//   accepting again instead of spinning.
// A refused or timed-out request never reaches the handler.
//
//   KH_ASSIGN_OR_RETURN(auto srv, HttpServer::Start(opts, router));
//   spdlog::info("listening on {}", srv->LocalAddress());
//   srv->Shutdown(std::chrono::seconds(10));
//
// Thread-safety: Start, LocalAddress and Shutdown are called from one controlling thread; the
// handler is called concurrently from the I/O and worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/ip.h"
#include "core/status.h"
#include "http/message.h"

namespace keyhold::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  int threads = 2;         // I/O threads
  int worker_threads = 4;  // threads for handlers that wait on the disk
  size_t max_body_bytes = 1 << 20;
  // The most a request may take from its first byte to its last, and a response to be taken.
  std::chrono::milliseconds read_timeout{30000};
  // The most a connection may wait, open, for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{10000};
  // Open connections at most; 0: ConnectionLimitForDescriptors() of this process's limit.
  int max_connections = 0;
  std::string tls_cert_file;  // both set: serve HTTPS (TLS 1.2 and later)
  std::string tls_key_file;
  // Whose X-Forwarded-For is believed for the client address (core/ip.h).
  TrustedProxies trusted_proxies;
  // Makes the id of each request; required.
  std::function<std::string()> new_request_id;
  // Called after each response, for the access log and metrics, with the size of the response
  // body (for HEAD: of the body a GET would have had). Must not log bodies or query strings.
  std::function<void(const RequestContext&, const HttpRequest&, int status,
                     std::chrono::microseconds took, size_t response_body_bytes)>
      on_response;
  // Called when a handler throws (with what it threw) before the client gets a 500.
  std::function<void(const RequestContext&, std::string_view what)> on_handler_failure;
  // Called when accepting a connection fails for want of descriptors or memory, with the error;
  // at most once per second while it lasts.
  std::function<void(std::string_view error)> on_accept_failure;
};

// The connection limit that leaves room, within `descriptor_limit` open files, for the database,
// logs and the listener itself: the limit less 64, or half of it when that is smaller.
int ConnectionLimitForDescriptors(uint64_t descriptor_limit);

// This process's soft limit on open files (RLIMIT_NOFILE).
uint64_t DescriptorLimit();

class HttpServer {
 public:
  // Binds and starts serving. Errors: kUnavailable if the address cannot be bound;
  // kInvalidArgument if the TLS files cannot be loaded.
  // `handler` must outlive the server.
  static StatusOr<std::unique_ptr<HttpServer>> Start(ServerOptions options, Handler& handler);
  virtual ~HttpServer() = default;

  // "host:port" actually bound (useful with port 0).
  virtual std::string LocalAddress() const = 0;
  virtual uint16_t LocalPort() const = 0;
  virtual void Shutdown(std::chrono::milliseconds drain_deadline) = 0;
};

}  // namespace keyhold::http
