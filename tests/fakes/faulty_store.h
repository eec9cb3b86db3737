// FaultyStore: wraps a real Store and fails writes on demand, to test that a failed write
// changes nothing and is reported. Failed writes say what a real store says, with a log detail.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

#include "store/store.h"

namespace keyhold::testing {

class FaultyStore final : public store::Store {
 public:
  explicit FaultyStore(store::Store& inner) : inner_(inner) {}
  void FailWrites(bool fail) { fail_ = fail; }
  // Fails only the writes that append to the audit log, as a store whose audit table cannot be
  // written would.
  void FailAuditWrites(bool fail) { fail_audit_ = fail; }
  // Fails only EndRotationRuns, as a store that could not end a rotation run (nor store its
  // outcome) would: the run record stays.
  void FailRotationRunEnds(bool fail) { fail_run_ends_ = fail; }

  Status Load(store::Snapshot& snap, const KeyVisitor& on_key) override {
    return inner_.Load(snap, on_key);
  }
  // Runs `hook` at the start of each Apply (before any failure is decided); nullptr for none.
  // Set it while no write is under way.
  void BeforeApply(std::function<void()> hook) { before_apply_ = std::move(hook); }

  Status Apply(const store::WriteBatch& b) override {
    if (before_apply_) before_apply_();
    if (fail_ || (fail_audit_ && !b.audit.empty())) return WriteFailure();
    return inner_.Apply(b);
  }
  StatusOr<store::SpendResult> SpendCredits(const std::string& key_id, int64_t cost, int64_t now_ms,
                                            int64_t extra) override {
    if (fail_) return WriteFailure();
    return inner_.SpendCredits(key_id, cost, now_ms, extra);
  }
  StatusOr<std::vector<std::optional<CreditsState>>> GiveBackCredits(
      const std::vector<store::CreditsReturn>& returns, int64_t now_ms) override {
    if (fail_) return WriteFailure();
    return inner_.GiveBackCredits(returns, now_ms);
  }
  StatusOr<CreditsState> AdjustCredits(const std::string& key_id, int64_t delta, int64_t now_ms,
                                       const audit::AuditEntry* audit = nullptr) override {
    if (fail_ || (fail_audit_ && audit)) return WriteFailure();
    return inner_.AdjustCredits(key_id, delta, now_ms, audit);
  }
  Status TouchLastUsed(const std::vector<std::pair<std::string, int64_t>>& t) override {
    return inner_.TouchLastUsed(t);
  }
  StatusOr<std::vector<std::string>> ListKeyIds(const std::string& api, const std::string& after,
                                                const std::string& identity, int limit) override {
    return inner_.ListKeyIds(api, after, identity, limit);
  }
  StatusOr<std::vector<store::Change>> ChangesSince(uint64_t after_seq, int limit) override {
    return inner_.ChangesSince(after_seq, limit);
  }
  StatusOr<uint64_t> LatestChangeSeq() override { return inner_.LatestChangeSeq(); }
  StatusOr<std::vector<audit::AuditEntry>> ReadAudit(int64_t after_seq, int limit) override {
    return inner_.ReadAudit(after_seq, limit);
  }
  StatusOr<std::vector<audit::AuditEntry>> QueryAudit(const store::AuditQuery& q) override {
    return inner_.QueryAudit(q);
  }
  StatusOr<store::AuditTail> ReadAuditTail() override { return inner_.ReadAuditTail(); }
  StatusOr<std::vector<uint8_t>> AuditSalt() override { return inner_.AuditSalt(); }
  Status PutAuditCheckpoint(const audit::Checkpoint& cp) override {
    if (fail_ || fail_audit_) return WriteFailure();
    return inner_.PutAuditCheckpoint(cp);
  }
  StatusOr<std::vector<audit::Checkpoint>> ListAuditCheckpoints(int64_t after_seq,
                                                                int limit) override {
    return inner_.ListAuditCheckpoints(after_seq, limit);
  }
  Status RecordUsage(const std::vector<store::UsageRow>& rows) override {
    if (fail_) return WriteFailure();
    return inner_.RecordUsage(rows);
  }
  Status JournalUsage(const std::vector<store::UsageRow>& rows) override {
    if (fail_) return WriteFailure();
    return inner_.JournalUsage(rows);
  }
  // How many times the usage journal was read.
  size_t journal_reads() const { return journal_reads_; }
  // Fails reads of the usage journal, as a store whose journal table cannot be read would.
  void FailJournalReads(bool fail) { fail_journal_reads_ = fail; }
  StatusOr<store::UsageJournal> ReadUsageJournal() override {
    ++journal_reads_;
    if (fail_journal_reads_) {
      return Unavailable("the store could not be read", "application/store_unavailable")
          .WithLogDetail("injected read failure");
    }
    return inner_.ReadUsageJournal();
  }
  Status CloseUsage(int64_t before_ms, const std::vector<store::UsageRow>& rows) override {
    if (fail_) return WriteFailure();
    return inner_.CloseUsage(before_ms, rows);
  }
  StatusOr<std::vector<store::UsageCount>> QueryUsage(const store::UsageQuery& q) override {
    return inner_.QueryUsage(q);
  }
  StatusOr<std::vector<store::UsageRow>> ReadUsage(const std::string& key_id, int64_t since_ms,
                                                   int64_t until_ms, int limit) override {
    return inner_.ReadUsage(key_id, since_ms, until_ms, limit);
  }
  Status PruneUsage(int64_t rows_before, int64_t hours_before, int64_t days_before) override {
    return inner_.PruneUsage(rows_before, hours_before, days_before);
  }
  StatusOr<audit::RaiseOutcome> RaiseAlert(const audit::Alert& alert, int64_t dedupe_since_ms,
                                           const std::string& only_endpoint_id) override {
    if (fail_) return WriteFailure();
    return inner_.RaiseAlert(alert, dedupe_since_ms, only_endpoint_id);
  }
  StatusOr<std::vector<audit::Alert>> ListAlerts(const store::AlertQuery& q) override {
    return inner_.ListAlerts(q);
  }
  StatusOr<audit::Alert> GetAlert(const std::string& id) override { return inner_.GetAlert(id); }
  Status AcknowledgeAlert(const std::string& id, const std::string& by, int64_t at_ms,
                          const audit::AuditEntry* audit = nullptr) override {
    if (fail_ || (fail_audit_ && audit)) return WriteFailure();
    return inner_.AcknowledgeAlert(id, by, at_ms, audit);
  }
  Status PutWebhookEndpoint(const store::WebhookEndpointRecord& e,
                            const audit::AuditEntry* audit = nullptr) override {
    if (fail_ || (fail_audit_ && audit)) return WriteFailure();
    return inner_.PutWebhookEndpoint(e, audit);
  }
  Status DeleteWebhookEndpoint(const std::string& id,
                               const audit::AuditEntry* audit = nullptr) override {
    if (fail_ || (fail_audit_ && audit)) return WriteFailure();
    return inner_.DeleteWebhookEndpoint(id, audit);
  }
  StatusOr<std::vector<store::WebhookEndpointRecord>> ListWebhookEndpoints() override {
    return inner_.ListWebhookEndpoints();
  }
  StatusOr<store::WebhookEndpointRecord> GetWebhookEndpoint(const std::string& id) override {
    return inner_.GetWebhookEndpoint(id);
  }
  StatusOr<std::vector<store::DeliveryRecord>> DueDeliveries(int64_t now_ms, int limit) override {
    return inner_.DueDeliveries(now_ms, limit);
  }
  StatusOr<int64_t> CountPendingDeliveries() override { return inner_.CountPendingDeliveries(); }
  StatusOr<std::vector<store::DeliveryRecord>> ListDeliveries(const std::string& endpoint_id,
                                                              int limit) override {
    return inner_.ListDeliveries(endpoint_id, limit);
  }
  Status RecordDeliveryAttempt(const store::DeliveryRecord& d) override {
    if (fail_) return WriteFailure();
    return inner_.RecordDeliveryAttempt(d);
  }
  Status PruneAlerts(int64_t before_ms) override {
    if (fail_) return WriteFailure();
    return inner_.PruneAlerts(before_ms);
  }
  Status RecordSecretRead(const audit::AuditEntry& entry) override {
    if (Fails(&entry)) return WriteFailure();
    return inner_.RecordSecretRead(entry);
  }
  void RecordSecretReadLater(audit::AuditEntry entry, std::function<void(Status)> done) override {
    if (Fails(&entry)) return done(WriteFailure());
    {
      std::lock_guard lock(held_mu_);
      if (hold_reads_) {
        held_reads_.emplace_back(std::move(entry), std::move(done));
        return;
      }
    }
    inner_.RecordSecretReadLater(std::move(entry), std::move(done));
  }
  // While held, the entries of RecordSecretReadLater wait here, uncommitted, as behind a slow
  // commit. Unholding passes them on (or, with `fail`, fails each) and stops holding.
  void HoldReadAudits() {
    std::lock_guard lock(held_mu_);
    hold_reads_ = true;
  }
  void ReleaseReadAudits(bool fail = false) {
    std::vector<std::pair<audit::AuditEntry, std::function<void(Status)>>> held;
    {
      std::lock_guard lock(held_mu_);
      hold_reads_ = false;
      held.swap(held_reads_);
    }
    for (auto& [entry, done] : held) {
      if (fail) {
        done(WriteFailure());
      } else {
        inner_.RecordSecretReadLater(std::move(entry), std::move(done));
      }
    }
  }
  std::optional<StatusOr<store::Store::SecretReadNow>> TryReadSecretNow(const std::string& mount,
                                                                        const std::string& path,
                                                                        int64_t version) override {
    return inner_.TryReadSecretNow(mount, path, version);
  }
  StatusOr<std::vector<store::SecretMountRecord>> ListSecretMounts() override {
    return inner_.ListSecretMounts();
  }
  Status PutSecretMount(const store::SecretMountRecord& m,
                        const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.PutSecretMount(m, audit);
  }
  StatusOr<std::vector<crypto::SealedTerm>> ReadKeyring() override { return inner_.ReadKeyring(); }
  Status AddKeyringTerm(const crypto::SealedTerm& t,
                        const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.AddKeyringTerm(t, audit);
  }
  StatusOr<store::SecretRecord> ReadSecret(const std::string& mount,
                                           const std::string& path) override {
    return inner_.ReadSecret(mount, path);
  }
  StatusOr<store::SecretVersionRecord> ReadSecretVersion(const std::string& mount,
                                                         const std::string& path,
                                                         int64_t version) override {
    return inner_.ReadSecretVersion(mount, path, version);
  }
  Status WriteSecretVersion(const store::SecretVersionWrite& w,
                            const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.WriteSecretVersion(w, audit);
  }
  Status ChangeSecretVersions(const std::string& mount, const std::string& path,
                              store::SecretVersionOp op, const std::vector<int64_t>& versions,
                              int64_t now_ms, const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.ChangeSecretVersions(mount, path, op, versions, now_ms, audit);
  }
  Status PutSecretMetadata(const store::SecretRecord& m,
                           const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.PutSecretMetadata(m, audit);
  }
  Status DeleteSecret(const std::string& mount, const std::string& path,
                      const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.DeleteSecret(mount, path, audit);
  }
  StatusOr<std::vector<std::string>> ListSecretPaths(const std::string& mount,
                                                     const std::string& prefix,
                                                     const std::string& after, int limit) override {
    return inner_.ListSecretPaths(mount, prefix, after, limit);
  }
  StatusOr<std::vector<store::WrappedVersion>> VersionsWrappedBelow(int32_t term,
                                                                    int limit) override {
    return inner_.VersionsWrappedBelow(term, limit);
  }
  Status WritePendingSecretVersion(const store::SecretVersionWrite& w,
                                   const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.WritePendingSecretVersion(w, audit);
  }
  Status SetSecretRotationStep(const std::string& mount, const std::string& path,
                               const std::string& step, const std::string& failure,
                               const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.SetSecretRotationStep(mount, path, step, failure, audit);
  }
  Status FinishSecretRotation(const std::string& mount, const std::string& path, int64_t pending,
                              std::optional<int64_t> next_rotation_at_ms, int64_t now_ms,
                              const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.FinishSecretRotation(mount, path, pending, next_rotation_at_ms, now_ms, audit);
  }
  Status CancelSecretRotation(const std::string& mount, const std::string& path,
                              const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.CancelSecretRotation(mount, path, audit);
  }
  StatusOr<std::vector<store::SecretRecord>> ListSecretsDue(int64_t due_by_ms, int limit) override {
    return inner_.ListSecretsDue(due_by_ms, limit);
  }
  Status PutRotationOutcome(const store::RotationOutcomeRecord& o) override {
    if (fail_) return WriteFailure();
    return inner_.PutRotationOutcome(o);
  }
  StatusOr<std::optional<store::RotationOutcomeRecord>> ReadRotationOutcome(
      const std::string& mount, const std::string& path) override {
    return inner_.ReadRotationOutcome(mount, path);
  }
  Status DeleteRotationOutcome(const std::string& mount, const std::string& path) override {
    if (fail_) return WriteFailure();
    return inner_.DeleteRotationOutcome(mount, path);
  }
  Status PutRotationRun(const store::RotationRunRecord& r) override {
    if (fail_) return WriteFailure();
    return inner_.PutRotationRun(r);
  }
  Status DeleteRotationRun(const std::string& mount, const std::string& path) override {
    if (fail_) return WriteFailure();
    return inner_.DeleteRotationRun(mount, path);
  }
  Status EndRotationRuns(const std::vector<store::RotationRunEnd>& ends) override {
    if (fail_ || fail_run_ends_) return WriteFailure();
    return inner_.EndRotationRuns(ends);
  }
  StatusOr<std::vector<store::RotationRunRecord>> ListRotationRuns(int limit) override {
    return inner_.ListRotationRuns(limit);
  }
  StatusOr<std::vector<store::StagedRotationRecord>> ListStagedRotations(int limit) override {
    return inner_.ListStagedRotations(limit);
  }
  StatusOr<bool> RewrapSecretVersion(const store::WrappedVersion& old, int32_t new_term,
                                     const std::vector<uint8_t>& wrapped_key) override {
    if (fail_) return WriteFailure();
    return inner_.RewrapSecretVersion(old, new_term, wrapped_key);
  }
  StatusOr<store::KeyRecord> GetKeyRecord(const std::string& key_id) override {
    return inner_.GetKeyRecord(key_id);
  }
  StatusOr<std::vector<std::string>> QueryKeyIds(const store::KeyQuery& q) override {
    return inner_.QueryKeyIds(q);
  }
  StatusOr<store::RatelimitOverrideRecord> PutRatelimitOverride(
      const store::RatelimitOverrideRecord& o, const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.PutRatelimitOverride(o, audit);
  }
  StatusOr<store::RatelimitOverrideRecord> DeleteRatelimitOverride(
      const std::string& namespace_name, const std::string& identifier,
      const audit::AuditEntry* audit = nullptr) override {
    if (Fails(audit)) return WriteFailure();
    return inner_.DeleteRatelimitOverride(namespace_name, identifier, audit);
  }
  StatusOr<std::vector<store::RatelimitOverrideRecord>> ListRatelimitOverrides(
      const std::string& namespace_name, const std::string& after_id, int limit) override {
    return inner_.ListRatelimitOverrides(namespace_name, after_id, limit);
  }
  int SchemaVersion() override { return inner_.SchemaVersion(); }

 private:
  bool Fails(const audit::AuditEntry* audit) const { return fail_ || (fail_audit_ && audit); }
  static Status WriteFailure() {
    return Unavailable("the store could not be written", "application/store_unavailable")
        .WithLogDetail("injected write failure");
  }

  store::Store& inner_;
  std::function<void()> before_apply_;
  std::atomic<bool> fail_{false};
  std::atomic<bool> fail_audit_{false};
  std::mutex held_mu_;
  bool hold_reads_ = false;  // guarded by held_mu_
  std::vector<std::pair<audit::AuditEntry, std::function<void(Status)>>> held_reads_;  // held_mu_
  std::atomic<bool> fail_run_ends_{false};
  std::atomic<size_t> journal_reads_{0};
  std::atomic<bool> fail_journal_reads_{false};
};

}  // namespace keyhold::testing
