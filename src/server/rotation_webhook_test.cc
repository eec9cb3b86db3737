// WebhookDriver: one signed POST per step, what a receiver sees, and each way a step fails.
#include "server/rotation_webhook.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fakes/fake_env.h"

namespace keyhold::server {
namespace {

class RotationWebhookTest : public ::testing::Test {
 protected:
  WebhookDriver Driver(int status, std::string error = "") {
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

}  // namespace
}  // namespace keyhold::server
