// The listener: sessions (one connection each: reading, deadlines, answers) and the acceptor
// that starts or refuses them. Longer than most files here, as in Beast's examples: the
// session template is used nowhere else, and each half reads best beside the other.
#include "http/server.h"

#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/resource.h>

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
#include <thread>

#include "http/request_checks.h"
#include "http/response_bytes.h"

namespace keyhold::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

class ServerImpl;

// Bytes a request head (request line and fields) may take.
constexpr size_t kHeaderLimit = 16 * 1024;
// How long, in all, the rest of a refused request is read and dropped.
constexpr std::chrono::milliseconds kLingerBudget{2000};
// The pause before accepting again when accepting failed for want of descriptors or memory.
constexpr std::chrono::milliseconds kAcceptBackoff{100};
// The answer buffer a connection keeps between answers; a larger one is freed after its send.
constexpr size_t kKeptAnswerBuffer = 16 * 1024;
// The most kept of the target of a request that never arrived whole: enough to route its error.
constexpr size_t kPeekedTargetLimit = 256;

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// What every session needs from the server, whatever its stream type.
struct SessionHost {
  const ServerOptions& options;
  Handler& handler;
  asio::thread_pool& workers;
  std::atomic<int>& live_sessions;
  std::atomic<bool>& draining;
  std::atomic<int>& answers_owed;  // HttpResponse::Later answers not yet posted to their thread
};

HttpRequest ToRequest(bhttp::request<bhttp::string_body>& in) {
  HttpRequest out;
  out.method = std::string(in.method_string());
  out.target = OriginForm(View(in.target()));
  for (const auto& field : in) {
    std::string name(field.name_string());
    for (char& ch : name) {
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');  // field names are ASCII
    }
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

// OPTIONS * asks what the server as a whole supports (RFC 9110 §9.3.7); no surface owns "*".
HttpResponse ServerWideOptions() {
  HttpResponse r;
  r.headers.emplace_back("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, LIST");
  return r;
}

std::string Milliseconds(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

// The 400 detail for what the parser found wrong.
std::string MalformedDetail(beast::error_code ec) {
  if (ec == bhttp::error::bad_content_length) {
    return "Content-Length is malformed, given twice with different values, or sent with "
           "Transfer-Encoding";
  }
  if (ec == bhttp::error::bad_transfer_encoding) {
    return "Transfer-Encoding is given twice or sent with Content-Length";
  }
  return "the HTTP request is malformed";
}

// One connection. Stream is beast::tcp_stream or beast::ssl_stream<beast::tcp_stream>.
//
// Its life is a cycle of phases, each with a deadline on one timer: kIdle (waiting for a
// request's first byte, `idle_timeout`), kReading (from that byte to the request's last,
// `read_timeout` in all), kHandling (no deadline: the handler runs to its end), kWriting
// (`read_timeout`), then kIdle again; or, after a refusal, kLingering (a fixed budget) and the
// end. Bytes that arrive never move a deadline. Beast's own stream timeouts are not used: on
// expiry they close the socket, and a request that ran out of time is still owed its 408.
template <typename Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(SessionHost host, Stream stream, std::string remote_ip)
      : host_(host),
        stream_(std::move(stream)),
        remote_ip_(std::move(remote_ip)),
        timer_(stream_.get_executor()) {
    ++host_.live_sessions;
  }
  ~Session() { --host_.live_sessions; }

  void Run() {
    if constexpr (kPlain) {
      ReadRequest();
    } else {
      SetDeadline(Phase::kHandshake, Clock::now() + host_.options.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->ReadRequest();
                              });
    }
  }

  // Called on shutdown: close if idle (no byte of a request has arrived) or lingering.
  void CloseIfIdle() {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      Phase p = self->phase_;
      if (p == Phase::kHandshake || p == Phase::kIdle || p == Phase::kLingering) {
        self->CloseSocket();
      }
    });
  }

 private:
  static constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;
  using Clock = std::chrono::steady_clock;
  enum class Phase { kHandshake, kIdle, kReading, kHandling, kWriting, kLingering, kClosed };

  // --- deadlines -------------------------------------------------------------------------

  // Enters `phase`, which must end by `deadline`. The timer is moved only when the deadline is
  // earlier than the one it waits for; otherwise it fires early, finds the new deadline ahead and
  // waits again. Each phase of a keep-alive cycle ends later than the last, so serving a request
  // costs no timer operation.
  void SetDeadline(Phase phase, Clock::time_point deadline) {
    phase_ = phase;
    deadline_ = deadline;
    if (!timer_waiting_ || deadline_ < timer_.expiry()) ArmTimer();
  }

  // The wait holds the session only weakly: a session with no I/O left is destroyed, timer and
  // all, whatever its deadline.
  void ArmTimer() {
    timer_waiting_ = true;
    timer_.expires_at(deadline_);
    timer_.async_wait([weak = this->weak_from_this()](beast::error_code ec) {
      if (ec) return;  // moved, or the session is gone
      if (auto self = weak.lock()) self->OnTimer();
    });
  }

  void OnTimer() {
    timer_waiting_ = false;
    if (phase_ == Phase::kClosed || phase_ == Phase::kHandling) return;
    if (Clock::now() < deadline_) return ArmTimer();
    if (phase_ == Phase::kReading) {
      // Stop the read but keep the socket: the client is owed a 408.
      timed_out_ = true;
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().cancel(ignored);
      return;
    }
    CloseSocket();  // handshake, idle, writing or lingering: nothing more to say
  }

  // --- reading ---------------------------------------------------------------------------

  void ReadRequest() {
    if (host_.draining) return Close();
    parser_.emplace();
    parser_->body_limit(host_.options.max_body_bytes);
    parser_->header_limit(kHeaderLimit);
    head_checked_ = false;
    folding_.reset();
    if (buffer_.size() > 0) {  // the next request was sent behind the last
      BeginRequest();
      return Parse();
    }
    SetDeadline(Phase::kIdle, Clock::now() + host_.options.idle_timeout);
    ReadMore();
  }

  void BeginRequest() {
    started_ = Clock::now();
    SetDeadline(Phase::kReading, started_ + host_.options.read_timeout);
  }

  void ReadMore() {
    size_t size = beast::read_size(buffer_, 64 * 1024);
    stream_.async_read_some(
        buffer_.prepare(size),
        [self = this->shared_from_this()](beast::error_code ec, size_t n) { self->OnRead(ec, n); });
  }

  void OnRead(beast::error_code ec, size_t n) {
    buffer_.commit(n);
    if (timed_out_) {
      return Reject(
          {408, "user/request_timeout",
           "the request did not arrive whole within " + Milliseconds(host_.options.read_timeout)});
    }
    if (ec) return Close();  // the client went away, or the idle connection was closed
    if (phase_ == Phase::kIdle) BeginRequest();
    Parse();
  }

  // Feeds what has arrived to the parser. The head is checked as soon as it is whole, before
  // any of the body is parsed; the handler is called only once the whole request is in.
  void Parse() {
    while (buffer_.size() > 0) {
      beast::error_code ec;
      bool in_head = !parser_->is_header_done();
      auto bytes = buffer_.data();
      size_t used = parser_->put(bytes, ec);
      // The head is looked at as sent, a part at a time (the parser takes the request line and
      // each whole field as they arrive, and no part ends inside a fold): once parsed, a folded
      // value no longer shows its fold.
      if (in_head && !folding_) {
        folding_ = CheckLineFolding({static_cast<const char*>(bytes.data()), used});
      }
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) break;
      if (ec) return OnParseError(ec);
      if (parser_->is_header_done() && !head_checked_) {
        head_checked_ = true;
        head_fields_ = FieldCount();
        if (folding_) return Reject(*folding_);
        if (auto refusal = CheckHead(parser_->get(), kMaxHeaderFields)) return Reject(*refusal);
        if (!parser_->is_done() && ExpectsContinue(parser_->get())) return SendContinue();
      }
      if (parser_->is_done()) {
        // Beast adds a chunked body's trailer fields to the head's; none were checked with it,
        // and none may stand for a field of the head (RFC 9110 §6.5.1): refused, not merged.
        if (FieldCount() != head_fields_) {
          return Reject({400, "application/invalid_input",
                         "trailer fields after a chunked body are not accepted; send every "
                         "field in the head"});
        }
        return Dispatch();
      }
    }
    ReadMore();
  }

  size_t FieldCount() const {
    const auto& fields = parser_->get().base();
    return static_cast<size_t>(std::distance(fields.begin(), fields.end()));
  }

  // A client that sent `Expect: 100-continue` waits for this before it sends the body (RFC 9110
  // §10.1.1); it is sent only once the head has passed every check.
  static bool ExpectsContinue(const bhttp::request<bhttp::string_body>& head) {
    auto expect = head.find(bhttp::field::expect);
    return head.version() >= 11 && expect != head.end() &&
           beast::iequals(expect->value(), "100-continue");
  }

  void SendContinue() {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        if (ec) return self->Close();
                        self->Parse();
                      });
  }

  void OnParseError(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      return Reject({413, "user/request_body_too_large",
                     "the request body is larger than " +
                         std::to_string(host_.options.max_body_bytes) + " bytes"});
    }
    if (ec == bhttp::error::header_limit) {
      if (!CurrentRequestLine().complete) {
        return Reject(
            {414, "user/request_target_too_long",
             "the request line is longer than " + std::to_string(kHeaderLimit) + " bytes"});
      }
      return Reject({431, "user/request_header_fields_too_large",
                     "the request head is larger than " + std::to_string(kHeaderLimit) + " bytes"});
    }
    Reject({400, "application/invalid_input", MalformedDetail(ec)});
  }

  // The request line as parsed, or as far as it arrived if the parser has not taken it yet (it
  // waits for the whole head once a line came in parts).
  RequestLine CurrentRequestLine() const {
    const auto& head = parser_->get();
    if (!head.method_string().empty()) {
      return {std::string(head.method_string()), std::string(head.target()), true};
    }
    auto bytes = buffer_.data();
    return PeekRequestLine({static_cast<const char*>(bytes.data()), bytes.size()},
                           kPeekedTargetLimit);
  }

  // --- answering -------------------------------------------------------------------------

  RequestContext NewContext(Clock::time_point started) const {
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
    SetDeadline(Phase::kHandling, Clock::time_point::max());
    auto& breq = parser_->get();
    version_ = breq.version();
    keep_alive_ = breq.keep_alive() && !host_.draining;
    request_ = ToRequest(breq);
    ctx_ = NewContext(started_);
    if (!host_.options.trusted_proxies.empty()) {
      ctx_.client_ip =
          host_.options.trusted_proxies.ClientAddress(remote_ip_, ForwardedFor(request_));
    }
    if (request_.target == "*") return Respond(ServerWideOptions());
    HttpResponse resp = CallHandler();
    if (resp.later) return AnswerLater(resp.later);
    if (!resp.run_on_worker) return Respond(std::move(resp));
    ctx_.may_block = true;
    asio::post(host_.workers, [self = this->shared_from_this()] {
      HttpResponse r = self->CallHandler();
      if (r.later) return self->AnswerLater(r.later);
      asio::post(self->stream_.get_executor(),
                 [self, r = std::move(r)]() mutable { self->Respond(std::move(r)); });
    });
  }

  // Starts a handler's later answer. Whichever thread gives it, the answer is sent from this
  // connection's own thread, once: a second answer is dropped, and a start that throws, or
  // drops `respond` without calling it, is answered 500. The server counts the answers owed
  // until the last reference to one is gone, and its stop waits for that count.
  void AnswerLater(const std::function<void(HttpResponse::Respond)>& start) {
    struct Owed {
      explicit Owed(std::shared_ptr<Session> s) : self(std::move(s)) { ++self->host_.answers_owed; }
      Owed(const Owed&) = delete;
      Owed& operator=(const Owed&) = delete;
      std::shared_ptr<Session> self;
      std::atomic<bool> given{false};
      void Give(HttpResponse r) {
        if (given.exchange(true)) return;
        asio::post(self->stream_.get_executor(),
                   [s = self, r = std::move(r)]() mutable { s->Respond(std::move(r)); });
      }
      ~Owed() {
        if (!given) {
          try {
            auto& options = self->host_.options;
            if (options.on_handler_failure) {
              options.on_handler_failure(self->ctx_, "the handler dropped its answer");
            }
            Give(self->FailedAnswer());
          } catch (...) {  // nothing can be sent: the connection is closed unanswered
          }
        }
        // The session (and through it the server) is let go of before the count falls: the
        // server may be destroyed as soon as it reaches 0.
        std::atomic<int>& owed = self->host_.answers_owed;
        self.reset();
        --owed;
      }
    };
    auto owed = std::make_shared<Owed>(this->shared_from_this());
    std::string what;
    try {
      start([owed](HttpResponse r) { owed->Give(std::move(r)); });
      return;
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "an exception of unknown type";
    }
    if (host_.options.on_handler_failure) host_.options.on_handler_failure(ctx_, what);
    owed->Give(FailedAnswer());
  }

  // Nothing keyhold answers may be kept by a cache between it and the client: answers carry
  // secret values, new keys and tokens' details. A handler's own Cache-Control is kept.
  static void NoStore(HttpResponse& resp) {
    for (const auto& [name, value] : resp.headers) {
      if (beast::iequals(name, "cache-control")) return;
    }
    resp.headers.emplace_back("Cache-Control", "no-store");
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
    return FailedAnswer();
  }

  HttpResponse FailedAnswer() {
    return host_.handler.Reject(ctx_, request_.Path(), 500, "application/unexpected_error",
                                "the server failed to answer this request; it is logged under "
                                "the request id " +
                                    ctx_.request_id);
  }

  void Respond(HttpResponse resp) {
    resp.headers.emplace_back("X-Request-Id", ctx_.request_id);
    NoStore(resp);
    Log(ctx_, request_, resp.status, resp.body.size());
    Write(resp, version_, keep_alive_,
          request_.method == "HEAD" ? BodyPolicy::kHeadOnly : BodyPolicy::kSend);
  }

  // Answers a request the server refuses itself, in the format of its path's owner, and ends
  // the connection: what follows the refused head cannot be trusted to be a next request.
  void Reject(const Refusal& refusal) {
    timed_out_ = false;
    RequestLine line = CurrentRequestLine();
    HttpRequest req;
    req.method = std::move(line.method);
    req.target = OriginForm(line.target);
    RequestContext ctx = NewContext(phase_ == Phase::kReading ? started_ : Clock::now());
    HttpResponse resp =
        host_.handler.Reject(ctx, req.Path(), refusal.status, refusal.reason, refusal.detail);
    resp.headers.emplace_back("X-Request-Id", ctx.request_id);
    NoStore(resp);
    Log(ctx, req, resp.status, resp.body.size());
    lingering_ = true;
    // A HEAD request refused is answered with the head alone, as any answer to HEAD is.
    Write(resp, 11, /*keep_alive=*/false,
          req.method == "HEAD" ? BodyPolicy::kHeadOnly : BodyPolicy::kSend);
  }

  void Log(const RequestContext& ctx, const HttpRequest& req, int status, size_t body_bytes) {
    if (!host_.options.on_response) return;
    host_.options.on_response(
        ctx, req, status,
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - ctx.started),
        body_bytes);
  }

  // Sends the answer from out_, one buffer kept for the connection's life (a large one is let
  // go of after its send).
  void Write(const HttpResponse& resp, unsigned version, bool keep_alive,
             BodyPolicy body = BodyPolicy::kSend) {
    SetDeadline(Phase::kWriting, Clock::now() + host_.options.read_timeout);
    out_.clear();
    AppendResponse(out_, resp, version, keep_alive, body);
    asio::async_write(
        stream_, asio::buffer(out_),
        [self = this->shared_from_this(), keep = keep_alive](beast::error_code ec, size_t) {
          if (self->out_.capacity() > kKeptAnswerBuffer) std::string().swap(self->out_);
          if (ec) return self->CloseSocket();
          if (self->lingering_) return self->StartLinger();
          if (!keep) return self->Close();
          self->ReadRequest();
        });
  }

  // After a refusal, read and drop what the client still sends, so that one still uploading
  // gets to read the answer instead of a reset — for a fixed time in all, however the bytes
  // trickle in.
  void StartLinger() {
    if constexpr (kPlain) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    SetDeadline(Phase::kLingering,
                Clock::now() + std::min(kLingerBudget, host_.options.read_timeout));
    buffer_.clear();
    Linger();
  }

  void Linger() {
    stream_.async_read_some(buffer_.prepare(16 * 1024),
                            [self = this->shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) return self->CloseSocket();
                              self->Linger();
                            });
  }

  void Close() {
    phase_ = Phase::kClosed;
    beast::error_code ec;
    if constexpr (kPlain) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    } else {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    }
  }

  void CloseSocket() {
    phase_ = Phase::kClosed;
    beast::error_code ignored;
    beast::get_lowest_layer(stream_).socket().close(ignored);
  }

  SessionHost host_;
  Stream stream_;
  std::string remote_ip_;
  asio::steady_timer timer_;
  bool timer_waiting_ = false;
  Phase phase_ = Phase::kHandshake;
  Clock::time_point deadline_;
  Clock::time_point started_;  // when the current request's first byte arrived
  bool timed_out_ = false;     // the read was cancelled because the request ran out of time
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bool head_checked_ = false;
  size_t head_fields_ = 0;          // fields in the current request's head, once it was whole
  std::optional<Refusal> folding_;  // the current head's line folding, once seen
  bool lingering_ = false;
  // The request being answered; touched by one thread at a time (I/O, then worker, then I/O).
  HttpRequest request_;
  RequestContext ctx_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  std::string out_;  // the answer being sent
};

class ServerImpl final : public HttpServer {
 public:
  ServerImpl(ServerOptions options, Handler& handler)
      : options_(std::move(options)),
        handler_(handler),
        workers_(static_cast<size_t>(std::max(1, options_.worker_threads))),
        ssl_(asio::ssl::context::tls_server),
        ios_(MakeContexts(std::max(1, options_.threads))),
        acceptor_(*ios_[0]),
        accept_pause_(*ios_[0]) {}

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
    max_connections_ = options_.max_connections > 0
                           ? options_.max_connections
                           : ConnectionLimitForDescriptors(DescriptorLimit());
    Accept();
    for (auto& io : ios_) {
      guards_.emplace_back(io->get_executor());
      threads_.emplace_back([ctx = io.get()] {
        pthread_setname_np(pthread_self(), "kh-io");  // as top -H and perf show it
        ctx->run();
      });
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
      accept_pause_.cancel();
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
    // No answer can be started any more. One still owed (a read whose audit entry is being
    // committed: every batch ends, committed or failed) holds its session, which needs this
    // server alive; its answer, too late to be sent, is dropped with the I/O contexts.
    while (answers_owed_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

 private:
  SessionHost Host() {
    return {options_, handler_, workers_, live_sessions_, draining_, answers_owed_};
  }

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
    acceptor_.async_accept(home, [this, &home](beast::error_code ec, tcp::socket sock) {
      if (ec) return OnAcceptError(ec);
      if (live_sessions_ >= max_connections_) {
        RefuseOverCapacity(std::move(sock));
      } else {
        StartSession(home, std::move(sock));
      }
      Accept();
    });
  }

  // accept(2) errors of the one connection being accepted, to be retried at once as EAGAIN
  // would be. Any other error (out of descriptors or memory above all) would recur at once: the
  // listener pauses instead of spinning, leaving the CPU to the connections it serves and
  // giving the idle timeout a chance to free descriptors.
  static bool OnlyThisConnectionFailed(beast::error_code ec) {
    if (ec.category() != boost::system::system_category()) return false;
    switch (ec.value()) {
      case ECONNABORTED:
      case EINTR:
      case EPROTO:
      case EPERM:
      case ENETDOWN:
      case ENETUNREACH:
      case EHOSTDOWN:
      case EHOSTUNREACH:
      case ENONET:
      case ENOPROTOOPT:
      case EOPNOTSUPP:
        return true;
      default:
        return false;
    }
  }

  void OnAcceptError(beast::error_code ec) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (OnlyThisConnectionFailed(ec)) return Accept();
    auto now = std::chrono::steady_clock::now();
    if (options_.on_accept_failure && now - last_accept_report_ >= std::chrono::seconds(1)) {
      last_accept_report_ = now;
      options_.on_accept_failure(ec.message());
    }
    accept_pause_.expires_after(kAcceptBackoff);
    accept_pause_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec && acceptor_.is_open()) Accept();
    });
  }

  // Past the connection limit the request is not read, so its path and owner are unknown: the
  // 503 is plain JSON. Over TLS the connection is closed at once — answering would take the
  // handshake that the limit is there to spare.
  void RefuseOverCapacity(tcp::socket sock) {
    beast::error_code ec;
    if (tls_) {
      sock.close(ec);
      return;
    }
    auto remote = sock.remote_endpoint(ec);
    RequestContext ctx;
    ctx.request_id = options_.new_request_id();
    ctx.peer_ip = ctx.client_ip = ec ? "" : remote.address().to_string();
    ctx.started = std::chrono::steady_clock::now();
    HttpResponse r =
        handler_.Reject(ctx, "", 503, "application/service_unavailable",
                        "the server is at its limit of " + std::to_string(max_connections_) +
                            " open connections; try again shortly");
    r.headers.emplace_back("X-Request-Id", ctx.request_id);
    r.headers.emplace_back("Retry-After", "1");
    if (options_.on_response) {
      options_.on_response(ctx, HttpRequest{}, 503, std::chrono::microseconds(0), r.body.size());
    }
    std::string text;
    AppendResponse(text, r, 11, /*keep_alive=*/false);
    // A new socket's send buffer takes the whole answer without waiting.
    sock.non_blocking(true, ec);
    sock.send(asio::buffer(text), 0, ec);
    // Drop what already arrived, so that closing sends a FIN after the answer, not a reset.
    std::array<char, 4096> sink;
    for (int i = 0; i < 4; ++i) {
      if (sock.receive(asio::buffer(sink), 0, ec) == 0) break;
    }
    sock.shutdown(tcp::socket::shutdown_both, ec);
    sock.close(ec);
  }

  void StartSession(asio::io_context& home, tcp::socket sock) {
    beast::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    std::string ip = ec ? "" : remote.address().to_string();
    sock.set_option(tcp::no_delay(true), ec);
    std::lock_guard lock(sessions_mu_);
    ForgetEndedSessions();
    if (tls_) {
      auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
          Host(), beast::ssl_stream<beast::tcp_stream>(std::move(sock), ssl_), ip);
      tls_sessions_.push_back(s);
      asio::post(home, [s] { s->Run(); });
    } else {
      auto s = std::make_shared<Session<beast::tcp_stream>>(Host(),
                                                            beast::tcp_stream(std::move(sock)), ip);
      plain_sessions_.push_back(s);
      asio::post(home, [s] { s->Run(); });  // a session is touched only on its own thread
    }
  }

  // Sweeps the lists of sessions when they have doubled since the last sweep: amortized
  // constant time per connection, where sweeping on every accept would cost time in the number
  // of open connections.
  void ForgetEndedSessions() {
    if (plain_sessions_.size() + tls_sessions_.size() < 2 * swept_size_ + 64) return;
    std::erase_if(plain_sessions_, [](auto& w) { return w.expired(); });
    std::erase_if(tls_sessions_, [](auto& w) { return w.expired(); });
    swept_size_ = plain_sessions_.size() + tls_sessions_.size();
  }

  ServerOptions options_;
  Handler& handler_;
  asio::thread_pool workers_;
  // Declared before the I/O contexts, so that sessions still held by handlers queued in a
  // context, destroyed with it, find these alive.
  asio::ssl::context ssl_;
  std::atomic<int> live_sessions_{0};
  std::atomic<int> answers_owed_{0};
  std::atomic<bool> draining_{false};
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  size_t next_io_ = 0;  // used only by the accept handler, which runs on ios_[0]
  tcp::acceptor acceptor_;
  asio::steady_timer accept_pause_;  // on ios_[0], like the acceptor
  std::chrono::steady_clock::time_point last_accept_report_;
  int max_connections_ = 0;
  bool tls_ = false;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::mutex sessions_mu_;
  std::vector<std::weak_ptr<Session<beast::tcp_stream>>> plain_sessions_;
  std::vector<std::weak_ptr<Session<beast::ssl_stream<beast::tcp_stream>>>> tls_sessions_;
  size_t swept_size_ = 0;
};

}  // namespace

int ConnectionLimitForDescriptors(uint64_t descriptor_limit) {
  uint64_t reserve = std::min<uint64_t>(64, descriptor_limit / 2);
  uint64_t limit = std::clamp<uint64_t>(descriptor_limit - reserve, 1, 1'000'000);
  return static_cast<int>(limit);
}

uint64_t DescriptorLimit() {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return limit.rlim_cur;
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(ServerOptions options, Handler& handler) {
  auto server = std::make_unique<ServerImpl>(std::move(options), handler);
  KH_RETURN_IF_ERROR(server->Init());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace keyhold::http
