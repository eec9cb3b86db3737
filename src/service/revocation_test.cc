// Bulk revocation: each filter, the refusals, one audit entry per key, the reason kept readable.
#include <gtest/gtest.h>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

using Ids = std::vector<std::string>;

RequestContext Ctx(const Principal& actor) {
  return {
      .request_id = "req_test", .client_ip = "127.0.0.1", .peer_ip = "127.0.0.1", .actor = actor};
}

class RevokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Reopen();
    api_ = NewApi("helpdesk");
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

  std::string NewApi(const std::string& name) {
    auto a = svc_->CreateApi(root_, {.name = name});
    EXPECT_TRUE(a.ok());
    return a->id;
  }

  CreatedKey NewKey(CreateKeyRequest req, const RequestContext* as = nullptr) {
    if (req.api_id.empty()) req.api_id = api_;
    auto k = svc_->CreateKey(as ? *as : root_, std::move(req));
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::move(k).value();
  }

  Ids Revoke(RevokeKeysRequest req) {
    if (req.reason.empty()) req.reason = "rotation drill";
    auto r = svc_->RevokeKeys(root_, req);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : Ids{};
  }

  VerifyCode Verify(const CreatedKey& k) {
    auto r = svc_->Verify(root_, {.key = k.key.Reveal()});
    EXPECT_TRUE(r.ok());
    return r->code;
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

TEST_F(RevokeTest, ByIdentityAndExternalId) {
  CreatedKey a = NewKey({.external_id = "cust_1"});
  CreatedKey b = NewKey({.external_id = "cust_1"});
  CreatedKey other = NewKey({.external_id = "cust_2"});
  EXPECT_EQ(Revoke({.identity = "cust_1"}).size(), 2u);
  EXPECT_EQ(Verify(a), VerifyCode::kNotFound);
  EXPECT_EQ(Verify(b), VerifyCode::kNotFound);
  EXPECT_EQ(Verify(other), VerifyCode::kValid);
  // By the identity's own id as well as its externalId.
  std::string identity_id = svc_->GetKey(root_, other.key_id)->identity()->id;
  EXPECT_EQ(Revoke({.identity = identity_id}), Ids{other.key_id});
}

TEST_F(RevokeTest, ByApiLeavesOtherApisAlone) {
  std::string other_api = NewApi("mail");
  CreatedKey mine = NewKey({});
  CreatedKey theirs = NewKey({.api_id = other_api});
  EXPECT_EQ(Revoke({.api_id = api_}), Ids{mine.key_id});
  EXPECT_EQ(Verify(mine), VerifyCode::kNotFound);
  EXPECT_EQ(Verify(theirs), VerifyCode::kValid);
}

TEST_F(RevokeTest, ByCreationWindow) {
  CreatedKey early = NewKey({});
  env_.Advance(1000);
  int64_t from = env_.NowMillis();
  CreatedKey middle = NewKey({});
  env_.Advance(1000);
  int64_t until = env_.NowMillis();
  CreatedKey late = NewKey({});
  EXPECT_EQ(Revoke({.created_since_ms = from, .created_until_ms = until}), Ids{middle.key_id});
  EXPECT_EQ(Verify(early), VerifyCode::kValid);
  EXPECT_EQ(Verify(late), VerifyCode::kValid);
}

TEST_F(RevokeTest, ByTheRootKeyThatCreatedThem) {
  auto creator = svc_->CreateRootKey(root_, "ci", {"api.*.create_key"});
  ASSERT_TRUE(creator.ok());
  auto cp = svc_->Authenticate(creator->key.Reveal());
  RequestContext ci = Ctx(*cp);
  CreatedKey by_ci = NewKey({}, &ci);
  CreatedKey by_root = NewKey({});
  EXPECT_EQ(Revoke({.created_by = creator->key_id}), Ids{by_ci.key_id});
  EXPECT_EQ(Verify(by_root), VerifyCode::kValid);
}

TEST_F(RevokeTest, ByIdAndTheReasonStaysReadable) {
  CreatedKey k = NewKey({.name = "bot", .permissions = {"tickets.read"}});
  int64_t when = env_.NowMillis();
  EXPECT_EQ(Revoke({.key_ids = {k.key_id}, .reason = "laptop stolen"}), Ids{k.key_id});
  auto shown = [&] {
    auto v = svc_->GetKey(root_, k.key_id);
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ(v->revoked_at(), when);
    EXPECT_EQ(v->revocation_reason(), "laptop stolen");
    EXPECT_FALSE(v->enabled());
    EXPECT_EQ(v->name(), "bot");
    EXPECT_EQ(v->permissions(), Ids{"tickets.read"});
  };
  shown();
  Reopen();
  shown();
  EXPECT_EQ(Verify(k), VerifyCode::kNotFound);
  // A reader that may not block is told to come back where it may.
  RequestContext io = root_;
  io.may_block = false;
  EXPECT_TRUE(IsWouldBlock(svc_->GetKey(io, k.key_id).status()));
  // listKeys shows revoked keys only when asked.
  CreatedKey live = NewKey({});
  auto plain = svc_->ListKeys(root_, api_, "", 10, std::nullopt);
  ASSERT_EQ(plain->items.size(), 1u);
  EXPECT_EQ(plain->items[0].id(), live.key_id);
  auto all = svc_->ListKeys(root_, api_, "", 10, std::nullopt, Revoked::kInclude);
  ASSERT_EQ(all->items.size(), 2u);
  for (const KeyView& v : all->items) {
    EXPECT_EQ(v.revoked_at().has_value(), v.id() == k.key_id);
  }
  // A deleted key is gone, not revoked.
  ASSERT_TRUE(svc_->DeleteKey(root_, live.key_id, Deletion::kSoft).ok());
  EXPECT_EQ(svc_->GetKey(root_, live.key_id).status().code(), StatusCode::kNotFound);
}

TEST_F(RevokeTest, OneAuditEntryPerKeyWithTheReason) {
  NewKey({.external_id = "cust_9"});
  NewKey({.external_id = "cust_9"});
  ASSERT_EQ(Revoke({.identity = "cust_9", .reason = "customer left"}).size(), 2u);
  auto entries = sqlite_->QueryAudit({.action = "key.revoke"});
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  for (const auto& e : *entries) {
    EXPECT_NE(e.details_json.find("customer left"), std::string::npos);
    EXPECT_EQ(e.actor, root_.actor.key_id);
  }
}

TEST_F(RevokeTest, RefusalsChangeNothing) {
  CreatedKey k = NewKey({});
  auto code = [&](RevokeKeysRequest req) { return svc_->RevokeKeys(root_, req).status().code(); };
  EXPECT_EQ(code({.reason = "no filter"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.api_id = api_}), StatusCode::kInvalidArgument);  // no reason
  EXPECT_EQ(code({.api_id = api_, .reason = std::string(513, 'x')}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.created_since_ms = 5, .created_until_ms = 5, .reason = "r"}),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code({.api_id = "api_missing", .reason = "r"}), StatusCode::kNotFound);
  EXPECT_EQ(code({.identity = "nobody", .reason = "r"}), StatusCode::kNotFound);
  EXPECT_EQ(code({.key_ids = {k.key_id, "key_missing"}, .reason = "r"}), StatusCode::kNotFound);
  faulty_->FailWrites(true);
  EXPECT_EQ(code({.api_id = api_, .reason = "r"}), StatusCode::kUnavailable);
  faulty_->FailWrites(false);
  EXPECT_EQ(Verify(k), VerifyCode::kValid);
  // Nothing matched is not an error.
  EXPECT_EQ(Revoke({.created_since_ms = env_.NowMillis() + 1}), Ids{});
}

TEST_F(RevokeTest, PermissionsPerKeyAndNothingLeaksAcrossApis) {
  std::string other_api = NewApi("mail");
  CreatedKey mine = NewKey({.external_id = "shared"});
  CreatedKey theirs = NewKey({.api_id = other_api, .external_id = "shared"});
  auto scoped = svc_->CreateRootKey(root_, "scoped",
                                    {"api." + api_ + ".delete_key", "identity.*.read_identity"});
  auto sp = svc_->Authenticate(scoped->key.Reveal());
  // The identity spans both APIs: only the key of the API this root key can see is revoked.
  auto r = svc_->RevokeKeys(Ctx(*sp), {.identity = "shared", .reason = "r"});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, Ids{mine.key_id});
  EXPECT_EQ(Verify(theirs), VerifyCode::kValid);
  // Named directly, a key of an API out of reach is answered as missing.
  EXPECT_EQ(svc_->RevokeKeys(Ctx(*sp), {.key_ids = {theirs.key_id}, .reason = "r"}).status().code(),
            StatusCode::kNotFound);
  // A key it can read but not revoke is a 403, and nothing is revoked.
  auto reader = svc_->CreateRootKey(root_, "reader", {"api." + other_api + ".read_key"});
  auto rp = svc_->Authenticate(reader->key.Reveal());
  auto denied = svc_->RevokeKeys(Ctx(*rp), {.key_ids = {theirs.key_id}, .reason = "r"});
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(theirs), VerifyCode::kValid);
}

}  // namespace
}  // namespace keyhold::service
