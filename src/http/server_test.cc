#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <stdexcept>
#include <thread>

#include "http/router.h"

namespace keyhold::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

// A surface whose behaviour each test path selects.
class TestSurface final : public Surface {
 public:
  HttpResponse Handle(RequestContext& ctx, const HttpRequest& req) override {
    std::string_view path = req.Path();
    if (path == "/t/throw") throw std::runtime_error("boom");
    if (path == "/t/worker" && !ctx.may_block) return HttpResponse::RunOnWorker();
    if (path == "/t/worker-twice") return HttpResponse::RunOnWorker();
    HttpResponse r;
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
};

class ServerTest : public ::testing::Test {
 protected:
  void Start(TrustedProxies proxies = {}) {
    router_.Mount("/t/", surface_);
    ServerOptions o;
    o.port = 0;
    o.threads = 1;
    o.worker_threads = 1;
    o.trusted_proxies = std::move(proxies);
    o.new_request_id = [this] { return "req_" + std::to_string(++ids_); };
    o.on_handler_failure = [this](const RequestContext&, std::string_view what) {
      failures_.push_back(std::string(what));
    };
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
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    while (true) {
      size_t n = sock.read_some(asio::buffer(buf), ec);
      if (ec) break;
      out.append(buf, n);
    }
    return out;
  }
  static std::string Get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra + "\r\n";
  }

  TestSurface surface_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> ids_{0};
  std::vector<std::string> failures_;
};

TEST_F(ServerTest, AHandlerThatThrowsCostsOnlyItsOwnRequest) {
  Start();
  std::string r = Exchange(Get("/t/throw"));
  EXPECT_TRUE(r.starts_with("HTTP/1.1 500")) << r;
  EXPECT_NE(r.find("test-format application/unexpected_error"), std::string::npos) << r;
  EXPECT_NE(r.find("X-Request-Id: req_"), std::string::npos) << r;
  ASSERT_EQ(failures_.size(), 1u);
  EXPECT_EQ(failures_[0], "boom");
  EXPECT_TRUE(Exchange(Get("/t/fine")).starts_with("HTTP/1.1 200"));
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
  Start(TrustedProxies::Parse("127.0.0.0/8").value());
  EXPECT_NE(Exchange(Get("/t/ip", "X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7\r\n"))
                .find("io 203.0.113.7"),
            std::string::npos);
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

}  // namespace
}  // namespace keyhold::http
