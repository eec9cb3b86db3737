#include "http/server.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "http/router.h"

namespace keyhold::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One raw client connection, for requests no HTTP library would send.
class RawClient {
 public:
  explicit RawClient(uint16_t port) : sock_(io_) {
    sock_.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  // False once the server has closed the connection (the send is reset).
  bool Send(std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(sock_, asio::buffer(bytes), ec);
    return !ec;
  }
  // Reads for at most `timeout`, until the server closes the connection or `enough` says that
  // what arrived is enough. Sets closed() if the server closed it.
  std::string Read(milliseconds timeout,
                   const std::function<bool(const std::string&)>& enough = nullptr) {
    std::string out;
    auto deadline = Clock::now() + timeout;
    while (!(enough && enough(out))) {
      auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      pollfd p{sock_.native_handle(), POLLIN, 0};
      if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      boost::system::error_code ec;
      size_t n = sock_.read_some(asio::buffer(buf), ec);
      if (ec) {
        closed_ = true;
        break;
      }
      out.append(buf, n);
    }
    return out;
  }
  // One whole response (head and Content-Length body), or what arrived within `timeout`.
  std::string ReadResponse(milliseconds timeout = milliseconds(2000)) {
    return Read(timeout, [](const std::string& s) {
      size_t end = s.find("\r\n\r\n");
      if (end == std::string::npos) return false;
      size_t cl = s.find("Content-Length: ");
      size_t len = cl == std::string::npos ? 0 : std::stoul(s.substr(cl + 16));
      return s.size() >= end + 4 + len;
    });
  }
  bool closed() const { return closed_; }

 private:
  asio::io_context io_;
  tcp::socket sock_;
  bool closed_ = false;
};

// A surface whose behaviour each test path selects.
class TestSurface final : public Surface {
 public:
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override {
    std::string_view path = req.Path();
    if (path == "/t/throw") throw std::runtime_error("boom");
    if (path == "/t/worker" && !ctx.may_block) return HttpResponse::RunOnWorker();
    if (path == "/t/worker-twice") return HttpResponse::RunOnWorker();
    if (path.starts_with("/t/later")) return Later(path);
    ++calls;
    HttpResponse r;
    if (path == "/t/echo") {
      r.body = req.method + " " + req.target;
      return r;
    }
    if (path == "/t/status") {  // ?NNN: that status, with a body
      r.status = std::stoi(req.target.substr(req.target.find('?') + 1));
      r.body = "a body the status cannot carry";
      return r;
    }
    r.body = std::string(ctx.may_block ? "worker " : "io ") + ctx.client_ip;
    return r;
  }
  HttpResponse Error(const RequestContext& /*ctx*/, int status, std::string_view reason,
                     std::string_view /*detail*/) const override {
    HttpResponse r;
    r.status = status;
    r.body = "test-format " + std::string(reason);
    return r;
  }
  // Answers given later: from another thread after a while ("/t/later/thread"), at once from
  // the start ("/t/later/now"), twice ("/t/later/twice": the first counts), never (the function
  // is dropped: "/t/later/dropped"), or by a start that throws ("/t/later/throw").
  HttpResponse Later(std::string_view path) {
    std::string which(path.substr(std::string_view("/t/later/").size()));
    return HttpResponse::Later([this, which](const HttpResponse::Respond& respond) {
      auto answer = [which](std::string body) {
        HttpResponse r;
        r.body = which + ": " + body;
        return r;
      };
      if (which == "now") return respond(answer("now"));
      if (which == "twice") {
        respond(answer("first"));
        return respond(answer("second"));
      }
      if (which == "dropped") return;
      if (which == "throw") throw std::runtime_error("later boom");
      std::lock_guard lock(later_mu);
      later_threads.emplace_back([respond, answer] {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        respond(answer("from another thread"));
      });
    });
  }
  ~TestSurface() override {
    std::lock_guard lock(later_mu);
    for (auto& t : later_threads) t.join();
  }
  std::mutex later_mu;
  std::vector<std::thread> later_threads;

  std::string_view Name() const override { return "test"; }
  std::vector<std::string_view> Routes() const override { return {}; }
  int RouteIndex(std::string_view /*path*/) const override { return -1; }
  std::atomic<int> calls{0};
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(const std::function<void(ServerOptions&)>& configure = nullptr) {
    router_.Mount("/t/", surface_);
    ServerOptions o;
    o.port = 0;
    o.threads = 1;
    o.worker_threads = 1;
    o.new_request_id = [this] { return "req_" + std::to_string(++ids_); };
    o.on_handler_failure = [this](const RequestContext&, std::string_view what) {
      failures_.push_back(std::string(what));
    };
    o.on_response = [this](const RequestContext& ctx, const HttpRequest& req, int status,
                           std::chrono::microseconds, size_t) {
      std::lock_guard lock(log_mu_);
      log_.push_back(ctx.request_id + " " + req.method + " " + std::string(req.Path()) + " " +
                     std::to_string(status));
    };
    if (configure) configure(o);
    auto s = HttpServer::Start(std::move(o), router_);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::seconds(2));
  }

  // Sends `raw` on a new connection and returns everything the server writes until it closes
  // (requests here ask for Connection: close).
  std::string Exchange(const std::string& raw) {
    asio::io_context io;
    tcp::socket sock(io);
    sock.connect({asio::ip::make_address("127.0.0.1"), server_->LocalPort()});
    asio::write(sock, asio::buffer(raw));
    return ReadToEnd(sock);
  }
  static std::string Get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n";
  }

  TestSurface surface_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> ids_{0};
  std::vector<std::string> failures_;
  std::mutex log_mu_;
  std::vector<std::string> log_;  // the access log: "<request id> <method> <path> <status>"

  std::vector<std::string> AccessLog() {
    std::lock_guard lock(log_mu_);
    return log_;
  }
  // Everything the server writes on `sock` until it closes the connection.
  static std::string ReadToEnd(tcp::socket& sock) {
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    while (!ec) {
      size_t n = sock.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
    }
    return out;
  }
  // Waits up to a second for a "/t/later/thread" request to be in the handler's hands, its
  // answer owed; true once it is.
  bool AnswerIsOwed() {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(surface_.later_mu);
        if (!surface_.later_threads.empty()) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  // The value of header `name` in a raw response, or empty.
  static std::string HeaderOf(const std::string& response, const std::string& name) {
    size_t at = response.find("\r\n" + name + ": ");
    if (at == std::string::npos) return "";
    at += name.size() + 4;
    return response.substr(at, response.find("\r\n", at) - at);
  }
  // True if the access log has a line for the request id the response carries, with `status`.
  bool Logged(const std::string& response, int status) {
    std::string id = HeaderOf(response, "X-Request-Id");
    for (const std::string& line : AccessLog()) {
      if (!id.empty() && line.starts_with(id + " ") &&
          line.ends_with(" " + std::to_string(status))) {
        return true;
      }
    }
    return false;
  }
};

TEST_F(ServerTest, AHandlerThatThrowsCostsOnlyItsOwnRequest) {
  Start();
  std::string r = Exchange(Get("/t/throw"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 500")) << r;
  EXPECT_NE(r.find("test-format application/unexpected_error"), std::string::npos) << r;
  EXPECT_NE(r.find("X-Request-Id: req_"), std::string::npos) << r;
  EXPECT_NE(r.find("Cache-Control: no-store"), std::string::npos) << r;
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0], "boom");
  EXPECT_TRUE(Exchange(Get("/t/fine")).starts_with("HTTP/1.1 200"));
}

TEST_F(ServerTest, AStatusThatCarriesNoBodyIsSentWithoutTheHandlersBody) {
  Start();
  for (int status : {204, 304, 100}) {
    std::string r = Exchange(Get("/t/status?" + std::to_string(status)));
    EXPECT_TRUE(r.starts_with("HTTP/1.1 " + std::to_string(status))) << r;
    EXPECT_EQ(r.find("a body the status cannot carry"), std::string::npos) << r;
  }
  EXPECT_TRUE(Exchange(Get("/t/fine")).starts_with("HTTP/1.1 200"));  // still serving
}

TEST_F(ServerTest, BlockingWorkMovesToAWorkerThread) {
  Start();
  std::string r = Exchange(Get("/t/worker"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
  EXPECT_NE(r.find("worker 127.0.0.1"), std::string::npos) << r;
  EXPECT_NE(Exchange(Get("/t/inline")).find("io 127.0.0.1"), std::string::npos);
  // Asking again from the worker is a bug in the handler: 500, not a loop.
  EXPECT_TRUE(Exchange(Get("/t/worker-twice")).starts_with("HTTP/1.1 500"));
}

TEST_F(ServerTest, AnAnswerGivenLaterFromAnyThreadIsSentOnceAndLogged) {
  Start();
  for (const char* which : {"thread", "now"}) {
    std::string r = Exchange(Get(std::string("/t/later/") + which));
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
    EXPECT_EQ(HeaderOf(r, "Cache-Control"), "no-store") << r;
    EXPECT_NE(r.find(which), std::string::npos) << r;
    EXPECT_TRUE(Logged(r, 200)) << r;
  }
  std::string twice = Exchange(Get("/t/later/twice"));
  EXPECT_NE(twice.find("twice: first"), std::string::npos) << twice;
  EXPECT_EQ(twice.find("second"), std::string::npos) << twice;
  // A start that throws, or a handler that loses the function, costs its request a 500.
  std::string thrown = Exchange(Get("/t/later/throw"));
  EXPECT_TRUE(thrown.starts_with("HTTP/1.1 500")) << thrown;
  EXPECT_NE(thrown.find("test-format application/unexpected_error"), std::string::npos);
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0], "later boom");
  std::string dropped = Exchange(Get("/t/later/dropped"));
  EXPECT_TRUE(dropped.starts_with("HTTP/1.1 500")) << dropped;
  // A keep-alive connection carries on after a later answer.
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server_->LocalPort()});
  std::string two = "GET /t/later/thread HTTP/1.1\r\nHost: x\r\n\r\n" + Get("/t/fine");
  asio::write(sock, asio::buffer(two));
  std::string out = ReadToEnd(sock);
  size_t first = out.find("thread: from another thread");
  EXPECT_NE(first, std::string::npos) << out;
  EXPECT_LT(first, out.find("io 127.0.0.1")) << out;  // answered in the order asked
}

TEST_F(ServerTest, StoppingWithinItsDrainTimeSendsTheAnswersOwed) {
  Start();
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server_->LocalPort()});
  asio::write(sock, asio::buffer(Get("/t/later/thread")));
  // The request is in the handler's hands once its start ran; stop while the answer is owed.
  ASSERT_TRUE(AnswerIsOwed());
  server_->Shutdown(std::chrono::seconds(5));
  std::string out = ReadToEnd(sock);
  EXPECT_NE(out.find("thread: from another thread"), std::string::npos) << out;
}

// Past the drain time the answer is not sent, but the server is destroyed safely while it is
// still owed and after it is given (the sanitizer builds check the lifetimes).
TEST_F(ServerTest, AServerStoppedAndDestroyedWhileAnAnswerIsOwedEndsCleanly) {
  Start();
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server_->LocalPort()});
  asio::write(sock, asio::buffer(Get("/t/later/thread")));
  ASSERT_TRUE(AnswerIsOwed());
  auto started = std::chrono::steady_clock::now();
  server_->Shutdown(std::chrono::seconds(0));
  // The stop waited for the owed answer to be given (200 ms after it was asked for).
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(50));
  server_.reset();
  std::string out = ReadToEnd(sock);
  EXPECT_EQ(out.find("from another thread"), std::string::npos) << out;
}

TEST_F(ServerTest, ErrorsOfTheServerItselfUseTheFormatOfThePathsOwner) {
  Start();
  std::string big(2 << 20, 'x');
  std::string r = Exchange("POST /t/upload HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                           std::to_string(big.size()) + "\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
  EXPECT_NE(r.find("test-format user/request_body_too_large"), std::string::npos) << r;
  r = Exchange(Get("/elsewhere"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 404")) << r;
  EXPECT_NE(r.find(R"("reason":"application/route_not_found")"), std::string::npos) << r;
}

TEST_F(ServerTest, ForwardedForIsBelievedOnlyFromTrustedProxies) {
  Start();
  EXPECT_NE(Exchange(Get("/t/ip", "X-Forwarded-For: 203.0.113.7\r\n")).find("io 127.0.0.1"),
            std::string::npos);
  server_->Shutdown(std::chrono::seconds(1));
  server_.reset();
  Router fresh;
  router_ = std::move(fresh);
  Start([](ServerOptions& o) { o.trusted_proxies = TrustedProxies::Parse("127.0.0.0/8").value(); });
  EXPECT_NE(Exchange(Get("/t/ip", "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7\r\n"))
                .find("io 203.0.113.7"),
            std::string::npos);
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

const std::string kKeepAliveGet = "GET /t/held HTTP/1.1\r\nHost: x\r\n\r\n";

TEST_F(ServerTest, PastTheConnectionLimitANewConnectionGetsA503AndTheOthersCarryOn) {
  Start([](ServerOptions& o) { o.max_connections = 3; });
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<RawClient>(server_->LocalPort()));
    held.back()->Send(kKeepAliveGet);
    ASSERT_TRUE(held.back()->ReadResponse().starts_with("HTTP/1.1 200"));
  }
  RawClient extra(server_->LocalPort());
  extra.Send(Get("/t/refused"));
  std::string r = extra.Read(milliseconds(2000));
  EXPECT_TRUE(extra.closed());
  EXPECT_TRUE(r.starts_with("HTTP/1.1 503")) << r;
  // The request was not read, so its path is unknown: plain JSON.
  EXPECT_NE(r.find(R"("reason":"application/service_unavailable")"), std::string::npos) << r;
  EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
  EXPECT_TRUE(Logged(r, 503));
  EXPECT_EQ(surface_.calls, 3);
  for (auto& c : held) {
    c->Send(kKeepAliveGet);
    EXPECT_TRUE(c->ReadResponse().starts_with("HTTP/1.1 200"));
  }
  held.pop_back();
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = Exchange(Get("/t/again")).starts_with("HTTP/1.1 200");
    if (!served) std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_TRUE(served) << "a freed place is given to the next connection";
}

TEST_F(ServerTest, AConnectionWaitingForARequestIsClosedAfterTheIdleTimeout) {
  Start([](ServerOptions& o) { o.idle_timeout = milliseconds(200); });
  RawClient fresh(server_->LocalPort());
  auto t0 = Clock::now();
  EXPECT_EQ(fresh.Read(milliseconds(3000)), "");
  EXPECT_TRUE(fresh.closed());
  EXPECT_GE(Clock::now() - t0, milliseconds(150));
  EXPECT_LT(Clock::now() - t0, milliseconds(1500));
  RawClient kept(server_->LocalPort());
  kept.Send(kKeepAliveGet);
  ASSERT_TRUE(kept.ReadResponse().starts_with("HTTP/1.1 200"));
  t0 = Clock::now();
  EXPECT_EQ(kept.Read(milliseconds(3000)), "");
  EXPECT_TRUE(kept.closed());
  EXPECT_LT(Clock::now() - t0, milliseconds(1500));
  EXPECT_EQ(AccessLog().size(), 1u) << "nothing was asked, nothing is answered or logged";
}

// Sends `bytes` one at a time, `every` apart, until the server answers or closes.
std::string Trickle(RawClient& c, const std::string& bytes, milliseconds every) {
  std::string got;
  for (char ch : bytes) {
    c.Send(std::string(1, ch));
    got += c.Read(every, [](const std::string& s) { return !s.empty(); });
    if (!got.empty() || c.closed()) break;
  }
  return got + c.Read(milliseconds(2000));
}

TEST_F(ServerTest, ARequestMustArriveWholeWithinTheReadTimeoutHoweverItTrickles) {
  Start([](ServerOptions& o) {
    o.read_timeout = milliseconds(400);
    o.idle_timeout = milliseconds(5000);
  });
  const std::string padding(200, 'a');
  // A head, a byte every 50 ms.
  RawClient head(server_->LocalPort());
  head.Send("POST /t/slow HTTP/1.1\r\n");
  auto t0 = Clock::now();
  std::string r = Trickle(head, "X-Padding: " + padding, milliseconds(50));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
  EXPECT_NE(r.find("test-format user/request_timeout"), std::string::npos) << r;
  EXPECT_TRUE(head.closed());
  EXPECT_GE(Clock::now() - t0, milliseconds(350));
  EXPECT_LT(Clock::now() - t0, milliseconds(1500));
  EXPECT_TRUE(Logged(r, 408));
  // A body likewise, after a keep-alive request that went well.
  RawClient body(server_->LocalPort());
  body.Send(kKeepAliveGet);
  ASSERT_TRUE(body.ReadResponse().starts_with("HTTP/1.1 200"));
  body.Send("POST /t/slow HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\n");
  r = Trickle(body, padding, milliseconds(50));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
  EXPECT_TRUE(body.closed());
  // A request line that never ends: the owner of the path as far as it came writes the 408.
  RawClient line(server_->LocalPort());
  line.Send("GET /t/never");
  r = Trickle(line, padding, milliseconds(50));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 408")) << r;
  EXPECT_NE(r.find("test-format user/request_timeout"), std::string::npos) << r;
  EXPECT_TRUE(Logged(r, 408));
  EXPECT_EQ(surface_.calls, 1) << "only the whole request reached the handler";
}

TEST_F(ServerTest, AfterARefusalWhatTheClientStillSendsIsDroppedForAFixedTimeInAll) {
  Start([](ServerOptions& o) { o.read_timeout = milliseconds(500); });
  RawClient c(server_->LocalPort());
  c.Send("POST /t/x HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
  std::string r = c.ReadResponse();
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  EXPECT_NE(r.find("test-format application/invalid_input"), std::string::npos) << r;
  // A byte every 100 ms: each used to buy 5 more seconds.
  auto t0 = Clock::now();
  while (c.Send("a") && Clock::now() - t0 < milliseconds(5000)) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_LT(Clock::now() - t0, milliseconds(1500)) << "the server keeps reading for 500 ms in all";
}

TEST_F(ServerTest, FramingThatCannotBeTrustedIsRefusedAndNothingBehindItRuns) {
  Start([](ServerOptions& o) { o.max_body_bytes = 1000; });
  const std::string smuggled = Get("/t/smuggled");
  struct Case {
    std::string fields;
    int status;
  };
  const Case cases[] = {
      {"Transfer-Encoding: gzip\r\n", 400},
      {"Transfer-Encoding: chunked, gzip\r\n", 400},
      {"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400},
      {"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400},
      {"Content-Length: 5\r\nTransfer-Encoding: gzip\r\n", 400},
      {"Content-Length: 5\r\nContent-Length: 6\r\n", 400},
      {"Transfer-Encoding: gzip, chunked\r\n", 501},
  };
  for (const Case& c : cases) {
    std::string r =
        Exchange("POST /t/front HTTP/1.1\r\nHost: x\r\n" + c.fields + "\r\n0\r\n\r\n" + smuggled);
    EXPECT_TRUE(r.starts_with("HTTP/1.1 " + std::to_string(c.status))) << c.fields << r;
    EXPECT_NE(r.find("test-format "), std::string::npos) << r;
    EXPECT_EQ(Count(r, "HTTP/1.1 "), 1u) << "one answer, then the connection closes: " << r;
    EXPECT_TRUE(Logged(r, c.status)) << r;
  }
  // A chunked body counts against the body limit, in one chunk or many.
  std::string r = Exchange("POST /t/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           std::string("400\r\n") + std::string(0x400, 'a') + "\r\n0\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
  std::string chunks;
  for (int i = 0; i < 3; ++i) chunks += "200\r\n" + std::string(0x200, 'a') + "\r\n";
  r = Exchange("POST /t/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks +
               "0\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 413")) << r;
  EXPECT_NE(r.find("test-format user/request_body_too_large"), std::string::npos) << r;
  EXPECT_EQ(surface_.calls, 0);
}

TEST_F(ServerTest, AFieldFoldedOntoASecondLineIsRefusedWhateverTheReadsItArrivesIn) {
  Start();
  const std::string folded =
      "GET /t/echo HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n";
  std::string r = Exchange(folded);
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  EXPECT_NE(r.find("test-format application/invalid_input"), std::string::npos) << r;
  EXPECT_TRUE(Logged(r, 400)) << r;
  // Split where the parser has taken the fields before the fold, then at the fold itself.
  for (size_t cut : {folded.find("X-A"), folded.find(" c"), folded.find("\r\n c")}) {
    RawClient c(server_->LocalPort());
    c.Send(folded.substr(0, cut));
    std::this_thread::sleep_for(milliseconds(50));
    c.Send(folded.substr(cut));
    r = c.ReadResponse();
    EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << cut << r;
  }
  EXPECT_EQ(surface_.calls, 0);
  // A body may hold a space after a line break.
  r = Exchange(
      "POST /t/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\n\r\n a");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
}

TEST_F(ServerTest, TrailerFieldsAfterAChunkedBodyAreRefusedNotTakenAsTheHeads) {
  Start();
  const std::string head =
      "POST /t/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: "
      "chunked\r\n\r\n2\r\nab\r\n0\r\n";
  std::string r = Exchange(head + "Authorization: Bearer x\r\n\r\n");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  EXPECT_NE(r.find("test-format application/invalid_input"), std::string::npos) << r;
  EXPECT_EQ(surface_.calls, 0);
  r = Exchange(head + "\r\n");  // no trailer: served
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
}

TEST_F(ServerTest, ARefusedHeadRequestIsAnsweredWithoutABody) {
  Start();
  std::string r = Exchange("HEAD /t/echo HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n");
  ASSERT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  size_t end = r.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos) << r;
  EXPECT_EQ(r.size(), end + 4) << r;  // the head alone, its Content-Length the body's
  EXPECT_NE(r.find("Content-Length: "), std::string::npos) << r;
}

TEST_F(ServerTest, OversizedHeadsAre431And414) {
  Start();
  std::string r = Exchange(Get("/t/x", "X-Big: " + std::string(100 * 1024, 'a') + "\r\n"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431")) << r.substr(0, 200);
  EXPECT_NE(r.find("test-format user/request_header_fields_too_large"), std::string::npos) << r;
  std::string many;
  for (int i = 0; i < 1000; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  r = Exchange(Get("/t/x", many));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 431")) << r.substr(0, 200);
  EXPECT_NE(r.find("test-format user/request_header_fields_too_large"), std::string::npos) << r;
  r = Exchange(Get("/t/" + std::string(20000, 'a')));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 414")) << r.substr(0, 200);
  EXPECT_NE(r.find("test-format user/request_target_too_long"), std::string::npos) << r;
  EXPECT_TRUE(Logged(r, 414));
  EXPECT_EQ(surface_.calls, 0);
}

TEST_F(ServerTest, HeadGetsTheHeadOfTheAnswerWithoutItsBody) {
  Start();
  std::string get = Exchange(Get("/t/inline"));
  std::string head = Exchange("HEAD /t/inline HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(head.starts_with("HTTP/1.1 200")) << head;
  size_t end = head.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(head.size(), end + 4) << "no body after the head";
  size_t body = get.size() - (get.find("\r\n\r\n") + 4);
  EXPECT_NE(head.find("Content-Length: " + std::to_string(body)), std::string::npos) << head;
}

TEST_F(ServerTest, AClientExpectingContinueIsToldToSendItsBody) {
  Start();
  asio::io_context io;
  tcp::socket sock(io);
  sock.connect({asio::ip::make_address("127.0.0.1"), server_->LocalPort()});
  asio::write(sock, asio::buffer(std::string("POST /t/inline HTTP/1.1\r\nHost: x\r\n"
                                             "Expect: 100-continue\r\nContent-Length: 4\r\n"
                                             "Connection: close\r\n\r\n")));
  std::string interim(25, '\0');
  asio::read(sock, asio::buffer(interim));
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(sock, asio::buffer(std::string("body")));
  std::string rest;
  boost::system::error_code ec;
  char buf[4096];
  while (!ec) rest.append(buf, sock.read_some(asio::buffer(buf), ec));
  EXPECT_TRUE(rest.starts_with("HTTP/1.1 200")) << rest;
}

TEST_F(ServerTest, TargetFormsAndMethods) {
  Start();
  auto request = [](const std::string& line) {
    return line + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  };
  // Absolute form reaches the handler in origin form.
  std::string r = Exchange(request("GET http://127.0.0.1:1/t/echo?q=1"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nGET /t/echo?q=1")) << r;
  // Asterisk form: OPTIONS only, answered for the server as a whole.
  r = Exchange(request("OPTIONS *"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 200")) << r;
  EXPECT_EQ(HeaderOf(r, "Allow"), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, LIST");
  EXPECT_TRUE(Logged(r, 200));
  r = Exchange(request("GET *"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 400")) << r;
  EXPECT_EQ(surface_.calls, 1);
  // An unknown method is 501 in the owner's format; a known one is the surface's to judge.
  r = Exchange(request("FOO /t/echo"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 501")) << r;
  EXPECT_NE(r.find("test-format application/method_not_implemented"), std::string::npos) << r;
  EXPECT_TRUE(Logged(r, 501));
  EXPECT_EQ(surface_.calls, 1);
  r = Exchange(request("LIST /t/echo"));
  EXPECT_TRUE(r.ends_with("LIST /t/echo")) << r;
}

TEST(ConnectionLimitForDescriptors, LeavesRoomForTheRestOfTheProcess) {
  EXPECT_EQ(ConnectionLimitForDescriptors(1024), 960);
  EXPECT_EQ(ConnectionLimitForDescriptors(128), 64);
  EXPECT_EQ(ConnectionLimitForDescriptors(50), 25);
  EXPECT_EQ(ConnectionLimitForDescriptors(1), 1);
  EXPECT_EQ(ConnectionLimitForDescriptors(UINT64_MAX), 1'000'000);
}

TEST(Router, LongestPrefixOwnsAPathOnSegmentBoundaries) {
  TestSurface a, b;
  Router r;
  r.Mount("/v1/", a);
  r.Mount("/forward-auth", b);
  EXPECT_EQ(r.Find("/v1/sys/health"), &a);
  EXPECT_EQ(r.Find("/forward-auth"), &b);
  EXPECT_EQ(r.Find("/forward-auth/check"), &b);
  EXPECT_EQ(r.Find("/forward-authx"), nullptr);
  EXPECT_EQ(r.Find("/v1"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
}

TEST(Router, APrefixEndingInADotOwnsAFamilyOfOperations) {
  TestSurface v2, secrets;
  Router r;
  r.Mount("/v2/", v2);
  r.Mount("/v2/secrets.", secrets);
  EXPECT_EQ(r.Find("/v2/secrets.rotate"), &secrets);
  EXPECT_EQ(r.Find("/v2/secrets.listDue"), &secrets);
  EXPECT_EQ(r.Find("/v2/keys.createKey"), &v2);
  EXPECT_EQ(r.Find("/v2/secretsXrotate"), &v2);
}

}  // namespace
}  // namespace keyhold::http
