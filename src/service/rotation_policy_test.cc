// Rotation policies on the fake clock: which keys are due, one alert each, and the expiry of keys
// left overdue past their API's grace.
#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

constexpr int64_t kDay = 86'400'000;

class CountingSink final : public audit::AlertSink {
 public:
  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override {
    raised.push_back(alert);
    return audit::RaiseOutcome{"alert_1", false, 0};
  }
  std::vector<audit::Alert> raised;
};

class RotationPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    auto svc = KeyService::Open(*sqlite_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    svc_->SetAlertSink(&sink_);
    auto root = svc_->Bootstrap("root");
    auto p = svc_->Authenticate(root->key.Reveal());
    root_ = {.request_id = "req_test", .actor = *p};
    policed_ = svc_->CreateApi(root_, {.name = "policed", .max_key_age_ms = 90 * kDay})->id;
    strict_ = svc_->CreateApi(
                      root_,
                      {.name = "strict", .max_key_age_ms = 30 * kDay, .overdue_grace_ms = 7 * kDay})
                  ->id;
    free_ = svc_->CreateApi(root_, {.name = "free"})->id;
  }

  CreatedKey NewKey(const std::string& api) {
    return std::move(svc_->CreateKey(root_, {.api_id = api})).value();
  }

  std::vector<std::string> DueIds(const std::string& api, int64_t within) {
    auto due = svc_->ListDueKeys(root_, api, within);
    EXPECT_TRUE(due.ok()) << due.status().message();
    std::vector<std::string> ids;
    for (const DueKey& d : *due) ids.emplace_back(d.key.id());
    return ids;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<KeyService> svc_;
  CountingSink sink_;
  RequestContext root_;
  std::string policed_, strict_, free_;
};

TEST_F(RotationPolicyTest, KeysFallDueAtTheirApisMaximumAge) {
  CreatedKey old = NewKey(policed_);
  env_.Advance(10 * kDay);
  CreatedKey young = NewKey(policed_);
  NewKey(free_);
  EXPECT_TRUE(DueIds("", 0).empty());
  env_.Advance(75 * kDay);  // old: 85 days, due in 5
  EXPECT_EQ(DueIds("", 7 * kDay), std::vector<std::string>{old.key_id});
  EXPECT_TRUE(DueIds("", 0).empty());
  env_.Advance(10 * kDay);  // old overdue by 5 days, young due in 5
  auto due = svc_->ListDueKeys(root_, policed_, 7 * kDay);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].key.id(), old.key_id);
  EXPECT_TRUE((*due)[0].overdue);
  EXPECT_EQ((*due)[0].due_at, (*due)[0].key.created_at() + 90 * kDay);
  EXPECT_FALSE((*due)[1].overdue);
  // Rerolled, the key leaves the list and its replacement starts a new age.
  ASSERT_TRUE(svc_->RerollKey(root_, old.key_id, kDay).ok());
  EXPECT_EQ(DueIds(policed_, 7 * kDay), std::vector<std::string>{young.key_id});
}

TEST_F(RotationPolicyTest, OneAlertPerDueKey) {
  CreatedKey k = NewKey(policed_);
  env_.Advance(91 * kDay);
  auto first = svc_->SweepRotation();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->alerts, 1);
  EXPECT_EQ(first->expired, 0);
  ASSERT_EQ(sink_.raised.size(), 1u);
  EXPECT_EQ(sink_.raised[0].kind, audit::kAlertKeyRotationDue);
  EXPECT_EQ(sink_.raised[0].key_id, k.key_id);
  EXPECT_EQ(svc_->SweepRotation()->alerts, 0);
  EXPECT_EQ(sink_.raised.size(), 1u);
  EXPECT_EQ(svc_->Verify(root_, {.key = k.key.Reveal()})->code, VerifyCode::kValid);
}

TEST_F(RotationPolicyTest, OverdueKeysExpireAfterTheGrace) {
  CreatedKey k = NewKey(strict_);
  int64_t created = env_.NowMillis();
  env_.Advance(31 * kDay);
  auto sweep = svc_->SweepRotation();
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->expired, 1);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->expires(), created + 37 * kDay);
  EXPECT_EQ(svc_->Verify(root_, {.key = k.key.Reveal()})->code, VerifyCode::kValid);
  env_.Set(created + 37 * kDay);
  EXPECT_EQ(svc_->Verify(root_, {.key = k.key.Reveal()})->code, VerifyCode::kExpired);
  EXPECT_EQ(svc_->SweepRotation()->expired, 0);
  auto entries = sqlite_->QueryAudit({.actor = "keyhold", .action = "key.update"});
  EXPECT_EQ(entries->size(), 1u);
}

TEST_F(RotationPolicyTest, BadPoliciesAndQueriesAreRefused) {
  auto code = [&](CreateApiRequest r) { return svc_->CreateApi(root_, r).status().code(); };
  EXPECT_EQ(code({.name = "x", .max_key_age_ms = 1000}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "x", .overdue_grace_ms = kDay}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.name = "x", .max_key_age_ms = kDay, .overdue_grace_ms = -1}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->ListDueKeys(root_, "", -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->ListDueKeys(root_, "api_missing", 0).status().code(), StatusCode::kNotFound);
}

TEST_F(RotationPolicyTest, UpdateApiChangesThePolicyOfKeysAlreadyIssued) {
  CreatedKey k = NewKey(free_);
  env_.Advance(40 * kDay);
  EXPECT_TRUE(DueIds(free_, 0).empty());
  auto updated = svc_->UpdateApi(root_, {.api_id = free_,
                                         .name = "free no more",
                                         .max_key_age_ms = std::optional<int64_t>(30 * kDay),
                                         .overdue_grace_ms = std::optional<int64_t>(kDay)});
  ASSERT_TRUE(updated.ok()) << updated.status().message();
  EXPECT_EQ(updated->name, "free no more");
  EXPECT_EQ(updated->max_key_age_ms, 30 * kDay);
  EXPECT_EQ(DueIds(free_, 0), std::vector<std::string>{k.key_id});
  // Removing the maximum age removes its grace with it; the name stays.
  updated = svc_->UpdateApi(root_, {.api_id = free_,
                                    .max_key_age_ms = std::optional<std::optional<int64_t>>(
                                        std::in_place, std::nullopt)});
  ASSERT_TRUE(updated.ok()) << updated.status().message();
  EXPECT_FALSE(updated->max_key_age_ms.has_value());
  EXPECT_FALSE(updated->overdue_grace_ms.has_value());
  EXPECT_EQ(svc_->GetApi(root_, free_)->name, "free no more");
  EXPECT_TRUE(DueIds(free_, 0).empty());
  // The change is audited with what it was before.
  auto entries = sqlite_->QueryAudit({.action = "api.update"});
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 2u);
}

TEST_F(RotationPolicyTest, UpdateApiIsCheckedLikeCreateApi) {
  auto code = [&](UpdateApiRequest r) { return svc_->UpdateApi(root_, r).status().code(); };
  EXPECT_EQ(code({.api_id = free_, .overdue_grace_ms = std::optional<int64_t>(kDay)}),
            StatusCode::kInvalidArgument);  // grace without a maximum age
  EXPECT_EQ(code({.api_id = policed_, .max_key_age_ms = std::optional<int64_t>(1000)}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.api_id = policed_, .name = ""}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.api_id = policed_, .ip_allowlist = std::vector<std::string>{"10.0.0.0/33"}}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.api_id = "api_missing", .name = "x"}), StatusCode::kNotFound);
  // Nothing refused changed anything.
  EXPECT_EQ(svc_->GetApi(root_, policed_)->max_key_age_ms, 90 * kDay);
  EXPECT_EQ(svc_->GetApi(root_, policed_)->name, "policed");
  // Only with api.<id>.update_api.
  auto reader = svc_->CreateRootKey(root_, "reader", {"api.*.read_api", "api.*.create_api"});
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  RequestContext as_reader = root_;
  as_reader.actor = *svc_->Authenticate(reader->key.Reveal());
  EXPECT_EQ(svc_->UpdateApi(as_reader, {.api_id = policed_, .name = "x"}).status().code(),
            StatusCode::kPermissionDenied);
  auto one = svc_->CreateRootKey(root_, "one", {"api." + policed_ + ".update_api"});
  RequestContext as_one = root_;
  as_one.actor = *svc_->Authenticate(one->key.Reveal());
  EXPECT_TRUE(svc_->UpdateApi(as_one, {.api_id = policed_, .on_leak = OnLeak::kDisable}).ok());
  EXPECT_EQ(svc_->GetApi(root_, policed_)->on_leak, OnLeak::kDisable);
  EXPECT_EQ(svc_->UpdateApi(as_one, {.api_id = strict_, .name = "x"}).status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace keyhold::service
