// The Store contract for secrets (store/store.h "secrets"), run against every store in
// Factories().
#include <gtest/gtest.h>

#include <stdexcept>

#include "fakes/temp_dir.h"
#include "store/store_contract.h"

namespace keyhold::store {
namespace {

class SecretStoreContract : public StoreContractSuite {};

SecretVersionWrite Write(const std::string& path, int64_t after, int64_t at = 1000) {
  SecretVersionWrite w;
  w.mount = "secret";
  w.path = path;
  w.expected_current = after;
  w.version.version = after + 1;
  w.version.created_at_ms = at;
  w.version.kek_term = 1;
  w.version.wrapped_key = {1, 2, 3};
  w.version.ciphertext = {4, 5, 6, static_cast<uint8_t>(after + 1)};
  return w;
}

audit::AuditEntry Entry(const std::string& action) {
  return ContractAuditEntry(action, "secret/app");
}

TEST_P(SecretStoreContract, TheDefaultMountExists) {
  auto s = Open();
  auto mounts = s->ListSecretMounts();
  ASSERT_TRUE(mounts.ok());
  ASSERT_EQ(mounts->size(), 1u);
  EXPECT_EQ((*mounts)[0].name, "secret");
  EXPECT_EQ((*mounts)[0].max_versions, 0);
}

TEST_P(SecretStoreContract, VersionsAreWrittenInOrderWithTheirAuditEntry) {
  auto s = Open();
  audit::AuditEntry e = Entry("secret.write");
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0), &e).ok());
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 1, 2000)).ok());
  auto r = s->ReadSecret("secret", "app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->current_version, 2);
  EXPECT_EQ(r->oldest_version, 1);
  EXPECT_EQ(r->created_at_ms, 1000);
  EXPECT_EQ(r->updated_at_ms, 2000);
  ASSERT_EQ(r->versions.size(), 2u);
  EXPECT_TRUE(r->versions[0].ciphertext.empty());  // metadata only
  auto v2 = s->ReadSecretVersion("secret", "app", 2);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->ciphertext, (std::vector<uint8_t>{4, 5, 6, 2}));
  EXPECT_EQ(v2->wrapped_key, (std::vector<uint8_t>{1, 2, 3}));
  auto audit = s->ReadAudit(0, 10);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 1u);
  EXPECT_EQ((*audit)[0].action, "secret.write");
}

// A read without waiting, where the store offers one, gives what ReadSecret and
// ReadSecretVersion give together.
TEST_P(SecretStoreContract, AReadWithoutWaitingGivesTheSecretAndTheVersionAsked) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 1, 2000)).ok());
  auto current = s->TryReadSecretNow("secret", "app", 0);
  if (!current) GTEST_SKIP() << "this store has no reads without waiting";
  ASSERT_TRUE(current->ok());
  EXPECT_EQ((*current)->secret.current_version, 2);
  ASSERT_EQ((*current)->secret.versions.size(), 2u);
  ASSERT_TRUE((*current)->version.has_value());
  EXPECT_EQ((*current)->version->version, 2);
  EXPECT_EQ((*current)->version->ciphertext, (std::vector<uint8_t>{4, 5, 6, 2}));
  auto first = s->TryReadSecretNow("secret", "app", 1);
  ASSERT_TRUE(first && first->ok());
  ASSERT_TRUE((*first)->version.has_value());
  EXPECT_EQ((*first)->version->ciphertext, (std::vector<uint8_t>{4, 5, 6, 1}));
  auto unkept = s->TryReadSecretNow("secret", "app", 7);
  ASSERT_TRUE(unkept && unkept->ok());
  EXPECT_FALSE((*unkept)->version.has_value());
  auto none = s->TryReadSecretNow("secret", "nothing", 0);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status().code(), StatusCode::kNotFound);
}

// Everything a read shows of a secret and one of its versions, to compare two reads.
std::string Shown(const SecretRecord& r, const std::optional<SecretVersionRecord>& v) {
  std::string out =
      r.mount + "/" + r.path + " current " + std::to_string(r.current_version) + " oldest " +
      std::to_string(r.oldest_version) + " max " + std::to_string(r.max_versions) + " cas " +
      std::to_string(r.cas_required) + " meta " + r.custom_metadata_json + " pending " +
      std::to_string(r.pending_version.value_or(-1)) + " previous " +
      std::to_string(r.previous_version.value_or(-1)) + " step " + r.rotation_step + " failure " +
      r.rotation_failure + " updated " + std::to_string(r.updated_at_ms) + " versions";
  auto one = [&out](const SecretVersionRecord& x) {
    out += " [" + std::to_string(x.version) + " deleted " +
           std::to_string(x.deleted_at_ms.value_or(-1)) + " destroyed " +
           std::to_string(x.destroyed) + " term " + std::to_string(x.kek_term) + " key " +
           std::to_string(x.wrapped_key.size()) + ":" +
           std::to_string(x.wrapped_key.empty() ? -1 : x.wrapped_key.back()) + " value " +
           std::to_string(x.ciphertext.size()) + ":" +
           std::to_string(x.ciphertext.empty() ? -1 : x.ciphertext.back()) + "]";
  };
  for (const SecretVersionRecord& x : r.versions) one(x);
  out += " read";
  if (v) one(*v);
  return out;
}

// A read without waiting (which a store may answer from what it kept of an earlier read) shows
// every change at once: it equals the plain reads after each kind of write.
TEST_P(SecretStoreContract, AReadWithoutWaitingFollowsEveryChange) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  if (!s->TryReadSecretNow("secret", "app", 0)) {
    GTEST_SKIP() << "this store has no reads without waiting";
  }
  auto expect_same = [&](const std::string& after) {
    for (int64_t asked : {0, 1, 2}) {
      // Twice: the second may come from what the first kept.
      for (int round = 0; round < 2; ++round) {
        auto now = s->TryReadSecretNow("secret", "app", asked);
        auto plain = s->ReadSecret("secret", "app");
        if (!plain.ok()) {
          ASSERT_TRUE(now) << after;
          EXPECT_EQ(now->status().code(), plain.status().code()) << after;
          continue;
        }
        ASSERT_TRUE(now && now->ok()) << after;
        int64_t wanted = asked == 0 ? plain->current_version : asked;
        std::optional<SecretVersionRecord> version;
        if (auto v = s->ReadSecretVersion("secret", "app", wanted); v.ok()) version = *v;
        EXPECT_EQ(Shown((*now)->secret, (*now)->version), Shown(*plain, version))
            << "after " << after << ", version " << asked;
      }
    }
  };
  expect_same("the first write");
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 1, 2000)).ok());
  expect_same("a second version");
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kDelete, {2}, 3000).ok());
  expect_same("a delete");
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kUndelete, {2}, 4000).ok());
  expect_same("an undelete");
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kDestroy, {1}, 5000).ok());
  expect_same("a destroy");
  SecretRecord meta = *s->ReadSecret("secret", "app");
  meta.custom_metadata_json = R"({"owner":"billing"})";
  meta.cas_required = true;
  ASSERT_TRUE(s->PutSecretMetadata(meta).ok());
  expect_same("a metadata change");
  ASSERT_TRUE(s->AddKeyringTerm({2, {7}, 300}).ok());
  auto old = s->VersionsWrappedBelow(2, 100);
  ASSERT_TRUE(old.ok() && !old->empty());
  ASSERT_TRUE(*s->RewrapSecretVersion(old->back(), 2, {5, 5}));
  expect_same("a rewrap");
  ASSERT_TRUE(s->WritePendingSecretVersion(Write("app", 2, 6000)).ok());
  expect_same("a pending version");
  ASSERT_TRUE(s->SetSecretRotationStep("secret", "app", "set", "test: exited 1").ok());
  expect_same("a rotation step");
  ASSERT_TRUE(s->FinishSecretRotation("secret", "app", 3, 9000, 7000).ok());
  expect_same("a finished rotation");
  ASSERT_TRUE(s->DeleteSecret("secret", "app").ok());
  expect_same("deleting the secret");
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0, 8000)).ok());
  expect_same("writing it anew");
}

TEST_P(SecretStoreContract, AStaleWriteIsRefusedAndWritesNothing) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  audit::AuditEntry e = Entry("secret.write");
  Status stale = s->WriteSecretVersion(Write("app", 0), &e);
  EXPECT_EQ(stale.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.reason(), "data/secret_changed");
  EXPECT_EQ(s->ReadSecret("secret", "app")->current_version, 1);
  EXPECT_TRUE(s->ReadAudit(0, 10)->empty());
  SecretVersionWrite skipping = Write("app", 1);
  skipping.version.version = 5;
  EXPECT_EQ(s->WriteSecretVersion(skipping).code(), StatusCode::kInvalidArgument);
}

TEST_P(SecretStoreContract, AnUnknownMountIsRefused) {
  auto s = Open();
  SecretVersionWrite w = Write("app", 0);
  w.mount = "nope";
  EXPECT_EQ(s->WriteSecretVersion(w).code(), StatusCode::kNotFound);
  SecretRecord m;
  m.mount = "nope";
  m.path = "x";
  EXPECT_EQ(s->PutSecretMetadata(m).code(), StatusCode::kNotFound);
}

TEST_P(SecretStoreContract, OnlyMaxVersionsAreKept) {
  auto s = Open();
  SecretRecord m;
  m.mount = "secret";
  m.path = "app";
  m.max_versions = 3;
  ASSERT_TRUE(s->PutSecretMetadata(m).ok());
  for (int64_t v = 0; v < 5; ++v) ASSERT_TRUE(s->WriteSecretVersion(Write("app", v)).ok());
  auto r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->current_version, 5);
  EXPECT_EQ(r->oldest_version, 3);
  EXPECT_EQ(r->versions.size(), 3u);
  EXPECT_EQ(s->ReadSecretVersion("secret", "app", 2).status().code(), StatusCode::kNotFound);
  m.max_versions = 1;  // lowering it drops the excess at once
  ASSERT_TRUE(s->PutSecretMetadata(m).ok());
  r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->oldest_version, 5);
  EXPECT_EQ(r->versions.size(), 1u);
}

TEST_P(SecretStoreContract, TheMountsMaxVersionsAppliesWhenTheSecretHasNone) {
  auto s = Open();
  ASSERT_TRUE(s->PutSecretMount({"secret", 2, false, 0, 1, 1}).ok());
  for (int64_t v = 0; v < 4; ++v) ASSERT_TRUE(s->WriteSecretVersion(Write("app", v)).ok());
  EXPECT_EQ(s->ReadSecret("secret", "app")->versions.size(), 2u);
}

TEST_P(SecretStoreContract, DeleteUndeleteDestroy) {
  auto s = Open();
  for (int64_t v = 0; v < 3; ++v) ASSERT_TRUE(s->WriteSecretVersion(Write("app", v)).ok());
  ASSERT_TRUE(
      s->ChangeSecretVersions("secret", "app", SecretVersionOp::kDelete, {1, 2, 99}, 5000).ok());
  auto r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->versions[0].deleted_at_ms, 5000);
  EXPECT_EQ(r->versions[1].deleted_at_ms, 5000);
  EXPECT_FALSE(r->versions[2].deleted_at_ms.has_value());
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kUndelete, {2}, 6000).ok());
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kDestroy, {1}, 7000).ok());
  r = s->ReadSecret("secret", "app");
  EXPECT_TRUE(r->versions[0].destroyed);
  EXPECT_FALSE(r->versions[1].deleted_at_ms.has_value());
  auto v1 = s->ReadSecretVersion("secret", "app", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_TRUE(v1->ciphertext.empty());
  EXPECT_TRUE(v1->wrapped_key.empty());
  // A destroyed version stays destroyed.
  ASSERT_TRUE(s->ChangeSecretVersions("secret", "app", SecretVersionOp::kUndelete, {1}, 8000).ok());
  EXPECT_TRUE(s->ReadSecret("secret", "app")->versions[0].destroyed);
  EXPECT_EQ(s->ChangeSecretVersions("secret", "none", SecretVersionOp::kDelete, {1}, 1).code(),
            StatusCode::kNotFound);
}

TEST_P(SecretStoreContract, MetadataRoundTripsAndDeleteRemovesEverything) {
  auto s = Open();
  SecretRecord m;
  m.mount = "secret";
  m.path = "crm/stripe";
  m.cas_required = true;
  m.delete_version_after_ms = 60'000;
  m.custom_metadata_json = R"({"owner":"billing"})";
  m.rotation_period_ms = 86'400'000;
  m.next_rotation_at_ms = 123;
  m.created_at_ms = m.updated_at_ms = 10;
  ASSERT_TRUE(s->PutSecretMetadata(m).ok());
  auto r = s->ReadSecret("secret", "crm/stripe");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->cas_required);
  EXPECT_EQ(r->delete_version_after_ms, 60'000);
  EXPECT_EQ(r->custom_metadata_json, R"({"owner":"billing"})");
  EXPECT_EQ(r->rotation_period_ms, 86'400'000);
  EXPECT_EQ(r->next_rotation_at_ms, 123);
  EXPECT_EQ(r->current_version, 0);
  ASSERT_TRUE(s->WriteSecretVersion(Write("crm/stripe", 0)).ok());
  EXPECT_TRUE(s->ReadSecret("secret", "crm/stripe")->cas_required);  // a write keeps metadata
  audit::AuditEntry e = Entry("secret.destroy_all");
  ASSERT_TRUE(s->DeleteSecret("secret", "crm/stripe", &e).ok());
  EXPECT_EQ(s->ReadSecret("secret", "crm/stripe").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->ReadSecretVersion("secret", "crm/stripe", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s->DeleteSecret("secret", "crm/stripe").code(), StatusCode::kNotFound);
  EXPECT_EQ(s->ReadAudit(0, 10)->size(), 1u);
}

TEST_P(SecretStoreContract, ListsPathsByPrefixLiterally) {
  auto s = Open();
  for (const char* p : {"a/x", "a/y/z", "a_b", "ab", "b"}) {
    ASSERT_TRUE(s->WriteSecretVersion(Write(p, 0)).ok());
  }
  auto all = s->ListSecretPaths("secret", "", "", 100);
  EXPECT_EQ(*all, (std::vector<std::string>{"a/x", "a/y/z", "a_b", "ab", "b"}));
  EXPECT_EQ(*s->ListSecretPaths("secret", "a/", "", 100),
            (std::vector<std::string>{"a/x", "a/y/z"}));
  EXPECT_EQ(*s->ListSecretPaths("secret", "a_", "", 100), (std::vector<std::string>{"a_b"}));
  EXPECT_EQ(*s->ListSecretPaths("secret", "", "a_b", 2), (std::vector<std::string>{"ab", "b"}));
  EXPECT_TRUE(s->ListSecretPaths("other", "", "", 100)->empty());
  EXPECT_EQ(s->ListSecretPaths("secret", "", "", 0).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(SecretStoreContract, KeyringTermsAndRewrapping) {
  auto s = Open();
  ASSERT_TRUE(s->AddKeyringTerm({1, {9, 9}, 100}).ok());
  EXPECT_EQ(s->AddKeyringTerm({1, {8}, 200}).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(s->AddKeyringTerm({2, {7}, 300}).ok());
  auto ring = s->ReadKeyring();
  ASSERT_EQ(ring->size(), 2u);
  EXPECT_EQ((*ring)[0].sealed, (std::vector<uint8_t>{9, 9}));
  for (int64_t v = 0; v < 2; ++v) ASSERT_TRUE(s->WriteSecretVersion(Write("app", v)).ok());
  auto old = s->VersionsWrappedBelow(2, 100);
  ASSERT_EQ(old->size(), 2u);
  auto done = s->RewrapSecretVersion((*old)[0], 2, {5, 5});
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  EXPECT_FALSE(*s->RewrapSecretVersion((*old)[0], 2, {6}));  // already moved on
  EXPECT_EQ(s->VersionsWrappedBelow(2, 100)->size(), 1u);
  auto v = s->ReadSecretVersion("secret", (*old)[0].path, (*old)[0].version);
  EXPECT_EQ(v->kek_term, 2);
  EXPECT_EQ(v->wrapped_key, (std::vector<uint8_t>{5, 5}));
}

TEST_P(SecretStoreContract, SecretsSurviveAReopen) {
  {
    auto s = Open();
    ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  }
  auto s = Open();
  EXPECT_EQ(s->ReadSecret("secret", "app")->current_version, 1);
}

TEST_P(SecretStoreContract, APendingVersionWaitsBesideTheCurrentOne) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  audit::AuditEntry e = Entry("secret.rotation_create");
  ASSERT_TRUE(s->WritePendingSecretVersion(Write("app", 1, 2000), &e).ok());
  auto r = s->ReadSecret("secret", "app");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->current_version, 1);
  EXPECT_EQ(r->pending_version, 2);
  EXPECT_EQ(r->rotation_step, "create");
  EXPECT_EQ(r->versions.size(), 2u);
  EXPECT_EQ(s->ReadSecretVersion("secret", "app", 2)->ciphertext.back(), 2);
  // One pending version at a time, and no plain write while it waits.
  EXPECT_EQ(s->WritePendingSecretVersion(Write("app", 1)).reason(), "data/rotation_pending");
  EXPECT_EQ(s->WriteSecretVersion(Write("app", 1)).reason(), "data/rotation_pending");
  EXPECT_EQ(s->WritePendingSecretVersion(Write("app", 0)).reason(), "data/secret_changed");
  EXPECT_EQ(s->WritePendingSecretVersion(Write("none", 0)).code(), StatusCode::kNotFound);
  EXPECT_EQ(s->ReadAudit(0, 100)->back().action, "secret.rotation_create");
}

TEST_P(SecretStoreContract, RotationStepsAreRecorded) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  EXPECT_EQ(s->SetSecretRotationStep("secret", "app", "set", "").reason(),
            "data/no_pending_version");
  ASSERT_TRUE(s->WritePendingSecretVersion(Write("app", 1)).ok());
  ASSERT_TRUE(s->SetSecretRotationStep("secret", "app", "set", "").ok());
  EXPECT_EQ(s->ReadSecret("secret", "app")->rotation_step, "set");
  audit::AuditEntry e = Entry("secret.rotation_test");
  ASSERT_TRUE(s->SetSecretRotationStep("secret", "app", "set", "test: exited 1", &e).ok());
  auto r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->rotation_step, "set");
  EXPECT_EQ(r->rotation_failure, "test: exited 1");
  EXPECT_EQ(s->ReadAudit(0, 100)->back().action, "secret.rotation_test");
  EXPECT_EQ(s->SetSecretRotationStep("secret", "none", "set", "").code(), StatusCode::kNotFound);
}

TEST_P(SecretStoreContract, FinishingMakesPendingCurrentAndCurrentPrevious) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  SecretRecord meta = *s->ReadSecret("secret", "app");
  meta.max_versions = 1;  // the previous version is kept all the same
  ASSERT_TRUE(s->PutSecretMetadata(meta).ok());
  ASSERT_TRUE(s->WritePendingSecretVersion(Write("app", 1)).ok());
  EXPECT_EQ(s->FinishSecretRotation("secret", "app", 3, 9000, 5000).reason(),
            "data/no_pending_version");
  audit::AuditEntry e = Entry("secret.rotation_finish");
  ASSERT_TRUE(s->FinishSecretRotation("secret", "app", 2, 9000, 5000, &e).ok());
  auto r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->current_version, 2);
  EXPECT_EQ(r->previous_version, 1);
  EXPECT_FALSE(r->pending_version);
  EXPECT_EQ(r->rotation_step, "");
  EXPECT_EQ(r->next_rotation_at_ms, 9000);
  EXPECT_EQ(r->updated_at_ms, 5000);
  EXPECT_EQ(r->versions.size(), 2u);
  // Finished: a second finish finds nothing pending, and plain writes go on from version 2.
  EXPECT_EQ(s->FinishSecretRotation("secret", "app", 2, 9000, 5000).reason(),
            "data/no_pending_version");
  EXPECT_TRUE(s->WriteSecretVersion(Write("app", 2)).ok());
  EXPECT_EQ(s->ReadAudit(0, 100)->back().action, "secret.rotation_finish");
}

TEST_P(SecretStoreContract, CancellingDropsThePendingVersionOnly) {
  auto s = Open();
  ASSERT_TRUE(s->WriteSecretVersion(Write("app", 0)).ok());
  ASSERT_TRUE(s->WritePendingSecretVersion(Write("app", 1)).ok());
  ASSERT_TRUE(s->SetSecretRotationStep("secret", "app", "create", "set: exited 2").ok());
  ASSERT_TRUE(s->CancelSecretRotation("secret", "app").ok());
  auto r = s->ReadSecret("secret", "app");
  EXPECT_EQ(r->current_version, 1);
  EXPECT_FALSE(r->pending_version);
  EXPECT_EQ(r->rotation_step, "");
  EXPECT_EQ(r->rotation_failure, "");
  EXPECT_EQ(r->versions.size(), 1u);
  EXPECT_EQ(s->ReadSecretVersion("secret", "app", 2).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->CancelSecretRotation("secret", "app").ok());  // nothing pending: no change
  // The number is free again for the next rotation.
  EXPECT_TRUE(s->WritePendingSecretVersion(Write("app", 1)).ok());
  EXPECT_EQ(s->CancelSecretRotation("secret", "none").code(), StatusCode::kNotFound);
}

TEST_P(SecretStoreContract, DueSecretsAreListedEarliestFirst) {
  auto s = Open();
  for (const auto& [path, at] :
       {std::pair{"b", int64_t{3000}}, {"a", 3000}, {"c", 1000}, {"later", 9000}}) {
    ASSERT_TRUE(s->WriteSecretVersion(Write(path, 0)).ok());
    SecretRecord meta = *s->ReadSecret("secret", path);
    meta.rotation_period_ms = 100;
    meta.next_rotation_at_ms = at;
    ASSERT_TRUE(s->PutSecretMetadata(meta).ok());
  }
  ASSERT_TRUE(s->WriteSecretVersion(Write("unscheduled", 0)).ok());
  auto due = s->ListSecretsDue(5000, 100);
  ASSERT_TRUE(due.ok());
  std::vector<std::string> paths;
  for (const auto& r : *due) paths.push_back(r.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ((*due)[0].next_rotation_at_ms, 1000);
  EXPECT_TRUE((*due)[0].versions.empty());
  EXPECT_EQ(s->ListSecretsDue(5000, 1)->size(), 1u);
  EXPECT_EQ(s->ListSecretsDue(5000, 0).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(AllStores, SecretStoreContract, ::testing::ValuesIn(Factories()),
                         [](const ::testing::TestParamInfo<StoreFactory>& p) {
                           return p.param.name;
                         });

}  // namespace
}  // namespace keyhold::store
