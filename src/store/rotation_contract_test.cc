// The Store contract for the outcomes of secret rotations (store/store.h, RotationOutcomeRecord),
// the rotations queued or running (RotationRunRecord) and the staged ones, run against every
// store in Factories().
#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/temp_dir.h"
#include "store/store_contract.h"

namespace keyhold::store {
namespace {

class RotationOutcomeContract : public StoreContractSuite {};

RotationOutcomeRecord Outcome(const std::string& path, RotationResult result, int64_t at) {
  return {.mount = "secret",
          .path = path,
          .result = result,
          .step = result == RotationResult::kFinished ? "" : "set",
          .error = result == RotationResult::kFinished ? "" : "the webhook answered HTTP 500",
          .at_ms = at};
}

void WriteSecret(Store& s, const std::string& path) {
  SecretVersionWrite w;
  w.mount = "secret";
  w.path = path;
  w.version.version = 1;
  w.version.created_at_ms = 1000;
  w.version.kek_term = 1;
  w.version.wrapped_key = {1, 2, 3};
  w.version.ciphertext = {4, 5, 6};
  ASSERT_TRUE(s.WriteSecretVersion(w).ok());
}

TEST_P(RotationOutcomeContract, AnOutcomeIsReplacedByTheNextAndSurvivesAReopen) {
  {
    auto s = Open();
    EXPECT_FALSE(s->ReadRotationOutcome("secret", "app")->has_value());
    ASSERT_TRUE(s->PutRotationOutcome(Outcome("app", RotationResult::kFailed, 100)).ok());
    ASSERT_TRUE(s->PutRotationOutcome(Outcome("app", RotationResult::kInterrupted, 200)).ok());
    ASSERT_TRUE(s->PutRotationOutcome(Outcome("other", RotationResult::kFinished, 300)).ok());
  }
  auto s = Open();
  auto app = s->ReadRotationOutcome("secret", "app");
  ASSERT_TRUE(app.ok() && app->has_value());
  EXPECT_EQ((*app)->result, RotationResult::kInterrupted);
  EXPECT_EQ((*app)->step, "set");
  EXPECT_EQ((*app)->error, "the webhook answered HTTP 500");
  EXPECT_EQ((*app)->at_ms, 200);
  EXPECT_EQ((*app)->mount, "secret");
  EXPECT_EQ((*app)->path, "app");
  auto other = s->ReadRotationOutcome("secret", "other");
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->result, RotationResult::kFinished);
  EXPECT_EQ((*other)->step, "");
  EXPECT_FALSE(s->ReadRotationOutcome("other-mount", "app")->has_value());
}

TEST_P(RotationOutcomeContract, DeletingTheOutcomeOrTheSecretRemovesIt) {
  auto s = Open();
  WriteSecret(*s, "app");
  WriteSecret(*s, "kept");
  ASSERT_TRUE(s->PutRotationOutcome(Outcome("app", RotationResult::kFailed, 100)).ok());
  ASSERT_TRUE(s->PutRotationOutcome(Outcome("kept", RotationResult::kFailed, 100)).ok());
  ASSERT_TRUE(s->DeleteSecret("secret", "app").ok());
  EXPECT_FALSE(s->ReadRotationOutcome("secret", "app")->has_value());  // not inherited by a
  EXPECT_TRUE(s->ReadRotationOutcome("secret", "kept")->has_value());  // secret of that name
  ASSERT_TRUE(s->DeleteRotationOutcome("secret", "kept").ok());
  EXPECT_FALSE(s->ReadRotationOutcome("secret", "kept")->has_value());
  EXPECT_TRUE(s->DeleteRotationOutcome("secret", "none").ok());
}

TEST_P(RotationOutcomeContract, AnUnknownResultIsRefused) {
  auto s = Open();
  RotationOutcomeRecord bad = Outcome("app", RotationResult::kFailed, 100);
  bad.result = static_cast<RotationResult>(99);
  EXPECT_EQ(s->PutRotationOutcome(bad).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s->ReadRotationOutcome("secret", "app")->has_value());
}

TEST_P(RotationOutcomeContract, ARunIsReplacedSurvivesAReopenAndGoesWithItsSecret) {
  {
    auto s = Open();
    WriteSecret(*s, "app");
    EXPECT_TRUE(s->ListRotationRuns(10)->empty());
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret",
                                   .path = "app",
                                   .state = RotationRunState::kQueued,
                                   .step = "",
                                   .at_ms = 100})
                    .ok());
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret",
                                   .path = "app",
                                   .state = RotationRunState::kRunning,
                                   .step = "set",
                                   .at_ms = 200})
                    .ok());
    WriteSecret(*s, "queued");
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret", .path = "queued", .at_ms = 300}).ok());
    // None for a secret that is not there (deleted while it rotated).
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret", .path = "none", .at_ms = 300}).ok());
  }
  auto s = Open();
  auto runs = s->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2U);
  EXPECT_EQ((*runs)[0].path, "app");
  EXPECT_EQ((*runs)[0].state, RotationRunState::kRunning);
  EXPECT_EQ((*runs)[0].step, "set");
  EXPECT_EQ((*runs)[0].at_ms, 200);
  EXPECT_EQ((*runs)[0].command_pgid, 0);  // none given: none started
  EXPECT_EQ((*runs)[0].command_start_ticks, 0);
  EXPECT_EQ((*runs)[0].command_boot_id, "");
  EXPECT_EQ((*runs)[0].command_marker, "");
  EXPECT_EQ((*runs)[1].path, "queued");
  EXPECT_EQ((*runs)[1].state, RotationRunState::kQueued);
  EXPECT_EQ(s->ListRotationRuns(1)->size(), 1U);
  EXPECT_EQ(s->ListRotationRuns(0).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(s->DeleteSecret("secret", "app").ok());
  ASSERT_TRUE(s->DeleteRotationRun("secret", "queued").ok());
  EXPECT_TRUE(s->DeleteRotationRun("secret", "none").ok());
  EXPECT_TRUE(s->ListRotationRuns(10)->empty());
  RotationRunRecord bad{.mount = "secret", .path = "app"};
  bad.state = static_cast<RotationRunState>(99);
  EXPECT_EQ(s->PutRotationRun(bad).code(), StatusCode::kInvalidArgument);
}

TEST_P(RotationOutcomeContract, ARunKeepsItsCommandsProcessGroupAcrossAReopenUntilReplaced) {
  const std::string boot = "0d4f3c8e-2b1a-4c6d-9e8f-7a6b5c4d3e2f";
  const std::string marker = "5f0e9a3c7b2d4e6f8a1b3c5d7e9f0a2b";
  {
    auto s = Open();
    WriteSecret(*s, "app");
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret",
                                   .path = "app",
                                   .state = RotationRunState::kRunning,
                                   .step = "set",
                                   .at_ms = 200,
                                   .command_pgid = 4'194'000,
                                   .command_start_ticks = 9'876'543'210,
                                   .command_boot_id = boot,
                                   .command_marker = marker})
                    .ok());
  }
  auto s = Open();
  auto runs = s->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1U);
  EXPECT_EQ((*runs)[0].command_pgid, 4'194'000);
  EXPECT_EQ((*runs)[0].command_start_ticks, 9'876'543'210);
  EXPECT_EQ((*runs)[0].command_boot_id, boot);
  EXPECT_EQ((*runs)[0].command_marker, marker);
  // The next step's record has no command yet: the last one's group is not kept.
  ASSERT_TRUE(s->PutRotationRun({.mount = "secret",
                                 .path = "app",
                                 .state = RotationRunState::kRunning,
                                 .step = "test",
                                 .at_ms = 300})
                  .ok());
  runs = s->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 1U);
  EXPECT_EQ((*runs)[0].step, "test");
  EXPECT_EQ((*runs)[0].command_pgid, 0);
  EXPECT_EQ((*runs)[0].command_start_ticks, 0);
  EXPECT_EQ((*runs)[0].command_boot_id, "");
  EXPECT_EQ((*runs)[0].command_marker, "");
}

TEST_P(RotationOutcomeContract, EndingRunsRemovesThemWithTheirOutcomeChangeInOneWrite) {
  {
    auto s = Open();
    for (const char* p : {"kept", "replaced", "removed", "gone"}) {
      WriteSecret(*s, p);
      ASSERT_TRUE(s->PutRotationOutcome(Outcome(p, RotationResult::kFailed, 100)).ok());
      ASSERT_TRUE(s->PutRotationRun({.mount = "secret",
                                     .path = p,
                                     .state = RotationRunState::kRunning,
                                     .step = "set",
                                     .at_ms = 150})
                      .ok());
    }
    WriteSecret(*s, "other");
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret", .path = "other", .at_ms = 150}).ok());
    ASSERT_TRUE(s->PutRotationRun({.mount = "secret", .path = "gone", .at_ms = 150}).ok());
    ASSERT_TRUE(s->DeleteSecret("secret", "gone").ok());
    RotationRunEnd bad{.mount = "secret",
                       .path = "kept",
                       .change = RotationRunEnd::Outcome::kReplace,
                       .outcome = Outcome("kept", RotationResult::kFinished, 200)};
    bad.outcome.result = static_cast<RotationResult>(99);
    EXPECT_EQ(s->EndRotationRuns({{.mount = "secret", .path = "removed"}, bad}).code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(s->ListRotationRuns(10)->size(), 4U);  // none ended
    ASSERT_TRUE(
        s->EndRotationRuns(
             {{.mount = "secret", .path = "kept"},
              {.mount = "secret",
               .path = "replaced",
               .change = RotationRunEnd::Outcome::kReplace,
               .outcome = Outcome("replaced", RotationResult::kFinished, 200)},
              {.mount = "secret", .path = "removed", .change = RotationRunEnd::Outcome::kRemove},
              {.mount = "secret",
               .path = "gone",
               .change = RotationRunEnd::Outcome::kReplace,
               .outcome = Outcome("gone", RotationResult::kInterrupted, 200)}})
            .ok());
    EXPECT_TRUE(s->EndRotationRuns({}).ok());
  }
  auto s = Open();
  auto runs = s->ListRotationRuns(10);
  ASSERT_TRUE(runs.ok() && runs->size() == 1U);
  EXPECT_EQ((*runs)[0].path, "other");
  auto kept = s->ReadRotationOutcome("secret", "kept");
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->result, RotationResult::kFailed);
  EXPECT_EQ((*kept)->at_ms, 100);
  auto replaced = s->ReadRotationOutcome("secret", "replaced");
  ASSERT_TRUE(replaced.ok() && replaced->has_value());
  EXPECT_EQ((*replaced)->result, RotationResult::kFinished);
  EXPECT_EQ((*replaced)->at_ms, 200);
  EXPECT_FALSE(s->ReadRotationOutcome("secret", "removed")->has_value());
  EXPECT_FALSE(s->ReadRotationOutcome("secret", "gone")->has_value());  // deleted meanwhile
}

TEST_P(RotationOutcomeContract, StagedRotationsAreTheSecretsWithAPendingVersion) {
  auto s = Open();
  WriteSecret(*s, "plain");
  WriteSecret(*s, "staged");
  SecretVersionWrite w;
  w.mount = "secret";
  w.path = "staged";
  w.expected_current = 1;
  w.version.version = 2;
  w.version.created_at_ms = 5000;
  w.version.kek_term = 1;
  w.version.wrapped_key = {1, 2, 3};
  w.version.ciphertext = {4, 5, 6};
  ASSERT_TRUE(s->WritePendingSecretVersion(w).ok());
  ASSERT_TRUE(s->SetSecretRotationStep("secret", "staged", "set-started", "").ok());
  auto staged = s->ListStagedRotations(10);
  ASSERT_TRUE(staged.ok());
  ASSERT_EQ(staged->size(), 1U);
  EXPECT_EQ((*staged)[0].path, "staged");
  EXPECT_EQ((*staged)[0].pending_version, 2);
  EXPECT_EQ((*staged)[0].rotation_step, "set-started");
  EXPECT_EQ((*staged)[0].rotation_failure, "");
  EXPECT_EQ((*staged)[0].staged_at_ms, 5000);
  EXPECT_EQ(s->ListStagedRotations(0).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllStores, RotationOutcomeContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
