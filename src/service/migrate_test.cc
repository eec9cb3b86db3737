// Keys moved in from another system: each scheme, verification beside keyhold's own keys,
// duplicates, all-or-nothing batches.
#include <gtest/gtest.h>

#include "crypto/crypto.h"
#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class MigrateTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen() {
    svc_.reset();
    sqlite_.reset();
    sqlite_ = std::move(store::SqliteStore::Open(dir_.path() + "/k.db")).value();
    svc_ = std::move(KeyService::Open(*sqlite_, env_)).value();
    if (!svc_->HasRootKeys()) {
      root_text_ = std::string(svc_->Bootstrap("root")->key.Reveal());
    }
    root_ = {.request_id = "req_test", .actor = *svc_->Authenticate(root_text_)};
    if (api_.empty()) api_ = svc_->CreateApi(root_, {.name = "crm"})->id;
  }

  VerifyCode Verify(std::string_view key) { return svc_->Verify(root_, {.key = key})->code; }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<KeyService> svc_;
  std::string root_text_;
  RequestContext root_;
  std::string api_;
};

std::string Hex(std::string_view key) { return crypto::HexEncode(crypto::Sha256(key)); }
std::string B64(std::string_view key) { return crypto::Base64Encode(crypto::Sha256(key)); }

TEST_F(MigrateTest, EverySchemeVerifiesBesideKeyholdKeys) {
  auto own = svc_->CreateKey(root_, {.api_id = api_});
  auto hex = svc_->MigrateKeys(root_, api_, MigrationScheme::kSha256Hex,
                               {{.hash = Hex("crm-live-0001"), .name = "legacy"}});
  ASSERT_TRUE(hex.ok()) << hex.status().message();
  auto b64 = svc_->MigrateKeys(root_, api_, MigrationScheme::kSha256Base64,
                               {{.hash = B64("crm-live-0002"), .permissions = {"contacts.read"}}});
  ASSERT_TRUE(b64.ok()) << b64.status().message();
  CreditsState credits;
  credits.remaining = 1;
  auto plain = svc_->MigrateKeys(root_, api_, MigrationScheme::kPlaintext,
                                 {{.hash = "sk_live_legacyKey0003", .credits = credits}});
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  ASSERT_EQ(plain->migrated.size(), 1u);
  EXPECT_EQ(plain->migrated[0].first, Hex("sk_live_legacyKey0003"));  // never the text
  EXPECT_EQ(Verify("crm-live-0001"), VerifyCode::kValid);
  EXPECT_EQ(
      svc_->Verify(root_, {.key = "crm-live-0002", .permissions_query = "contacts.read"})->code,
      VerifyCode::kValid);
  EXPECT_EQ(Verify("sk_live_legacyKey0003"), VerifyCode::kValid);
  EXPECT_EQ(Verify("sk_live_legacyKey0003"), VerifyCode::kUsageExceeded);
  EXPECT_EQ(Verify(own->key.Reveal()), VerifyCode::kValid);
  EXPECT_EQ(Verify("crm-live-9999"), VerifyCode::kNotFound);
  EXPECT_EQ(svc_->GetKey(root_, hex->migrated[0].second)->name(), "legacy");
  EXPECT_EQ(svc_->Whoami(root_, "crm-live-0001")->id(), hex->migrated[0].second);
  EXPECT_EQ(*svc_->ReportLeak(root_, "crm-live-0002", "old wiki"), LeakAction::kRevoked);
  EXPECT_EQ(Verify("crm-live-0002"), VerifyCode::kNotFound);
  Reopen();
  EXPECT_EQ(Verify("crm-live-0001"), VerifyCode::kValid);
}

TEST_F(MigrateTest, DuplicatesAreSkippedAndBadBatchesChangeNothing) {
  ASSERT_TRUE(svc_->MigrateKeys(root_, api_, MigrationScheme::kPlaintext, {{.hash = "k-1"}}).ok());
  auto again = svc_->MigrateKeys(root_, api_, MigrationScheme::kPlaintext,
                                 {{.hash = "k-1"}, {.hash = "k-2"}, {.hash = "k-2"}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->migrated.size(), 1u);
  EXPECT_EQ(again->duplicates, (std::vector<std::string>{Hex("k-1"), Hex("k-2")}));
  auto bad = svc_->MigrateKeys(root_, api_, MigrationScheme::kSha256Hex,
                               {{.hash = Hex("k-3")}, {.hash = "not-hex"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("keys[1]"), std::string::npos);
  EXPECT_EQ(Verify("k-3"), VerifyCode::kNotFound);  // all or nothing
  EXPECT_EQ(svc_->MigrateKeys(root_, api_, MigrationScheme::kSha256Base64, {{.hash = "abc"}})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->MigrateKeys(root_, api_, MigrationScheme::kPlaintext, {}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(svc_->MigrateKeys(root_, "api_missing", MigrationScheme::kPlaintext, {{.hash = "x"}})
                .status()
                .code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace keyhold::service
