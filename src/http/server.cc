#include "http/server.h"

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <exception>
#include <mutex>
#include <set>
#include <thread>

namespace keyhold::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

class ServerImpl;

// What every session needs from the server, whatever its stream type.
struct SessionHost {
  const ServerOptions& options;
  Handler& handler;
  asio::thread_pool& workers;
  std::atomic<int>& live_sessions;
  std::atomic<bool>& draining;
};

HttpRequest ToRequest(bhttp::request<bhttp::string_body>& in) {
  HttpRequest out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    out.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  out.body = std::move(in.body());
  return out;
}

// Every X-Forwarded-For header, joined in the order received.
std::string ForwardedFor(const HttpRequest& req) {
  std::string out;
  for (const auto& [name, value] : req.headers) {
    if (name != "x-forwarded-for") continue;
    if (!out.empty()) out.push_back(',');
    out += value;
  }
  return out;
}

bhttp::response<bhttp::string_body> ToBeast(HttpResponse&& r, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(r.status), version};
  out.set(bhttp::field::server, "keyhold");
  for (auto& [k, v] : r.headers) out.set(k, v);
  out.body() = std::move(r.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(SessionHost host, Stream stream, std::string remote_ip)
      : host_(host), stream_(std::move(stream)), remote_ip_(std::move(remote_ip)) {
    ++host_.live_sessions;
  }
  ~Session() { --host_.live_sessions; }

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadRequest();
    } else {
      beast::get_lowest_layer(stream_).expires_after(host_.options.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->ReadRequest();
                              });
    }
  }

  // Called on shutdown: close if idle (waiting for a request of which no byte has arrived).
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      bool started = self->busy_ || (self->parser_ && self->parser_->got_some());
      if (!started) beast::get_lowest_layer(self->stream_).socket().close();
    });
  }

 private:
  void ReadRequest() {
    if (host_.draining) return Close();
    busy_ = false;
    parser_.emplace();
    parser_->body_limit(host_.options.max_body_bytes);
    parser_->header_limit(16 * 1024);
    beast::get_lowest_layer(stream_).expires_after(host_.options.read_timeout);
    // One read for header and body: the parser's body limit rejects an oversized
    // Content-Length as soon as the header is in, before any of the body is read.
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->OnReadError(ec);
                        self->busy_ = true;
                        self->Dispatch();
                      });
  }

  void OnReadError(beast::error_code ec) {
    if (parser_ && parser_->is_header_done()) busy_ = true;
    if (ec == bhttp::error::body_limit) {
      return Reject(413, "user/request_body_too_large", "the request body is larger than 1 MiB");
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      return Close();
    }
    if (busy_ || ec.category() == beast::error_code(bhttp::error::bad_target).category()) {
      return Reject(400, "application/invalid_input", "the HTTP request is malformed");
    }
    Close();
  }

  RequestContext NewContext(std::chrono::steady_clock::time_point started) const {
    RequestContext ctx;
    ctx.request_id = host_.options.new_request_id();
    ctx.peer_ip = remote_ip_;
    ctx.client_ip = remote_ip_;
    ctx.started = started;
    ctx.deadline = started + host_.options.read_timeout;
    ctx.may_block = false;
    return ctx;
  }

  void Dispatch() {
    auto& breq = parser_->get();
    version_ = breq.version();
    keep_alive_ = breq.keep_alive() && !host_.draining;
    request_ = ToRequest(breq);
    ctx_ = NewContext(std::chrono::steady_clock::now());
    if (!host_.options.trusted_proxies.empty()) {
      ctx_.client_ip =
          host_.options.trusted_proxies.ClientAddress(remote_ip_, ForwardedFor(request_));
    }
    HttpResponse resp = CallHandler();
    if (!resp.run_on_worker) return Respond(std::move(resp));
    ctx_.may_block = true;
    asio::post(host_.workers, [self = this->shared_from_this()] {
      HttpResponse r = self->CallHandler();
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->Respond(std::move(r)); });
    });
  }

  // The exception boundary: a handler that throws costs its own request a 500, nothing more.
  HttpResponse CallHandler() {
    std::string what;
    try {
      HttpResponse r = host_.handler.Handle(ctx_, request_);
      if (r.run_on_worker && ctx_.may_block) {
        what = "a handler asked for a worker thread while on one";
      } else {
        return r;
      }
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception of unknown type";
    }
    if (host_.options.on_handler_failure) host_.options.on_handler_failure(ctx_, what);
    return host_.handler.Reject(ctx_, request_.Path(), 500, "application/unexpected_error",
                                "the server failed to answer this request; it is logged under "
                                "the request id " +
                                    ctx_.request_id);
  }

  void Respond(HttpResponse resp) {
    resp.headers.emplace_back("X-Request-Id", ctx_.request_id);
    Log(ctx_, request_, resp.status);
    Write(ToBeast(std::move(resp), version_, keep_alive_));
  }

  void Reject(int status, const std::string& reason, const std::string& detail) {
    HttpRequest req;
    if (parser_) {
      req.method = std::string(parser_->get().method_string());
      req.target = std::string(parser_->get().target());
    }
    RequestContext ctx = NewContext(std::chrono::steady_clock::now());
    HttpResponse resp = host_.handler.Reject(ctx, req.Path(), status, reason, detail);
    resp.headers.emplace_back("X-Request-Id", ctx.request_id);
    Log(ctx, req, resp.status);
    lingering_ = true;
    Write(ToBeast(std::move(resp), 11, /*keep_alive=*/false));
  }

  // After rejecting a request whose body we did not read, keep reading (and discarding) for a
  // short while, so a client still uploading gets to read our answer instead of a reset.
  void Linger() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) {
                                beast::error_code ignored;
                                beast::get_lowest_layer(self->stream_).socket().close(ignored);
                                return;
                              }
                              self->Linger();
                            });
  }

  void Log(const RequestContext& ctx, const HttpRequest& req, int status) {
    if (!host_.options.on_response) return;
    host_.options.on_response(ctx, req, status,
                              std::chrono::duration_cast<std::chrono::microseconds>(
                                  std::chrono::steady_clock::now() - ctx.started));
  }

  void Write(bhttp::response<bhttp::string_body> resp) {
    auto sp = std::make_shared<bhttp::response<bhttp::string_body>>(std::move(resp));
    bool keep = sp->keep_alive();
    bhttp::async_write(stream_, *sp,
                       [self = this->shared_from_this(), sp, keep](beast::error_code ec, size_t) {
                         if (!ec && self->lingering_) {
                           if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                             beast::error_code ignored;
                             self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
                           }
                           return self->Linger();
                         }
                         if (ec || !keep) return self->Close();
                         self->ReadRequest();
                       });
  }

  void Close() {
    beast::error_code ec;
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    }
  }

  SessionHost host_;
  Stream stream_;
  std::string remote_ip_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::atomic<bool> busy_{false};
  bool lingering_ = false;
  // The request being answered; touched by one thread at a time (I/O, then worker, then I/O).
  HttpRequest request_;
  RequestContext ctx_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  std::array<char, 16 * 1024> scratch_;
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(ServerOptions options, Handler& handler)
      : options_(std::move(options)),
        handler_(handler),
        workers_(static_cast<size_t>(std::max(1, options_.worker_threads))),
        ios_(MakeContexts(std::max(1, options_.threads))),
        acceptor_(*ios_[0]),
        ssl_(asio::ssl::context::tls_server) {}

  Status Init() {
    if (!options_.tls_cert_file.empty() || !options_.tls_key_file.empty()) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return InvalidArgument("TLS needs both a certificate and a private key file");
      }
      beast::error_code ec;
      SSL_CTX_set_min_proto_version(ssl_.native_handle(), TLS1_2_VERSION);
      ssl_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use);
      ssl_.use_certificate_chain_file(options_.tls_cert_file, ec);
      if (ec) return InvalidArgument("cannot load TLS certificate " + options_.tls_cert_file);
      ssl_.use_private_key_file(options_.tls_key_file, asio::ssl::context::pem, ec);
      if (ec) return InvalidArgument("cannot load TLS private key " + options_.tls_key_file);
      tls_ = true;
    }
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return InvalidArgument("'" + options_.host + "' is not an IP address to listen on");
    tcp::endpoint ep{address, options_.port};
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                         ": " + ec.message());
    }
    Accept();
    for (auto& io : ios_) {
      guards_.emplace_back(io->get_executor());
      threads_.emplace_back([ctx = io.get()] { ctx->run(); });
    }
    return OkStatus();
  }

  ~ServerImpl() override { Shutdown(std::chrono::milliseconds(0)); }

  std::string LocalAddress() const override {
    auto ep = acceptor_.local_endpoint();
    std::string host = ep.address().to_string();
    if (ep.address().is_v6()) host = "[" + host + "]";
    return host + ":" + std::to_string(ep.port());
  }
  uint16_t LocalPort() const override { return acceptor_.local_endpoint().port(); }

  void Shutdown(std::chrono::milliseconds drain_deadline) override {
    if (stopped_.exchange(true)) return;
    draining_ = true;
    asio::post(acceptor_.get_executor(), [this] {  // the acceptor lives on ios_[0]
      beast::error_code ec;
      acceptor_.close(ec);
    });
    CloseIdleSessions();
    auto deadline = std::chrono::steady_clock::now() + drain_deadline;
    while (live_sessions_ > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      CloseIdleSessions();
    }
    guards_.clear();
    workers_.join();  // handlers on workers finish; their answers are posted to I/O threads
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

 private:
  SessionHost Host() { return {options_, handler_, workers_, live_sessions_, draining_}; }

  // One single-threaded io_context per I/O thread: a connection lives on one thread for its
  // whole life, so its handlers need no strand and never wake another thread.
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> out;
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) out.push_back(std::make_unique<asio::io_context>(1));
    return out;
  }

  void CloseIdleSessions() {
    std::lock_guard lock(sessions_mu_);
    for (auto& weak : plain_sessions_) {
      if (auto s = weak.lock()) s->CloseIfIdle();
    }
    for (auto& weak : tls_sessions_) {
      if (auto s = weak.lock()) s->CloseIfIdle();
    }
  }

  void Accept() {
    asio::io_context& home = *ios_[next_io_++ % ios_.size()];
    acceptor_.async_accept(home, [this](beast::error_code ec, tcp::socket sock) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        return Accept();
      }
      beast::error_code ep_ec;
      auto remote = sock.remote_endpoint(ep_ec);
      std::string ip = ep_ec ? "" : remote.address().to_string();
      sock.set_option(tcp::no_delay(true), ep_ec);
      std::lock_guard lock(sessions_mu_);
      std::erase_if(plain_sessions_, [](auto& w) { return w.expired(); });
      std::erase_if(tls_sessions_, [](auto& w) { return w.expired(); });
      if (tls_) {
        auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            Host(), beast::ssl_stream<beast::tcp_stream>(std::move(sock), ssl_), ip);
        tls_sessions_.push_back(s);
        s->Run();
      } else {
        auto s = std::make_shared<Session<beast::tcp_stream>>(
            Host(), beast::tcp_stream(std::move(sock)), ip);
        plain_sessions_.push_back(s);
        s->Run();
      }
      Accept();
    });
  }

  ServerOptions options_;
  Handler& handler_;
  asio::thread_pool workers_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  size_t next_io_ = 0;  // used only by the accept handler, which runs on ios_[0]
  tcp::acceptor acceptor_;
  asio::ssl::context ssl_;
  bool tls_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int> live_sessions_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  std::mutex sessions_mu_;
  std::vector<std::weak_ptr<Session<beast::tcp_stream>>> plain_sessions_;
  std::vector<std::weak_ptr<Session<beast::ssl_stream<beast::tcp_stream>>>> tls_sessions_;
};

}  // namespace

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Handler& handler) {
  auto server = std::make_unique<ServerImpl>(std::move(options), handler);
  KH_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace keyhold::http
