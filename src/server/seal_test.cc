#include "server/seal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fakes/fake_env.h"
#include "fakes/temp_dir.h"

namespace keyhold::server {
namespace {

namespace shamir = crypto::shamir;

struct Split {
  crypto::SecureBytes key{32};
  SealConfig config;
  std::vector<std::string> texts;
};

Split MakeSplit(int threshold, int shares) {
  Split s;
  crypto::RandomBytes(s.key.mutable_view());
  s.config = {.threshold = threshold, .shares = shares, .set_id = {7, 7, 7, 7}};
  s.config.key_check = shamir::KeyCheck(s.key.view());
  auto split = shamir::Split(s.key.view(), threshold, shares);
  EXPECT_TRUE(split.ok());
  for (const auto& share : *split) {
    s.texts.push_back(shamir::EncodeShare(s.config.set_id, threshold, share));
  }
  return s;
}

constexpr std::string_view kOperator = "198.51.100.1";

RequestContext Caller(std::string_view ip) {
  return {.request_id = "req_unseal", .client_ip = std::string(ip)};
}

class UnsealerTest : public ::testing::Test {
 protected:
  Unsealer Make(const Split& s) {
    return {s.config, env_,
            [this, &s](std::span<const uint8_t> key) {
              ++calls_;
              EXPECT_TRUE(crypto::ConstantTimeEqual(key, s.key.view()));
              return next_;
            },
            [this](const audit::AuditEntry& e) {
              if (!audit_ok_.ok()) return audit_ok_;
              audited_.push_back(e);
              return OkStatus();
            },
            [this] { ++seals_; }};
  }
  // "action outcome reason-or-progress" of each audited entry.
  std::vector<std::string> Audited() const {
    std::vector<std::string> out;
    for (const auto& e : audited_) {
      auto d = nlohmann::json::parse(e.details_json);
      std::string what = d.contains("reason")     ? d["reason"].get<std::string>()
                         : d.contains("progress") ? std::to_string(d["progress"].get<int>())
                                                  : "";
      out.push_back(e.action + " " + e.outcome + (what.empty() ? "" : " " + what));
    }
    return out;
  }
  testing::FakeEnv env_;
  int calls_ = 0;
  int seals_ = 0;  // on_seal calls
  Status next_ = OkStatus();
  Status audit_ok_ = OkStatus();
  std::vector<audit::AuditEntry> audited_;
};

TEST_F(UnsealerTest, ThresholdOfSharesUnseals) {
  Split s = MakeSplit(3, 5);
  Unsealer u = Make(s);
  EXPECT_TRUE(u.Get().sealed);
  EXPECT_EQ(u.Get().threshold, 3);
  EXPECT_EQ(u.Get().shares, 5);
  auto st = u.Submit(s.texts[4], Caller(kOperator));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->progress, 1);
  EXPECT_FALSE(st->nonce.empty());
  EXPECT_TRUE(st->sealed);
  st = u.Submit("  " + s.texts[0] + "\n", Caller(kOperator));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->progress, 2);
  EXPECT_EQ(calls_, 0);
  st = u.Submit(s.texts[2], Caller(kOperator));
  ASSERT_TRUE(st.ok()) << st.status().message();
  EXPECT_FALSE(st->sealed);
  EXPECT_EQ(st->progress, 0);
  EXPECT_EQ(calls_, 1);
  EXPECT_FALSE(u.IsSealed());
  // Once unsealed, more shares change nothing.
  st = u.Submit(s.texts[1], Caller(kOperator));
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->sealed);
  EXPECT_EQ(calls_, 1);
}

TEST_F(UnsealerTest, RepeatedShareIsRefusedAndNotCounted) {
  Split s = MakeSplit(2, 3);
  Unsealer u = Make(s);
  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  auto st = u.Submit(s.texts[1], Caller(kOperator));
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(u.Get().progress, 1);
  EXPECT_TRUE(u.Get().sealed);
}

TEST_F(UnsealerTest, ForeignAndCorruptSharesAreRefused) {
  Split s = MakeSplit(2, 3);
  Split other = MakeSplit(2, 3);
  other.config.set_id = {1, 2, 3, 4};
  auto foreign = shamir::ParseShare(other.texts[0]);
  ASSERT_TRUE(foreign.ok());
  std::string foreign_text = shamir::EncodeShare({1, 2, 3, 4}, 2, foreign->share);
  Unsealer u = Make(s);
  auto st = u.Submit(foreign_text, Caller(kOperator));
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.status().message().find("another split"), std::string::npos);
  std::string corrupt = s.texts[0];
  corrupt[5] = corrupt[5] == 'x' ? 'y' : 'x';
  EXPECT_FALSE(u.Submit(corrupt, Caller(kOperator)).ok());
  EXPECT_EQ(u.Get().progress, 0);
  EXPECT_EQ(calls_, 0);
}

TEST_F(UnsealerTest, SharesThatDoNotGiveTheKeyAreRefusedAndForgotten) {
  Split s = MakeSplit(2, 3);
  // Well-formed shares of this split's id and threshold, but of another key: they combine, and
  // only the key check tells the result is not the master key.
  Split forged = MakeSplit(2, 3);
  std::vector<std::string> forged_texts;
  for (const std::string& t : forged.texts) {
    auto p = shamir::ParseShare(t);
    ASSERT_TRUE(p.ok());
    forged_texts.push_back(shamir::EncodeShare(s.config.set_id, 2, p->share));
  }
  Unsealer u = Make(s);
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  auto st = u.Submit(forged_texts[1], Caller(kOperator));
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.status().message().find("do not reconstruct"), std::string::npos);
  EXPECT_EQ(calls_, 0);
  EXPECT_TRUE(u.Get().sealed);
  EXPECT_EQ(u.Get().progress, 0);
  // The right shares still unseal afterwards.
  ASSERT_TRUE(u.Submit(s.texts[2], Caller(kOperator)).ok());
  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  EXPECT_FALSE(u.Get().sealed);
}

TEST_F(UnsealerTest, FailureToStartKeepsItSealed) {
  Split s = MakeSplit(1, 1);
  Unsealer u = Make(s);
  next_ = FailedPrecondition("the keyring does not open");
  auto st = u.Submit(s.texts[0], Caller(kOperator));
  EXPECT_EQ(st.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(u.Get().sealed);
  next_ = OkStatus();
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_FALSE(u.Get().sealed);
  EXPECT_EQ(calls_, 2);
}

TEST_F(UnsealerTest, EveryAttemptIsAuditedWithoutTheShare) {
  Split s = MakeSplit(2, 3);
  Unsealer u = Make(s);
  EXPECT_FALSE(u.Submit("garbage", Caller(kOperator)).ok());
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_FALSE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  ASSERT_TRUE(u.Reset(Caller(kOperator)).ok());
  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  ASSERT_TRUE(u.Submit(s.texts[2], Caller(kOperator)).ok());
  EXPECT_FALSE(u.Get().sealed);
  EXPECT_EQ(Audited(), (std::vector<std::string>{
                           "seal.unseal_share failed malformed", "seal.unseal_share success 1",
                           "seal.unseal_share failed repeated", "seal.unseal_reset success",
                           "seal.unseal_share success 1", "seal.unseal_share success 2",
                           "seal.unseal success"}));
  for (const auto& e : audited_) {
    EXPECT_EQ(e.client_ip, kOperator);
    EXPECT_EQ(e.request_id, "req_unseal");
    EXPECT_EQ(e.target, "seal");
    for (const std::string& text : s.texts) {
      EXPECT_EQ(e.details_json.find(text), std::string::npos);
      // Nor the share's value part (what follows its header).
      EXPECT_EQ(e.details_json.find(text.substr(text.size() - 16)), std::string::npos);
    }
  }
  EXPECT_EQ(nlohmann::json::parse(audited_[1].details_json)["shareIndex"], 1);
  EXPECT_EQ(nlohmann::json::parse(audited_[3].details_json)["forgotten"], 1);
}

TEST_F(UnsealerTest, ASetThatDoesNotGiveTheKeyIsAuditedAsRefused) {
  Split s = MakeSplit(2, 2);
  Split other = MakeSplit(2, 2);  // same set id, another key
  Unsealer u = Make(s);
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_FALSE(u.Submit(other.texts[1], Caller(kOperator)).ok());
  EXPECT_EQ(Audited().back(), "seal.unseal_share failed wrong_key");
}

TEST_F(UnsealerTest, AShareIsNotTakenWhenItCannotBeAudited) {
  Split s = MakeSplit(2, 2);
  Unsealer u = Make(s);
  audit_ok_ = Unavailable("the store is read-only");
  auto refused = u.Submit(s.texts[0], Caller(kOperator));
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(u.Get().progress, 0);
  audit_ok_ = OkStatus();
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_EQ(u.Get().progress, 1);
}

TEST_F(UnsealerTest, ResetAndTimeoutForgetProgress) {
  Split s = MakeSplit(3, 3);
  Unsealer u = Make(s);
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_EQ(u.Reset(Caller(kOperator))->progress, 0);
  EXPECT_TRUE(u.Get().nonce.empty());
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  env_.Advance(Unsealer::kProgressTimeoutMs + 1);
  EXPECT_EQ(u.Get().progress, 0);
  ASSERT_TRUE(
      u.Submit(s.texts[0], Caller(kOperator)).ok());  // not a repeat: the earlier one was forgotten
  EXPECT_EQ(u.Get().progress, 1);
}

TEST_F(UnsealerTest, ResetOnceUnsealedChangesAndAuditsNothing) {
  Split s = MakeSplit(1, 1);
  Unsealer u = Make(s);
  ASSERT_FALSE(u.Submit(s.texts[0], Caller(kOperator))->sealed);
  size_t audited = audited_.size();
  for (int i = 0; i < Unsealer::kMaxSharesPerMinute + 5; ++i) {
    auto st = u.Reset(Caller("203.0.113.66"));
    ASSERT_TRUE(st.ok()) << st.status().message();
    EXPECT_FALSE(st->sealed);
    EXPECT_EQ(st->progress, 0);
  }
  EXPECT_EQ(audited_.size(), audited);
  EXPECT_FALSE(u.IsSealed());
}

TEST_F(UnsealerTest, OneAddressFloodingIsRefusedWithoutLockingOthersOut) {
  Split s = MakeSplit(3, 5);
  Unsealer u = Make(s);
  for (int i = 0; i < Unsealer::kMaxSharesPerMinute; ++i) {
    EXPECT_EQ(u.Submit("garbage", Caller("203.0.113.66")).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(u.Submit(s.texts[0], Caller("203.0.113.66")).status().code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(u.Reset(Caller("203.0.113.66")).status().code(), StatusCode::kResourceExhausted);
  // The operators' address is not held back by another's flood.
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  EXPECT_EQ(u.Get().progress, 2);
  // A flooding address cannot wipe the progress either while it is held back.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(u.Reset(Caller("203.0.113.66")).ok());
  EXPECT_EQ(u.Get().progress, 2);
  auto done = u.Submit(s.texts[2], Caller(kOperator));
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->sealed);
}

TEST_F(UnsealerTest, TooManyAttemptsAreRefusedForAMinute) {
  Split s = MakeSplit(2, 2);
  Unsealer u = Make(s);
  for (int i = 0; i < Unsealer::kMaxSharesPerMinute; ++i) {
    EXPECT_EQ(u.Submit("garbage", Caller(kOperator)).status().code(), StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(u.Submit(s.texts[0], Caller(kOperator)).status().code(),
            StatusCode::kResourceExhausted);
  env_.Advance(60'000);
  EXPECT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
}

RequestContext Sealer() {
  RequestContext ctx = Caller(kOperator);
  ctx.actor.key_id = "key_sealer";
  ctx.actor.permissions = {"secret.seal"};
  return ctx;
}

void UnsealWith(Unsealer& u, const Split& s, int threshold) {
  for (int i = 0; i < threshold; ++i) ASSERT_TRUE(u.Submit(s.texts[i], Caller(kOperator)).ok());
}

TEST_F(UnsealerTest, SealingARunningServerStopsItsServicesAndSharesUnsealItAgain) {
  Split s = MakeSplit(2, 3);
  Unsealer u = Make(s);
  UnsealWith(u, s, 2);
  ASSERT_FALSE(u.IsSealed());
  ASSERT_EQ(calls_, 1);

  ASSERT_TRUE(u.Seal(Sealer()).ok());
  EXPECT_TRUE(u.IsSealed());
  EXPECT_TRUE(u.Get().sealed);
  EXPECT_EQ(u.Get().progress, 0);
  EXPECT_EQ(seals_, 1);
  ASSERT_FALSE(audited_.empty());
  const audit::AuditEntry& sealed = audited_.back();
  EXPECT_EQ(sealed.action, "seal.seal");
  EXPECT_EQ(sealed.outcome, "success");
  EXPECT_EQ(sealed.actor, "key_sealer");
  EXPECT_EQ(sealed.target, "seal");

  // Other shares than the first time: any threshold of them unseals, as at start.
  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  EXPECT_TRUE(u.IsSealed());
  ASSERT_TRUE(u.Submit(s.texts[2], Caller(kOperator)).ok());
  EXPECT_FALSE(u.IsSealed());
  EXPECT_EQ(calls_, 2);
}

TEST_F(UnsealerTest, SealingASealedServerChangesAndAuditsNothing) {
  Split s = MakeSplit(2, 3);
  Unsealer u = Make(s);
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  size_t audited = audited_.size();
  ASSERT_TRUE(u.Seal(Sealer()).ok());  // sealed from the start
  EXPECT_EQ(seals_, 0);
  EXPECT_EQ(u.Get().progress, 1);  // an unseal under way is not disturbed
  EXPECT_EQ(audited_.size(), audited);

  ASSERT_TRUE(u.Submit(s.texts[1], Caller(kOperator)).ok());
  ASSERT_TRUE(u.Seal(Sealer()).ok());
  ASSERT_TRUE(u.Seal(Sealer()).ok());  // twice: the second changes nothing
  EXPECT_EQ(seals_, 1);
  EXPECT_EQ(std::count_if(audited_.begin(), audited_.end(),
                          [](const audit::AuditEntry& e) { return e.action == "seal.seal"; }),
            1);
}

TEST_F(UnsealerTest, SealsEvenWhenTheSealCannotBeAudited) {
  Split s = MakeSplit(1, 1);
  Unsealer u = Make(s);
  UnsealWith(u, s, 1);
  audit_ok_ = Unavailable("disk full");
  ASSERT_TRUE(u.Seal(Sealer()).ok());
  EXPECT_TRUE(u.IsSealed());
  EXPECT_EQ(seals_, 1);
}

TEST_F(UnsealerTest, WhileASealIsUnderWayStatusAnswersAtOnceAndSharesAreRefused) {
  Split s = MakeSplit(1, 1);
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Unsealer u(
      s.config, env_, [](std::span<const uint8_t>) { return OkStatus(); }, {},
      [&] {
        entered.set_value();
        released.wait();  // services slow to stop, as with a webhook receiver that hangs
      });
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  ASSERT_FALSE(u.IsSealed());
  std::thread sealing([&] { EXPECT_TRUE(u.Seal(Sealer()).ok()); });
  entered.get_future().wait();

  auto status = std::async(std::launch::async, [&] { return u.Get(); });
  const bool answered = status.wait_for(std::chrono::seconds(2)) == std::future_status::ready;
  EXPECT_TRUE(answered) << "seal-status waited for the seal";
  auto submitted =
      std::async(std::launch::async, [&] { return u.Submit(s.texts[0], Caller(kOperator)); });
  auto reset = std::async(std::launch::async, [&] { return u.Reset(Caller(kOperator)); });
  if (answered) {
    EXPECT_TRUE(status.get().sealed);
    EXPECT_EQ(submitted.get().status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(reset.get().status().reason(), "server/sealing");
  }
  release.set_value();
  sealing.join();
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());  // once sealed, shares unseal it
  EXPECT_FALSE(u.IsSealed());
}

TEST_F(UnsealerTest, AnUnsealerWithoutOnSealRefusesToSeal) {
  Split s = MakeSplit(1, 1);
  Unsealer u(s.config, env_, [](std::span<const uint8_t>) { return OkStatus(); });
  ASSERT_TRUE(u.Submit(s.texts[0], Caller(kOperator)).ok());
  EXPECT_EQ(u.Seal(Sealer()).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(u.IsSealed());
}

TEST(SealConfig, SavesAndLoads) {
  testing::TempDir dir;
  auto none = LoadSealConfig(dir.path());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  Split s = MakeSplit(2, 4);
  ASSERT_TRUE(SaveSealConfig(dir.path(), s.config).ok());
  struct stat st {};
  ASSERT_EQ(stat(SealConfigPath(dir.path()).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto loaded = LoadSealConfig(dir.path());
  ASSERT_TRUE(loaded.ok());
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->threshold, 2);
  EXPECT_EQ((*loaded)->shares, 4);
  EXPECT_EQ((*loaded)->set_id, s.config.set_id);
  EXPECT_TRUE(KeyMatches(**loaded, s.key.view()));
  crypto::SecureBytes other(32);
  EXPECT_FALSE(KeyMatches(**loaded, other.view()));
}

TEST(SealConfig, RefusesAFileThatIsNotOne) {
  testing::TempDir dir;
  for (const char* text : {"{}", "not json", R"({"type":"shamir","threshold":3,"shares":2,
      "setId":"07070707","keyCheck":"00"})"}) {
    std::ofstream(SealConfigPath(dir.path())) << text;
    EXPECT_EQ(LoadSealConfig(dir.path()).status().code(), StatusCode::kFailedPrecondition);
  }
}

}  // namespace
}  // namespace keyhold::server
