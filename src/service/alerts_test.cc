#include "service/alerts.h"

#include <gtest/gtest.h>

#include "audit/webhook.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
    AlertOptions options;
    options.dedupe_window = std::chrono::minutes(5);
    options.on_queued = [this] { ++queued_; };
    alerts_ = AlertService::Create(*faulty_, env_, master_, options);
    admin_ = {.request_id = "req_1", .client_ip = "198.51.100.4"};
    admin_.actor = {.key_id = "key_admin", .permissions = {"alerts.*.read", "alerts.*.manage"}};
    reader_ = admin_;
    reader_.actor = {.key_id = "key_reader", .permissions = {"alerts.*.read"}};
  }

  audit::Alert Spike(const std::string& key) {
    audit::Alert a;
    a.kind = std::string(audit::kAlertSpike);
    a.summary = "requests spiked";
    a.key_id = key;
    a.evidence_json = R"({"rate":120,"baseline":3})";
    a.dedupe_key = "spike:" + key;
    return a;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::vector<uint8_t> master_ = std::vector<uint8_t>(32, 3);
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<AlertService> alerts_;
  RequestContext admin_, reader_;
  int queued_ = 0;
};

TEST_F(AlertsTest, RepeatsWithinTheWindowAreCounted) {
  ASSERT_TRUE(alerts_->CreateEndpoint(admin_, {.url = "https://example.com/h"}).ok());
  auto first = alerts_->Raise(Spike("key_1"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->deliveries, 1);
  env_.Advance(60'000);
  auto again = alerts_->Raise(Spike("key_1"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->alert_id, first->alert_id);
  EXPECT_EQ(queued_, 1);
  env_.Advance(5 * 60'000);
  auto later = alerts_->Raise(Spike("key_1"));
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->deduplicated);
  auto other = alerts_->Raise(Spike("key_2"));
  EXPECT_FALSE(other->deduplicated);
}

TEST_F(AlertsTest, RefusesUnknownKindsAndEvidenceThatIsNotAnObject) {
  audit::Alert a = Spike("key_1");
  a.kind = "anomaly.unknown";
  EXPECT_EQ(alerts_->Raise(a).status().code(), StatusCode::kInvalidArgument);
  a = Spike("key_1");
  a.evidence_json = "[1]";
  EXPECT_EQ(alerts_->Raise(a).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AlertsTest, AFailingStoreMakesRaisingFailWithoutStoringAnything) {
  faulty_->FailWrites(true);
  auto r = alerts_->Raise(Spike("key_1"));
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  faulty_->FailWrites(false);
  auto listed = alerts_->ListAlerts(reader_, {}, "", 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->alerts.empty());
}

TEST_F(AlertsTest, EndpointSecretsAreSealedAndNeverAudited) {
  auto created = alerts_->CreateEndpoint(admin_, {.url = "https://example.com/h"});
  ASSERT_TRUE(created.ok());
  std::string secret(created->secret.Reveal());
  ASSERT_TRUE(secret.starts_with("whsec_"));
  auto stored = sqlite_->GetWebhookEndpoint(created->endpoint.id);
  ASSERT_TRUE(stored.ok());
  std::vector<uint8_t> key, given;
  ASSERT_TRUE(audit::OpenWebhookSecret(audit::WebhookSecretKey(master_), stored->secret_sealed,
                                       stored->id, &key));
  ASSERT_TRUE(audit::ParseWebhookSecret(secret, &given));
  EXPECT_EQ(key, given);
  auto rotated = alerts_->RotateSecret(admin_, created->endpoint.id);
  ASSERT_TRUE(rotated.ok());
  EXPECT_TRUE(rotated->endpoint.previous_secret_until_ms.has_value());
  ASSERT_TRUE(alerts_->DeleteEndpoint(admin_, created->endpoint.id).ok());
  auto log = sqlite_->ReadAudit(0, 100);
  ASSERT_TRUE(log.ok());
  std::vector<std::string> actions;
  for (const auto& e : *log) {
    actions.push_back(e.action);
    EXPECT_EQ(e.details_json.find(secret.substr(6)), std::string::npos);
    EXPECT_EQ(e.details_json.find("example.com/h"), std::string::npos) << "the path is redacted";
    EXPECT_EQ(e.details_json.find(std::string(rotated->secret.Reveal()).substr(6)),
              std::string::npos);
  }
  EXPECT_NE((*log)[0].details_json.find(R"("origin":"https://example.com:443/…")"),
            std::string::npos)
      << (*log)[0].details_json;
  EXPECT_EQ(actions,
            (std::vector<std::string>{"webhook_endpoint.create", "webhook_endpoint.rotate_secret",
                                      "webhook_endpoint.delete"}));
}

TEST_F(AlertsTest, ChangesNeedManageAndFailWhenTheirAuditEntryCannotBeWritten) {
  EXPECT_EQ(alerts_->CreateEndpoint(reader_, {.url = "https://example.com/h"}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(alerts_->CreateEndpoint(admin_, {.url = "ftp://example.com/h"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(
      alerts_->CreateEndpoint(admin_, {.url = "https://x/", .kinds = {"nope"}}).status().code(),
      StatusCode::kInvalidArgument);
  faulty_->FailAuditWrites(true);
  EXPECT_EQ(alerts_->CreateEndpoint(admin_, {.url = "https://example.com/h"}).status().code(),
            StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);
  EXPECT_TRUE(alerts_->ListEndpoints(reader_)->empty());
}

TEST_F(AlertsTest, AcknowledgingIsRecordedOnce) {
  auto r = alerts_->Raise(Spike("key_1"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(alerts_->Acknowledge(reader_, r->alert_id).status().code(),
            StatusCode::kPermissionDenied);
  auto acked = alerts_->Acknowledge(admin_, r->alert_id);
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->acknowledged_by, "key_admin");
  ASSERT_TRUE(alerts_->Acknowledge(admin_, r->alert_id).ok());
  EXPECT_EQ(sqlite_->ReadAudit(0, 10)->size(), 1u);
  EXPECT_EQ(alerts_->Acknowledge(admin_, "alert_missing").status().code(), StatusCode::kNotFound);
}

TEST_F(AlertsTest, ListsPageByCursor) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(alerts_->Raise(Spike("key_" + std::to_string(i))).ok());
    env_.Advance(1);
  }
  auto first = alerts_->ListAlerts(reader_, {}, "", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->alerts.size(), 2u);
  EXPECT_TRUE(first->has_more);
  auto rest = alerts_->ListAlerts(reader_, {}, first->cursor, 2);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->alerts.size(), 1u);
  EXPECT_EQ(rest->alerts[0].key_id, "key_0");
  EXPECT_EQ(alerts_->ListAlerts(reader_, {}, "garbage", 2).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace keyhold::service
