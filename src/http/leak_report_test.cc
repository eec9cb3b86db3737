// POST /leak-reports against a real key service: signatures decide, the answer tells nothing.
#include "http/leak_report.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "crypto/crypto.h"
#include "fakes/ecdsa_signer.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::http {
namespace {

using nlohmann::json;

std::string KeysJson(const std::vector<std::pair<std::string, std::string>>& keys) {
  json arr = json::array();
  for (const auto& [id, pem] : keys) {
    arr.push_back({{"key_identifier", id}, {"key", pem}, {"is_current", true}});
  }
  return json{{"public_keys", arr}}.dump();
}

class LeakReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/l.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto svc = service::KeyService::Open(*store_, env_);
    ASSERT_TRUE(svc.ok());
    svc_ = std::move(svc).value();
    auto root = svc_->Bootstrap("root");
    ASSERT_TRUE(root.ok());
    root_ = {.request_id = "req_t",
             .client_ip = "127.0.0.1",
             .actor = *svc_->Authenticate(root->key.Reveal())};
    revoking_ = svc_->CreateApi(root_, {.name = "helpdesk"})->id;
    disabling_ = svc_->CreateApi(root_, {.name = "mail", .on_leak = service::OnLeak::kDisable})->id;
    keys_path_ = dir_.path() + "/keys.json";
    WriteKeys(KeysJson({{"k1", signer_.PublicPem()}}));
    auto file = LeakReportKeyFile::Open(keys_path_);
    ASSERT_TRUE(file.ok()) << file.status().message();
    file_ = std::move(file).value();
    surface_ = std::make_unique<LeakReportSurface>(*svc_, *file_);
  }

  void WriteKeys(const std::string& text) { std::ofstream(keys_path_, std::ios::trunc) << text; }

  std::string NewKey(const std::string& api) {
    auto k = svc_->CreateKey(root_, {.api_id = api});
    EXPECT_TRUE(k.ok());
    return std::string(k->key.Reveal());
  }

  service::VerifyCode Verify(const std::string& key) {
    return svc_->Verify(root_, {.key = key})->code;
  }

  HttpResponse Post(const std::string& body, const std::string& id = "k1",
                    const testing::EcdsaSigner* by = nullptr, std::string method = "POST") {
    std::vector<uint8_t> sig = (by ? by : &signer_)->Sign(body);
    HttpRequest req{.method = std::move(method),
                    .target = std::string(kLeakReportPath),
                    .headers = {{"github-public-key-identifier", id},
                                {"github-public-key-signature", crypto::Base64Encode(sig)}},
                    .body = body};
    RequestContext ctx{.request_id = "req_1", .client_ip = "140.82.115.1"};
    ctx.may_block = false;
    HttpResponse r = surface_->Handle(ctx, req);
    if (r.run_on_worker) {
      ctx.may_block = true;
      r = surface_->Handle(ctx, req);
    }
    return r;
  }

  static std::string Report(const std::vector<std::string>& tokens) {
    json arr = json::array();
    for (const std::string& t : tokens) {
      arr.push_back({{"token", t},
                     {"type", "keyhold_api_key"},
                     {"url", "https://github.com/acme/app/blob/abc/config.yml"},
                     {"source", "content"}});
    }
    return arr.dump();
  }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  testing::EcdsaSigner signer_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<service::KeyService> svc_;
  RequestContext root_;
  std::string revoking_, disabling_, keys_path_;
  std::unique_ptr<LeakReportKeyFile> file_;
  std::unique_ptr<LeakReportSurface> surface_;
};

TEST_F(LeakReportTest, SignedReportRevokesOrDisablesAsEachApiSays) {
  std::string a = NewKey(revoking_), b = NewKey(disabling_), bystander = NewKey(revoking_);
  const std::string a_id(svc_->Whoami(root_, a)->id());
  HttpResponse r = Post(Report({a, b, "hd_notakey", "ghp_someoneelses"}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"received", 4}}));
  EXPECT_EQ(Verify(a), service::VerifyCode::kNotFound);  // revoked
  EXPECT_EQ(Verify(b), service::VerifyCode::kDisabled);
  EXPECT_EQ(Verify(bystander), service::VerifyCode::kValid);
  // Where it was found is kept with the key; the key itself is not.
  auto view = svc_->GetKey(root_, a_id);
  ASSERT_TRUE(view.ok()) << view.status().message();
  EXPECT_TRUE(view->revoked_at().has_value());
  EXPECT_EQ(view->revocation_reason(),
            "leaked: reported by a code host (content): "
            "https://github.com/acme/app/blob/abc/config.yml");
  // Sent again: the same answer, nothing more happens.
  r = Post(Report({a, b, "hd_notakey", "ghp_someoneelses"}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body), (json{{"received", 4}}));
}

TEST_F(LeakReportTest, AReportSentAgainIsAnsweredAlikeButNotActedOnAgain) {
  std::string a = NewKey(revoking_);
  const std::string body = Report({a, "hd_notakey"});
  auto count = [&](std::string_view action) {
    auto all = store_->ReadAudit(0, 1000);
    return std::count_if(all->begin(), all->end(),
                         [&](const audit::AuditEntry& e) { return e.action == action; });
  };
  ASSERT_EQ(Post(body).status, 200);
  const auto acted = count("key.leak_reported");
  EXPECT_GE(acted, 1);
  // The same body, signed afresh (ECDSA signatures differ each time): no second action.
  HttpResponse again = Post(body);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(json::parse(again.body), (json{{"received", 2}}));
  EXPECT_EQ(count("key.leak_reported"), acted);
  // Another report is acted on.
  std::string b = NewKey(revoking_);
  ASSERT_EQ(Post(Report({b})).status, 200);
  EXPECT_EQ(Verify(b), service::VerifyCode::kNotFound);
  EXPECT_GT(count("key.leak_reported"), acted);
}

TEST(RecentReports, RemembersEachBodyForItsTimeAndNoMoreThanItsCapacity) {
  using Clock = RecentReports::Clock;
  using enum RecentReports::Claimed;
  const Clock::time_point t0{};
  RecentReports recent(3, std::chrono::hours(24));
  EXPECT_EQ(recent.Claim("a", t0), kNew);
  // Still being acted on: not yet answered as done, as the first delivery may fail.
  EXPECT_EQ(recent.Claim("a", t0 + std::chrono::minutes(1)), kInFlight);
  recent.Finish("a");
  EXPECT_EQ(recent.Claim("a", t0 + std::chrono::hours(1)), kDone);
  EXPECT_EQ(recent.Claim("a", t0 + std::chrono::hours(24)), kNew);  // expired, claimed anew
  // A released body (its report failed part-way) is acted on again when retried.
  EXPECT_EQ(recent.Claim("b", t0 + std::chrono::hours(25)), kNew);
  recent.Release("b");
  EXPECT_EQ(recent.Claim("b", t0 + std::chrono::hours(25)), kNew);
  // Past the capacity the oldest is forgotten first.
  EXPECT_EQ(recent.Claim("c", t0 + std::chrono::hours(25)), kNew);
  EXPECT_EQ(recent.Claim("d", t0 + std::chrono::hours(25)), kNew);
  recent.Finish("d");
  EXPECT_EQ(recent.size(), 3U);
  EXPECT_EQ(recent.Claim("a", t0 + std::chrono::hours(26)), kNew);
  EXPECT_EQ(recent.Claim("d", t0 + std::chrono::hours(26)), kDone);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(recent.Claim("x" + std::to_string(i), t0 + std::chrono::hours(27)), kNew);
    recent.Release("x" + std::to_string(i));
  }
  EXPECT_LE(recent.size(), 3U);
}

// A retry that arrives while the first delivery is still being acted on must not be answered
// 2xx: if the first then fails, the sender would stop retrying with the key still live.
TEST(LeakReportInFlight, ARetryWhileTheFirstIsActedOnIsAskedToRetryUntilItSucceeds) {
  testing::TempDir dir;
  testing::FakeEnv env;
  testing::EcdsaSigner signer;
  auto sqlite = store::SqliteStore::Open(dir.path() + "/l.db");
  ASSERT_TRUE(sqlite.ok());
  testing::FaultyStore store(**sqlite);
  auto svc = service::KeyService::Open(store, env);
  ASSERT_TRUE(svc.ok());
  auto root = (*svc)->Bootstrap("root");
  ASSERT_TRUE(root.ok());
  RequestContext root_ctx{.request_id = "req_t",
                          .client_ip = "127.0.0.1",
                          .actor = *(*svc)->Authenticate(root->key.Reveal())};
  const std::string api = (*svc)->CreateApi(root_ctx, {.name = "helpdesk"})->id;
  const std::string key((*svc)->CreateKey(root_ctx, {.api_id = api})->key.Reveal());
  std::ofstream(dir.path() + "/keys.json") << KeysJson({{"k1", signer.PublicPem()}});
  auto file = LeakReportKeyFile::Open(dir.path() + "/keys.json");
  ASSERT_TRUE(file.ok()) << file.status().message();
  LeakReportSurface surface(**svc, **file);
  json arr = json::array({{{"token", key}, {"type", "keyhold_api_key"}, {"url", "https://x"}}});
  const std::string body = arr.dump();
  auto post = [&] {
    HttpRequest req{
        .method = "POST",
        .target = std::string(kLeakReportPath),
        .headers = {{"github-public-key-identifier", "k1"},
                    {"github-public-key-signature", crypto::Base64Encode(signer.Sign(body))}},
        .body = body};
    RequestContext ctx{.request_id = "req_1", .client_ip = "140.82.115.1"};
    ctx.may_block = true;
    return surface.Handle(ctx, req);
  };
  // The first delivery's write waits until let go, then fails.
  std::promise<void> entered, go;
  std::shared_future<void> go_f = go.get_future().share();
  std::atomic<bool> first{true};
  store.BeforeApply([&] {
    if (first.exchange(false)) {
      entered.set_value();
      go_f.wait();
    }
  });
  std::future<HttpResponse> first_delivery = std::async(std::launch::async, post);
  entered.get_future().wait();
  HttpResponse retry = post();
  EXPECT_EQ(retry.status, 503) << retry.body;
  EXPECT_TRUE(
      std::ranges::any_of(retry.headers, [](const auto& h) { return h.first == "Retry-After"; }));
  store.FailWrites(true);
  go.set_value();
  EXPECT_EQ(first_delivery.get().status, 503);
  store.FailWrites(false);
  store.BeforeApply(nullptr);
  EXPECT_EQ((*svc)->Verify(root_ctx, {.key = key})->code, service::VerifyCode::kValid);
  // The sender's next retry is acted on; one after that is answered alike.
  HttpResponse again = post();
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ((*svc)->Verify(root_ctx, {.key = key})->code, service::VerifyCode::kNotFound);
  EXPECT_EQ(post().status, 200);
}

TEST_F(LeakReportTest, ATokenThatIsPartOfTheRecordedWordsIsAnsweredAlike) {
  // "code" and "host" are in "reported by a code host": no key, and no reason to refuse.
  HttpResponse r = Post(Report({"code", "host", "a"}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body), (json{{"received", 3}}));
}

TEST_F(LeakReportTest, AKeysFileThatIsNoRegularFileIsRefusedWithoutWaiting) {
  std::string fifo = dir_.path() + "/fifo.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto opened = LeakReportKeyFile::Open(fifo);  // would block for ever on a plain open
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.status().message().find("not a regular file"), std::string::npos);
  // Swapped in while serving: the keys read before stay, and requests do not wait.
  std::filesystem::remove(keys_path_);
  ASSERT_EQ(mkfifo(keys_path_.c_str(), 0600), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Post(Report({NewKey(revoking_)})).status, 200);
}

TEST_F(LeakReportTest, UnsignedOrWronglySignedReportsChangeNothing) {
  std::string a = NewKey(revoking_);
  const std::string body = Report({a});
  testing::EcdsaSigner stranger;
  EXPECT_EQ(Post(body, "k1", &stranger).status, 401);  // another key's signature
  EXPECT_EQ(Post(body, "k2").status, 401);             // an identifier not configured
  HttpResponse unknown = Post(body, "k2"), bad = Post(body, "k1", &stranger);
  EXPECT_EQ(json::parse(unknown.body)["error"]["reason"], json::parse(bad.body)["error"]["reason"]);
  // The signature of one body does not carry over to another.
  std::vector<uint8_t> sig = signer_.Sign(Report({NewKey(revoking_)}));
  HttpRequest req{.method = "POST",
                  .target = std::string(kLeakReportPath),
                  .headers = {{"github-public-key-identifier", "k1"},
                              {"github-public-key-signature", crypto::Base64Encode(sig)}},
                  .body = body};
  RequestContext ctx{.request_id = "req_2", .client_ip = "198.51.100.1"};
  EXPECT_EQ(surface_->Handle(ctx, req).status, 401);
  req.headers = {};
  EXPECT_EQ(surface_->Handle(ctx, req).status, 401);
  req.headers = {{"github-public-key-identifier", "k1"},
                 {"github-public-key-signature", "not base64!"}};
  EXPECT_EQ(surface_->Handle(ctx, req).status, 401);
  EXPECT_EQ(Verify(a), service::VerifyCode::kValid);
}

TEST_F(LeakReportTest, MalformedReportsAreRefusedWhole) {
  std::string a = NewKey(revoking_);
  for (const std::string& body :
       {std::string("{}"), std::string("not json"), std::string(R"([{"token":")") + a + "\"},1]",
        std::string(R"([{"token":")") + a + R"("},{"type":"x"}])",
        std::string(R"([{"token":")") + a + R"("},{"token":7}])",
        std::string(R"([{"token":")") + a + R"("},{"token":""}])",
        std::string(R"([{"token":")") + a + R"(","url":5}])",
        std::string(R"([{"token":")") + a + R"(","token":"x"}])", std::string(200, '[')}) {
    HttpResponse r = Post(body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 40);
    EXPECT_EQ(r.body.find(a), std::string::npos) << "an error quoted the token";
  }
  std::vector<std::string> many(kMaxLeakReportTokens + 1, "hd_x");
  many[0] = a;
  EXPECT_EQ(Post(Report(many)).status, 413);
  EXPECT_EQ(Verify(a), service::VerifyCode::kValid);
  EXPECT_EQ(Post(Report({a}), "k1", nullptr, "GET").status, 405);
}

TEST_F(LeakReportTest, KeysFileIsReadAgainWhenItChanges) {
  testing::EcdsaSigner next;
  std::string a = NewKey(revoking_);
  EXPECT_EQ(Post(Report({a}), "k2", &next).status, 401);
  WriteKeys(KeysJson({{"k1", signer_.PublicPem()}, {"k2", next.PublicPem()}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Post(Report({a}), "k2", &next).status, 200);
  EXPECT_EQ(Verify(a), service::VerifyCode::kNotFound);
  // A broken file keeps the keys read before.
  WriteKeys("{broken");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(Post(Report({NewKey(revoking_)}), "k2", &next).status, 200);
}

TEST(LeakReportKeys, RefusesWhatIsNotAKeyList) {
  testing::EcdsaSigner ok, p384("EC", "P-384");
  EXPECT_TRUE(LeakReportKeys::Parse(KeysJson({{"a", ok.PublicPem()}})).ok());
  EXPECT_EQ(LeakReportKeys::Parse(KeysJson({})).value().size(), 0u);
  for (const std::string& bad :
       {std::string("[]"), std::string("nope"), std::string(R"({"public_keys":{}})"),
        std::string(R"({"public_keys":[{"key":"x"}]})"), KeysJson({{"a", p384.PublicPem()}}),
        KeysJson({{"", ok.PublicPem()}}), KeysJson({{"a", ok.PublicPem()}, {"a", ok.PublicPem()}}),
        KeysJson({{"a\nb", ok.PublicPem()}})}) {
    EXPECT_FALSE(LeakReportKeys::Parse(bad).ok()) << bad.substr(0, 60);
  }
}

TEST(LeakReportSource, NeverCarriesTheToken) {
  LeakReportItem item{.token = "hd_secret123",
                      .type = "keyhold_api_key",
                      .url = "https://github.com/acme/app/blob/abc/.env",
                      .source = "commit"};
  EXPECT_EQ(LeakReportSource(item),
            "reported by a code host (commit): https://github.com/acme/app/blob/abc/.env");
  item.url = "https://gist.github.com/x?k=hd_secret123";
  EXPECT_EQ(LeakReportSource(item), "reported by a code host (commit)");
  item.url = std::string(2000, 'u');
  item.source = "line\nbreak";
  EXPECT_EQ(LeakReportSource(item), "reported by a code host");
  item.token = "y";  // in "by": nothing is recorded rather than the token
  EXPECT_EQ(LeakReportSource(item), "");
}

}  // namespace
}  // namespace keyhold::http
