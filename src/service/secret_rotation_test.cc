// SecretRotator: staged versions, idempotent steps, failures that leave the current value alone,
// retries, and reminders for due and overdue secrets, on a fake clock.
#include "service/secret_rotation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "core/secret_path.h"
#include "fakes/fake_env.h"
#include "fakes/faulty_store.h"
#include "fakes/temp_dir.h"
#include "store/sqlite/sqlite_store.h"

namespace keyhold::service {
namespace {

constexpr int64_t kDay = 24LL * 3600 * 1000;

class CountingSink final : public audit::AlertSink {
 public:
  StatusOr<audit::RaiseOutcome> Raise(const audit::Alert& alert) override {
    raised.push_back(alert);
    return audit::RaiseOutcome{"alert_1", false, 0};
  }
  std::vector<audit::Alert> raised;
};

// A driver whose steps wait until opened, as a slow command does, then fail.
class GateDriver final : public RotationDriver {
 public:
  Status Run(const Call&) override {
    std::unique_lock lock(mu);
    ++entered;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
    return Unavailable("the command exited with status 1");
  }
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0;    // guarded by mu
  bool open = false;  // guarded by mu
};

// A provider that does what a rotation command does: on create it writes a new value through
// keyhold with the token it was given; set and test succeed unless told to fail.
class FakeProvider final : public RotationDriver {
 public:
  FakeProvider(SecretService& secrets, SecretRotator*& rotator)
      : secrets_(secrets), rotator_(rotator) {}
  Status Run(const Call& call) override {
    ++runs[std::string(RotationStepName(call.step))];
    auto who = rotator_->AuthenticateToken(call.token);
    if (!who) return Unavailable("no valid token");
    RequestContext ctx{.request_id = "req_cmd"};
    ctx.actor = *who;
    if (call.step == RotationStep::kCreate && write_on_create) {
      auto w = secrets_.WritePending(
          ctx, call.mount, call.path,
          crypto::Secret(R"({"password":"new-)" + std::to_string(++generation) + R"("})"));
      if (!w.ok()) return w.status();
    }
    if (call.step == fail_at)
      return Status(StatusCode::kUnavailable, "rotation/step_failed",
                    "the command exited with status 3");
    return OkStatus();
  }
  std::optional<RotationStep> fail_at;
  bool write_on_create = true;
  int generation = 0;
  std::map<std::string, int> runs;

 private:
  SecretService& secrets_;
  SecretRotator*& rotator_;
};

class SecretRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::Open(dir_.path() + "/k.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(s).value();
    auto svc = SecretService::Open(*store_, env_, master_);
    ASSERT_TRUE(svc.ok());
    secrets_ = std::move(svc).value();
    provider_ = std::make_unique<FakeProvider>(*secrets_, rotator_ptr_);
    rotator_ = std::make_unique<SecretRotator>(*secrets_, *store_, env_, &sink_, provider_.get(),
                                               RotationOptions{});
    rotator_ptr_ = rotator_.get();
    admin_.actor = {.key_id = "key_admin", .permissions = {"*"}};
    ASSERT_TRUE(
        secrets_
            ->Write(admin_, "secret", "db/password", crypto::Secret(R"({"password":"old"})"), {})
            .ok());
  }

  std::string Current() {
    auto v = secrets_->Read(admin_, "secret", "db/password", 0);
    return v.ok() ? std::string(v->data_json.Reveal()) : "error: " + v.status().message();
  }
  std::string AtStage(SecretStage stage) {
    auto v = secrets_->ReadStage(admin_, "secret", "db/password", stage);
    return v.ok() ? std::string(v->data_json.Reveal()) : "error: " + v.status().reason();
  }
  StatusOr<RotationStatus> Rotate(std::optional<RotationStep> only = {}) {
    return rotator_->Rotate(admin_, "secret", "db/password", only);
  }
  std::vector<audit::AuditEntry> Audit() { return store_->ReadAudit(0, 1000).value(); }

  testing::TempDir dir_;
  testing::FakeEnv env_;
  std::vector<uint8_t> master_ = std::vector<uint8_t>(32, 7);
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<SecretService> secrets_;
  SecretRotator* rotator_ptr_ = nullptr;
  std::unique_ptr<FakeProvider> provider_;
  std::unique_ptr<SecretRotator> rotator_;
  CountingSink sink_;
  RequestContext admin_{.request_id = "req_admin"};
};

TEST_F(SecretRotationTest, AFullRotationMakesPendingCurrentAndCurrentPrevious) {
  auto s = Rotate();
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->failure, "");
  EXPECT_EQ(s->last_step, "finish");
  EXPECT_EQ(s->current_version, 2);
  EXPECT_EQ(s->previous_version, 1);
  EXPECT_FALSE(s->pending_version);
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
  EXPECT_EQ(AtStage(SecretStage::kPrevious), R"({"password":"old"})");
  EXPECT_EQ(AtStage(SecretStage::kPending), "error: data/secret_not_found");
  EXPECT_EQ(provider_->runs, (std::map<std::string, int>{{"create", 1}, {"set", 1}, {"test", 1}}));
  std::vector<std::string> actions;
  for (const auto& e : Audit()) {
    if (!e.action.starts_with("secret.rotation")) continue;
    std::string step;
    if (e.action == "secret.rotation_step") {
      step = " " + nlohmann::json::parse(e.details_json)["step"].get<std::string>();
    }
    actions.push_back(e.action + step);
    EXPECT_EQ(e.details_json.find("new-1"), std::string::npos);  // never a value
  }
  // That set has started is recorded before it runs.
  EXPECT_EQ(actions, (std::vector<std::string>{
                         "secret.rotation_create", "secret.rotation_step create",
                         "secret.rotation_step set-started", "secret.rotation_step set",
                         "secret.rotation_step test", "secret.rotation_finish"}));
}

TEST_F(SecretRotationTest, APlainReadReturnsCurrentUntilFinish) {
  ASSERT_TRUE(Rotate(RotationStep::kCreate).ok());
  EXPECT_EQ(Current(), R"({"password":"old"})");
  EXPECT_EQ(AtStage(SecretStage::kPending), R"({"password":"new-1"})");
  EXPECT_EQ(AtStage(SecretStage::kCurrent), R"({"password":"old"})");
  auto by_number = secrets_->Read(admin_, "secret", "db/password", 2);
  ASSERT_TRUE(by_number.ok());
  EXPECT_EQ(by_number->data_json.Reveal(), R"({"password":"new-1"})");
  auto meta = secrets_->ReadMetadata(admin_, "secret", "db/password");
  EXPECT_EQ(meta->current_version, 1);
  EXPECT_EQ(meta->pending_version, 2);
  EXPECT_EQ(meta->rotation_step, "create");
  // No plain write while the rotation is under way.
  EXPECT_EQ(secrets_->Write(admin_, "secret", "db/password", crypto::Secret(R"({"a":"b"})"), {})
                .status()
                .reason(),
            "data/rotation_pending");
  ASSERT_TRUE(Rotate(RotationStep::kSet).ok());
  ASSERT_TRUE(Rotate(RotationStep::kTest).ok());
  EXPECT_EQ(Current(), R"({"password":"old"})");
  ASSERT_TRUE(Rotate(RotationStep::kFinish).ok());
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, ADoneStepIsNotRunAgain) {
  ASSERT_TRUE(Rotate(RotationStep::kCreate).ok());
  ASSERT_TRUE(Rotate(RotationStep::kSet).ok());
  auto again = Rotate(RotationStep::kCreate);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->pending_version, 2);
  EXPECT_EQ(again->last_step, "set");
  ASSERT_TRUE(Rotate(RotationStep::kSet).ok());
  EXPECT_EQ(provider_->runs["create"], 1);
  EXPECT_EQ(provider_->runs["set"], 1);
  EXPECT_EQ(AtStage(SecretStage::kPending), R"({"password":"new-1"})");
  ASSERT_TRUE(Rotate().ok());  // the rest: test and finish
  EXPECT_EQ(provider_->runs["test"], 1);
  auto finished_again = Rotate(RotationStep::kFinish);
  ASSERT_TRUE(finished_again.ok());
  EXPECT_EQ(finished_again->current_version, 2);
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, StepsRunOnlyInOrder) {
  auto early = Rotate(RotationStep::kTest);
  EXPECT_EQ(early.status().reason(), "data/rotation_out_of_order");
  EXPECT_EQ(provider_->runs["test"], 0);
}

TEST_F(SecretRotationTest, AFailedStepLeavesCurrentAndIsRetried) {
  provider_->fail_at = RotationStep::kSet;
  auto failed = Rotate();
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  EXPECT_EQ(failed->failure, "set: the command exited with status 3");
  EXPECT_EQ(failed->last_step, "create");
  EXPECT_EQ(failed->current_version, 1);
  EXPECT_EQ(Current(), R"({"password":"old"})");
  auto meta = secrets_->ReadMetadata(admin_, "secret", "db/password");
  EXPECT_EQ(meta->rotation_failure, "set: the command exited with status 3");
  bool audited = false;
  for (const auto& e : Audit()) {
    audited = audited || (e.action == "secret.rotation_step" && e.outcome == "failed");
  }
  EXPECT_TRUE(audited);

  provider_->fail_at.reset();
  auto retried = Rotate();
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->failure, "");
  EXPECT_EQ(retried->current_version, 2);
  EXPECT_EQ(provider_->runs["create"], 1);  // the pending value from before is the one set
  EXPECT_EQ(provider_->runs["set"], 2);
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, AFailedCreateDropsWhatItWrote) {
  provider_->fail_at = RotationStep::kCreate;
  auto failed = Rotate();
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->failure, "create: the command exited with status 3");
  EXPECT_FALSE(failed->pending_version);
  EXPECT_EQ(AtStage(SecretStage::kPending), "error: data/secret_not_found");
  provider_->fail_at.reset();
  ASSERT_TRUE(Rotate().ok());
  EXPECT_EQ(Current(), R"({"password":"new-2"})");
}

TEST_F(SecretRotationTest, ACreateThatWritesNothingFails) {
  provider_->write_on_create = false;
  auto failed = Rotate();
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->failure, "create: no pending value was written");
  EXPECT_EQ(provider_->runs["set"], 0);
}

TEST_F(SecretRotationTest, CancelDropsThePendingVersionAndCurrentStays) {
  ASSERT_TRUE(Rotate(RotationStep::kCreate).ok());
  auto cancelled = rotator_->Cancel(admin_, "secret", "db/password", /*force=*/false);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_FALSE(cancelled->pending_version);
  EXPECT_EQ(Current(), R"({"password":"old"})");
  EXPECT_EQ(AtStage(SecretStage::kPending), "error: data/secret_not_found");
  ASSERT_TRUE(Rotate().ok());
  EXPECT_EQ(Current(), R"({"password":"new-2"})");
}

TEST_F(SecretRotationTest, CancelOnceSetHasRunIsRefusedUnlessForced) {
  for (RotationStep last : {RotationStep::kSet, RotationStep::kTest}) {
    for (RotationStep step : {RotationStep::kCreate, RotationStep::kSet, RotationStep::kTest}) {
      ASSERT_TRUE(Rotate(step).ok());
      if (step == last) break;
    }
    const std::string pending = AtStage(SecretStage::kPending);
    auto refused = rotator_->Cancel(admin_, "secret", "db/password", /*force=*/false);
    EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists);
    EXPECT_EQ(refused.status().reason(), "data/rotation_past_set");
    EXPECT_NE(refused.status().message().find(std::string(RotationStepName(last))),
              std::string::npos);
    EXPECT_EQ(AtStage(SecretStage::kPending), pending);  // still held
    auto forced = rotator_->Cancel(admin_, "secret", "db/password", /*force=*/true);
    ASSERT_TRUE(forced.ok()) << forced.status().message();
    EXPECT_FALSE(forced->pending_version);
    EXPECT_EQ(Current(), R"({"password":"old"})");
  }
  const auto audit = Audit();
  const auto last_cancel =
      std::find_if(audit.rbegin(), audit.rend(),
                   [](const audit::AuditEntry& e) { return e.action == "secret.rotation_cancel"; });
  ASSERT_NE(last_cancel, audit.rend());
  EXPECT_NE(last_cancel->details_json.find(R"("forced":true)"), std::string::npos);
}

TEST_F(SecretRotationTest, CancelAfterAFailedSetIsRefusedUnlessForced) {
  provider_->fail_at = RotationStep::kSet;
  auto failed = Rotate();
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(failed->failure, "set: the command exited with status 3");
  ASSERT_TRUE(failed->pending_version);
  EXPECT_EQ(rotator_->Cancel(admin_, "secret", "db/password", false).status().reason(),
            "data/rotation_past_set");
  EXPECT_TRUE(rotator_->Cancel(admin_, "secret", "db/password", true).ok());
  // Nothing pending: a plain cancel is a no-op, not refused.
  EXPECT_TRUE(rotator_->Cancel(admin_, "secret", "db/password", false).ok());
}

TEST_F(SecretRotationTest, ASetStillRunningOrCutShortBlocksAPlainCancel) {
  // While set runs, what is durable is all a server restarted after a kill would know: a new
  // rotator over the same store stands for it.
  class Crashing final : public RotationDriver {
   public:
    Crashing(RotationDriver& inner, SecretService& secrets, store::Store& store, Env& env,
             const RequestContext& admin)
        : inner_(inner), secrets_(secrets), store_(store), env_(env), admin_(admin) {}
    Status Run(const Call& call) override {
      if (call.step != RotationStep::kSet) return inner_.Run(call);
      SecretRotator restarted(secrets_, store_, env_, nullptr, nullptr, RotationOptions{});
      auto state = restarted.Get(admin_, call.mount, call.path);
      seen_step = state.ok() ? state->last_step : state.status().message();
      seen_failure = state.ok() ? state->failure : "";
      cancel = restarted.Cancel(admin_, call.mount, call.path, /*force=*/false).status();
      return Unavailable("the command was killed by signal 9");
    }
    std::string seen_step, seen_failure;
    Status cancel;

   private:
    RotationDriver& inner_;
    SecretService& secrets_;
    store::Store& store_;
    Env& env_;
    const RequestContext& admin_;
  } crashing(*provider_, *secrets_, *store_, env_, admin_);
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &crashing, RotationOptions{});
  rotator_ptr_ = &rotator;
  // The same rotator is busy with it: a cancel waits for the end.
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  auto failed = rotator.Rotate(admin_, "secret", "db/password", {});
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  EXPECT_EQ(crashing.seen_step, "create");
  EXPECT_NE(crashing.seen_failure.find("set: started, but keyhold stopped before it ended"),
            std::string::npos)
      << crashing.seen_failure;
  EXPECT_EQ(crashing.cancel.reason(), "data/rotation_past_set") << crashing.cancel.message();
  EXPECT_NE(crashing.cancel.message().find("step 'set' has run"), std::string::npos);
  // The pending value is still held, and set is retried.
  EXPECT_EQ(AtStage(SecretStage::kPending), R"({"password":"new-1"})");
  EXPECT_EQ(failed->last_step, "create");
  EXPECT_EQ(failed->failure, "set: the command was killed by signal 9");
  EXPECT_EQ(rotator.Cancel(admin_, "secret", "db/password", false).status().reason(),
            "data/rotation_past_set");
  rotator_ptr_ = rotator_.get();
  auto retried = Rotate();
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_EQ(retried->last_step, "finish");
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, APendingVersionDestroyedOrDeletedIsNotMadeCurrent) {
  for (bool destroy : {true, false}) {
    for (RotationStep step : {RotationStep::kCreate, RotationStep::kSet, RotationStep::kTest}) {
      ASSERT_TRUE(Rotate(step).ok());
    }
    auto state = rotator_->Get(admin_, "secret", "db/password");
    ASSERT_TRUE(state.ok() && state->pending_version);
    const std::vector<int64_t> pending = {*state->pending_version};
    Status gone = destroy ? secrets_->DestroyVersions(admin_, "secret", "db/password", pending)
                          : secrets_->DeleteVersions(admin_, "secret", "db/password", pending);
    ASSERT_TRUE(gone.ok()) << gone.message();
    const std::string before = Current();
    auto finish = Rotate(RotationStep::kFinish);
    EXPECT_EQ(finish.status().reason(), "data/pending_version_gone");
    EXPECT_EQ(Current(), before);  // the current value still reads
    ASSERT_TRUE(rotator_->Cancel(admin_, "secret", "db/password", /*force=*/true).ok());
  }
  ASSERT_TRUE(Rotate().ok());  // and a fresh rotation goes through
}

TEST_F(SecretRotationTest, TheTokenReachesOnePathAndOnlyWhileTheStepRuns) {
  RotationDriver::Call seen;
  class Capture final : public RotationDriver {
   public:
    Capture(SecretRotator*& r, RotationDriver::Call& out) : r_(r), out_(out) {}
    Status Run(const Call& call) override {
      out_ = call;
      auto p = r_->AuthenticateToken(call.token);
      valid_during = p.has_value();
      if (p) held = p->permissions;
      return Unavailable("stop here");
    }
    bool valid_during = false;
    std::vector<std::string> held;

   private:
    SecretRotator*& r_;
    RotationDriver::Call& out_;
  } capture(rotator_ptr_, seen);
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &capture, {});
  rotator_ptr_ = &rotator;
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", {}).ok());
  EXPECT_TRUE(capture.valid_during);
  // What the token may do: read, update and rotate this one path, nothing else.
  for (const char* cap : {"read", "update", "rotate"}) {
    EXPECT_TRUE(SecretAccessGranted(capture.held, cap, "secret/db/password")) << cap;
    EXPECT_FALSE(SecretAccessGranted(capture.held, cap, "secret/db/password2")) << cap;
    EXPECT_FALSE(SecretAccessGranted(capture.held, cap, "other/db/password")) << cap;
  }
  for (const char* cap : {"create", "delete", "destroy", "list", "patch"}) {
    EXPECT_FALSE(SecretAccessGranted(capture.held, cap, "secret/db/password")) << cap;
  }
  EXPECT_TRUE(seen.token.starts_with(SecretRotator::kTokenPrefix));
  EXPECT_FALSE(rotator.AuthenticateToken(seen.token));  // gone once the step ended
  EXPECT_FALSE(rotator.AuthenticateToken("khrot_guessed"));
}

TEST_F(SecretRotationTest, AScopedCallerCannotRotateOtherPaths) {
  RequestContext narrow{.request_id = "req_n"};
  narrow.actor = {.key_id = "key_n", .permissions = {"secret.rotate:secret/app/*"}};
  EXPECT_EQ(rotator_->Rotate(narrow, "secret", "db/password", {}).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(provider_->runs["create"], 0);
  narrow.actor.permissions = {"secret.rotate:secret/db/*"};
  EXPECT_TRUE(rotator_->Rotate(narrow, "secret", "db/password", {}).ok());
}

TEST_F(SecretRotationTest, RotatePermissionAloneCannotWriteAPendingValue) {
  // `secret.rotate` is also what rotating the keyring needs: it must not replace values.
  RequestContext keyring_job{.request_id = "req_k"};
  keyring_job.actor = {.key_id = "key_k", .permissions = {"secret.rotate"}};
  auto pending = secrets_->WritePending(keyring_job, "secret", "db/password",
                                        crypto::Secret(R"({"password":"mine"})"));
  EXPECT_EQ(pending.status().code(), StatusCode::kPermissionDenied);
  keyring_job.actor.permissions = {"secret.rotate", "secret.update:secret/db/*"};
  EXPECT_TRUE(secrets_
                  ->WritePending(keyring_job, "secret", "db/password",
                                 crypto::Secret(R"({"password":"mine"})"))
                  .ok());
}

TEST_F(SecretRotationTest, WithoutADriverTheCallerWritesThePendingValue) {
  SecretRotator manual(*secrets_, *store_, env_, nullptr, nullptr, {});
  EXPECT_EQ(manual.Rotate(admin_, "secret", "db/password", {}).status().reason(),
            "rotation/no_pending_value");
  ASSERT_TRUE(
      secrets_
          ->WritePending(admin_, "secret", "db/password", crypto::Secret(R"({"password":"typed"})"))
          .ok());
  auto done = manual.Rotate(admin_, "secret", "db/password", {});
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(Current(), R"({"password":"typed"})");
}

TEST_F(SecretRotationTest, DueSecretsAreListedEarliestFirstAndFinishingReschedules) {
  for (const auto& [path, period] : {std::pair{"a", 10 * kDay}, {"b", 3 * kDay}}) {
    ASSERT_TRUE(secrets_->Write(admin_, "secret", path, crypto::Secret(R"({"x":"1"})"), {}).ok());
    MetadataChange c;
    c.rotation_period_ms = period;
    ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", path, c).ok());
  }
  auto none = rotator_->ListDue(admin_, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto week = rotator_->ListDue(admin_, 7 * kDay);
  ASSERT_EQ(week->size(), 1u);
  EXPECT_EQ((*week)[0].path, "b");
  EXPECT_FALSE((*week)[0].overdue);

  env_.Advance(11 * kDay);
  auto due = rotator_->ListDue(admin_, 0);
  ASSERT_EQ(due->size(), 2u);
  EXPECT_EQ((*due)[0].path, "b");
  EXPECT_EQ((*due)[1].path, "a");
  EXPECT_TRUE((*due)[0].overdue);
  EXPECT_EQ((*due)[0].due_at_ms, env_.NowMillis() - 8 * kDay);

  ASSERT_TRUE(rotator_->Rotate(admin_, "secret", "b", {}).ok());
  auto after = rotator_->ListDue(admin_, 0);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].path, "a");
  auto meta = secrets_->ReadMetadata(admin_, "secret", "b");
  EXPECT_EQ(meta->next_rotation_at_ms, env_.NowMillis() + 3 * kDay);

  RequestContext other{.request_id = "req_o"};
  other.actor = {.key_id = "key_o", .permissions = {"secret.rotate:secret/b"}};
  EXPECT_TRUE(rotator_->ListDue(other, 0)->empty());  // a is not theirs to see
  EXPECT_EQ(rotator_->ListDue(admin_, -1).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SecretRotationTest, RemindersComeBeforeAndAfterTheDueDate) {
  MetadataChange c;
  c.rotation_period_ms = 30 * kDay;
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/password", c).ok());
  EXPECT_EQ(*rotator_->SweepDue(), 0);
  env_.Advance(24 * kDay);  // 6 days before: within the default 7
  EXPECT_EQ(*rotator_->SweepDue(), 1);
  EXPECT_EQ(*rotator_->SweepDue(), 0);  // once
  ASSERT_EQ(sink_.raised.size(), 1u);
  EXPECT_EQ(sink_.raised[0].kind, "secret.rotation_due");
  EXPECT_EQ(sink_.raised[0].severity, audit::AlertSeverity::kInfo);
  EXPECT_NE(sink_.raised[0].evidence_json.find(R"("overdue":false)"), std::string::npos);

  env_.Advance(6 * kDay);  // due now
  EXPECT_EQ(*rotator_->SweepDue(), 1);
  EXPECT_EQ(sink_.raised.back().severity, audit::AlertSeverity::kWarning);
  EXPECT_NE(sink_.raised.back().summary.find("overdue"), std::string::npos);
  env_.Advance(kDay / 2);
  EXPECT_EQ(*rotator_->SweepDue(), 0);
  env_.Advance(kDay);  // a day on: reminded again
  EXPECT_EQ(*rotator_->SweepDue(), 1);
  for (const auto& a : sink_.raised) {
    EXPECT_EQ(a.evidence_json.find("old"), std::string::npos);  // names, never values
  }
}

// Waits (on the real clock) until the rotation of `path` is no longer running.
StatusOr<RotationStatus> AwaitRotation(SecretRotator& rotator, const RequestContext& ctx,
                                       const std::string& path) {
  for (int i = 0; i < 1000; ++i) {
    auto s = rotator.Get(ctx, "secret", path);
    if (!s.ok() || !s->running) return s;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Unavailable("still running after 5 s");
}

TEST_F(SecretRotationTest, StartRunsTheStepsOnTheRotatorsThreadsAndGetTellsTheEnd) {
  std::set<std::thread::id> ran_on;
  class Recording final : public RotationDriver {
   public:
    Recording(RotationDriver& inner, std::set<std::thread::id>& ids) : inner_(inner), ids_(ids) {}
    Status Run(const Call& call) override {
      ids_.insert(std::this_thread::get_id());
      return inner_.Run(call);
    }

   private:
    RotationDriver& inner_;
    std::set<std::thread::id>& ids_;
  } recording(*provider_, ran_on);
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &recording, RotationOptions{});
  rotator_ptr_ = &rotator;
  auto started = rotator.Start(admin_, "secret", "db/password", {});
  ASSERT_TRUE(started.ok()) << started.status().message();
  EXPECT_TRUE(started->running);
  EXPECT_EQ(started->current_version, 1);
  auto done = AwaitRotation(rotator, admin_, "db/password");
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_FALSE(done->running);
  EXPECT_EQ(done->last_step, "finish");
  EXPECT_EQ(done->failure, "");
  EXPECT_EQ(done->current_version, 2);
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
  EXPECT_EQ(ran_on.size(), 1U);
  EXPECT_FALSE(ran_on.contains(std::this_thread::get_id()));
  rotator_ptr_ = rotator_.get();
}

TEST_F(SecretRotationTest, StartRefusesAtOnceWhatRotateWouldRefuse) {
  auto early = rotator_->Start(admin_, "secret", "db/password", RotationStep::kTest);
  EXPECT_EQ(early.status().reason(), "data/rotation_out_of_order");
  EXPECT_EQ(rotator_->Start(admin_, "secret", "db/none", {}).status().code(),
            StatusCode::kNotFound);
  RequestContext reader{.request_id = "req_r"};
  reader.actor = {.key_id = "key_r", .permissions = {"secret.read:*"}};
  EXPECT_EQ(rotator_->Start(reader, "secret", "db/password", {}).status().code(),
            StatusCode::kPermissionDenied);
  SecretRotator by_hand(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
  EXPECT_EQ(by_hand.Start(admin_, "secret", "db/password", {}).status().reason(),
            "rotation/no_pending_value");
}

TEST_F(SecretRotationTest, StartIsBoundedByItsWorkersAndQueue) {
  GateDriver gate;
  for (const char* p : {"db/a", "db/b", "db/c"}) {
    ASSERT_TRUE(secrets_->Write(admin_, "secret", p, crypto::Secret(R"({"v":"1"})"), {}).ok());
  }
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &gate,
                        RotationOptions{.workers = 1, .queue_limit = 1});
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/a", {}).ok());
  {
    std::unique_lock lock(gate.mu);
    gate.cv.wait(lock, [&] { return gate.entered == 1; });  // a runs; the queue is empty
  }
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/b", {}).ok());  // b waits
  auto full = rotator.Start(admin_, "secret", "db/c", {});
  EXPECT_EQ(full.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(full.status().reason(), "rotation/queue_full");
  EXPECT_FALSE(rotator.Get(admin_, "secret", "db/c")->running);  // refused: not left busy
  EXPECT_EQ(rotator.Start(admin_, "secret", "db/a", {}).status().reason(), "data/rotation_busy");
  EXPECT_TRUE(rotator.Get(admin_, "secret", "db/b")->running);
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  for (const char* p : {"db/a", "db/b"}) {
    auto end = AwaitRotation(rotator, admin_, p);
    ASSERT_TRUE(end.ok()) << end.status().message();
    EXPECT_EQ(end->failure, "create: the command exited with status 1");
    EXPECT_NE(end->last_step, "finish");
  }
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/c", {}).ok());  // room again
  EXPECT_TRUE(AwaitRotation(rotator, admin_, "db/c").ok());
}

TEST_F(SecretRotationTest, AStopForASealIsPassedToTheDriverAndNamedInWhatItInterrupts) {
  class Told final : public RotationDriver {
   public:
    Status Run(const Call&) override { return OkStatus(); }
    void Interrupt(StopReason why) override { reasons.push_back(why); }
    std::vector<StopReason> reasons;
  } driver;
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &driver, RotationOptions{});
  rotator.Stop(StopReason::kSeal);
  rotator.Stop();  // a stop after the seal (the server stopping) does not change the reason
  EXPECT_EQ(driver.reasons, (std::vector<StopReason>{StopReason::kSeal, StopReason::kSeal}));
  EXPECT_EQ(StoppedBecause(StopReason::kSeal), "the server was sealed");
  EXPECT_EQ(StoppedBecause(StopReason::kShutdown), "keyhold stopped");
}

TEST_F(SecretRotationTest, StopEndsTheRunningStepRecordsItFailedAndStartsNoOther) {
  // Create writes the pending value; set waits until interrupted, as a slow command would.
  class Slow final : public RotationDriver {
   public:
    explicit Slow(RotationDriver& inner) : inner_(inner) {}
    Status Run(const Call& call) override {
      steps.push_back(std::string(RotationStepName(call.step)));
      if (call.step != RotationStep::kSet) return inner_.Run(call);
      std::unique_lock lock(mu);
      in_set = true;
      cv.notify_all();
      cv.wait(lock, [&] { return interrupted; });
      return Status(StatusCode::kUnavailable, std::string(kStepInterrupted),
                    "the command was stopped as keyhold stopped");
    }
    void Interrupt(StopReason why) override {
      std::lock_guard lock(mu);
      reason = why;
      interrupted = true;
      cv.notify_all();
    }
    std::mutex mu;
    std::condition_variable cv;
    bool in_set = false, interrupted = false;
    StopReason reason = StopReason::kSeal;
    std::vector<std::string> steps;  // written by the one worker only

   private:
    RotationDriver& inner_;
  } slow(*provider_);
  ASSERT_TRUE(secrets_->Write(admin_, "secret", "db/b", crypto::Secret(R"({"v":"1"})"), {}).ok());
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &slow,
                        RotationOptions{.workers = 1, .queue_limit = 4});
  rotator_ptr_ = &rotator;
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/password", {}).ok());
  {
    std::unique_lock lock(slow.mu);
    slow.cv.wait(lock, [&] { return slow.in_set; });
  }
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/b", {}).ok());  // queued behind it
  rotator.Stop();
  EXPECT_EQ(slow.reason, StopReason::kShutdown);
  EXPECT_EQ(slow.steps, (std::vector<std::string>{"create", "set"}));  // test never started
  auto state = rotator.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok()) << state.status().message();
  EXPECT_FALSE(state->running);
  EXPECT_EQ(state->last_step, "create");
  EXPECT_EQ(state->failure, "set: the command was stopped as keyhold stopped");
  EXPECT_TRUE(state->pending_version.has_value());
  ASSERT_TRUE(state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "interrupted");
  EXPECT_EQ(state->last_outcome->step, "set");
  EXPECT_EQ(Current(), R"({"password":"old"})");
  // The failure is recorded durably, with its audit entry, by the time Stop returns.
  auto audit = Audit();
  EXPECT_TRUE(std::ranges::any_of(audit, [](const audit::AuditEntry& e) {
    return e.outcome == "failed" &&
           e.details_json.find("set: the command was stopped") != std::string::npos;
  }));
  // The queued rotation was not run, and is not left busy.
  auto queued = rotator.Get(admin_, "secret", "db/b");
  EXPECT_FALSE(queued->running);
  EXPECT_NE(queued->failure.find("stopped before the rotation ran"), std::string::npos);
  ASSERT_TRUE(queued->last_outcome.has_value());
  EXPECT_EQ(queued->last_outcome->result, "interrupted");
  EXPECT_EQ(queued->last_outcome->step, "");
  EXPECT_FALSE(queued->pending_version.has_value());
  // Stopped: no more rotations.
  EXPECT_EQ(rotator.Start(admin_, "secret", "db/b", {}).status().code(), StatusCode::kUnavailable);
  auto sync = rotator.Rotate(admin_, "secret", "db/b", {});
  EXPECT_EQ(sync.status().code(), StatusCode::kUnavailable);
  rotator_ptr_ = rotator_.get();
  // Another rotator (the restarted server) retries the interrupted step.
  auto retried = Rotate();
  ASSERT_TRUE(retried.ok()) << retried.status().message();
  EXPECT_EQ(retried->last_step, "finish");
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, TheLastAttemptsOutcomeIsStoredAndReadBackAfterARestart) {
  provider_->fail_at = RotationStep::kSet;
  env_.Advance(5000);
  auto failed = Rotate();
  ASSERT_TRUE(failed.ok()) << failed.status().message();
  const int64_t failed_at = env_.NowMillis();
  // Stored, with no value in it: the pending value is only in the secret's pending version.
  auto stored = store_->ReadRotationOutcome("secret", "db/password");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->result, store::RotationResult::kFailed);
  EXPECT_EQ((*stored)->step, "set");
  EXPECT_EQ((*stored)->error, "the command exited with status 3");
  EXPECT_EQ((*stored)->at_ms, failed_at);
  EXPECT_EQ(AtStage(SecretStage::kPending), R"({"password":"new-1"})");
  for (const std::string& text : {(*stored)->step, (*stored)->error}) {
    EXPECT_EQ(text.find("new-1"), std::string::npos);
  }

  // A restarted server (another rotator on the same store) still knows what failed, and when.
  env_.Advance(1000);
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, provider_.get(), RotationOptions{});
  auto state = restarted.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok()) << state.status().message();
  ASSERT_TRUE(state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "failed");
  EXPECT_EQ(state->last_outcome->step, "set");
  EXPECT_EQ(state->last_outcome->error, "the command exited with status 3");
  EXPECT_EQ(state->last_outcome->at_ms, failed_at);
  EXPECT_EQ(state->failure, "set: the command exited with status 3");
  auto due_state = [&] {
    MetadataChange c;
    c.rotation_period_ms = kDay;
    EXPECT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/password", c).ok());
    env_.Advance(2 * kDay);
    auto due = restarted.ListDue(admin_, 0);
    EXPECT_TRUE(due.ok() && due->size() == 1u);
    return due.ok() && !due->empty() ? (*due)[0].last_outcome : std::nullopt;
  }();
  ASSERT_TRUE(due_state.has_value());
  EXPECT_EQ(due_state->result, "failed");

  // The retry finishes; a later restart shows that it did.
  provider_->fail_at.reset();
  rotator_ptr_ = &restarted;
  ASSERT_TRUE(restarted.Rotate(admin_, "secret", "db/password", {}).ok());
  rotator_ptr_ = rotator_.get();
  SecretRotator again(*secrets_, *store_, env_, nullptr, provider_.get(), RotationOptions{});
  state = again.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->last_step, "finish");
  EXPECT_EQ(state->failure, "");
  ASSERT_TRUE(state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "finished");
  EXPECT_EQ(state->last_outcome->error, "");
}

TEST_F(SecretRotationTest, AStepCutShortByAKillIsRecordedInterruptedOnTheNextStart) {
  // While set runs, what is durable is all a server restarted after a kill would know: a new
  // rotator over the same store, recovering, stands for it.
  class Killed final : public RotationDriver {
   public:
    Killed(RotationDriver& inner, SecretService& secrets, store::Store& store, Env& env,
           const RequestContext& admin)
        : inner_(inner), secrets_(secrets), store_(store), env_(env), admin_(admin) {}
    Status Run(const Call& call) override {
      if (call.step != RotationStep::kSet) return inner_.Run(call);
      SecretRotator restarted(secrets_, store_, env_, nullptr, nullptr, RotationOptions{});
      recovered = restarted.Recover();
      state = restarted.Get(admin_, call.mount, call.path);
      due = restarted.ListDue(admin_, 10 * kDay);
      again = restarted.Recover();
      return Unavailable("the command was killed by signal 9");
    }
    StatusOr<int> recovered = 0, again = 0;
    StatusOr<RotationStatus> state = RotationStatus{};
    StatusOr<std::vector<DueSecret>> due = std::vector<DueSecret>{};

   private:
    RotationDriver& inner_;
    SecretService& secrets_;
    store::Store& store_;
    Env& env_;
    const RequestContext& admin_;
  } killed(*provider_, *secrets_, *store_, env_, admin_);
  MetadataChange c;
  c.rotation_period_ms = kDay;
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/password", c).ok());
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &killed, RotationOptions{});
  rotator_ptr_ = &rotator;
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  ASSERT_TRUE(store_
                  ->PutRotationOutcome({.mount = "secret",
                                        .path = "db/password",
                                        .result = store::RotationResult::kFailed,
                                        .step = "set",
                                        .error = "an earlier attempt's failure",
                                        .at_ms = 1})
                  .ok());
  env_.Advance(5000);
  const int64_t set_started = env_.NowMillis();
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", {}).ok());
  rotator_ptr_ = rotator_.get();
  ASSERT_TRUE(killed.recovered.ok()) << killed.recovered.status().message();
  EXPECT_EQ(*killed.recovered, 1);
  ASSERT_TRUE(killed.state.ok()) << killed.state.status().message();
  EXPECT_FALSE(killed.state->running);
  ASSERT_TRUE(killed.state->last_outcome.has_value());
  EXPECT_EQ(killed.state->last_outcome->result, "interrupted");  // not the stale failure
  EXPECT_EQ(killed.state->last_outcome->step, "set");
  EXPECT_EQ(killed.state->last_outcome->at_ms, set_started);
  EXPECT_EQ(killed.state->last_outcome->error,
            "keyhold stopped while step 'set' ran, before it ended; rotate again to retry it");
  ASSERT_TRUE(killed.due.ok() && killed.due->size() == 1U);
  EXPECT_TRUE((*killed.due)[0].rotating);
  EXPECT_FALSE((*killed.due)[0].running);
  ASSERT_TRUE((*killed.due)[0].last_outcome.has_value());
  EXPECT_EQ((*killed.due)[0].last_outcome->result, "interrupted");
  ASSERT_TRUE(killed.again.ok());
  EXPECT_EQ(*killed.again, 0);  // recorded once
  EXPECT_TRUE(store_->ListRotationRuns(10)->empty());
}

TEST_F(SecretRotationTest, RecoverEndsWhatAKilledRunsCommandLeftAndSaysHowMany) {
  ASSERT_TRUE(rotator_->Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  ASSERT_TRUE(
      secrets_->Write(admin_, "secret", "db/queued", crypto::Secret(R"({"p":"o"})"), {}).ok());
  env_.Advance(1000);
  const int64_t set_started = env_.NowMillis();
  ASSERT_TRUE(store_
                  ->PutRotationRun({.mount = "secret",
                                    .path = "db/password",
                                    .state = store::RotationRunState::kRunning,
                                    .step = "set",
                                    .at_ms = set_started,
                                    .command_pgid = 4242,
                                    .command_start_ticks = 777,
                                    .command_boot_id = "boot",
                                    .command_marker = "0123456789abcdef0123456789abcdef"})
                  .ok());
  ASSERT_TRUE(store_
                  ->PutRotationRun({.mount = "secret",
                                    .path = "db/queued",
                                    .state = store::RotationRunState::kQueued,
                                    .at_ms = set_started})
                  .ok());
  std::vector<CommandProcess> asked;
  RotationOptions options;
  options.stop_leftovers = [&](const CommandProcess& g) {
    asked.push_back(g);
    return LeftoverKill{.killed = 2, .left = 1};
  };
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, options);
  auto recovered = restarted.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(*recovered, 2);
  // Only the run whose command started has a group to end: as recorded.
  ASSERT_EQ(asked.size(), 1U);
  EXPECT_EQ(asked[0].pgid, 4242);
  EXPECT_EQ(asked[0].start_ticks, 777);
  EXPECT_EQ(asked[0].boot_id, "boot");
  EXPECT_EQ(asked[0].marker, "0123456789abcdef0123456789abcdef");
  auto outcome = store_->ReadRotationOutcome("secret", "db/password");
  ASSERT_TRUE(outcome.ok() && outcome->has_value());
  EXPECT_EQ((*outcome)->result, store::RotationResult::kInterrupted);
  EXPECT_EQ((*outcome)->error,
            "keyhold stopped while step 'set' ran, before it ended; rotate again to retry it; 2 "
            "processes its command left running were stopped");
  outcome = store_->ReadRotationOutcome("secret", "db/queued");
  ASSERT_TRUE(outcome.ok() && outcome->has_value());
  EXPECT_EQ((*outcome)->error, "keyhold stopped before the rotation ran; rotate again to run it");
}

TEST_F(SecretRotationTest, AStepsRunRecordsItsCommandsGroupAndTheNextStepForgetsIt) {
  class Recording final : public RotationDriver {
   public:
    explicit Recording(store::Store& store) : store_(store) {}
    Status Run(const Call& call) override {
      if (call.step != RotationStep::kSet) return OkStatus();
      marker = call.marker;
      EXPECT_TRUE(
          call.started({.pgid = 31337, .start_ticks = 99, .boot_id = "b", .marker = call.marker})
              .ok());
      runs = store_.ListRotationRuns(10);
      return OkStatus();
    }
    StatusOr<std::vector<store::RotationRunRecord>> runs = std::vector<store::RotationRunRecord>{};
    std::string marker;

   private:
    store::Store& store_;
  } driver(*store_);
  ASSERT_TRUE(rotator_->Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &driver, RotationOptions{});
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", RotationStep::kSet).ok());
  ASSERT_TRUE(driver.runs.ok());
  ASSERT_EQ(driver.runs->size(), 1U);
  const store::RotationRunRecord& r = (*driver.runs)[0];
  EXPECT_EQ(r.step, "set");
  EXPECT_EQ(r.command_pgid, 31337);
  EXPECT_EQ(r.command_start_ticks, 99);
  EXPECT_EQ(r.command_boot_id, "b");
  EXPECT_EQ(r.command_marker, driver.marker);
  EXPECT_EQ(driver.marker.size(), 32U);  // 128 bits from the env's random source, in hex
  EXPECT_EQ(driver.marker.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_TRUE(store_->ListRotationRuns(10)->empty());  // ended with the step
}

TEST_F(SecretRotationTest, ACommandReapedLeavesNoRecordOfItEvenIfTheRunsEndCannotBeStored) {
  class Starting final : public RotationDriver {
   public:
    Status Run(const Call& call) override {
      if (call.step != RotationStep::kSet) return OkStatus();
      return call.started(
          {.pgid = 31337, .start_ticks = 99, .boot_id = "b", .marker = call.marker});
    }
  } driver;
  ASSERT_TRUE(rotator_->Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  testing::FaultyStore faulty(*store_);
  SecretRotator rotator(*secrets_, faulty, env_, nullptr, &driver, RotationOptions{});
  faulty.FailRotationRunEnds(true);
  ASSERT_TRUE(rotator.Rotate(admin_, "secret", "db/password", RotationStep::kSet).ok());
  auto runs = store_->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1U);  // the end could not be stored: the run is left behind
  EXPECT_EQ((*runs)[0].step, "set");
  EXPECT_EQ((*runs)[0].command_pgid, 0);
  EXPECT_EQ((*runs)[0].command_boot_id, "");
  EXPECT_EQ((*runs)[0].command_marker, "");
}

TEST_F(SecretRotationTest, AStagedRotationWithNoRunLeftBehindIsWaitingNotInterrupted) {
  // Paused on purpose after create, staged by hand (no driver), and a set cut short before runs
  // were written down: none is evidence of a kill, so a restart records nothing.
  MetadataChange due;
  due.rotation_period_ms = kDay;
  ASSERT_TRUE(rotator_->Rotate(admin_, "secret", "db/password", RotationStep::kCreate).ok());
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/password", due).ok());
  ASSERT_TRUE(
      secrets_->Write(admin_, "secret", "db/manual", crypto::Secret(R"({"p":"o"})"), {}).ok());
  ASSERT_TRUE(
      secrets_->WritePending(admin_, "secret", "db/manual", crypto::Secret(R"({"p":"n"})")).ok());
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/manual", due).ok());
  ASSERT_TRUE(secrets_->Write(admin_, "secret", "db/cut", crypto::Secret(R"({"p":"o"})"), {}).ok());
  ASSERT_TRUE(
      secrets_->WritePending(admin_, "secret", "db/cut", crypto::Secret(R"({"p":"n"})")).ok());
  ASSERT_TRUE(store_->SetSecretRotationStep("secret", "db/cut", "set-started", "").ok());
  ASSERT_TRUE(secrets_->WriteMetadata(admin_, "secret", "db/cut", due).ok());
  env_.Advance(2 * kDay);
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
  auto recovered = restarted.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(*recovered, 0);
  for (const char* p : {"db/password", "db/manual", "db/cut"}) {
    EXPECT_FALSE(store_->ReadRotationOutcome("secret", p)->has_value()) << p;
  }
  auto listed = restarted.ListDue(admin_, 0);
  ASSERT_TRUE(listed.ok()) << listed.status().message();
  ASSERT_EQ(listed->size(), 3U);
  std::map<std::string, DueSecret> by_path;
  for (const DueSecret& d : *listed) by_path[d.path] = d;
  EXPECT_TRUE(by_path["db/password"].rotating);
  EXPECT_EQ(by_path["db/password"].staged_step, "set");
  EXPECT_FALSE(by_path["db/password"].cancel_needs_force);
  EXPECT_FALSE(by_path["db/password"].last_outcome.has_value());
  EXPECT_EQ(by_path["db/manual"].staged_step, "set");
  EXPECT_EQ(by_path["db/cut"].staged_step, "set");
  EXPECT_TRUE(by_path["db/cut"].cancel_needs_force);
  // It goes on from where it is.
  rotator_ptr_ = &restarted;
  auto done = restarted.Rotate(admin_, "secret", "db/manual", {});
  rotator_ptr_ = rotator_.get();
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->last_step, "finish");
}

TEST_F(SecretRotationTest, RecoverNeverRelabelsAnOutcomeStoredForOrAfterTheRun) {
  // A finish whose run record outlived its stored outcome (as a kill between two writes left it).
  env_.Advance(1000);
  const int64_t started = env_.NowMillis();
  ASSERT_TRUE(Rotate().ok());
  ASSERT_TRUE(store_
                  ->PutRotationRun({.mount = "secret",
                                    .path = "db/password",
                                    .state = store::RotationRunState::kRunning,
                                    .step = "test",
                                    .at_ms = started})
                  .ok());
  env_.Advance(1000);
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
  auto recovered = restarted.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(*recovered, 0);
  auto state = restarted.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok() && state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "finished");
  EXPECT_EQ(state->failure, "");
  EXPECT_TRUE(store_->ListRotationRuns(10)->empty());
}

TEST_F(SecretRotationTest, AFinishDoneBeforeAKillIsRecordedFinishedNotInterrupted) {
  // Killed after the finish was stored, before its outcome was: the run is at "finish", nothing
  // is pending, the current version moved on.
  ASSERT_TRUE(Rotate(RotationStep::kCreate).ok());
  ASSERT_TRUE(Rotate(RotationStep::kSet).ok());
  ASSERT_TRUE(Rotate(RotationStep::kTest).ok());
  env_.Advance(1000);
  const int64_t finish_started = env_.NowMillis();
  // What a kill right after FinishRotation leaves: the run at finish, the secret rotated.
  ASSERT_TRUE(store_
                  ->PutRotationRun({.mount = "secret",
                                    .path = "db/password",
                                    .state = store::RotationRunState::kRunning,
                                    .step = "finish",
                                    .at_ms = finish_started})
                  .ok());
  auto m = secrets_->RotationState(admin_, "secret", "db/password");
  ASSERT_TRUE(m.ok() && m->pending_version.has_value());
  ASSERT_TRUE(secrets_->FinishRotation(admin_, "secret", "db/password", *m->pending_version).ok());
  env_.Advance(1000);
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
  auto recovered = restarted.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(*recovered, 1);
  auto state = restarted.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok() && state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "finished");
  EXPECT_EQ(state->last_outcome->at_ms, finish_started);
  EXPECT_EQ(state->last_step, "finish");
  EXPECT_EQ(state->failure, "");
  EXPECT_EQ(Current(), R"({"password":"new-1"})");
}

TEST_F(SecretRotationTest, ARunWhoseEndCouldNotBeStoredAfterAFinishIsRecoveredAsFinished) {
  // The end of the run (its outcome, and the removal of its record) cannot be written: what is
  // left must say the finish was under way, and a restart must not call the rotation interrupted.
  testing::FaultyStore faulty(*store_);
  SecretRotator rotator(*secrets_, faulty, env_, nullptr, provider_.get(), RotationOptions{});
  rotator_ptr_ = &rotator;
  faulty.FailRotationRunEnds(true);
  auto done = rotator.Rotate(admin_, "secret", "db/password", {});
  rotator_ptr_ = rotator_.get();
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->last_step, "finish");
  auto runs = store_->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok() && runs->size() == 1U);
  EXPECT_EQ((*runs)[0].step, "finish");
  SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
  auto recovered = restarted.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  auto state = restarted.Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok() && state->last_outcome.has_value());
  EXPECT_EQ(state->last_outcome->result, "finished");
  EXPECT_EQ(state->failure, "");
  EXPECT_TRUE(store_->ListRotationRuns(10)->empty());
}

TEST_F(SecretRotationTest, AKillDuringCreateDropsWhatItWroteAsAStopWould) {
  class KilledInCreate final : public RotationDriver {
   public:
    KilledInCreate(RotationDriver& inner, SecretService& secrets, store::Store& store, Env& env,
                   const RequestContext& admin)
        : inner_(inner), secrets_(secrets), store_(store), env_(env), admin_(admin) {}
    Status Run(const Call& call) override {
      Status ran = inner_.Run(call);  // the pending value is written
      if (call.step != RotationStep::kCreate || !kill) return ran;
      kill = false;
      SecretRotator restarted(secrets_, store_, env_, nullptr, nullptr, RotationOptions{});
      recovered = restarted.Recover();
      state = restarted.Get(admin_, call.mount, call.path);
      return Unavailable("the command was killed by signal 9");
    }
    bool kill = true;
    StatusOr<int> recovered = 0;
    StatusOr<RotationStatus> state = RotationStatus{};

   private:
    RotationDriver& inner_;
    SecretService& secrets_;
    store::Store& store_;
    Env& env_;
    const RequestContext& admin_;
  } killed(*provider_, *secrets_, *store_, env_, admin_);
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &killed, RotationOptions{});
  rotator_ptr_ = &rotator;
  // What this rotator does after the simulated kill stands for nothing: only the restart counts.
  (void)rotator.Rotate(admin_, "secret", "db/password", RotationStep::kCreate);
  ASSERT_TRUE(killed.recovered.ok()) << killed.recovered.status().message();
  EXPECT_EQ(*killed.recovered, 1);
  ASSERT_TRUE(killed.state.ok()) << killed.state.status().message();
  EXPECT_FALSE(killed.state->pending_version.has_value());
  ASSERT_TRUE(killed.state->last_outcome.has_value());
  EXPECT_EQ(killed.state->last_outcome->result, "interrupted");
  EXPECT_EQ(killed.state->last_outcome->step, "create");
  // The retry creates afresh: it never uses the value of the create cut short.
  auto done = rotator.Rotate(admin_, "secret", "db/password", {});
  rotator_ptr_ = rotator_.get();
  ASSERT_TRUE(done.ok()) << done.status().message();
  EXPECT_EQ(done->last_step, "finish");
  EXPECT_EQ(provider_->runs["create"], 2);
  EXPECT_EQ(Current(), R"({"password":"new-2"})");
}

TEST_F(SecretRotationTest, AQueuedRotationIsWrittenDownBeforeStartReturns) {
  GateDriver gate;
  ASSERT_TRUE(secrets_->Write(admin_, "secret", "db/b", crypto::Secret(R"({"v":"1"})"), {}).ok());
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &gate,
                        RotationOptions{.workers = 1, .queue_limit = 4});
  const int64_t queued_at = env_.NowMillis();
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/password", {}).ok());
  {
    std::unique_lock lock(gate.mu);
    gate.cv.wait(lock, [&] { return gate.entered == 1; });
  }
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/b", {}).ok());  // waits for the one worker
  // What a server killed now would find on its next start.
  {
    SecretRotator restarted(*secrets_, *store_, env_, nullptr, nullptr, RotationOptions{});
    auto recovered = restarted.Recover();
    ASSERT_TRUE(recovered.ok()) << recovered.status().message();
    EXPECT_EQ(*recovered, 2);
    auto queued = restarted.Get(admin_, "secret", "db/b");
    ASSERT_TRUE(queued.ok() && queued->last_outcome.has_value());
    EXPECT_EQ(queued->last_outcome->result, "interrupted");
    EXPECT_EQ(queued->last_outcome->step, "");
    EXPECT_EQ(queued->last_outcome->at_ms, queued_at);
    EXPECT_EQ(queued->last_outcome->error,
              "keyhold stopped before the rotation ran; rotate again to run it");
    EXPECT_EQ(queued->failure, queued->last_outcome->error);
    auto running = restarted.Get(admin_, "secret", "db/password");
    ASSERT_TRUE(running.ok() && running->last_outcome.has_value());
    EXPECT_EQ(running->last_outcome->result, "interrupted");
    EXPECT_EQ(running->last_outcome->step, "create");
  }
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  for (const char* p : {"db/password", "db/b"}) ASSERT_TRUE(AwaitRotation(rotator, admin_, p).ok());
  EXPECT_TRUE(store_->ListRotationRuns(10)->empty());  // nothing left once they ended
}

TEST_F(SecretRotationTest, AStepRunAloneThatSucceedsClearsAnEarlierFailure) {
  provider_->fail_at = RotationStep::kSet;
  ASSERT_TRUE(Rotate().ok());
  EXPECT_EQ(rotator_->Get(admin_, "secret", "db/password")->last_outcome->result, "failed");
  provider_->fail_at.reset();
  ASSERT_TRUE(Rotate(RotationStep::kSet).ok());
  auto state = rotator_->Get(admin_, "secret", "db/password");
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->last_step, "set");
  EXPECT_EQ(state->failure, "");
  EXPECT_FALSE(state->last_outcome.has_value());
}

TEST_F(SecretRotationTest, ACancelDropsTheOutcomeWithThePendingVersion) {
  provider_->fail_at = RotationStep::kCreate;
  provider_->write_on_create = false;
  ASSERT_TRUE(Rotate().ok());
  EXPECT_TRUE(store_->ReadRotationOutcome("secret", "db/password")->has_value());
  ASSERT_TRUE(rotator_->Cancel(admin_, "secret", "db/password", false).ok());
  EXPECT_FALSE(store_->ReadRotationOutcome("secret", "db/password")->has_value());
  auto state = rotator_->Get(admin_, "secret", "db/password");
  EXPECT_FALSE(state->last_outcome.has_value());
  EXPECT_EQ(state->failure, "");
}

TEST_F(SecretRotationTest, OneCallerMayHaveOnlySoManyRotationsQueuedOrRunning) {
  GateDriver gate;
  for (const char* p : {"db/a", "db/b", "db/c", "db/d"}) {
    ASSERT_TRUE(secrets_->Write(admin_, "secret", p, crypto::Secret(R"({"v":"1"})"), {}).ok());
  }
  SecretRotator rotator(*secrets_, *store_, env_, nullptr, &gate,
                        RotationOptions{.workers = 1, .queue_limit = 8, .per_caller_limit = 2});
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/a", {}).ok());  // runs
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/b", {}).ok());  // waits
  auto over = rotator.Start(admin_, "secret", "db/c", {});
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(over.status().reason(), "rotation/caller_limit");
  EXPECT_NE(over.status().message().find("this key has 2 rotations queued or running"),
            std::string::npos)
      << over.status().message();
  EXPECT_FALSE(rotator.Get(admin_, "secret", "db/c")->running);  // refused: not left busy
  // Another key still has its places: the queue is not one key's.
  RequestContext other{.request_id = "req_o"};
  other.actor = {.key_id = "key_other", .permissions = {"secret.rotate:secret/*"}};
  ASSERT_TRUE(rotator.Start(other, "secret", "db/c", {}).ok());
  {
    std::lock_guard lock(gate.mu);
    gate.open = true;
  }
  gate.cv.notify_all();
  for (const char* p : {"db/a", "db/b", "db/c"})
    ASSERT_TRUE(AwaitRotation(rotator, admin_, p).ok());
  // Ended: the places are free again.
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/d", {}).ok());
  ASSERT_TRUE(rotator.Start(admin_, "secret", "db/a", {}).ok());
  EXPECT_TRUE(AwaitRotation(rotator, admin_, "db/d").ok());
  EXPECT_TRUE(AwaitRotation(rotator, admin_, "db/a").ok());
}

}  // namespace
}  // namespace keyhold::service
