// Leak reports: revoke or disable per API, the audit record and alert, and answers that reveal
// nothing about keys the reporter may not act on.
#include <gtest/gtest.h>

#include "core/key_format.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

RequestContext Ctx(const Principal& actor) {
  return {
      .request_id = "req_test", .client_ip = "127.0.0.1", .peer_ip = "127.0.0.1", .actor = actor};
}

class RecordingSink final : public audit::AlertSink {
 public:
  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override {
    raised.push_back(alert);
    return audit::RaiseOutcome{"alert_1", false, 0};
  }
  std::vector<audit::Alert> raised;
};

class LeakTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
    auto svc = KeyService::Open(*faulty_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    svc_->SetAlertSink(&sink_);
    auto root = svc_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    auto p = svc_->Authenticate(root->key.Reveal());
    root_ = Ctx(*p);
    revoking_ = svc_->CreateApi(root_, {.name = "helpdesk"})->id;
    disabling_ = svc_->CreateApi(root_, {.name = "mail", .on_leak = OnLeak::kDisable})->id;
  }

  CreatedKey NewKey(const std::string& api) {
    auto k = svc_->CreateKey(root_, {.api_id = api});
    EXPECT_TRUE(k.ok());
    return std::move(k).value();
  }

  LeakAction Report(const CreatedKey& k, const RequestContext* as = nullptr) {
    auto r =
        svc_->ReportLeak(as ? *as : root_, k.key.Reveal(), "github.com/acme/app config.yml:12");
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : LeakAction::kNone;
  }

  VerifyCode Verify(const CreatedKey& k) {
    return svc_->Verify(root_, {.key = k.key.Reveal()})->code;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<KeyService> svc_;
  RecordingSink sink_;
  RequestContext root_;
  std::string revoking_, disabling_;
};

TEST_F(LeakTest, RevokesRecordsWhereAndAlerts) {
  CreatedKey k = NewKey(revoking_);
  EXPECT_EQ(Report(k), LeakAction::kRevoked);
  EXPECT_EQ(Verify(k), VerifyCode::kNotFound);
  auto v = svc_->GetKey(root_, k.key_id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->revocation_reason(), "leaked: github.com/acme/app config.yml:12");
  ASSERT_EQ(sink_.raised.size(), 1u);
  EXPECT_EQ(sink_.raised[0].kind, audit::kAlertKeyLeaked);
  EXPECT_EQ(sink_.raised[0].key_id, k.key_id);
  EXPECT_NE(sink_.raised[0].evidence_json.find("config.yml:12"), std::string::npos);
  auto entries = sqlite_->QueryAudit({.action = "key.leak_reported"});
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].target, k.key_id);
  // Reported again: already revoked, answered like any unknown key, and no second alert.
  EXPECT_EQ(Report(k), LeakAction::kNone);
  EXPECT_EQ(sink_.raised.size(), 1u);
}

TEST_F(LeakTest, DisablesWhereTheApiSaysSo) {
  CreatedKey k = NewKey(disabling_);
  EXPECT_EQ(Report(k), LeakAction::kDisabled);
  EXPECT_EQ(Verify(k), VerifyCode::kDisabled);
  EXPECT_EQ(Report(k), LeakAction::kNone);
}

TEST_F(LeakTest, AnswersRevealNothingAboutKeysOutOfReach) {
  CreatedKey k = NewKey(revoking_);
  auto other = svc_->CreateRootKey(root_, "other", {"api.elsewhere.delete_key"});
  auto op = svc_->Authenticate(other->key.Reveal());
  RequestContext outsider = Ctx(*op);
  EXPECT_EQ(Report(k, &outsider), LeakAction::kNone);
  EXPECT_EQ(Verify(k), VerifyCode::kValid);
  // A string that is no keyhold key, and a well-formed key never issued: the same answer.
  EXPECT_EQ(*svc_->ReportLeak(root_, "not a key at all", ""), LeakAction::kNone);
  EXPECT_EQ(*svc_->ReportLeak(root_, GenerateKey(env_, "hd", 32), ""), LeakAction::kNone);
  EXPECT_TRUE(sink_.raised.empty());
}

TEST_F(LeakTest, BadSourcesAreRefused) {
  CreatedKey k = NewKey(revoking_);
  std::string text(k.key.Reveal());
  EXPECT_EQ(svc_->ReportLeak(root_, text, "pasted: " + text).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->ReportLeak(root_, text, std::string(1025, 'x')).status().code(),
            StatusCode::kInvalidArgument);
  faulty_->FailWrites(true);
  EXPECT_EQ(svc_->ReportLeak(root_, text, "").status().code(), StatusCode::kUnavailable);
  faulty_->FailWrites(false);
  EXPECT_EQ(Verify(k), VerifyCode::kValid);
}

TEST_F(LeakTest, ALeakedRootKeyIsRevoked) {
  auto app = svc_->CreateRootKey(root_, "app", {"api.*.verify_key"});
  std::string text(app->key.Reveal());
  EXPECT_EQ(*svc_->ReportLeak(root_, text, "ci log"), LeakAction::kRevoked);
  EXPECT_EQ(svc_->Authenticate(text).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace keyhold::service
