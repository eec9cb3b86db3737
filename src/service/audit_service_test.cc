#include "service/audit_service.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "crypto/crypto.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(path());
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
    auto svc = KeyService::Open(*faulty_, env_);
    ASSERT_TRUE(svc.ok());
    keys_ = std::move(svc).value();
    auto root = keys_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    root_text_ = std::string(root->key.Reveal());
    auto p = keys_->Authenticate(root_text_);
    ASSERT_TRUE(p.ok());
    root_ = {.request_id = "req_test", .client_ip = "198.51.100.4", .actor = *p};
    audit_ = AuditService::Create(*faulty_, env_);
  }

  std::string path() const { return dir_.path() + "/k.db"; }

  std::vector<audit::AuditEntry> Log() {
    auto all = sqlite_->ReadAudit(0, store::kMaxAuditPage);
    EXPECT_TRUE(all.ok());
    return all.ok() ? *all : std::vector<audit::AuditEntry>{};
  }

  // Runs `statement` on the database file directly, as someone with access to it could.
  void Tamper(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<KeyService> keys_;
  std::unique_ptr<AuditService> audit_;
  std::string root_text_;
  RequestContext root_;
};

TEST_F(AuditTest, AChangeWhoseEntryCannotBeWrittenDoesNotHappen) {
  auto api = keys_->CreateApi(root_, {.name = "helpdesk"});
  ASSERT_TRUE(api.ok());
  CreditsState credits;
  credits.remaining = 5;
  auto key = keys_->CreateKey(root_, {.api_id = api->id, .credits = credits});
  ASSERT_TRUE(key.ok());
  std::string text(key->key.Reveal());
  size_t entries = Log().size();

  faulty_->FailAuditWrites(true);
  EXPECT_EQ(keys_->CreateApi(root_, {.name = "other"}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(keys_->CreateKey(root_, {.api_id = api->id}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(
      keys_->UpdateCredits(root_, key->key_id, CreditsOperation::kIncrement, 10).status().code(),
      StatusCode::kUnavailable);
  EXPECT_EQ(keys_->DeleteKey(root_, key->key_id, Deletion::kSoft).code(), StatusCode::kUnavailable);
  UpdateKeyRequest disable;
  disable.key_id = key->key_id;
  disable.enabled = false;
  EXPECT_EQ(keys_->UpdateKey(root_, disable).status().code(), StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);

  EXPECT_EQ(Log().size(), entries);
  auto page = keys_->ListKeys(root_, api->id, "", 100, std::nullopt);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->items.size(), 1u) << "no key was created";
  auto v = keys_->Verify(root_, {.key = text});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->code, VerifyCode::kValid) << "not deleted, not disabled";
  ASSERT_TRUE(v->key.has_value());
  EXPECT_EQ(v->key->credits().remaining, 4) << "the increment did not happen";
}

TEST_F(AuditTest, EntriesNameActorAddressRequestAndHoldNoKeyMaterial) {
  auto api = keys_->CreateApi(root_, {.name = "helpdesk"});
  ASSERT_TRUE(api.ok());
  auto key = keys_->CreateKey(root_, {.api_id = api->id, .meta_json = R"({"email":"a@b.c"})"});
  ASSERT_TRUE(key.ok());
  auto second_root = keys_->CreateRootKey(root_, "ci", {"api.*.read_key"});
  ASSERT_TRUE(second_root.ok());
  ASSERT_TRUE(keys_->Verify(root_, {.key = std::string(key->key.Reveal())}).ok());
  ASSERT_TRUE(keys_->DeleteKey(root_, key->key_id, Deletion::kPermanent).ok());

  std::vector<audit::AuditEntry> log = Log();
  std::vector<std::string> actions;
  for (const auto& e : log) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<std::string>{"root_key.create", "api.create", "key.create",
                                               "root_key.create", "key.delete"}));
  for (size_t i = 1; i < log.size(); ++i) {
    EXPECT_EQ(log[i].actor, root_.actor.key_id);
    EXPECT_EQ(log[i].client_ip, "198.51.100.4");
    EXPECT_EQ(log[i].request_id, "req_test");
  }
  EXPECT_EQ(log[2].target, key->key_id);
  for (const auto& e : log) {
    std::string bytes = audit::Encode(e);
    for (const std::string& secret :
         {std::string(key->key.Reveal()), root_text_, std::string(second_root->key.Reveal()),
          std::string("a@b.c")}) {
      EXPECT_EQ(bytes.find(secret), std::string::npos) << e.action;
    }
  }
  EXPECT_NE(log[2].details_json.find("hmac-sha256:"), std::string::npos);
}

TEST_F(AuditTest, ListingNeedsItsPermissionAndPagesByCursor) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(keys_->CreateApi(root_, {.name = "a"}).ok());
  RequestContext nobody = root_;
  nobody.actor.permissions = {"api.*.create_api"};
  EXPECT_EQ(audit_->ListEvents(nobody, {}, "", 10).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(audit_->VerifyChain(nobody).status().code(), StatusCode::kPermissionDenied);
  std::vector<int64_t> seen;
  std::string cursor;
  do {
    auto page = audit_->ListEvents(root_, {.action = "api.*"}, cursor, 2);
    ASSERT_TRUE(page.ok());
    for (const auto& e : page->events) seen.push_back(e.seq);
    cursor = page->has_more ? page->cursor : "";
  } while (!cursor.empty());
  EXPECT_EQ(seen, (std::vector<int64_t>{6, 5, 4, 3, 2}));
  EXPECT_EQ(audit_->ListEvents(root_, {}, "x1", 2).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(AuditTest, ARecomputedChainIsCaughtOnlyByASignedCheckpoint) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(keys_->CreateApi(root_, {.name = "a"}).ok());
  auto signer = audit::CheckpointSigner::FromMasterKey(std::vector<uint8_t>(32, 3));
  ASSERT_TRUE(signer.ok());
  auto cp = audit_->Checkpoint(*signer);
  ASSERT_TRUE(cp.ok());
  ASSERT_TRUE(cp->has_value());
  EXPECT_EQ((*cp)->seq, 5);
  auto again = audit_->Checkpoint(*signer);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value()) << "nothing new to cover";

  // Someone with the file rewrites entry 3 and recomputes every hash after it: the chain is
  // whole again, but no longer ends where the signed checkpoint says.
  std::vector<audit::AuditEntry> log = Log();
  log[2].target = "api_forged";
  audit::ChainHash prev = log[1].hash;
  for (size_t i = 2; i < log.size(); ++i) {
    log[i].hash = audit::LinkHash(prev, log[i]);
    prev = log[i].hash;
    Tamper("UPDATE audit_log SET target = '" + log[i].target + "', hash = x'" +
           crypto::HexEncode(log[i].hash) + "' WHERE seq = " + std::to_string(log[i].seq));
  }
  EXPECT_FALSE(audit::VerifyChain(Log(), audit::kGenesis, 1).has_value());
  auto report = VerifyStoredChain(*sqlite_);
  ASSERT_TRUE(report.ok());
  ASSERT_TRUE(report->first_bad.has_value());
  EXPECT_EQ(report->first_bad->seq, 5);
  EXPECT_NE(report->first_bad->reason.find("signed checkpoint"), std::string::npos);
}

// An AlertSink that keeps what it is given, or fails as a store that cannot be written would.
class RecordingSink final : public audit::AlertSink {
 public:
  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override {
    if (fail) return Unavailable("the store could not be written");
    raised.push_back(alert);
    return audit::RaiseOutcome{"alert_1", false, 0};
  }
  std::vector<audit::Alert> raised;
  bool fail = false;
};

TEST_F(AuditTest, ARefusedChangeRaisesAuditSinkFailing) {
  RecordingSink sink;
  keys_->SetAlertSink(&sink);
  faulty_->FailAuditWrites(true);
  EXPECT_EQ(keys_->CreateApi(root_, {.name = "other"}).status().code(), StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);
  ASSERT_EQ(sink.raised.size(), 1u);
  EXPECT_EQ(sink.raised[0].kind, audit::kAlertAuditSinkFailing);
  EXPECT_EQ(sink.raised[0].dedupe_key, "audit.sink_failing");
  EXPECT_NE(sink.raised[0].evidence_json.find("api.create"), std::string::npos);
  // A sink that fails too changes nothing for the caller: the change is still refused, with 503.
  sink.fail = true;
  faulty_->FailWrites(true);
  EXPECT_EQ(keys_->CreateApi(root_, {.name = "third"}).status().code(), StatusCode::kUnavailable);
  faulty_->FailWrites(false);
  keys_->SetAlertSink(nullptr);
}

}  // namespace
}  // namespace keyhold::service
