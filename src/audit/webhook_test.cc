#include "audit/webhook.h"

#include <gtest/gtest.h>

#include "audit/alert.h"
#include "fakes/fake_env.h"

namespace keyhold::audit {
namespace {

// The example of the Standard Webhooks reference libraries: the expected signature was computed
// apart from keyhold (HMAC-SHA256 over "id.timestamp.body" with the decoded secret, base64).
TEST(WebhookSignatureTest, MatchesTheStandardWebhooksExample) {
  std::vector<uint8_t> key;
  ASSERT_TRUE(ParseWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key));
  EXPECT_EQ(SignWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignatureTest, AnyChangedPartChangesTheSignature) {
  std::vector<uint8_t> key(24, 7);
  std::string sig = SignWebhook(key, "msg_1", 100, "{}");
  EXPECT_NE(SignWebhook(key, "msg_2", 100, "{}"), sig);
  EXPECT_NE(SignWebhook(key, "msg_1", 101, "{}"), sig);
  EXPECT_NE(SignWebhook(key, "msg_1", 100, "{ }"), sig);
}

TEST(WebhookSecretTest, NewSecretsRoundTripAndDiffer) {
  testing::FakeEnv env;
  WebhookSecret a = NewWebhookSecret(env), b = NewWebhookSecret(env);
  EXPECT_TRUE(a.text.starts_with("whsec_"));
  EXPECT_EQ(a.key.size(), kWebhookSecretBytes);
  EXPECT_NE(a.text, b.text);
  std::vector<uint8_t> key;
  ASSERT_TRUE(ParseWebhookSecret(a.text, &key));
  EXPECT_EQ(key, a.key);
  EXPECT_FALSE(ParseWebhookSecret("whsec_not base64!", &key));
  EXPECT_FALSE(ParseWebhookSecret("whsec_AAAA", &key));  // too short to be a key
}

TEST(WebhookSecretTest, EncryptionKeyIsDerivedWithItsOwnLabel) {
  std::vector<uint8_t> master(32, 9);
  crypto::Sha256Digest k = WebhookSecretKey(master);
  EXPECT_EQ(k, WebhookSecretKey(master));
  EXPECT_NE(k, crypto::HmacSha256(master, "keyhold audit checkpoint signing key v1"));
}

TEST(SealTest, OpensOnlyWithTheSameKeyAndAad) {
  std::vector<uint8_t> key(32, 1), nonce(12, 2), out;
  auto sealed = crypto::Aes256GcmSeal(key, nonce, "whsec_abc", "wh_1");
  ASSERT_TRUE(crypto::Aes256GcmOpen(key, sealed, "wh_1", &out));
  EXPECT_EQ(std::string(out.begin(), out.end()), "whsec_abc");
  EXPECT_FALSE(crypto::Aes256GcmOpen(key, sealed, "wh_2", &out));
  sealed[14] ^= 1;
  EXPECT_FALSE(crypto::Aes256GcmOpen(key, sealed, "wh_1", &out));
}

TEST(BackoffTest, StaysWithinExponentialBoundsAndTheCap) {
  EXPECT_EQ(BackoffDelayMs(1, 1000, 60000, 0.0), 0);
  EXPECT_EQ(BackoffDelayMs(1, 1000, 60000, 0.999999), 999);
  EXPECT_EQ(BackoffDelayMs(3, 1000, 60000, 0.5), 2000);  // half of 4000
  for (int attempt = 1; attempt < 200; ++attempt) {
    int64_t ceiling = attempt > 20 ? 60000 : std::min<int64_t>(60000, 1000LL << (attempt - 1));
    for (double f : {0.0, 0.25, 0.75, 0.999}) {
      int64_t d = BackoffDelayMs(attempt, 1000, 60000, f);
      EXPECT_GE(d, 0);
      EXPECT_LE(d, ceiling);
    }
  }
  EXPECT_EQ(BackoffDelayMs(100, 1000, 60000, 1.5), 60000);  // a fraction out of range is clamped
}

TEST(WebhookAddressTest, RefusesInternalAddresses) {
  for (const char* a : {"127.0.0.1",
                        "10.1.2.3",
                        "172.16.0.1",
                        "172.31.255.255",
                        "192.168.1.1",
                        "169.254.169.254",
                        "100.64.0.1",
                        "0.0.0.0",
                        "224.0.0.1",
                        "255.255.255.255",
                        "::1",
                        "::",
                        "fe80::1",
                        "fd00::1",
                        "fc00::5",
                        "ff02::1",
                        "::ffff:127.0.0.1",
                        "::ffff:169.254.169.254",
                        "::ffff:10.0.0.1",
                        "64:ff9b::a9fe:a9fe",
                        "[::1]",
                        "fe80::1%eth0",
                        "not an address",
                        ""}) {
    EXPECT_TRUE(IsForbiddenWebhookAddress(a)) << a;
  }
}

TEST(WebhookAddressTest, AllowsPublicAddresses) {
  for (const char* a : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111",
                        "::ffff:8.8.8.8", "2a00:1450:4001::200e"}) {
    EXPECT_FALSE(IsForbiddenWebhookAddress(a)) << a;
  }
}

TEST(AlertKindTest, KnowsTheProductsKinds) {
  EXPECT_TRUE(IsAlertKind("anomaly.spike"));
  EXPECT_TRUE(IsAlertKind("webhook.test"));
  EXPECT_FALSE(IsAlertKind("anomaly.*"));
  EXPECT_EQ(ParseSeverity("critical"), AlertSeverity::kCritical);
  EXPECT_FALSE(ParseSeverity("loud"));
}

}  // namespace
}  // namespace keyhold::audit

namespace keyhold::audit {
namespace {

TEST(WebhookUrlTest, TakesApartHttpAndHttpsUrls) {
  auto u = ParseWebhookUrl("https://hooks.example.com/in?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/in?x=1");
  auto v6 = ParseWebhookUrl("http://[::1]:8080");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8080");
  EXPECT_EQ(v6->target, "/");
  for (const char* bad : {"ftp://x/", "http://", "http://u:p@x/", "http://x:0/", "http://x:99999/",
                          "http://x/#f", "http://x y/", "http://[::1/"}) {
    EXPECT_EQ(ParseWebhookUrl(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(WebhookSecretTest, SealedSecretsOpenOnlyForTheirEndpoint) {
  testing::FakeEnv env;
  std::vector<uint8_t> master(32, 4), secret(24, 5), out;
  crypto::Sha256Digest key = WebhookSecretKey(master);
  auto sealed = SealWebhookSecret(key, env, "wh_1", secret);
  ASSERT_TRUE(OpenWebhookSecret(key, sealed, "wh_1", &out));
  EXPECT_EQ(out, secret);
  EXPECT_FALSE(OpenWebhookSecret(key, sealed, "wh_2", &out));
}

TEST(AlertKindTest, EndpointFiltersTakeKindsAndFamilies) {
  EXPECT_TRUE(KindAccepted({}, "key.leaked"));
  EXPECT_TRUE(KindAccepted({"anomaly.*"}, "anomaly.spike"));
  EXPECT_FALSE(KindAccepted({"anomaly.*"}, "key.leaked"));
  EXPECT_TRUE(KindAccepted({"key.leaked", "audit.sink_failing"}, "audit.sink_failing"));
  EXPECT_FALSE(KindAccepted({"key.*"}, "keyx.leaked"));
}

}  // namespace
}  // namespace keyhold::audit
