// Rerolling keys: the overlap on the fake clock, the shared balance, the lineage, bad requests.
#include <gtest/gtest.h>

#include "core/key_format.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

constexpr int64_t kHour = 3'600'000;

RequestContext Ctx(const Principal& actor) {
  return {
      .request_id = "req_test", .client_ip = "127.0.0.1", .peer_ip = "127.0.0.1", .actor = actor};
}

class RerollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    auto api = svc_->CreateApi(root_, {.name = "helpdesk", .default_prefix = "hd"});
    ASSERT_TRUE(api.ok());
    api_ = api->id;
  }

  void Reopen() {
    svc_.reset();
    faulty_.reset();
    sqlite_.reset();
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
    auto svc = KeyService::Open(*faulty_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    if (!svc_->HasRootKeys()) {
      auto root = svc_->Bootstrap("root");
      ASSERT_TRUE(root.ok());
      root_text_ = std::string(root->key.Reveal());
    }
    auto p = svc_->Authenticate(root_text_);
    ASSERT_TRUE(p.ok());
    root_ = Ctx(*p);
  }

  CreatedKey NewKey(CreateKeyRequest req) {
    req.api_id = api_;
    auto k = svc_->CreateKey(root_, std::move(req));
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::move(k).value();
  }

  CreatedKey Reroll(const std::string& key_id, int64_t overlap_ms) {
    auto k = svc_->RerollKey(root_, key_id, overlap_ms);
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::move(k).value();
  }

  VerifyCode Verify(const CreatedKey& k, int64_t cost = 1) {
    auto r = svc_->Verify(root_, {.key = k.key.Reveal(), .cost = cost});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r->code;
  }

  std::optional<int64_t> Remaining(const CreatedKey& k) {
    auto v = svc_->GetKey(root_, k.key_id);
    EXPECT_TRUE(v.ok());
    return v->credits().remaining;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<KeyService> svc_;
  std::string root_text_;
  RequestContext root_;
  std::string api_;
};

TEST_F(RerollTest, OldKeyIsValidUntilTheOverlapEndsAndExpiredAfter) {
  CreatedKey old = NewKey({});
  CreatedKey fresh = Reroll(old.key_id, kHour);
  EXPECT_NE(fresh.key_id, old.key_id);
  EXPECT_TRUE(fresh.key.Reveal().starts_with("hd_"));
  EXPECT_EQ(Verify(old), VerifyCode::kValid);
  EXPECT_EQ(Verify(fresh), VerifyCode::kValid);
  env_.Advance(kHour - 1);
  EXPECT_EQ(Verify(old), VerifyCode::kValid);
  env_.Advance(1);
  EXPECT_EQ(Verify(old), VerifyCode::kExpired);
  EXPECT_EQ(Verify(fresh), VerifyCode::kValid);
}

TEST_F(RerollTest, ZeroOverlapEndsTheOldKeyAtOnce) {
  CreatedKey old = NewKey({});
  CreatedKey fresh = Reroll(old.key_id, 0);
  EXPECT_EQ(Verify(old), VerifyCode::kExpired);
  EXPECT_EQ(Verify(fresh), VerifyCode::kValid);
}

TEST_F(RerollTest, TheNewKeyInheritsEverything) {
  CreditsState credits;
  credits.remaining = 10;
  credits.refill = RefillRule{.interval = RefillInterval::kDaily, .amount = 10, .refill_day = 1};
  int64_t expires = env_.NowMillis() + 48 * kHour;
  CreatedKey old = NewKey({.name = "ticket-bot",
                           .external_id = "cust_7",
                           .meta_json = R"({"plan":"team"})",
                           .permissions = {"tickets.read"},
                           .expires = expires,
                           .credits = credits,
                           .ratelimits = {{.name = "req", .limit = 5, .duration_ms = 60'000}},
                           .enabled = true});
  CreatedKey fresh = Reroll(old.key_id, kHour);
  auto v = svc_->GetKey(root_, fresh.key_id);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->name(), "ticket-bot");
  EXPECT_EQ(v->meta_json(), R"({"plan":"team"})");
  ASSERT_TRUE(v->identity().has_value());
  EXPECT_EQ(v->identity()->external_id, "cust_7");
  EXPECT_EQ(v->permissions(), std::vector<std::string>{"tickets.read"});
  EXPECT_EQ(v->expires(), expires);
  ASSERT_EQ(v->ratelimits().size(), 1u);
  EXPECT_EQ(v->ratelimits()[0].limit, 5);
  EXPECT_EQ(v->credits().remaining, 10);
  ASSERT_TRUE(v->credits().refill.has_value());
  EXPECT_EQ(v->credits().refill->amount, 10);
}

TEST_F(RerollTest, BothKeysSpendOneBalanceAcrossARestart) {
  CreditsState credits;
  credits.remaining = 5;
  CreatedKey old = NewKey({.credits = credits});
  EXPECT_EQ(Verify(old), VerifyCode::kValid);  // 4 left
  CreatedKey fresh = Reroll(old.key_id, kHour);
  EXPECT_EQ(Remaining(fresh), 4);
  EXPECT_EQ(Verify(old, 2), VerifyCode::kValid);    // 2 left
  EXPECT_EQ(Verify(fresh, 1), VerifyCode::kValid);  // 1 left
  EXPECT_EQ(Remaining(old), 1);
  EXPECT_EQ(Remaining(fresh), 1);
  Reopen();
  EXPECT_EQ(Verify(old, 2), VerifyCode::kUsageExceeded);
  EXPECT_EQ(Verify(old, 1), VerifyCode::kValid);
  EXPECT_EQ(Verify(fresh), VerifyCode::kUsageExceeded);
  EXPECT_EQ(Remaining(fresh), 0);
  // Adding credits goes to the one balance, through the new key.
  ASSERT_TRUE(svc_->UpdateCredits(root_, fresh.key_id, CreditsOperation::kIncrement, 3).ok());
  EXPECT_EQ(Verify(old), VerifyCode::kValid);
  EXPECT_EQ(Remaining(fresh), 2);
  // The old key's credits are its replacement's: changed there, not through it.
  auto through_old = svc_->UpdateCredits(root_, old.key_id, CreditsOperation::kIncrement, 1);
  EXPECT_EQ(through_old.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(through_old.status().reason(), "data/credits_shared");
}

TEST_F(RerollTest, ASecondRerollKeepsOneBalance) {
  CreditsState credits;
  credits.remaining = 3;
  CreatedKey a = NewKey({.credits = credits});
  CreatedKey b = Reroll(a.key_id, kHour);
  CreatedKey c = Reroll(b.key_id, kHour);
  EXPECT_EQ(Verify(a), VerifyCode::kValid);
  EXPECT_EQ(Verify(b), VerifyCode::kValid);
  Reopen();
  EXPECT_EQ(Verify(a), VerifyCode::kValid);
  EXPECT_EQ(Verify(c), VerifyCode::kUsageExceeded);
  EXPECT_EQ(Remaining(c), 0);
}

TEST_F(RerollTest, OverlapNeverOutlivesTheOldKeysExpiry) {
  int64_t expires = env_.NowMillis() + kHour;
  CreatedKey old = NewKey({.expires = expires});
  CreatedKey fresh = Reroll(old.key_id, 24 * kHour);
  EXPECT_EQ(svc_->GetKey(root_, old.key_id)->expires(), expires);
  env_.Advance(kHour);
  EXPECT_EQ(Verify(old), VerifyCode::kExpired);
  // The new key inherits the expiry: rotation does not extend a key's life.
  EXPECT_EQ(Verify(fresh), VerifyCode::kExpired);
}

TEST_F(RerollTest, LineageIsVisibleOnBothKeys) {
  CreatedKey old = NewKey({});
  int64_t now = env_.NowMillis();
  CreatedKey fresh = Reroll(old.key_id, kHour);
  auto o = svc_->GetKey(root_, old.key_id);
  auto n = svc_->GetKey(root_, fresh.key_id);
  ASSERT_TRUE(o.ok() && n.ok());
  EXPECT_EQ(o->rerolled_to(), fresh.key_id);
  EXPECT_EQ(o->rerolled_at(), now);
  EXPECT_EQ(o->expires(), now + kHour);
  EXPECT_EQ(n->rerolled_from(), old.key_id);
  EXPECT_TRUE(n->rerolled_to().empty());
  Reopen();
  EXPECT_EQ(svc_->GetKey(root_, old.key_id)->rerolled_to(), fresh.key_id);
  EXPECT_EQ(svc_->GetKey(root_, fresh.key_id)->rerolled_from(), old.key_id);
}

TEST_F(RerollTest, BadRerollsAreRefusedAndChangeNothing) {
  CreatedKey k = NewKey({});
  EXPECT_EQ(svc_->RerollKey(root_, k.key_id, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->RerollKey(root_, k.key_id, kMaxRerollOverlapMs + 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->RerollKey(root_, "key_missing", 0).status().code(), StatusCode::kNotFound);

  CreatedKey deleted = NewKey({});
  ASSERT_TRUE(svc_->DeleteKey(root_, deleted.key_id, Deletion::kSoft).ok());
  EXPECT_EQ(svc_->RerollKey(root_, deleted.key_id, 0).status().code(), StatusCode::kNotFound);

  CreatedKey expiring = NewKey({.expires = env_.NowMillis() + 10});
  env_.Advance(10);
  auto expired = svc_->RerollKey(root_, expiring.key_id, 0);
  EXPECT_EQ(expired.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(expired.status().reason(), "data/key_expired");

  CreatedKey fresh = Reroll(k.key_id, kHour);
  auto twice = svc_->RerollKey(root_, k.key_id, kHour);
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(twice.status().reason(), "data/key_already_rerolled");
  EXPECT_NE(twice.status().message().find(fresh.key_id), std::string::npos);

  CreatedKey kept = NewKey({});
  faulty_->FailWrites(true);
  EXPECT_EQ(svc_->RerollKey(root_, kept.key_id, 0).status().code(), StatusCode::kUnavailable);
  faulty_->FailWrites(false);
  EXPECT_EQ(Verify(kept), VerifyCode::kValid);
  EXPECT_TRUE(svc_->GetKey(root_, kept.key_id)->rerolled_to().empty());
}

TEST_F(RerollTest, RerollNeedsItsOwnPermission) {
  CreatedKey k = NewKey({});
  auto reader = svc_->CreateRootKey(root_, "reader", {"api." + api_ + ".read_key"});
  ASSERT_TRUE(reader.ok());
  auto p = svc_->Authenticate(reader->key.Reveal());
  auto denied = svc_->RerollKey(Ctx(*p), k.key_id, 0);
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(denied.status().message().find("reroll_key"), std::string::npos);
  auto outsider = svc_->CreateRootKey(root_, "outsider", {"api.other.reroll_key"});
  auto op = svc_->Authenticate(outsider->key.Reveal());
  EXPECT_EQ(svc_->RerollKey(Ctx(*op), k.key_id, 0).status().code(), StatusCode::kNotFound);
}

TEST_F(RerollTest, RootKeysRerollWithAnOverlap) {
  auto app = svc_->CreateRootKey(root_, "app", {"api." + api_ + ".verify_key"});
  ASSERT_TRUE(app.ok());
  std::string old_text(app->key.Reveal());
  auto fresh = svc_->RerollRootKey(root_, app->key_id, kHour);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_TRUE(fresh->key.Reveal().starts_with("khr_"));
  auto p = svc_->Authenticate(fresh->key.Reveal());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->permissions, std::vector<std::string>{"api." + api_ + ".verify_key"});
  EXPECT_TRUE(svc_->Authenticate(old_text).ok());
  env_.Advance(kHour);
  EXPECT_EQ(svc_->Authenticate(old_text).status().reason(), "authentication/key_disabled");
  // A root key cannot roll one that holds more than it does.
  auto narrow = svc_->CreateRootKey(root_, "narrow", {"rbac.*.create_root_key"});
  auto np = svc_->Authenticate(narrow->key.Reveal());
  EXPECT_EQ(svc_->RerollRootKey(Ctx(*np), fresh->key_id, 0).status().code(),
            StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace keyhold::service
