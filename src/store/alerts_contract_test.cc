// The Store contract for the alert outbox (store/store.h "alerts and webhooks"), run against every
// store in Factories().
#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/temp_dir.h"
#include "store/store_contract.h"

namespace keyhold::store {
namespace {

class AlertStoreContract : public StoreContractSuite {};

audit::Alert MakeAlert(const std::string& id, const std::string& kind, int64_t at,
                       const std::string& dedupe = "") {
  audit::Alert a;
  a.id = id;
  a.kind = kind;
  a.summary = "something happened";
  a.key_id = "key_1";
  a.evidence_json = R"({"n":1})";
  a.dedupe_key = dedupe;
  a.created_at_ms = at;
  return a;
}

WebhookEndpointRecord MakeEndpoint(const std::string& id, std::vector<std::string> kinds = {}) {
  WebhookEndpointRecord e;
  e.id = id;
  e.url = "https://example.com/hook";
  e.description = "ops";
  e.kinds = std::move(kinds);
  e.secret_sealed = {1, 2, 3};
  e.created_at_ms = e.updated_at_ms = 1000;
  return e;
}

audit::AuditEntry Entry(const std::string& action) { return ContractAuditEntry(action, "wh_1"); }

TEST_P(AlertStoreContract, EndpointsRoundTripWithTheirAuditEntry) {
  auto s = Open();
  WebhookEndpointRecord e = MakeEndpoint("wh_1", {"anomaly.*"});
  e.previous_secret_sealed = {9};
  e.previous_secret_until_ms = 77;
  audit::AuditEntry entry = Entry("webhook_endpoint.create");
  ASSERT_TRUE(s->PutWebhookEndpoint(e, &entry).ok());
  auto got = s->GetWebhookEndpoint("wh_1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->url, e.url);
  EXPECT_EQ(got->kinds, e.kinds);
  EXPECT_EQ(got->secret_sealed, e.secret_sealed);
  EXPECT_EQ(got->previous_secret_sealed, e.previous_secret_sealed);
  EXPECT_EQ(got->previous_secret_until_ms, 77);
  auto log = s->ReadAudit(0, 10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].action, "webhook_endpoint.create");
  EXPECT_EQ(s->GetWebhookEndpoint("wh_2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->DeleteWebhookEndpoint("wh_2").code(), StatusCode::kNotFound);
  ASSERT_TRUE(s->DeleteWebhookEndpoint("wh_1").ok());
  EXPECT_TRUE(s->ListWebhookEndpoints()->empty());
}

TEST_P(AlertStoreContract, AnAlertQueuesOneDeliveryPerMatchingEnabledEndpoint) {
  auto s = Open();
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a", {"anomaly.*"})).ok());
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_b", {"key.leaked"})).ok());
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_c")).ok());
  WebhookEndpointRecord off = MakeEndpoint("wh_d");
  off.enabled = false;
  ASSERT_TRUE(s->PutWebhookEndpoint(off).ok());
  auto r = s->RaiseAlert(MakeAlert("alert_1", "anomaly.spike", 2000), 0, "");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->deduplicated);
  EXPECT_EQ(r->deliveries, 2);
  auto due = s->DueDeliveries(2000, 10);
  ASSERT_TRUE(due.ok());
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].id, DeliveryId("alert_1", (*due)[0].endpoint_id));
  EXPECT_EQ((*due)[0].status, DeliveryStatus::kPending);
  EXPECT_TRUE(s->DueDeliveries(1999, 10)->empty());
  auto only = s->RaiseAlert(MakeAlert("alert_2", "webhook.test", 2000), 0, "wh_b");
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(only->deliveries, 1);
  EXPECT_EQ(s->RaiseAlert(MakeAlert("alert_3", "webhook.test", 2000), 0, "wh_x").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(s->GetAlert("alert_3").status().code(), StatusCode::kNotFound);
}

TEST_P(AlertStoreContract, RepeatsOfAnOpenAlertAreCountedNotRaised) {
  auto s = Open();
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a")).ok());
  ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_1", "anomaly.spike", 1000, "spike:k"), 0, "").ok());
  auto again = s->RaiseAlert(MakeAlert("alert_2", "anomaly.spike", 2000, "spike:k"), 500, "");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->deduplicated);
  EXPECT_EQ(again->alert_id, "alert_1");
  EXPECT_EQ(again->deliveries, 0);
  EXPECT_EQ(s->GetAlert("alert_1")->count, 2);
  EXPECT_EQ(s->GetAlert("alert_2").status().code(), StatusCode::kNotFound);
  // Outside the window, or once acknowledged, the same key raises a new alert.
  auto late = s->RaiseAlert(MakeAlert("alert_3", "anomaly.spike", 9000, "spike:k"), 1001, "");
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->deduplicated);
  ASSERT_TRUE(s->AcknowledgeAlert("alert_3", "key_root", 9100).ok());
  auto after_ack = s->RaiseAlert(MakeAlert("alert_4", "anomaly.spike", 9200, "spike:k"), 5000, "");
  ASSERT_TRUE(after_ack.ok());
  EXPECT_FALSE(after_ack->deduplicated);
}

TEST_P(AlertStoreContract, ListsAndAcknowledgesAlerts) {
  auto s = Open();
  for (int i = 1; i <= 5; ++i) {
    std::string kind = i % 2 ? "anomaly.spike" : "key.leaked";
    ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_" + std::to_string(i), kind, i * 100), 0, "").ok());
  }
  audit::AuditEntry entry = Entry("alert.acknowledge");
  ASSERT_TRUE(s->AcknowledgeAlert("alert_2", "key_root", 999, &entry).ok());
  ASSERT_TRUE(s->AcknowledgeAlert("alert_2", "key_other", 1999, &entry).ok());  // keeps the first
  EXPECT_EQ(s->ReadAudit(0, 10)->size(), 1u);
  auto acked = s->GetAlert("alert_2");
  EXPECT_EQ(acked->acknowledged_at_ms, 999);
  EXPECT_EQ(acked->acknowledged_by, "key_root");
  EXPECT_EQ(s->AcknowledgeAlert("alert_9", "key_root", 1).code(), StatusCode::kNotFound);

  auto all = s->ListAlerts({.limit = 10});
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ((*all)[0].id, "alert_5");
  auto spikes = s->ListAlerts({.kind = "anomaly.spike", .limit = 10});
  EXPECT_EQ(spikes->size(), 3u);
  auto open = s->ListAlerts({.acknowledged = false, .limit = 10});
  EXPECT_EQ(open->size(), 4u);
  auto recent = s->ListAlerts({.since_ms = 300, .limit = 10});
  EXPECT_EQ(recent->size(), 3u);
  auto page = s->ListAlerts({.before_id = "alert_3", .limit = 1});
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].id, "alert_2");
  EXPECT_EQ(s->ListAlerts({.limit = 0}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(AlertStoreContract, ADeliveredMessageIsNeverChangedAgain) {
  auto s = Open();
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a")).ok());
  ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_1", "key.leaked", 1000), 0, "").ok());
  auto due = s->DueDeliveries(1000, 1);
  ASSERT_TRUE(due.ok() && due->size() == 1);
  DeliveryRecord d = (*due)[0];
  d.attempts = 1;
  d.last_http_status = 500;
  d.next_attempt_ms = 5000;
  d.updated_at_ms = 1001;
  ASSERT_TRUE(s->RecordDeliveryAttempt(d).ok());
  EXPECT_TRUE(s->DueDeliveries(4999, 10)->empty());
  d.attempts = 2;
  d.status = DeliveryStatus::kDelivered;
  d.last_http_status = 204;
  ASSERT_TRUE(s->RecordDeliveryAttempt(d).ok());
  EXPECT_TRUE(s->DueDeliveries(100000, 10)->empty());
  d.status = DeliveryStatus::kPending;
  EXPECT_EQ(s->RecordDeliveryAttempt(d).code(), StatusCode::kFailedPrecondition);
  auto listed = s->ListDeliveries("wh_a", 10);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].attempts, 2);
  EXPECT_EQ((*listed)[0].last_http_status, 204);
  d.id = "msg_gone";
  EXPECT_EQ(s->RecordDeliveryAttempt(d).code(), StatusCode::kNotFound);
}

TEST_P(AlertStoreContract, PendingDeliveriesSurviveReopening) {
  {
    auto s = Open();
    ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a")).ok());
    ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_1", "key.leaked", 1000), 0, "").ok());
  }
  auto s = Open();
  EXPECT_EQ(s->DueDeliveries(1000, 10)->size(), 1u);
  EXPECT_EQ(*s->CountPendingDeliveries(), 1);
}

TEST_P(AlertStoreContract, PendingDeliveriesAreCountedUntilDeliveredOrFailed) {
  auto s = Open();
  EXPECT_EQ(*s->CountPendingDeliveries(), 0);
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a")).ok());
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_b")).ok());
  ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_1", "key.leaked", 1000), 0, "").ok());
  EXPECT_EQ(*s->CountPendingDeliveries(), 2);
  auto due = s->DueDeliveries(1000, 10);
  ASSERT_TRUE(due.ok() && due->size() == 2);
  DeliveryRecord retry = (*due)[0], done = (*due)[1];
  retry.attempts = 1;
  retry.next_attempt_ms = 9000;  // waiting for a retry: still pending
  ASSERT_TRUE(s->RecordDeliveryAttempt(retry).ok());
  EXPECT_EQ(*s->CountPendingDeliveries(), 2);
  done.attempts = 1;
  done.status = DeliveryStatus::kDelivered;
  ASSERT_TRUE(s->RecordDeliveryAttempt(done).ok());
  EXPECT_EQ(*s->CountPendingDeliveries(), 1);
  retry.status = DeliveryStatus::kFailed;
  ASSERT_TRUE(s->RecordDeliveryAttempt(retry).ok());
  EXPECT_EQ(*s->CountPendingDeliveries(), 0);
}

TEST_P(AlertStoreContract, PruningKeepsOpenAlertsAndPendingDeliveries) {
  auto s = Open();
  ASSERT_TRUE(s->PutWebhookEndpoint(MakeEndpoint("wh_a")).ok());
  ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_1", "key.leaked", 1000), 0, "").ok());
  ASSERT_TRUE(s->RaiseAlert(MakeAlert("alert_2", "key.leaked", 1000), 0, "").ok());
  ASSERT_TRUE(s->AcknowledgeAlert("alert_1", "key_root", 1100).ok());
  ASSERT_TRUE(s->AcknowledgeAlert("alert_2", "key_root", 1100).ok());
  DeliveryRecord d;
  auto due = s->DueDeliveries(1000, 10);
  ASSERT_TRUE(due.ok());
  for (const DeliveryRecord& r : *due) {
    if (r.alert_id == "alert_1") d = r;
  }
  d.status = DeliveryStatus::kDelivered;
  d.attempts = 1;
  d.updated_at_ms = 1200;
  ASSERT_TRUE(s->RecordDeliveryAttempt(d).ok());
  ASSERT_TRUE(s->PruneAlerts(5000).ok());
  EXPECT_EQ(s->GetAlert("alert_1").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->GetAlert("alert_2").ok());  // its delivery is still pending
  EXPECT_EQ(s->ListDeliveries("wh_a", 10)->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(AllStores, AlertStoreContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
