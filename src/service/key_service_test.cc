#include "service/key_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <set>
#include <thread>

#include "core/key_format.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

RequestContext Ctx(const Principal& actor, std::string client_ip = "127.0.0.1") {
  return {.request_id = "req_test", .client_ip = client_ip, .peer_ip = client_ip, .actor = actor};
}

// A well-formed key that this service never issued.
std::string GenerateKeyForTest(testing::FakeEnv& env) { return GenerateKey(env, "hd", 32); }

class KeyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

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

  std::string NewApi() {
    auto a = svc_->CreateApi(root_, {.name = "helpdesk"});
    EXPECT_TRUE(a.ok());
    return a->id;
  }

  CreatedKey NewKey(CreateKeyRequest req) {
    auto k = svc_->CreateKey(root_, std::move(req));
    EXPECT_TRUE(k.ok()) << k.status().message();
    return std::move(k).value();
  }

  VerifyCode Verify(const std::string& key, std::optional<std::string> query = std::nullopt,
                    int64_t cost = 1) {
    auto r = svc_->Verify(root_, {.key = key, .permissions_query = query, .cost = cost});
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r->code;
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<KeyService> svc_;
  std::string root_text_;
  RequestContext root_;
};

TEST_F(KeyServiceTest, CreatedKeyVerifiesAndIsNotStoredInPlaintext) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api, .prefix = "hd"});
  EXPECT_TRUE(k.key.Reveal().starts_with("hd_"));
  EXPECT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kValid);
  auto view = svc_->GetKey(root_, k.key_id);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->start(), k.key.Reveal().substr(0, 7));
  auto stored = sqlite_->LoadAll();
  ASSERT_TRUE(stored.ok());
  auto rec = std::find_if(stored->keys.begin(), stored->keys.end(),
                          [&](const store::KeyRecord& r) { return r.id == k.key_id; });
  ASSERT_NE(rec, stored->keys.end());
  EXPECT_EQ(rec->hash, crypto::Sha256(k.key.Reveal()));
}

TEST_F(KeyServiceTest, UnknownAndMalformedKeysAreNotFound) {
  NewApi();
  EXPECT_EQ(Verify("nope"), VerifyCode::kNotFound);
  testing::FakeEnv other(0, 12345);
  EXPECT_EQ(Verify(GenerateKeyForTest(other)), VerifyCode::kNotFound);
}

TEST_F(KeyServiceTest, ChecksInSpecOrderAndDeniedRequestsSpendNothing) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 1;
  CreatedKey k = NewKey(
      {.api_id = api, .permissions = {"documents.read"}, .credits = credits, .enabled = false});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key), VerifyCode::kDisabled);
  ASSERT_TRUE(svc_->UpdateKey(root_, {.key_id = k.key_id, .enabled = true}).ok());
  EXPECT_EQ(Verify(key, "documents.write"), VerifyCode::kInsufficientPermissions);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 1);  // nothing spent
  EXPECT_EQ(Verify(key, "documents.read"), VerifyCode::kValid);
  EXPECT_EQ(Verify(key), VerifyCode::kUsageExceeded);
}

TEST_F(KeyServiceTest, StatsCountVerificationsByCodeAndCommittedAuditEntries) {
  ServiceStats before = svc_->Stats();
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api, .enabled = false});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key), VerifyCode::kDisabled);
  EXPECT_EQ(Verify("nope"), VerifyCode::kNotFound);
  EXPECT_EQ(Verify("nope"), VerifyCode::kNotFound);
  faulty_->FailWrites(true);
  EXPECT_FALSE(svc_->UpdateKey(root_, {.key_id = k.key_id, .enabled = true}).ok());
  faulty_->FailWrites(false);
  ServiceStats after = svc_->Stats();
  auto count = [&](VerifyCode c) {
    size_t i = static_cast<size_t>(c);
    return after.verifications[i] - before.verifications[i];
  };
  EXPECT_EQ(count(VerifyCode::kDisabled), 1u);
  EXPECT_EQ(count(VerifyCode::kNotFound), 2u);
  EXPECT_EQ(count(VerifyCode::kValid), 0u);
  // api.create and key.create; the refused update wrote nothing.
  EXPECT_EQ(after.audit_entries_written - before.audit_entries_written, 2u);
  EXPECT_EQ(after.keys, before.keys + 1);
}

TEST_F(KeyServiceTest, ExpiryFollowsTheClock) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api, .expires = env_.NowMillis() + 60'000});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  env_.Advance(60'000);
  EXPECT_EQ(Verify(key), VerifyCode::kExpired);
  auto past = svc_->CreateKey(root_, {.api_id = api, .expires = env_.NowMillis() - 1});
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyServiceTest, WildcardPermissionsAndRolesGrant) {
  std::string api = NewApi();
  ASSERT_TRUE(svc_->CreateRole(root_, {.name = "editor", .permissions = {"documents.write"}}).ok());
  CreatedKey k = NewKey({.api_id = api, .roles = {"editor"}, .permissions = {"reports.*"}});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key, "reports.read AND documents.write"), VerifyCode::kValid);
  EXPECT_EQ(Verify(key, "admin OR documents.delete"), VerifyCode::kInsufficientPermissions);
  ASSERT_TRUE(svc_->DeleteRole(root_, "editor").ok());
  EXPECT_EQ(Verify(key, "documents.write"), VerifyCode::kInsufficientPermissions);
}

TEST_F(KeyServiceTest, BadQueryIsAnError) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api});
  auto r = svc_->Verify(root_, {.key = k.key.Reveal(), .permissions_query = "a AND"});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyServiceTest, WritesAreSeenByTheNextVerification) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api});
  std::string key(k.key.Reveal());
  ASSERT_EQ(Verify(key, "x.read"), VerifyCode::kInsufficientPermissions);
  ASSERT_TRUE(svc_->ChangeKeyPermissions(root_, k.key_id, SetMode::kAdd, {"x.read"}).ok());
  EXPECT_EQ(Verify(key, "x.read"), VerifyCode::kValid);
  ASSERT_TRUE(svc_->DeleteKey(root_, k.key_id, Deletion::kSoft).ok());
  EXPECT_EQ(Verify(key), VerifyCode::kNotFound);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id).status().code(), StatusCode::kNotFound);
}

TEST_F(KeyServiceTest, StateSurvivesReopen) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 3;
  CreatedKey k =
      NewKey({.api_id = api, .external_id = "user-1", .permissions = {"a.b"}, .credits = credits});
  std::string key(k.key.Reveal());
  ASSERT_EQ(Verify(key), VerifyCode::kValid);
  Reopen();
  auto view = svc_->GetKey(root_, k.key_id);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->credits().remaining, 2);
  ASSERT_TRUE(view->identity().has_value());
  EXPECT_EQ(view->identity()->external_id, "user-1");
  EXPECT_EQ(Verify(key, "a.b"), VerifyCode::kValid);
}

TEST_F(KeyServiceTest, FailedStoreWriteChangesNothing) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 5;
  CreatedKey k = NewKey({.api_id = api, .credits = credits});
  std::string key(k.key.Reveal());
  faulty_->FailWrites(true);
  EXPECT_EQ(svc_->UpdateKey(root_, {.key_id = k.key_id, .enabled = false}).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(svc_->DeleteKey(root_, k.key_id, Deletion::kPermanent).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(svc_->Verify(root_, {.key = key}).status().code(), StatusCode::kUnavailable);
  EXPECT_FALSE(svc_->CreateKey(root_, {.api_id = api}).ok());
  faulty_->FailWrites(false);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 5);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
}

TEST_F(KeyServiceTest, ASpendThatCannotBeStoredFailsClosed) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 5;
  CreatedKey k = NewKey({.api_id = api, .credits = credits});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  faulty_->FailWrites(true);
  auto r = svc_->Verify(root_, {.key = key});
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(r.status().message(), "the store could not be written");
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 4);
  for (CreditsOperation op : {CreditsOperation::kIncrement, CreditsOperation::kDecrement}) {
    EXPECT_EQ(svc_->UpdateCredits(root_, k.key_id, op, 3).status().code(),
              StatusCode::kUnavailable);
  }
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 4);
  faulty_->FailWrites(false);
  Reopen();
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 4);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 3);
}

// Another process sharing the store spends too: this node's cached balance is then too high, and
// the store, not the cache, decides.
TEST_F(KeyServiceTest, TheStoreDecidesASpendNotTheCachedBalance) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 5;
  CreatedKey k = NewKey({.api_id = api, .credits = credits});
  std::string key(k.key.Reveal());
  auto elsewhere = sqlite_->SpendCredits(k.key_id, 3, env_.NowMillis(), 0);
  ASSERT_TRUE(elsewhere.ok() && elsewhere->spent);
  EXPECT_EQ(Verify(key, std::nullopt, /*cost=*/3), VerifyCode::kUsageExceeded);
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, 2);  // the cache caught up
  EXPECT_EQ(Verify(key, std::nullopt, /*cost=*/2), VerifyCode::kValid);
  auto added = svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kIncrement, 1);
  ASSERT_TRUE(added.ok());
  EXPECT_EQ(added->remaining, 1);
}

// --- credits reserved ahead (CreditsCell::reserved) ---------------------------------------

class ReservedCreditsTest : public KeyServiceTest {
 protected:
  // Key `id`'s balance as the store holds it (not as the service shows it).
  int64_t Stored(const std::string& id) {
    auto all = sqlite_->LoadAll();
    EXPECT_TRUE(all.ok());
    for (const auto& k : all->keys) {
      if (k.id == id) return k.credits.remaining.value_or(-1);
    }
    ADD_FAILURE() << id << " is not stored";
    return -1;
  }
  int64_t Shown(const std::string& id) {
    auto view = svc_->GetKey(root_, id);
    EXPECT_TRUE(view.ok());
    return view->credits().remaining.value_or(-1);
  }
  CreatedKey KeyWith(int64_t remaining, std::optional<RefillRule> refill = std::nullopt) {
    CreditsState credits;
    credits.remaining = remaining;
    credits.refill = refill;
    return NewKey({.api_id = NewApi(), .credits = credits});
  }
};

TEST_F(ReservedCreditsTest, ABusyKeySpendsFromItsReservationAndShowsTheWholeBalance) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 1; i <= 100; ++i) {
    ASSERT_EQ(Verify(key), VerifyCode::kValid);
    ASSERT_EQ(Shown(k.key_id), 1000 - i);
  }
  const int64_t stored = Stored(k.key_id);
  EXPECT_LT(stored, 900) << "the store was asked for every spend: nothing was reserved";
  EXPECT_GE(stored, 900 - 900 / 8);
  // A spend the reservation covers needs no disk: it is answered where blocking is not allowed.
  RequestContext io = root_;
  io.may_block = false;
  auto r = svc_->Verify(io, {.key = key});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->code, VerifyCode::kValid);
  EXPECT_EQ(r->key->credits().remaining, 899);
  // A graceful stop gives back what was reserved: the store then holds the balance shown.
  ASSERT_TRUE(svc_->ReleaseReservedCredits(0).ok());
  EXPECT_EQ(Stored(k.key_id), 899);
  EXPECT_EQ(Shown(k.key_id), 899);
}

TEST_F(ReservedCreditsTest, NeverGrantsMoreThanTheBalance) {
  CreatedKey k = KeyWith(50);
  std::string key(k.key.Reveal());
  int valid = 0;
  for (int i = 0; i < 80; ++i) valid += Verify(key) == VerifyCode::kValid ? 1 : 0;
  EXPECT_EQ(valid, 50);
  EXPECT_EQ(Shown(k.key_id), 0);
  EXPECT_EQ(Stored(k.key_id), 0);
  EXPECT_EQ(Verify(key, std::nullopt, /*cost=*/0), VerifyCode::kUsageExceeded);
}

// A crash (the service dropped without giving anything back) forfeits what was reserved and not
// granted: the balance afterwards plus what was granted never exceeds the balance before.
TEST_F(ReservedCreditsTest, ACrashForfeitsTheReservationAndNeverGrantsTwice) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  Reopen();
  const int64_t after = Shown(k.key_id);
  EXPECT_LE(after, 900);
  EXPECT_GE(after, 900 - 900 / 8);
  EXPECT_EQ(Stored(k.key_id), after);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Shown(k.key_id), after - 1);
}

TEST_F(ReservedCreditsTest, ARefillReplacesTheReservation) {
  CreatedKey k = KeyWith(100, RefillRule{RefillInterval::kDaily, 100, 1});
  std::string key(k.key.Reveal());
  for (int i = 0; i < 60 && Stored(k.key_id) == Shown(k.key_id); ++i) {
    ASSERT_EQ(Verify(key), VerifyCode::kValid);
  }
  ASSERT_LT(Stored(k.key_id), Shown(k.key_id)) << "nothing was reserved";
  env_.Advance(24LL * 3600 * 1000);
  EXPECT_EQ(Shown(k.key_id), 100);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Shown(k.key_id), 99);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(0).ok());
  EXPECT_EQ(Stored(k.key_id), 99);
}

TEST_F(ReservedCreditsTest, ChangesApplyToTheBalanceShown) {
  CreatedKey k = KeyWith(100);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  ASSERT_LT(Stored(k.key_id), 50);
  // A decrement larger than the stored balance, not than the one shown.
  auto down = svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kDecrement, 45);
  ASSERT_TRUE(down.ok()) << down.status().message();
  EXPECT_EQ(down->remaining, 5);
  EXPECT_EQ(Stored(k.key_id), 5);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  auto up = svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kIncrement, 10);
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(up->remaining, 12);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  auto set = svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kSet, 7);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(Shown(k.key_id), 7);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(0).ok());
  EXPECT_EQ(Stored(k.key_id), 7);
  for (int i = 0; i < 10; ++i) Verify(key);
  EXPECT_EQ(Shown(k.key_id), 0);
}

TEST_F(ReservedCreditsTest, AnIdleKeyGivesItsReservationBack) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(5000).ok());
  EXPECT_LT(Stored(k.key_id), 900);  // still busy
  env_.Advance(6000);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(5000).ok());
  EXPECT_EQ(Stored(k.key_id), 900);
  EXPECT_EQ(Shown(k.key_id), 900);
}

// A reroll moves the balance to the new key; what the old one reserved goes with it.
TEST_F(ReservedCreditsTest, ARerolledKeyKeepsItsReservation) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  auto fresh = svc_->RerollKey(root_, k.key_id, 60'000);
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  EXPECT_EQ(Shown(fresh->key_id), 900);
  EXPECT_EQ(Verify(std::string(fresh->key.Reveal())), VerifyCode::kValid);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Shown(fresh->key_id), 898);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(0).ok());
  EXPECT_EQ(Stored(fresh->key_id), 898);
}

// The old key of a reroll spends its replacement's balance; once the replacement is deleted, it
// is answered as the store answers (not found), not from what was reserved.
TEST_F(ReservedCreditsTest, ARerolledKeyStopsWhenItsReplacementIsDeleted) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  auto fresh = svc_->RerollKey(root_, k.key_id, 60'000);
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(svc_->DeleteKey(root_, fresh->key_id, Deletion::kSoft).ok());
  EXPECT_EQ(Verify(key), VerifyCode::kNotFound);
}

// A new refill rule keeps the balance the key shows, reserved credits included.
TEST_F(ReservedCreditsTest, ChangingOnlyTheRefillKeepsTheBalanceShown) {
  CreatedKey k = KeyWith(1000);
  std::string key(k.key.Reveal());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Verify(key), VerifyCode::kValid);
  ASSERT_LT(Stored(k.key_id), 900);
  UpdateKeyRequest u{.key_id = k.key_id};
  CreditsPatch patch;
  patch.set_refill = true;
  patch.refill = RefillRule{RefillInterval::kDaily, 5000, 1};
  u.credits = std::optional<CreditsPatch>(patch);
  ASSERT_TRUE(svc_->UpdateKey(root_, u).ok());
  EXPECT_EQ(Shown(k.key_id), 900);
  EXPECT_EQ(Stored(k.key_id), 900);
}

// A probe (cost 0) with nothing reserved is the store's to answer: another process may have
// emptied the balance.
TEST_F(ReservedCreditsTest, AProbeWithNothingReservedAsksTheStore) {
  CreatedKey k = KeyWith(5);
  std::string key(k.key.Reveal());
  ASSERT_EQ(Verify(key), VerifyCode::kValid);
  auto elsewhere = sqlite_->SpendCredits(k.key_id, 4, env_.NowMillis(), 0);
  ASSERT_TRUE(elsewhere.ok() && elsewhere->spent);
  EXPECT_EQ(Verify(key, std::nullopt, /*cost=*/0), VerifyCode::kUsageExceeded);
}

TEST_F(KeyServiceTest, AKeyMadeUnlimitedLosesItsRefillForGood) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 1;
  credits.refill = RefillRule{RefillInterval::kDaily, 5, 1};
  CreatedKey k = NewKey({.api_id = api, .credits = credits});
  ASSERT_TRUE(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kSet, std::nullopt).ok());
  env_.Advance(2 * 24LL * 3600 * 1000);
  Reopen();
  auto view = svc_->GetKey(root_, k.key_id);
  ASSERT_TRUE(view.ok());
  EXPECT_FALSE(view->credits().remaining.has_value());
  EXPECT_FALSE(view->credits().refill.has_value());
}

TEST_F(KeyServiceTest, RootKeysHoldOnlyWhatTheyWereGiven) {
  std::string api = NewApi();
  std::string other_api = NewApi();
  auto verifier = svc_->CreateRootKey(root_, "verifier", {"api." + api + ".verify_key"});
  ASSERT_TRUE(verifier.ok());
  auto p = svc_->Authenticate(verifier->key.Reveal());
  ASSERT_TRUE(p.ok());
  CreatedKey mine = NewKey({.api_id = api});
  CreatedKey theirs = NewKey({.api_id = other_api});
  EXPECT_EQ(svc_->Verify(Ctx(*p), {.key = mine.key.Reveal()})->code, VerifyCode::kValid);
  // No verify permission on the other API: indistinguishable from a missing key.
  auto hidden = svc_->Verify(Ctx(*p), {.key = theirs.key.Reveal()});
  EXPECT_EQ(hidden->code, VerifyCode::kNotFound);
  EXPECT_FALSE(hidden->key.has_value());
  auto create = svc_->CreateKey(Ctx(*p), {.api_id = api});
  EXPECT_EQ(create.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(create.status().message().find("api." + api + ".create_key"), std::string::npos);
  // A root key can never grant more than it holds.
  auto escalate = svc_->CreateRootKey(Ctx(*p), "x", {"*"});
  EXPECT_EQ(escalate.status().code(), StatusCode::kPermissionDenied);
  auto delegate =
      svc_->CreateRootKey(root_, "admin-ish", {"rbac.*.create_root_key", "api.*.read_key"});
  auto dp = svc_->Authenticate(delegate->key.Reveal());
  EXPECT_TRUE(svc_->CreateRootKey(Ctx(*dp), "narrow", {"api." + api + ".read_key"}).ok());
  EXPECT_EQ(svc_->CreateRootKey(Ctx(*dp), "wider", {"api.*.create_key"}).status().code(),
            StatusCode::kPermissionDenied);
}

// A root key logged in with `permissions`, as a request context.
RequestContext LoggedIn(KeyService& svc, const RequestContext& admin,
                        std::vector<std::string> permissions) {
  auto created = svc.CreateRootKey(admin, "scoped", permissions);
  EXPECT_TRUE(created.ok()) << created.status().message();
  auto p = svc.Authenticate(created->key.Reveal());
  EXPECT_TRUE(p.ok());
  return Ctx(*p);
}

TEST_F(KeyServiceTest, KeysOfAnApiOutOfReachLookExactlyLikeMissingOnes) {
  std::string mine = NewApi();
  std::string theirs = NewApi();
  CreatedKey their_key = NewKey({.api_id = theirs});
  RequestContext scoped = LoggedIn(*svc_, root_, {"api." + mine + ".*"});
  auto missing = svc_->GetKey(scoped, "key_doesNotExist000000");
  auto hidden = svc_->GetKey(scoped, their_key.key_id);
  ASSERT_EQ(hidden.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(hidden.status().reason(), missing.status().reason());
  EXPECT_EQ(hidden.status().message().find(theirs), std::string::npos);
  testing::FakeEnv other(0, 999);
  auto missing_text = svc_->Whoami(scoped, GenerateKeyForTest(other));
  auto hidden_text = svc_->Whoami(scoped, their_key.key.Reveal());
  EXPECT_EQ(hidden_text.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(hidden_text.status().reason(), missing_text.status().reason());
  EXPECT_EQ(hidden_text.status().message(), missing_text.status().message());
  // Writes too: nothing says the key exists.
  auto update = svc_->UpdateKey(scoped, {.key_id = their_key.key_id, .enabled = false});
  EXPECT_EQ(update.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(svc_->DeleteKey(scoped, their_key.key_id, Deletion::kSoft).code(),
            StatusCode::kNotFound);
  // A key that may read the API's keys but not change them is told what it lacks.
  RequestContext reader = LoggedIn(*svc_, root_, {"api." + theirs + ".read_key"});
  EXPECT_TRUE(svc_->GetKey(reader, their_key.key_id).ok());
  auto denied = svc_->UpdateKey(reader, {.key_id = their_key.key_id, .enabled = false});
  EXPECT_EQ(denied.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(Verify(std::string(their_key.key.Reveal())), VerifyCode::kValid);  // untouched
}

TEST_F(KeyServiceTest, IdentitiesOfOtherCustomersStayOutOfReach) {
  std::string api = NewApi();
  ASSERT_TRUE(
      svc_->CreateIdentity(root_, {.external_id = "acme", .meta_json = R"({"plan":"x"})"}).ok());
  RequestContext scoped = LoggedIn(*svc_, root_, {"api." + api + ".*"});
  // Linking to an existing identity needs read access to identities...
  auto link = svc_->CreateKey(scoped, {.api_id = api, .external_id = "acme"});
  EXPECT_EQ(link.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(link.status().message().find("identity.*.read_identity"), std::string::npos);
  // ...asked first, so a new externalId gets the same answer and nothing tells which are taken...
  auto make = svc_->CreateKey(scoped, {.api_id = api, .external_id = "new-customer"});
  EXPECT_EQ(make.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(make.status().message(), link.status().message());
  // ...and creating a new one also needs create access.
  RequestContext reader = LoggedIn(*svc_, root_, {"api." + api + ".*", "identity.*.read_identity"});
  auto create = svc_->CreateKey(reader, {.api_id = api, .external_id = "new-customer"});
  EXPECT_EQ(create.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(create.status().message().find("identity.*.create_identity"), std::string::npos);
  CreatedKey plain = NewKey({.api_id = api});
  auto relink = svc_->UpdateKey(scoped, {.key_id = plain.key_id, .external_id = "acme"});
  EXPECT_EQ(relink.status().code(), StatusCode::kPermissionDenied);

  // An identity's meta is shown only to a root key that may read identities.
  CreatedKey linked = NewKey({.api_id = api, .external_id = "acme"});
  auto seen_by_scoped = svc_->GetKey(scoped, linked.key_id);
  ASSERT_TRUE(seen_by_scoped.ok());
  ASSERT_TRUE(seen_by_scoped->identity().has_value());
  EXPECT_EQ(seen_by_scoped->identity()->external_id, "acme");
  EXPECT_FALSE(seen_by_scoped->identity()->meta_json.has_value());
  auto verified = svc_->Verify(scoped, {.key = linked.key.Reveal()});
  ASSERT_TRUE(verified.ok() && verified->key.has_value());
  EXPECT_FALSE(verified->key->identity()->meta_json.has_value());
  auto listed = svc_->ListKeys(scoped, api, "", 100, std::nullopt);
  ASSERT_TRUE(listed.ok());
  for (const KeyView& v : listed->items) {
    if (v.identity()) {
      EXPECT_FALSE(v.identity()->meta_json.has_value());
    }
  }
  RequestContext trusted =
      LoggedIn(*svc_, root_, {"api." + api + ".*", "identity.*.read_identity"});
  EXPECT_EQ(*svc_->GetKey(trusted, linked.key_id)->identity()->meta_json, R"({"plan":"x"})");
  EXPECT_TRUE(svc_->CreateKey(trusted, {.api_id = api, .external_id = "acme"}).ok());
}

TEST_F(KeyServiceTest, AuthenticationErrorsAreDistinct) {
  EXPECT_EQ(svc_->Authenticate("garbage").status().reason(), "authentication/malformed");
  testing::FakeEnv other(0, 12345);
  EXPECT_EQ(svc_->Authenticate(GenerateKeyForTest(other)).status().reason(),
            "authentication/key_not_found");
  std::string api = NewApi();
  CreatedKey app_key = NewKey({.api_id = api});
  EXPECT_EQ(svc_->Authenticate(app_key.key.Reveal()).status().reason(),
            "authentication/key_not_found");  // an application key is no root key
  auto r = svc_->CreateRootKey(root_, "temp", {"api.*.read_key"});
  ASSERT_TRUE(svc_->DeleteRootKey(root_, r->key_id).ok());
  EXPECT_EQ(svc_->Authenticate(r->key.Reveal()).status().reason(), "authentication/key_not_found");
}

TEST_F(KeyServiceTest, CreditsRefillOnTheirSchedule) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 1;
  credits.refill = RefillRule{RefillInterval::kDaily, 2, 1};
  CreatedKey k = NewKey({.api_id = api, .credits = credits});
  std::string key(k.key.Reveal());
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Verify(key), VerifyCode::kUsageExceeded);
  env_.Advance(24LL * 3600 * 1000);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Verify(key), VerifyCode::kUsageExceeded);
}

TEST_F(KeyServiceTest, UpdateCreditsOperations) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api});
  EXPECT_EQ(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kIncrement, 5).status().code(),
            StatusCode::kInvalidArgument);  // unlimited keys have no balance to change
  EXPECT_EQ(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kSet, 10)->remaining, 10);
  EXPECT_EQ(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kIncrement, 5)->remaining, 15);
  EXPECT_EQ(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kDecrement, 100)->remaining, 0);
  EXPECT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kUsageExceeded);
  EXPECT_FALSE(svc_->UpdateCredits(root_, k.key_id, CreditsOperation::kSet, std::nullopt)
                   ->remaining.has_value());
  EXPECT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kValid);
}

TEST_F(KeyServiceTest, IpAllowlist) {
  auto a = svc_->CreateApi(root_, {.name = "internal", .ip_allowlist = {"10.0.0.0/8"}});
  ASSERT_TRUE(a.ok());
  CreatedKey k = NewKey({.api_id = a->id});
  auto inside = svc_->Verify(Ctx(root_.actor, "10.1.2.3"), {.key = k.key.Reveal()});
  EXPECT_EQ(inside->code, VerifyCode::kValid);
  auto outside = svc_->Verify(Ctx(root_.actor, "192.0.2.1"), {.key = k.key.Reveal()});
  EXPECT_EQ(outside->code, VerifyCode::kForbidden);
}

TEST_F(KeyServiceTest, ListKeysPagesThroughEverything) {
  std::string api = NewApi();
  std::set<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.insert(NewKey({.api_id = api}).key_id);
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = svc_->ListKeys(root_, api, cursor, 3, std::nullopt);
    ASSERT_TRUE(page.ok());
    for (const auto& v : page->items) seen.insert(std::string(v.id()));
    cursor = page->cursor;
    ++pages;
    if (!page->has_more) break;
  } while (pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);
}

TEST_F(KeyServiceTest, DeleteApiRevokesItsKeys) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api});
  ASSERT_TRUE(svc_->DeleteApi(root_, api).ok());
  EXPECT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kNotFound);
  EXPECT_EQ(svc_->GetApi(root_, api).status().code(), StatusCode::kNotFound);
  Reopen();
  EXPECT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kNotFound);
}

TEST_F(KeyServiceTest, RecoverableIsRefusedClearly) {
  std::string api = NewApi();
  auto k = svc_->CreateKey(root_, {.api_id = api, .recoverable = true});
  EXPECT_EQ(k.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyServiceTest, LastUsedIsKeptAcrossRestartsAfterAFlush) {
  std::string api = NewApi();
  CreatedKey k = NewKey({.api_id = api});
  env_.Advance(5000);
  ASSERT_EQ(Verify(std::string(k.key.Reveal())), VerifyCode::kValid);
  int64_t used_at = env_.NowMillis();
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->last_used_at(), used_at);
  ASSERT_TRUE(svc_->FlushLastUsed().ok());
  Reopen();
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->last_used_at(), used_at);
}

TEST_F(KeyServiceTest, EachKeyGetsBackItsOwnLinksAfterReopen) {
  std::string api = NewApi();
  ASSERT_TRUE(svc_->CreateRole(root_, {.name = "reader", .permissions = {"docs.read"}}).ok());
  CreatedKey a = NewKey({.api_id = api, .roles = {"reader"}, .permissions = {"a.only"}});
  CreatedKey gone = NewKey({.api_id = api, .permissions = {"gone.perm"}});
  CreatedKey b = NewKey({.api_id = api, .permissions = {"b.one", "b.two"}});
  CreatedKey none = NewKey({.api_id = api});
  auto limited = svc_->CreateRootKey(root_, "verifier", {"api.*.verify_key"});
  ASSERT_TRUE(limited.ok());
  ASSERT_TRUE(svc_->DeleteKey(root_, gone.key_id, Deletion::kSoft).ok());
  Reopen();
  auto perms_of = [&](const CreatedKey& k) {
    auto v = svc_->GetKey(root_, k.key_id);
    EXPECT_TRUE(v.ok());
    return v.ok() ? v->effective_permissions() : std::vector<std::string>{};
  };
  EXPECT_EQ(perms_of(a), (std::vector<std::string>{"a.only", "docs.read"}));
  EXPECT_EQ(perms_of(b), (std::vector<std::string>{"b.one", "b.two"}));
  EXPECT_TRUE(perms_of(none).empty());
  EXPECT_EQ(svc_->GetKey(root_, gone.key_id).status().code(), StatusCode::kNotFound);
  auto p = svc_->Authenticate(limited->key.Reveal());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->permissions, std::vector<std::string>{"api.*.verify_key"});
}

TEST_F(KeyServiceTest, DeletedPermissionsAndRolesLeaveTheirKeys) {
  std::string api = NewApi();
  ASSERT_TRUE(svc_->CreateRole(root_, {.name = "editor", .permissions = {"docs.write"}}).ok());
  CreatedKey k = NewKey({.api_id = api, .roles = {"editor"}, .permissions = {"docs.read"}});
  std::string key(k.key.Reveal());
  ASSERT_EQ(Verify(key, "docs.read AND docs.write"), VerifyCode::kValid);
  ASSERT_TRUE(svc_->DeletePermission(root_, "docs.read").ok());
  EXPECT_EQ(Verify(key, "docs.read"), VerifyCode::kInsufficientPermissions);
  EXPECT_EQ(Verify(key, "docs.write"), VerifyCode::kValid);
  ASSERT_TRUE(svc_->DeleteRole(root_, "editor").ok());
  EXPECT_EQ(Verify(key, "docs.write"), VerifyCode::kInsufficientPermissions);
  EXPECT_TRUE(svc_->GetKey(root_, k.key_id)->roles().empty());
  Reopen();
  EXPECT_EQ(Verify(key), VerifyCode::kValid);
  EXPECT_EQ(Verify(key, "docs.read OR docs.write"), VerifyCode::kInsufficientPermissions);
}

// Updates racing verifications: every spend is kept and no verification sees a torn entry.
TEST_F(KeyServiceTest, ConcurrentUpdatesNeverLoseASpend) {
  std::string api = NewApi();
  CreditsState credits;
  credits.remaining = 100000;
  CreatedKey k = NewKey({.api_id = api, .permissions = {"p.base"}, .credits = credits});
  std::string key(k.key.Reveal());
  constexpr int kThreads = 3;
  constexpr int kVerifiesPerThread = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> verifiers;
  for (int t = 0; t < kThreads; ++t) {
    verifiers.emplace_back([&] {
      for (int i = 0; i < kVerifiesPerThread; ++i) {
        auto r = svc_->Verify(root_, {.key = key, .permissions_query = "p.base"});
        if (!r.ok() || r->code != VerifyCode::kValid) failures++;
      }
    });
  }
  for (int i = 0; i < 60; ++i) {
    UpdateKeyRequest u{.key_id = k.key_id};
    u.name = std::optional<std::string>("name-" + std::to_string(i));
    ASSERT_TRUE(svc_->UpdateKey(root_, u).ok());
    ASSERT_TRUE(
        svc_->ChangeKeyPermissions(root_, k.key_id, SetMode::kAdd, {"p.extra" + std::to_string(i)})
            .ok());
  }
  for (auto& t : verifiers) t.join();
  EXPECT_EQ(failures.load(), 0);
  constexpr int64_t kLeft = 100000 - kThreads * kVerifiesPerThread;
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, kLeft);
  ASSERT_TRUE(svc_->ReleaseReservedCredits(0).ok());  // as a graceful stop does
  Reopen();
  EXPECT_EQ(svc_->GetKey(root_, k.key_id)->credits().remaining, kLeft);
}

// The key index grows while verifications read it, and keeps every key through deletions (which
// shift entries within the index) and a reload sized from the store.
TEST_F(KeyServiceTest, KeysStayFindableAsTheIndexGrowsShrinksAndReloads) {
  std::string api = NewApi();
  CreatedKey first = NewKey({.api_id = api});
  std::string first_text(first.key.Reveal());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread verifier([&] {
    while (!stop.load()) {
      auto r = svc_->Verify(root_, {.key = first_text});
      if (!r.ok() || r->code != VerifyCode::kValid) failures++;
    }
  });
  std::vector<CreatedKey> keys;
  for (int round = 0; round < 6; ++round) {
    auto batch = svc_->CreateKeys(root_, {.api_id = api}, 500);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    for (auto& k : *batch) keys.push_back(std::move(k));
  }
  stop = true;
  verifier.join();
  EXPECT_EQ(failures.load(), 0);
  for (size_t i = 0; i < keys.size(); i += 2) {
    ASSERT_TRUE(svc_->DeleteKey(root_, keys[i].key_id, Deletion::kSoft).ok());
  }
  auto check = [&] {
    for (size_t i = 0; i < keys.size(); ++i) {
      std::string text(keys[i].key.Reveal());
      EXPECT_EQ(Verify(text), i % 2 == 0 ? VerifyCode::kNotFound : VerifyCode::kValid) << i;
      EXPECT_EQ(svc_->GetKey(root_, keys[i].key_id).ok(), i % 2 == 1) << i;
    }
    EXPECT_EQ(Verify(first_text), VerifyCode::kValid);
  };
  check();
  EXPECT_EQ(svc_->KeyCount(), 2 + keys.size() / 2);  // the root key, `first`, the odd ones
  Reopen();
  check();
  EXPECT_EQ(svc_->KeyCount(), 2 + keys.size() / 2);
}

// A load of more keys than the loader hands over in its first few batches: batches are passed
// between threads and filled again. Every key must come back, each with its own fields (a plain key
// loaded into a batch slot that held one with a name must not keep that name), and verify.
TEST_F(KeyServiceTest, AReloadOfManyKeysKeepsEachWithItsOwnFields) {
  std::string api = NewApi();
  std::vector<CreatedKey> keys;
  std::vector<int> kinds;  // 0 plain, 1 named with meta, 2 with credits
  for (int round = 0; round < 11; ++round) {
    CreateKeyRequest req{.api_id = api};
    int kind = round % 3;
    if (kind == 1) {
      req.name = "named";
      req.meta_json = R"({"round":1})";
    } else if (kind == 2) {
      req.credits = CreditsState{.remaining = 5};
    }
    auto batch = svc_->CreateKeys(root_, req, 500);
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    for (auto& k : *batch) {
      keys.push_back(std::move(k));
      kinds.push_back(kind);
    }
  }
  Reopen();
  EXPECT_EQ(svc_->KeyCount(), 1 + keys.size());  // and the root key
  for (size_t i = 0; i < keys.size(); ++i) {
    auto view = svc_->GetKey(root_, keys[i].key_id);
    ASSERT_TRUE(view.ok()) << i;
    EXPECT_EQ(view->name().has_value(), kinds[i] == 1) << i;
    EXPECT_EQ(view->meta_json().empty(), kinds[i] != 1) << i;
    EXPECT_EQ(view->credits().remaining, kinds[i] == 2 ? std::optional<int64_t>(5) : std::nullopt)
        << i;
  }
  for (size_t i = 0; i < keys.size(); i += 97) {
    EXPECT_EQ(Verify(std::string(keys[i].key.Reveal())), VerifyCode::kValid) << i;
  }
}

// An exception while the loaded keys are indexed (running out of memory, most likely) fails the
// load with an error for the operator, and the process lives on: thrown on the thread that
// builds the index of many keys, at its first batch, a later one or the last (passed on once the
// store has been read), or on the loading thread, which indexes a few keys itself.
TEST_F(KeyServiceTest, AnExceptionWhileIndexingLoadedKeysFailsTheLoad) {
  std::string api = NewApi();
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(svc_->CreateKeys(root_, {.api_id = api}, 500).ok());
  }
  svc_.reset();
  const std::thread::id loading_thread = std::this_thread::get_id();
  std::atomic<int> batches{0};
  std::atomic<bool> on_loading_thread{false};
  auto count = [&] {
    if (std::this_thread::get_id() == loading_thread) on_loading_thread = true;
    return batches++;
  };
  auto loaded = KeyService::Open(*faulty_, env_, {.before_index_batch = [&] { count(); }});
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->KeyCount(), 5001u);
  loaded->reset();  // released before the next loads
  const int all = batches.exchange(0);
  ASSERT_GE(all, 3);
  EXPECT_FALSE(on_loading_thread) << "many keys are indexed on a thread of their own";
  auto expect_failed = [](const StatusOr<std::unique_ptr<KeyService>>& svc) {
    ASSERT_FALSE(svc.ok());
    EXPECT_EQ(svc.status().code(), StatusCode::kInternal);
    EXPECT_EQ(svc.status().message(), "the keys could not be loaded");
    EXPECT_EQ(svc.status().log_detail(), "building the key index: std::bad_alloc");
  };
  for (int failing : {0, 1, all - 1}) {
    batches = 0;
    auto svc = KeyService::Open(*faulty_, env_, {.before_index_batch = [&] {
      if (count() == failing) throw std::bad_alloc();
    }});
    SCOPED_TRACE(failing);
    expect_failed(svc);
  }
  EXPECT_FALSE(on_loading_thread);

  testing::TempDir few_dir;
  auto few = store::SqliteStore::Open(few_dir.path() + "/k.db");
  ASSERT_TRUE(few.ok());
  {
    auto svc = KeyService::Open(**few, env_);
    ASSERT_TRUE(svc.ok());
    ASSERT_TRUE((*svc)->Bootstrap("root").ok());
  }
  auto svc = KeyService::Open(**few, env_, {.before_index_batch = [&] {
    count();
    throw std::bad_alloc();
  }});
  expect_failed(svc);
  EXPECT_TRUE(on_loading_thread) << "a few keys are indexed on the loading thread";
  // Nothing was left half done: without the failure, both load.
  EXPECT_TRUE(KeyService::Open(**few, env_).ok());
  EXPECT_TRUE(KeyService::Open(*faulty_, env_).ok());
}

}  // namespace
}  // namespace keyhold::service
