#include "service/secrets.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    sqlite_ = std::move(s).value();
    faulty_ = std::make_unique<testing::FaultyStore>(*sqlite_);
    auto svc = SecretService::Open(*faulty_, env_, master_);
    ASSERT_TRUE(svc.ok()) << svc.status().message();
    secrets_ = std::move(svc).value();
    admin_ = Caller("key_admin", {"*"});
  }

  static RequestContext Caller(const std::string& id, std::vector<std::string> permissions) {
    RequestContext ctx{.request_id = "req_1", .client_ip = "198.51.100.4"};
    ctx.actor = {.key_id = id, .permissions = std::move(permissions)};
    return ctx;
  }

  StatusOr<SecretVersionInfo> Put(const std::string& path, const std::string& data,
                                  std::optional<int64_t> cas = {}) {
    return secrets_->Write(admin_, "secret", path, crypto::Secret(data), cas);
  }

  std::string Value(const std::string& path, int64_t version = 0) {
    auto v = secrets_->Read(admin_, "secret", path, version);
    if (!v.ok()) return "error: " + v.status().message();
    if (!v->available) return "unavailable";
    return std::string(v->data_json.Reveal());
  }

  std::vector<audit::AuditEntry> Audit() { return sqlite_->ReadAudit(0, 1000).value(); }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::vector<uint8_t> master_ = std::vector<uint8_t>(32, 9);
  std::unique_ptr<store::SqliteStore> sqlite_;
  std::unique_ptr<testing::FaultyStore> faulty_;
  std::unique_ptr<SecretService> secrets_;
  RequestContext admin_;
};

TEST_F(SecretsTest, WritesVersionsAndReadsAnyKeptOne) {
  auto v1 = Put("helpdesk/smtp", R"({"password":"first"})");
  ASSERT_TRUE(v1.ok()) << v1.status().message();
  EXPECT_EQ(v1->version, 1);
  env_.Advance(1000);
  ASSERT_EQ(Put("helpdesk/smtp", R"({"password":"second"})")->version, 2);
  EXPECT_EQ(Value("helpdesk/smtp"), R"({"password":"second"})");
  EXPECT_EQ(Value("helpdesk/smtp", 1), R"({"password":"first"})");
  EXPECT_EQ(secrets_->Read(admin_, "secret", "helpdesk/smtp", 3).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "nothing", 0).status().code(), StatusCode::kNotFound);
}

TEST_F(SecretsTest, TheStoreNeverHoldsTheValue) {
  ASSERT_TRUE(Put("crm/stripe", R"({"key":"value-marker-7f3a"})").ok());
  auto v = sqlite_->ReadSecretVersion("secret", "crm/stripe", 1);
  ASSERT_TRUE(v.ok());
  std::string blob(v->ciphertext.begin(), v->ciphertext.end());
  EXPECT_EQ(blob.find("value-marker-7f3a"), std::string::npos);
}

TEST_F(SecretsTest, DataMustBeAnObjectWithinTheLimit) {
  EXPECT_EQ(Put("a", "[1,2]").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("a", "not json").status().code(), StatusCode::kInvalidArgument);
  std::string big = R"({"v":")" + std::string(kMaxSecretDataBytes, 'x') + R"("})";
  EXPECT_EQ(Put("a", big).status().code(), StatusCode::kPayloadTooLarge);
  EXPECT_EQ(Put("../etc/passwd", "{}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Put("a//b", "{}").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(secrets_->Write(admin_, "nomount", "a", crypto::Secret("{}"), {}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(SecretsTest, CheckAndSet) {
  EXPECT_EQ(Put("a", R"({"v":1})", 1).status().reason(), "data/cas_mismatch");
  ASSERT_TRUE(Put("a", R"({"v":1})", 0).ok());  // cas 0: create only
  EXPECT_EQ(Put("a", R"({"v":2})", 0).status().reason(), "data/cas_mismatch");
  ASSERT_TRUE(Put("a", R"({"v":2})", 1).ok());
  EXPECT_EQ(Value("a"), R"({"v":2})");
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "a", {.cas_required = true}).ok());
  EXPECT_EQ(Put("a", R"({"v":3})").status().reason(), "data/cas_required");
  ASSERT_TRUE(Put("a", R"({"v":3})", 2).ok());
}

TEST_F(SecretsTest, TheMountCanRequireCas) {
  ASSERT_TRUE(secrets_->WriteMountConfig(admin_, {.name = "secret", .cas_required = true}).ok());
  EXPECT_EQ(Put("a", "{}").status().reason(), "data/cas_required");
  EXPECT_TRUE(Put("a", "{}", 0).ok());
  auto config = secrets_->ReadMountConfig(admin_, "secret");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->cas_required);
}

TEST_F(SecretsTest, PatchMergesIntoTheCurrentVersion) {
  ASSERT_TRUE(Put("a", R"({"user":"u","password":"p","old":"x"})").ok());
  auto v =
      secrets_->Patch(admin_, "secret", "a", crypto::Secret(R"({"password":"q","old":null})"), {});
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(v->version, 2);
  EXPECT_EQ(Value("a"), R"({"password":"q","user":"u"})");
  EXPECT_EQ(secrets_->Patch(admin_, "secret", "none", crypto::Secret("{}"), {}).status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(secrets_->DeleteVersions(admin_, "secret", "a", {}).ok());
  EXPECT_EQ(secrets_->Patch(admin_, "secret", "a", crypto::Secret("{}"), {}).status().code(),
            StatusCode::kNotFound);
}

TEST_F(SecretsTest, DeleteUndeleteDestroy) {
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  ASSERT_TRUE(Put("a", R"({"v":2})").ok());
  ASSERT_TRUE(secrets_->DeleteVersions(admin_, "secret", "a", {}).ok());  // the current one
  EXPECT_EQ(Value("a"), "unavailable");
  EXPECT_EQ(Value("a", 1), R"({"v":1})");
  ASSERT_TRUE(secrets_->UndeleteVersions(admin_, "secret", "a", {2}).ok());
  EXPECT_EQ(Value("a"), R"({"v":2})");
  ASSERT_TRUE(secrets_->DestroyVersions(admin_, "secret", "a", {1}).ok());
  EXPECT_EQ(Value("a", 1), "unavailable");
  ASSERT_TRUE(secrets_->UndeleteVersions(admin_, "secret", "a", {1}).ok());
  EXPECT_EQ(Value("a", 1), "unavailable");  // destroyed stays destroyed
  EXPECT_EQ(secrets_->DestroyVersions(admin_, "secret", "a", {}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(secrets_->DestroyVersions(admin_, "secret", "a", {0}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(secrets_->DeleteVersions(admin_, "secret", "none", {1}).code(), StatusCode::kNotFound);
}

TEST_F(SecretsTest, MetadataAndMaxVersions) {
  ASSERT_TRUE(secrets_
                  ->WriteMetadata(admin_, "secret", "a",
                                  {.max_versions = 2, .custom_metadata_json = R"({"owner":"ops"})"})
                  .ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Put("a", "{}").ok());
  auto m = secrets_->ReadMetadata(admin_, "secret", "a");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->current_version, 3);
  EXPECT_EQ(m->oldest_version, 2);
  EXPECT_EQ(m->versions.size(), 2u);
  EXPECT_EQ(m->custom_metadata_json, R"({"owner":"ops"})");
  EXPECT_EQ(
      secrets_->WriteMetadata(admin_, "secret", "a", {.custom_metadata_json = R"({"n":1})"}).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(secrets_->WriteMetadata(admin_, "secret", "a", {.max_versions = -1}).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(secrets_->DeleteMetadata(admin_, "secret", "a").ok());
  EXPECT_EQ(secrets_->ReadMetadata(admin_, "secret", "a").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(secrets_->DeleteMetadata(admin_, "secret", "a").code(), StatusCode::kNotFound);
}

TEST_F(SecretsTest, DeleteVersionAfterSoftDeletesOnTime) {
  ASSERT_TRUE(
      secrets_->WriteMetadata(admin_, "secret", "a", {.delete_version_after_ms = 60'000}).ok());
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  EXPECT_EQ(Value("a"), R"({"v":1})");
  env_.Advance(60'000);
  EXPECT_EQ(Value("a"), "unavailable");
}

TEST_F(SecretsTest, TheMountsLimitsCapTheSecrets) {
  ASSERT_TRUE(
      secrets_
          ->WriteMountConfig(admin_,
                             {.name = "secret", .max_versions = 2, .delete_version_after_ms = 1000})
          .ok());
  ASSERT_TRUE(secrets_
                  ->WriteMetadata(admin_, "secret", "a",
                                  {.max_versions = 10, .delete_version_after_ms = 3'600'000})
                  .ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Put("a", "{}").ok());
  auto m = secrets_->ReadMetadata(admin_, "secret", "a");
  EXPECT_EQ(m->versions.size(), 2u);
  EXPECT_EQ(m->versions.back().deletion_time_ms, m->versions.back().created_at_ms + 1000);
}

TEST_F(SecretsTest, ListingManySubFoldersReadsLittle) {
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Put("many/d" + std::to_string(1000 + i) + "/x", "{}").ok());
  }
  auto names = secrets_->List(admin_, "secret", "many/");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 300u);
  EXPECT_EQ(names->front(), "d1000/");
  RequestContext plus = Caller("key_p", {"secret.list:secret/many/+/x"});
  // What `+` matches is shown where the caller may list a secret under it (each `x` here).
  EXPECT_EQ(*secrets_->List(plus, "secret", ""), std::vector<std::string>{"many/"});
  EXPECT_EQ(secrets_->List(plus, "secret", "many/")->size(), 300u);
  EXPECT_EQ(*secrets_->List(plus, "secret", "many/d1000/"), std::vector<std::string>{"x"});
}

// A LIST one level deep shows the folders that lead to what a recursive LIST shows, and no
// other: a folder a `+` matches is named only if the caller may list a secret under it.
TEST_F(SecretsTest, ListNamesFoldersReachedThroughPlusOnlyWhereSomethingIsListable) {
  for (const char* p : {"a/x", "b/y", "c/x/deeper", "d/q", "d/x", "e/f/x", "top"}) {
    ASSERT_TRUE(Put(p, "{}").ok());
  }
  RequestContext narrow = Caller("key_n", {"secret.list:secret/+/x"});
  auto top = secrets_->List(narrow, "secret", "");
  ASSERT_TRUE(top.ok()) << top.status().message();
  EXPECT_EQ(*top, (std::vector<std::string>{"a/", "d/"}));
  auto recursive = secrets_->ListRecursive(narrow, "secret", "", "", 100);
  ASSERT_TRUE(recursive.ok());
  EXPECT_EQ(recursive->keys, (std::vector<std::string>{"a/x", "d/x"}));
  EXPECT_EQ(*secrets_->List(narrow, "secret", "d/"), std::vector<std::string>{"x"});
  // Folders it could list nothing under look empty (the HTTP surface answers 404 for both).
  EXPECT_TRUE(secrets_->List(narrow, "secret", "b/")->empty());
  EXPECT_TRUE(secrets_->List(narrow, "secret", "c/")->empty());
  EXPECT_TRUE(secrets_->List(narrow, "secret", "nothing/")->empty());
  // A `+` deeper down: the folders on the way are named once a secret at the end is listable.
  RequestContext deep = Caller("key_d", {"secret.list:secret/e/+/x", "secret.list:secret/+/f/y"});
  EXPECT_EQ(*secrets_->List(deep, "secret", ""), std::vector<std::string>{"e/"});
  EXPECT_EQ(*secrets_->List(deep, "secret", "e/"), std::vector<std::string>{"f/"});
}

TEST_F(SecretsTest, RotationPeriodSetsTheNextDueTime) {
  ASSERT_TRUE(Put("a", "{}").ok());
  int64_t written = env_.NowMillis();
  env_.Advance(5000);
  ASSERT_TRUE(
      secrets_->WriteMetadata(admin_, "secret", "a", {.rotation_period_ms = 86'400'000}).ok());
  auto m = secrets_->ReadMetadata(admin_, "secret", "a");
  EXPECT_EQ(m->rotation_period_ms, 86'400'000);
  EXPECT_EQ(m->next_rotation_at_ms, written + 86'400'000);
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "a", {.rotation_period_ms = 0}).ok());
  EXPECT_FALSE(secrets_->ReadMetadata(admin_, "secret", "a")->next_rotation_at_ms.has_value());
}

TEST_F(SecretsTest, DenyByDefaultAndByGlob) {
  ASSERT_TRUE(Put("helpdesk/smtp", R"({"p":"x"})").ok());
  ASSERT_TRUE(Put("crm/stripe", R"({"p":"y"})").ok());
  RequestContext none = Caller("key_none", {"api.*.read_key"});
  EXPECT_EQ(secrets_->Read(none, "secret", "helpdesk/smtp", 0).status().code(),
            StatusCode::kPermissionDenied);
  RequestContext helpdesk = Caller("key_hd", {"secret.read:secret/helpdesk/*"});
  auto ok = secrets_->Read(helpdesk, "secret", "helpdesk/smtp", 0);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->data_json.Reveal(), R"({"p":"x"})");
  EXPECT_EQ(secrets_->Read(helpdesk, "secret", "crm/stripe", 0).status().code(),
            StatusCode::kPermissionDenied);
  // The same answer whether or not the path exists: no existence leak.
  EXPECT_EQ(secrets_->Read(helpdesk, "secret", "crm/none", 0).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(secrets_->Write(helpdesk, "secret", "helpdesk/smtp", crypto::Secret("{}"), {})
                .status()
                .code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(secrets_->DestroyVersions(helpdesk, "secret", "helpdesk/smtp", {1}).code(),
            StatusCode::kPermissionDenied);
}

TEST_F(SecretsTest, CreateDoesNotGrantUpdate) {
  RequestContext creator = Caller("key_c", {"secret.create:secret/app/*"});
  ASSERT_TRUE(secrets_->Write(creator, "secret", "app/x", crypto::Secret("{}"), {}).ok());
  EXPECT_EQ(secrets_->Write(creator, "secret", "app/x", crypto::Secret("{}"), {}).status().code(),
            StatusCode::kPermissionDenied);
  RequestContext updater = Caller("key_u", {"secret.update:secret/app/*"});
  EXPECT_EQ(secrets_->Write(updater, "secret", "app/y", crypto::Secret("{}"), {}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_TRUE(secrets_->Write(updater, "secret", "app/x", crypto::Secret("{}"), {}).ok());
}

TEST_F(SecretsTest, ListShowsOnlyWhatTheCallerMayList) {
  for (const char* p :
       {"helpdesk/smtp", "helpdesk/imap", "helpdesk/deep/x", "crm/stripe", "top", "helpdesk-old"}) {
    ASSERT_TRUE(Put(p, "{}").ok());
  }
  auto all = secrets_->List(admin_, "secret", "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<std::string>{"crm/", "helpdesk-old", "helpdesk/", "top"}));
  EXPECT_EQ(*secrets_->List(admin_, "secret", "helpdesk/"),
            (std::vector<std::string>{"deep/", "imap", "smtp"}));
  RequestContext hd = Caller("key_hd", {"secret.list:secret/helpdesk/*"});
  EXPECT_EQ(*secrets_->List(hd, "secret", ""), (std::vector<std::string>{"helpdesk/"}));
  EXPECT_EQ(*secrets_->List(hd, "secret", "helpdesk/"),
            (std::vector<std::string>{"deep/", "imap", "smtp"}));
  EXPECT_EQ(secrets_->List(hd, "secret", "crm/").status().code(), StatusCode::kPermissionDenied);
  RequestContext reader = Caller("key_r", {"secret.read:secret/*"});
  EXPECT_EQ(secrets_->List(reader, "secret", "").status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(secrets_->List(admin_, "secret", "nothing/")->empty());
  EXPECT_EQ(secrets_->List(admin_, "secret", "bad").status().code(), StatusCode::kInvalidArgument);
}

// Every secret under a folder at any depth, a page at a time: paging with `after` gives each
// path once, in order, whatever the page size, and only the paths the caller may list.
TEST_F(SecretsTest, RecursiveListPagesThroughEverySecretTheCallerMayList) {
  std::vector<std::string> under;
  for (int i = 0; i < 25; ++i) {
    std::string p = "app/" +
                    std::string(i % 3 == 0   ? "deep/er/"
                                : i % 3 == 1 ? "mid/"
                                             : "") +
                    "s" + std::to_string(100 + i);
    ASSERT_TRUE(Put(p, "{}").ok());
    under.push_back(p.substr(4));
  }
  ASSERT_TRUE(Put("apps", "{}").ok());  // beside the folder, not in it
  ASSERT_TRUE(Put("other/x", "{}").ok());
  std::sort(under.begin(), under.end());
  auto pages = [&](const RequestContext& ctx, int limit, int* count) {
    std::vector<std::string> got;
    std::string after;
    *count = 0;
    for (;;) {
      auto page = secrets_->ListRecursive(ctx, "secret", "app/", after, limit);
      EXPECT_TRUE(page.ok()) << page.status().message();
      if (!page.ok() || ++*count > 100) break;
      EXPECT_LE(page->keys.size(), static_cast<size_t>(limit));
      got.insert(got.end(), page->keys.begin(), page->keys.end());
      if (!page->next_after) break;
      after = *page->next_after;
    }
    return got;
  };
  int count = 0;
  for (int limit : {1, 2, 7, 25, 1000}) {
    EXPECT_EQ(pages(admin_, limit, &count), under) << "limit " << limit;
  }
  EXPECT_EQ(pages(admin_, 1000, &count), under);
  EXPECT_EQ(count, 1);
  // Only what the caller may list: a caller allowed one sub-folder gets it, even across pages
  // that look at the rest first.
  RequestContext mid = Caller("key_mid", {"secret.list:secret/app/mid/*"});
  std::vector<std::string> mids;
  for (const auto& p : under) {
    if (p.starts_with("mid/")) mids.push_back(p);
  }
  EXPECT_EQ(pages(mid, 1, &count), mids);
  EXPECT_EQ(pages(mid, 3, &count), mids);
  // Refusals (audited, as List's), bad limits, a bad folder.
  RequestContext none = Caller("key_none", {"secret.read:secret/*"});
  EXPECT_EQ(secrets_->ListRecursive(none, "secret", "app/", "", 10).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(Audit().back().action, "secret.list");
  EXPECT_EQ(Audit().back().outcome, "denied");
  for (int bad : {0, -1, SecretService::kMaxListPage + 1}) {
    EXPECT_EQ(secrets_->ListRecursive(admin_, "secret", "app/", "", bad).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(secrets_->ListRecursive(admin_, "secret", "app", "", 10).status().code(),
            StatusCode::kInvalidArgument);
  auto nothing = secrets_->ListRecursive(admin_, "secret", "nothing/", "", 10);
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->keys.empty());
  EXPECT_FALSE(nothing->next_after);
  // The whole mount from the top.
  auto top = secrets_->ListRecursive(admin_, "secret", "", "", 1000);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->keys.size(), under.size() + 2);
}

// A caller who may list almost nothing of a big folder learns no other name from the cursor:
// a page's next_after is always a path it was shown, and a folder it may see nothing of answers
// as an empty one.
TEST_F(SecretsTest, RecursiveListCursorsNeverNameWhatTheCallerMayNotList) {
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(Put("big/s" + std::to_string(100 + i), "{}").ok());
  RequestContext two =
      Caller("key_two", {"secret.list:secret/big/s120", "secret.list:secret/big/s159"});
  std::vector<std::string> got;
  std::string after;
  for (int pages = 0; pages < 100; ++pages) {
    auto page = secrets_->ListRecursive(two, "secret", "big/", after, 1);
    ASSERT_TRUE(page.ok());
    got.insert(got.end(), page->keys.begin(), page->keys.end());
    if (!page->next_after) break;
    EXPECT_TRUE(*page->next_after == "s120" || *page->next_after == "s159") << *page->next_after;
    after = *page->next_after;
  }
  EXPECT_EQ(got, (std::vector<std::string>{"s120", "s159"}));
  RequestContext elsewhere = Caller("key_else", {"secret.list:secret/+/x"});
  auto nothing = secrets_->ListRecursive(elsewhere, "secret", "big/", "", 1);
  ASSERT_TRUE(nothing.ok());
  EXPECT_TRUE(nothing->keys.empty());
  EXPECT_FALSE(nothing->next_after);
}

TEST_F(SecretsTest, ReadsChangesAndRefusalsAreAuditedWithoutValues) {
  ASSERT_TRUE(Put("a", R"({"smtp_user":"audit-marker-91"})").ok());
  ASSERT_EQ(Value("a"), R"({"smtp_user":"audit-marker-91"})");
  RequestContext none = Caller("key_none", {});
  EXPECT_FALSE(secrets_->Read(none, "secret", "a", 0).ok());
  auto entries = Audit();
  ASSERT_GE(entries.size(), 3u);
  std::vector<std::string> actions;
  for (const auto& e : entries) {
    actions.push_back(e.action + ":" + e.outcome);
    EXPECT_EQ(e.target, "secret/a");
    EXPECT_EQ(e.details_json.find("audit-marker-91"), std::string::npos);
    EXPECT_EQ(e.details_json.find("smtp_user"), std::string::npos);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"secret.write:success", "secret.read:success",
                                               "secret.read:denied"}));
  EXPECT_EQ(entries[2].actor, "key_none");
}

// ReadLater answers as Read does, once the read's entry is committed, and leaves to Read
// (returning false, having done nothing) what would have to wait: here, a refusal to audit.
TEST_F(SecretsTest, ReadLaterAnswersAsReadDoesOnceItsEntryIsCommitted) {
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  ASSERT_TRUE(Put("a", R"({"v":2})").ok());
  ASSERT_TRUE(secrets_->DeleteVersions(admin_, "secret", "a", {1}).ok());
  auto read_later = [&](const RequestContext& ctx, const std::string& path, int64_t version,
                        bool* taken) {
    // The list of mounts is kept for a second: a slow run must not find it stale.
    EXPECT_TRUE(secrets_->MountExists("secret"));
    std::promise<StatusOr<SecretValue>> got;
    *taken = secrets_->ReadLater(ctx, "secret", path, version,
                                 [&got](StatusOr<SecretValue> v) { got.set_value(std::move(v)); });
    if (!*taken) return StatusOr<SecretValue>(Internal("not taken"));
    return got.get_future().get();
  };
  size_t before = Audit().size();
  bool taken = false;
  auto current = read_later(admin_, "a", 0, &taken);
  ASSERT_TRUE(taken);
  ASSERT_TRUE(current.ok()) << current.status().message();
  EXPECT_TRUE(current->available);
  EXPECT_EQ(current->data_json.Reveal(), R"({"v":2})");
  EXPECT_EQ(current->version.version, 2);
  auto entries = Audit();
  ASSERT_EQ(entries.size(), before + 1);
  EXPECT_EQ(entries.back().action, "secret.read");
  EXPECT_EQ(entries.back().details_json, R"({"version":2})");
  // A deleted version: its metadata, no value, nothing to audit. No such secret: kNotFound.
  auto deleted = read_later(admin_, "a", 1, &taken);
  ASSERT_TRUE(taken);
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(deleted->available);
  EXPECT_EQ(read_later(admin_, "nothing", 0, &taken).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Audit().size(), before + 1);
  // A refusal is Read's to audit; bad input is Read's to report.
  RequestContext none = Caller("key_none", {});
  EXPECT_EQ(read_later(none, "a", 0, &taken).status().code(), StatusCode::kInternal);
  EXPECT_FALSE(taken);
  EXPECT_FALSE(read_later(admin_, "a", -1, &taken).ok());
  EXPECT_FALSE(taken);
  EXPECT_FALSE(read_later(admin_, "../a", 0, &taken).ok());
  EXPECT_FALSE(taken);
  EXPECT_EQ(Audit().size(), before + 1);
  // Fail closed: no entry, no value.
  faulty_->FailAuditWrites(true);
  auto unaudited = read_later(admin_, "a", 0, &taken);
  faulty_->FailAuditWrites(false);
  ASSERT_TRUE(taken);
  EXPECT_EQ(unaudited.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Audit().size(), before + 1);
}

// A read refused for want of its audit entry is told to the operator, without flooding the log.
TEST_F(SecretsTest, ReadsRefusedForTheirAuditEntryAreLoggedAtMostEveryTenSeconds) {
  ASSERT_TRUE(Put("a", R"({"v":"logged-value-57"})").ok());
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  faulty_->FailAuditWrites(true);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  }
  env_.Advance(10'000);
  EXPECT_FALSE(secrets_->Read(admin_, "secret", "a", 0).ok());
  faulty_->FailAuditWrites(false);
  spdlog::set_default_logger(previous);
  std::vector<std::string> lines = sink->last_formatted();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("secret reads refused"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("0 more since"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("2 more since"), std::string::npos) << lines[1];
  for (const auto& line : lines) EXPECT_EQ(line.find("logged-value-57"), std::string::npos);
}

// Reads waiting for their audit entries hold decrypted values: past the limits (reads, bytes),
// a read is refused at once, 503 with its own reason, before anything is decrypted or audited.
TEST_F(SecretsTest, ReadsPastThePendingLimitsAreRefusedUntilTheWaitingOnesAreAnswered) {
  ASSERT_TRUE(Put("a", R"({"v":"pending-value-11"})").ok());
  ASSERT_TRUE(secrets_->MountExists("secret"));
  secrets_->SetPendingReadLimits({.reads = 2, .bytes = 1 << 20});
  std::vector<std::future<StatusOr<SecretValue>>> waiting;
  std::vector<std::shared_ptr<std::promise<StatusOr<SecretValue>>>> promises;
  auto read_later = [&] {
    auto p = std::make_shared<std::promise<StatusOr<SecretValue>>>();
    waiting.push_back(p->get_future());
    promises.push_back(p);
    return secrets_->ReadLater(admin_, "secret", "a", 0,
                               [p](StatusOr<SecretValue> v) { p->set_value(std::move(v)); });
  };
  size_t before = Audit().size();
  faulty_->HoldReadAudits();
  ASSERT_TRUE(read_later());
  ASSERT_TRUE(read_later());
  ASSERT_TRUE(read_later());  // answered at once: refused
  ASSERT_EQ(waiting[2].wait_for(std::chrono::seconds(0)), std::future_status::ready);
  StatusOr<SecretValue> refused = waiting[2].get();
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(refused.status().reason(), kReadsBackloggedReason);
  // Read (on a thread that may wait) counts among them too.
  auto slow = secrets_->Read(admin_, "secret", "a", 0);
  EXPECT_EQ(slow.status().reason(), kReadsBackloggedReason);
  EXPECT_EQ(waiting[0].wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  faulty_->ReleaseReadAudits();
  for (int i = 0; i < 2; ++i) {
    auto got = waiting[i].get();
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(got->data_json.Reveal(), R"({"v":"pending-value-11"})");
  }
  EXPECT_EQ(Audit().size(), before + 2);  // the refused reads left nothing to audit
  EXPECT_EQ(Value("a"), R"({"v":"pending-value-11"})");
}

TEST_F(SecretsTest, ThePendingByteLimitAdmitsALoneReadOfAnySize) {
  ASSERT_TRUE(Put("big", R"({"v":"a value longer than the limit"})").ok());
  ASSERT_TRUE(secrets_->MountExists("secret"));
  secrets_->SetPendingReadLimits({.reads = 100, .bytes = 8});
  faulty_->HoldReadAudits();
  std::promise<StatusOr<SecretValue>> first;
  std::promise<StatusOr<SecretValue>> second;
  ASSERT_TRUE(secrets_->ReadLater(admin_, "secret", "big", 0,
                                  [&](StatusOr<SecretValue> v) { first.set_value(std::move(v)); }));
  ASSERT_TRUE(secrets_->ReadLater(admin_, "secret", "big", 0, [&](StatusOr<SecretValue> v) {
    second.set_value(std::move(v));
  }));
  EXPECT_EQ(second.get_future().get().status().reason(), kReadsBackloggedReason);
  faulty_->ReleaseReadAudits();
  EXPECT_TRUE(first.get_future().get().ok());
}

// A read whose entry could not be committed gives back its place (and its value, wiped) before
// its caller hears of it: failed reads never keep others out.
TEST_F(SecretsTest, AFailedReadLetsGoOfItsValueBeforeItIsAnswered) {
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  ASSERT_TRUE(secrets_->MountExists("secret"));
  secrets_->SetPendingReadLimits({.reads = 1, .bytes = 1 << 20});
  faulty_->HoldReadAudits();
  std::promise<Status> next_read;
  Status failed = OkStatus();
  ASSERT_TRUE(secrets_->ReadLater(admin_, "secret", "a", 0, [&](StatusOr<SecretValue> v) {
    failed = v.status();
    // Its audit entry fails too (the store still does): but not for want of room.
    next_read.set_value(secrets_->Read(admin_, "secret", "a", 0).status());
  }));
  faulty_->FailAuditWrites(true);
  faulty_->ReleaseReadAudits(/*fail=*/true);
  Status next = next_read.get_future().get();
  faulty_->FailAuditWrites(false);
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.reason(), "application/store_unavailable");
  EXPECT_EQ(next.reason(), "application/store_unavailable");
  EXPECT_EQ(Value("a"), R"({"v":1})");
}

// Closing the service waits for the reads still waiting for their audit entries: the store
// answers them through it, so it must outlive them.
TEST_F(SecretsTest, ClosingWaitsForReadsTheStoreHasNotAnswered) {
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  ASSERT_TRUE(secrets_->MountExists("secret"));
  faulty_->HoldReadAudits();
  std::atomic<bool> answered{false};
  ASSERT_TRUE(secrets_->ReadLater(admin_, "secret", "a", 0, [&](StatusOr<SecretValue> v) {
    EXPECT_TRUE(v.ok());
    answered = true;
  }));
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    secrets_.reset();
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(closed) << "closed while a read still waited for the store";
  faulty_->ReleaseReadAudits();
  closer.join();
  EXPECT_TRUE(answered);
  EXPECT_TRUE(closed);
}

// A streak of reads refused for want of their audit entries raises one audit.sink_failing alert,
// shaped as a refused change's; an audited read ends the streak, and the next failure raises again.
TEST_F(SecretsTest, UnauditedReadsRaiseSinkFailingOncePerStreakAndMinute) {
  ASSERT_TRUE(Put("a", R"({"v":"alert-value-23"})").ok());
  ASSERT_TRUE(secrets_->MountExists("secret"));
  std::mutex mu;
  std::vector<audit::Alert> raised;
  secrets_->SetUnauditedReadAlert([&](audit::Alert a) {
    std::lock_guard lock(mu);
    raised.push_back(std::move(a));
  });
  auto read_later = [&] {
    std::promise<Status> got;
    EXPECT_TRUE(secrets_->ReadLater(admin_, "secret", "a", 0,
                                    [&](StatusOr<SecretValue> v) { got.set_value(v.status()); }));
    return got.get_future().get();
  };
  faulty_->FailAuditWrites(true);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(read_later().code(), StatusCode::kUnavailable);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(raised.size(), 1u);
    const audit::Alert& a = raised[0];
    EXPECT_EQ(a.kind, audit::kAlertAuditSinkFailing);
    EXPECT_EQ(a.severity, audit::AlertSeverity::kCritical);
    EXPECT_EQ(a.dedupe_key, "audit.sink_failing");
    EXPECT_EQ(a.client_ip, "198.51.100.4");
    EXPECT_EQ(a.evidence_json,
              R"({"action":"secret.read","error":"the store could not be written",)"
              R"("requestId":"req_1"})");
    EXPECT_EQ(a.evidence_json.find("alert-value-23"), std::string::npos);
  }
  // Audited again (on the commit thread): the streak ends; the next failure starts a new one.
  faulty_->FailAuditWrites(false);
  EXPECT_TRUE(read_later().ok());
  EXPECT_EQ(raised.size(), 1u);
  faulty_->FailAuditWrites(true);
  faulty_->HoldReadAudits();
  std::promise<Status> held;
  ASSERT_TRUE(secrets_->ReadLater(admin_, "secret", "a", 0,
                                  [&](StatusOr<SecretValue> v) { held.set_value(v.status()); }));
  faulty_->ReleaseReadAudits(/*fail=*/true);
  EXPECT_EQ(held.get_future().get().code(), StatusCode::kUnavailable);
  // While a streak lasts the alert is raised again every minute (the first may have been lost
  // with the store that fails), not at every read.
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  env_.Advance(61'000);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);
  std::lock_guard lock(mu);
  EXPECT_EQ(raised.size(), 3u);
}

TEST_F(SecretsTest, NoAuditNoReadAndNoWrite) {
  ASSERT_TRUE(Put("a", R"({"v":1})").ok());
  faulty_->FailAuditWrites(true);
  EXPECT_EQ(secrets_->Read(admin_, "secret", "a", 0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(Put("a", R"({"v":2})").status().code(), StatusCode::kUnavailable);
  faulty_->FailAuditWrites(false);
  EXPECT_EQ(Value("a"), R"({"v":1})");
}

TEST_F(SecretsTest, AMovedRowFailsAloneAndTheRestServe) {
  ASSERT_TRUE(Put("a", R"({"v":"a"})").ok());
  ASSERT_TRUE(Put("b", R"({"v":"b"})").ok());
  auto sealed = sqlite_->ReadSecretVersion("secret", "a", 1);
  store::SecretVersionWrite w;
  w.mount = "secret";
  w.path = "c";
  w.version = *sealed;
  w.version.version = 1;
  ASSERT_TRUE(sqlite_->WriteSecretVersion(w).ok());
  auto moved = secrets_->Read(admin_, "secret", "c", 0);
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().reason(), "crypto/tampered");
  EXPECT_EQ(moved.status().message().find("\"a\""), std::string::npos);
  EXPECT_EQ(Value("b"), R"({"v":"b"})");
}

TEST_F(SecretsTest, AWrongMasterKeyIsRefused) {
  ASSERT_TRUE(Put("a", "{}").ok());
  std::vector<uint8_t> other(32, 1);
  auto wrong = SecretService::Open(*sqlite_, env_, other);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().reason(), "crypto/wrong_master_key");
  auto same = SecretService::Open(*sqlite_, env_, master_);
  ASSERT_TRUE(same.ok());
  auto v = (*same)->Read(admin_, "secret", "a", 0);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->data_json.Reveal(), "{}");
}

TEST_F(SecretsTest, RotatingTheKeyringRewrapsEveryDataKeyAndReadsStayCorrect) {
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(Put("s" + std::to_string(i), R"({"i":1})").ok());
  RequestContext scoped = Caller("key_s", {"secret.rotate:secret/*"});
  EXPECT_EQ(secrets_->RotateKeyring(scoped).status().code(), StatusCode::kPermissionDenied);
  auto term = secrets_->RotateKeyring(admin_);
  ASSERT_TRUE(term.ok()) << term.status().message();
  EXPECT_EQ(*term, 2);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(Value("s" + std::to_string(i)), R"({"i":1})");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!sqlite_->VersionsWrappedBelow(2, 100)->empty() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(sqlite_->VersionsWrappedBelow(2, 100)->empty());
  for (int i = 0; i < 30; ++i) EXPECT_EQ(Value("s" + std::to_string(i)), R"({"i":1})");
  EXPECT_EQ(Put("new", "{}")->version, 1);
  EXPECT_EQ(sqlite_->ReadSecretVersion("secret", "new", 1)->kek_term, 2);
}

TEST_F(SecretsTest, Mounts) {
  EXPECT_TRUE(secrets_->MountExists("secret"));
  EXPECT_FALSE(secrets_->MountExists("team"));
  ASSERT_TRUE(secrets_->EnableMount(admin_, {.name = "team", .max_versions = 3}).ok());
  EXPECT_TRUE(secrets_->MountExists("team"));
  EXPECT_EQ(secrets_->EnableMount(admin_, {.name = "team"}).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(secrets_->EnableMount(admin_, {.name = "sys"}).code(), StatusCode::kInvalidArgument);
  RequestContext scoped = Caller("key_s", {"secret.*:secret/*"});
  EXPECT_EQ(secrets_->EnableMount(scoped, {.name = "other"}).code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(secrets_->Write(admin_, "team", "x", crypto::Secret("{}"), {}).ok());
  EXPECT_EQ(secrets_->ReadMountConfig(admin_, "team")->max_versions, 3);
}

}  // namespace
}  // namespace keyhold::service
