#include "audit/webhook_delivery.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <mutex>
#include <new>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <thread>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::audit {
namespace {

class DeliveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    storage_key_ = WebhookSecretKey(std::vector<uint8_t>(32, 1));
    secret_ = std::vector<uint8_t>(24, 9);
    store::WebhookEndpointRecord e;
    e.id = "wh_1";
    e.url = "https://hooks.example.com/in";
    e.secret_sealed = SealWebhookSecret(storage_key_, env_, e.id, secret_);
    ASSERT_TRUE(store_->PutWebhookEndpoint(e).ok());
    Alert a;
    a.id = "alert_1";
    a.kind = "key.leaked";
    a.summary = "key found in a public repository";
    a.key_id = "key_9";
    a.created_at_ms = env_.NowMillis();
    ASSERT_TRUE(store_->RaiseAlert(a, 0, "").ok());
  }

  WebhookDelivery Worker(DeliveryOptions o = {}) {
    return WebhookDelivery(*store_, env_, storage_key_, o, [this](const WebhookRequest& r) {
      sent_.push_back(r);
      int status = answers_.empty() ? 204 : answers_.front();
      if (!answers_.empty()) answers_.erase(answers_.begin());
      return WebhookResponse{status, ""};
    });
  }

  store::DeliveryRecord Delivery() {
    auto all = store_->ListDeliveries("wh_1", 10);
    EXPECT_TRUE(all.ok() && all->size() == 1);
    return all.ok() && !all->empty() ? (*all)[0] : store::DeliveryRecord{};
  }

  std::string Header(const WebhookRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
      if (k == name) return v;
    }
    return "";
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> store_;
  crypto::Sha256Digest storage_key_{};
  std::vector<uint8_t> secret_;
  std::vector<WebhookRequest> sent_;
  std::vector<int> answers_;
};

// Whether `needle` occurs anywhere in `hay`.
bool Holds(std::span<const std::byte> hay, std::span<const uint8_t> needle) {
  return std::search(hay.begin(), hay.end(), needle.begin(), needle.end(),
                     [](std::byte b, uint8_t n) { return std::to_integer<uint8_t>(b) == n; }) !=
         hay.end();
}

TEST_F(DeliveryTest, TheStorageKeyIsZeroedWhenDeliveryIsDestroyed) {
  // Built in memory of the test's own, so that what is left in it can be read once it is gone.
  alignas(WebhookDelivery) std::array<std::byte, sizeof(WebhookDelivery)> memory{};
  auto* delivery = new (memory.data()) WebhookDelivery(*store_, env_, storage_key_, {});
  delivery->Start();
  ASSERT_TRUE(Holds(memory, storage_key_));  // the copy it keeps
  delivery->~WebhookDelivery();
  EXPECT_FALSE(Holds(memory, storage_key_));
}

TEST_F(DeliveryTest, SignsTheBodyAsStandardWebhooksDoes) {
  auto worker = Worker();
  ASSERT_EQ(*worker.RunOnce(), 1);
  ASSERT_EQ(sent_.size(), 1u);
  const WebhookRequest& r = sent_[0];
  std::string id = Header(r, "webhook-id"), ts = Header(r, "webhook-timestamp");
  EXPECT_EQ(id, store::DeliveryId("alert_1", "wh_1"));
  EXPECT_EQ(ts, std::to_string(env_.NowMillis() / 1000));
  EXPECT_EQ(Header(r, "webhook-signature"), SignWebhook(secret_, id, std::stoll(ts), r.body));
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["type"], "key.leaked");
  EXPECT_EQ(body["data"]["keyId"], "key_9");
  EXPECT_EQ(body["timestamp"], "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(Delivery().status, store::DeliveryStatus::kDelivered);
  EXPECT_EQ(*worker.RunOnce(), 0);  // never sent twice
}

// One endpoint's backlog is handed out in batches of at most 100, so its lane is given back
// (and the page read again) within a bounded number of attempts; nothing is lost or sent twice.
TEST_F(DeliveryTest, ABacklogIsHandedOutInBoundedBatches) {
  for (int i = 2; i <= 150; ++i) {
    Alert a;
    a.id = "alert_" + std::to_string(i);
    a.kind = "key.leaked";
    a.summary = "key found";
    a.created_at_ms = env_.NowMillis();
    ASSERT_TRUE(store_->RaiseAlert(a, 0, "").ok());
  }
  auto worker = Worker();
  ASSERT_EQ(*worker.RunOnce(), 100);
  ASSERT_EQ(*worker.RunOnce(), 50);
  EXPECT_EQ(*worker.RunOnce(), 0);
  std::set<std::string> ids;
  for (const WebhookRequest& r : sent_) ids.insert(Header(r, "webhook-id"));
  EXPECT_EQ(ids.size(), 150u);
  EXPECT_EQ(sent_.size(), 150u);
}

TEST_F(DeliveryTest, RetriesWithBackoffUntilDelivered) {
  answers_ = {500, 503};
  DeliveryOptions o;
  o.backoff_base = std::chrono::seconds(10);
  auto worker = Worker(o);
  ASSERT_EQ(*worker.RunOnce(), 1);
  store::DeliveryRecord d = Delivery();
  EXPECT_EQ(d.status, store::DeliveryStatus::kPending);
  EXPECT_EQ(d.attempts, 1);
  EXPECT_EQ(d.last_http_status, 500);
  EXPECT_LE(d.next_attempt_ms, env_.NowMillis() + 10'000);
  env_.Advance(10'000);
  ASSERT_EQ(*worker.RunOnce(), 1);
  env_.Advance(20'000);
  ASSERT_EQ(*worker.RunOnce(), 1);
  EXPECT_EQ(Delivery().status, store::DeliveryStatus::kDelivered);
  EXPECT_EQ(Delivery().attempts, 3);
  // Every attempt carries the same message id.
  EXPECT_EQ(Header(sent_[0], "webhook-id"), Header(sent_[2], "webhook-id"));
}

TEST_F(DeliveryTest, GivesUpAfterTheLastAttempt) {
  answers_ = {500, 500, 500};
  DeliveryOptions o;
  o.max_attempts = 2;
  auto worker = Worker(o);
  ASSERT_EQ(*worker.RunOnce(), 1);
  env_.Advance(3'600'000);
  ASSERT_EQ(*worker.RunOnce(), 1);
  EXPECT_EQ(Delivery().status, store::DeliveryStatus::kFailed);
  env_.Advance(3'600'000);
  EXPECT_EQ(*worker.RunOnce(), 0);
}

TEST_F(DeliveryTest, GoneDisablesTheEndpoint) {
  answers_ = {410};
  auto worker = Worker();
  ASSERT_EQ(*worker.RunOnce(), 1);
  EXPECT_EQ(Delivery().status, store::DeliveryStatus::kFailed);
  auto e = store_->GetWebhookEndpoint("wh_1");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(e->enabled);
  EXPECT_FALSE(e->disabled_reason.empty());
  auto log = store_->ReadAudit(0, 10);
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0].action, "webhook_endpoint.update");
}

TEST_F(DeliveryTest, ARotatedOutSecretSignsTooDuringItsGrace) {
  auto e = store_->GetWebhookEndpoint("wh_1");
  std::vector<uint8_t> fresh(24, 7);
  e->previous_secret_sealed = e->secret_sealed;
  e->previous_secret_until_ms = env_.NowMillis() + 1000;
  e->secret_sealed = SealWebhookSecret(storage_key_, env_, "wh_1", fresh);
  ASSERT_TRUE(store_->PutWebhookEndpoint(*e).ok());
  auto worker = Worker();
  ASSERT_EQ(*worker.RunOnce(), 1);
  const WebhookRequest& r = sent_[0];
  int64_t ts = std::stoll(Header(r, "webhook-timestamp"));
  std::string id = Header(r, "webhook-id");
  EXPECT_EQ(Header(r, "webhook-signature"),
            SignWebhook(fresh, id, ts, r.body) + " " + SignWebhook(secret_, id, ts, r.body));
}

TEST_F(DeliveryTest, ARestartedWorkerPicksUpWhatWasPending) {
  answers_ = {500};
  {
    auto worker = Worker();
    ASSERT_EQ(*worker.RunOnce(), 1);
  }
  store_.reset();
  auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
  ASSERT_TRUE(s.ok());
  store_ = std::move(s).value();
  env_.Advance(3'600'000);
  auto worker = Worker();
  ASSERT_EQ(*worker.RunOnce(), 1);
  EXPECT_EQ(Delivery().status, store::DeliveryStatus::kDelivered);
}

TEST_F(DeliveryTest, ADeadEndpointDoesNotHoldUpAnotherAndEachKeepsItsOrder) {
  store::WebhookEndpointRecord other;
  other.id = "wh_2";
  other.url = "https://other.example.com/in";
  other.secret_sealed = SealWebhookSecret(storage_key_, env_, other.id, secret_);
  ASSERT_TRUE(store_->PutWebhookEndpoint(other).ok());
  Alert a;
  a.id = "alert_2";
  a.kind = "key.leaked";
  a.summary = "another";
  env_.Advance(1);  // after alert_1, and due now
  a.created_at_ms = env_.NowMillis();
  ASSERT_TRUE(store_->RaiseAlert(a, 0, "").ok());

  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::map<std::string, std::vector<std::string>> got;  // host -> webhook-ids, in order
  std::map<std::string, int> in_flight, most_in_flight;
  WebhookDelivery worker(
      *store_, env_, storage_key_, {.poll_interval = std::chrono::milliseconds(20)},
      [&](const WebhookRequest& r) {
        std::unique_lock lock(mu);
        got[r.url.host].push_back(Header(r, "webhook-id"));
        most_in_flight[r.url.host] = std::max(most_in_flight[r.url.host], ++in_flight[r.url.host]);
        cv.notify_all();
        if (r.url.host == "hooks.example.com") {
          // Accepts and holds, as a receiver that never answers does.
          cv.wait_for(lock, std::chrono::seconds(30), [&] { return released; });
        }
        --in_flight[r.url.host];
        return WebhookResponse{204, ""};
      });
  worker.Start();
  {
    std::unique_lock lock(mu);
    // The held endpoint's lane may start before or after the other's: what matters is that the
    // other is delivered while the held one holds (for 30 s, until released).
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(2), [&] {
      return got["other.example.com"].size() == 1 && got["hooks.example.com"].size() == 1;
    })) << "the other endpoint waited for the one that holds";
    EXPECT_EQ(got["hooks.example.com"].size(), 1u) << "the held endpoint gets one at a time";
    released = true;
    cv.notify_all();
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5),
                            [&] { return got["hooks.example.com"].size() == 2; }));
  }
  worker.Stop();
  EXPECT_EQ(got["hooks.example.com"],
            (std::vector<std::string>{store::DeliveryId("alert_1", "wh_1"),
                                      store::DeliveryId("alert_2", "wh_1")}));
  EXPECT_EQ(got["other.example.com"],
            (std::vector<std::string>{store::DeliveryId("alert_2", "wh_2")}));
  EXPECT_EQ(most_in_flight["hooks.example.com"], 1);
  for (const char* id : {"wh_1", "wh_2"}) {
    auto all = store_->ListDeliveries(id, 10);
    ASSERT_TRUE(all.ok());
    for (const auto& d : *all) {
      EXPECT_EQ(d.status, store::DeliveryStatus::kDelivered) << d.id;
      EXPECT_EQ(d.attempts, 1) << d.id << ": never sent twice";
    }
  }
}

TEST(SendWebhookTest, RefusesPrivateAddressesUnlessAllowed) {
  WebhookRequest r;
  r.url = *ParseWebhookUrl("http://127.0.0.1:9/");
  WebhookResponse refused = SendWebhook(r, false, std::chrono::milliseconds(200));
  EXPECT_EQ(refused.status, 0);
  EXPECT_NE(refused.error.find("refused"), std::string::npos) << refused.error;
  WebhookResponse tried = SendWebhook(r, true, std::chrono::milliseconds(200));
  EXPECT_EQ(tried.error.find("refused: the host"), std::string::npos) << tried.error;
}

// A listener that takes connections (the kernel completes them) and never answers.
class SilentReceiver {
 public:
  SilentReceiver() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
    }
    port_ = ntohs(a.sin_port);
  }
  ~SilentReceiver() { close(fd_); }
  WebhookRequest Request() const {
    WebhookRequest r;
    r.url = *ParseWebhookUrl("http://127.0.0.1:" + std::to_string(port_) + "/hook");
    r.body = "{}";
    return r;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(SendWebhookTest, AReceiverThatNeverAnswersCostsTheTimeoutNoMore) {
  SilentReceiver silent;
  const auto start = std::chrono::steady_clock::now();
  WebhookResponse r = SendWebhook(silent.Request(), true, std::chrono::milliseconds(300));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "no answer within 300ms");
  EXPECT_FALSE(r.cancelled);
}

TEST(SendWebhookTest, ACancelEndsTheCallUnderWayAndTheNextAtOnce) {
  SilentReceiver silent;
  WebhookCancel cancel;
  WebhookResponse r;
  std::thread send(
      [&] { r = SendWebhook(silent.Request(), true, std::chrono::seconds(60), &cancel); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto cancelled_at = std::chrono::steady_clock::now();
  cancel.Cancel();
  send.join();
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, std::chrono::seconds(2));
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.cancelled);
  EXPECT_TRUE(SendWebhook(silent.Request(), true, std::chrono::seconds(60), &cancel).cancelled);
}

}  // namespace
}  // namespace keyhold::audit
