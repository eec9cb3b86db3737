// WebhookDriver: one signed POST per step, what a receiver sees, and each way a step fails.
#include "server/rotation_webhook.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_env.h"

namespace keyhold::server {
namespace {

class RotationWebhookTest : public ::testing::Test {
 protected:
  WebhookDriver Driver(int status, const std::string& error = "") {
    RotationWebhookOptions o;
    o.url = *audit::ParseWebhookUrl("https://rotate.example.com/hook");
    o.key = key_;
    o.address = [] { return std::string("http://127.0.0.1:8080"); };
    o.sender = [this, status, error](const audit::WebhookRequest& r) {
      sent_.push_back(r);
      return audit::WebhookResponse{status, error};
    };
    return WebhookDriver(env_, o);
  }
  static service::RotationDriver::Call Call() {
    return {service::RotationStep::kSet, "secret", "db/password", "khrot_token"};
  }
  static std::string Header(const audit::WebhookRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }
  testing::FakeEnv env_;
  std::vector<uint8_t> key_ = std::vector<uint8_t>(24, 5);
  std::vector<audit::WebhookRequest> sent_;
};

TEST_F(RotationWebhookTest, PostsTheStepSignedPerStandardWebhooks) {
  ASSERT_TRUE(Driver(204).Run(Call()).ok());
  ASSERT_EQ(sent_.size(), 1u);
  const audit::WebhookRequest& r = sent_[0];
  EXPECT_EQ(r.url.host, "rotate.example.com");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["type"], "secret.rotation_step");
  EXPECT_EQ(body["data"]["step"], "set");
  EXPECT_EQ(body["data"]["mount"], "secret");
  EXPECT_EQ(body["data"]["path"], "db/password");
  EXPECT_EQ(body["data"]["keyholdAddr"], "http://127.0.0.1:8080");
  EXPECT_EQ(body["data"]["token"], "khrot_token");
  std::string id = Header(r, "webhook-id");
  std::string ts = Header(r, "webhook-timestamp");
  EXPECT_TRUE(id.starts_with("msg_"));
  EXPECT_EQ(ts, std::to_string(env_.NowMillis() / 1000));
  EXPECT_EQ(Header(r, "webhook-signature"), audit::SignWebhook(key_, id, std::stoll(ts), r.body));
}

TEST_F(RotationWebhookTest, AnythingButA2xxFailsTheStep) {
  Status refused = Driver(500).Run(Call());
  EXPECT_EQ(refused.reason(), "rotation/step_failed");
  EXPECT_EQ(refused.message(), "the webhook answered HTTP 500");
  Status silent = Driver(0, "timed out").Run(Call());
  EXPECT_EQ(silent.message(), "the webhook was not answered: timed out");
  EXPECT_EQ(Driver(302).Run(Call()).code(), StatusCode::kUnavailable);
}

TEST_F(RotationWebhookTest, AnInterruptAbandonsTheCallUnderWayAndLaterRunsAtOnce) {
  // A receiver that takes the connection (the kernel completes it) and never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), len), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  RotationWebhookOptions o;
  o.url = *audit::ParseWebhookUrl("http://127.0.0.1:" + std::to_string(ntohs(a.sin_port)) + "/");
  o.key = key_;
  o.timeout_ms = 60'000;
  o.allow_private_networks = true;
  WebhookDriver driver(env_, o);
  Status ran;
  std::thread run([&] { ran = driver.Run(Call()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto interrupted_at = std::chrono::steady_clock::now();
  driver.Interrupt(service::StopReason::kShutdown);
  run.join();
  close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted_at, std::chrono::seconds(2));
  EXPECT_EQ(ran.reason(), service::kStepInterrupted) << ran.message();
  EXPECT_EQ(ran.message(),
            "the webhook call was abandoned as keyhold stopped; rotate again to retry");
  EXPECT_EQ(driver.Run(Call()).reason(), service::kStepInterrupted);
}

}  // namespace
}  // namespace keyhold::server
