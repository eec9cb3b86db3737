// SecretService: path policy first, then the store, with every value sealed before it leaves this
// file for the store and opened only for the caller who may read it.
#include "service/secrets.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>
#include <thread>

#include "audit/chain.h"
#include "core/secret_path.h"
#include "crypto/keyring.h"
#include "store/store.h"

namespace keyhold::service {
namespace {

using nlohmann::json;

constexpr int kWriteAttempts = 8;       // retries of a write another writer overtook
constexpr size_t kMaxListed = 100'000;  // names one LIST returns at most
constexpr int kRewrapBatch = 500;

std::string Target(const std::string& mount, const std::string& path) { return mount + "/" + path; }

// The associated data binding a sealed value to its row. Neither a mount name nor a path can
// hold '|', so distinct rows never share it.
std::string Aad(const std::string& mount, const std::string& path, int64_t version) {
  return mount + "|" + path + "|" + std::to_string(version);
}

Status CheckMount(const std::string& mount) {
  if (!IsValidMountName(mount)) return InvalidArgument("invalid mount name");
  return OkStatus();
}

Status CheckPath(const std::string& mount, const std::string& path) {
  KH_RETURN_IF_ERROR(CheckMount(mount));
  if (!IsValidSecretPath(path)) {
    return InvalidArgument(
        "invalid secret path: use '/'-separated segments of letters, digits and ._@=,~:- (no "
        "empty, '.' or '..' segment), at most " +
        std::to_string(kMaxSecretPathLength) + " characters");
  }
  return OkStatus();
}

SecretVersionInfo InfoOf(const store::SecretVersionRecord& v) {
  return {v.version, v.created_at_ms, v.deleted_at_ms, v.destroyed};
}

bool Available(const store::SecretVersionRecord& v, int64_t now) {
  return !v.destroyed && !(v.deleted_at_ms && *v.deleted_at_ms <= now);
}

SecretMetadata MetadataOf(const store::SecretRecord& r) {
  SecretMetadata m{r.mount,
                   r.path,
                   r.current_version,
                   r.oldest_version,
                   r.max_versions,
                   r.cas_required,
                   r.delete_version_after_ms,
                   r.custom_metadata_json,
                   r.rotation_period_ms,
                   r.next_rotation_at_ms,
                   r.created_at_ms,
                   r.updated_at_ms,
                   {},
                   r.pending_version,
                   r.previous_version,
                   r.rotation_step,
                   r.rotation_failure};
  for (const auto& v : r.versions) m.versions.push_back(InfoOf(v));
  return m;
}

json Describe(const store::SecretRecord& r) {
  return {{"maxVersions", r.max_versions},
          {"casRequired", r.cas_required},
          {"deleteVersionAfterMs", r.delete_version_after_ms},
          {"customMetadata", r.custom_metadata_json.empty()
                                 ? json::object()
                                 : json::parse(r.custom_metadata_json, nullptr, false)},
          {"rotationPeriodMs", r.rotation_period_ms ? json(*r.rotation_period_ms) : json(nullptr)}};
}

// A JSON object of data, parsed; kInvalidArgument (never quoting it) if it is not one.
StatusOr<json> ParseDataObject(std::string_view text) {
  if (text.size() > kMaxSecretDataBytes) {
    return Status(StatusCode::kPayloadTooLarge, "application/payload_too_large",
                  "secret data is over " + std::to_string(kMaxSecretDataBytes) + " bytes");
  }
  json data = json::parse(text, nullptr, false);
  if (!data.is_object()) return InvalidArgument("secret data must be a JSON object");
  return data;
}

Status CheckCustomMetadata(const std::string& text) {
  if (text.size() > kMaxCustomMetadataBytes) {
    return InvalidArgument("custom_metadata is over " + std::to_string(kMaxCustomMetadataBytes) +
                           " bytes");
  }
  json m = json::parse(text, nullptr, false);
  if (!m.is_object()) return InvalidArgument("custom_metadata must be an object of strings");
  for (const auto& [k, v] : m.items()) {
    if (!v.is_string() || k.empty()) {
      return InvalidArgument("custom_metadata must be an object of strings");
    }
  }
  return OkStatus();
}

// A secret's own limit (max versions, delete-after) within the mount's: the smaller of the two
// where both are set, as Vault does, so a caller who may change one secret's metadata cannot
// escape the operator's limit. 0 means unset.
int64_t EffectiveLimit(int64_t secret, int64_t mount) {
  if (secret > 0 && mount > 0) return std::min(secret, mount);
  return secret > 0 ? secret : mount;
}

Status CasMismatch() {
  return InvalidArgument("check-and-set parameter did not match the current version",
                         "data/cas_mismatch");
}

class SecretServiceImpl final : public SecretService {
 public:
  SecretServiceImpl(store::Store& store, Env& env, std::unique_ptr<crypto::Keyring> ring)
      : store_(store), env_(env), ring_(std::move(ring)) {}
  ~SecretServiceImpl() override {
    {
      std::lock_guard lock(rewrap_mu_);
      if (rewrap_.joinable()) {
        rewrap_.request_stop();
        rewrap_.join();
      }
    }
    // Reads waiting for their audit entries are answered from the store's thread through this
    // service (their slots, the unaudited-read alert): wait until the store has answered them all
    // and left their answers' code.
    // It always does, committed or failed, within its busy timeout.
    for (int waited_ms = 0;
         pending_.Reads() > 0 || answers_in_flight_.load(std::memory_order_acquire) > 0;
         ++waited_ms) {
      if (waited_ms > 0 && waited_ms % 10'000 == 0) {
        spdlog::warn("closing the secret service: {} reads still wait for their audit entries",
                     pending_.Reads());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Starts re-wrapping data keys of older terms, if there are any (an interrupted rotation).
  void ResumeRewrap() { StartRewrap(); }

  StatusOr<SecretValue> Read(const RequestContext& ctx, const std::string& mount,
                             const std::string& path, int64_t version) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    if (version < 0) return InvalidArgument("version must not be negative");
    KH_RETURN_IF_ERROR(Require(ctx, "read", mount, path, "secret.read"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    int64_t wanted = 0;
    KH_ASSIGN_OR_RETURN(SecretValue out, OpenVersion(mount, path, version, wanted));
    if (!out.available) return out;
    // Counted only now: the value's size is known once it is open. A refused value is wiped here.
    std::optional<PendingReads::Slot> slot = pending_.TryTake(out.data_json.Reveal().size());
    if (!slot) return ReadsBacklogged();
    Status audited = store_.RecordSecretRead(ReadEntry(ctx, mount, path, wanted));
    if (!audited.ok()) {
      ReportUnaudited(ctx, audited);
      return audited;  // `out` is wiped as it goes
    }
    ReportAudited();
    return out;
  }

  bool ReadLater(const RequestContext& ctx, const std::string& mount, const std::string& path,
                 int64_t version, std::function<void(StatusOr<SecretValue>)> done) override {
    // What would wait, or is rare enough not to matter, is left to Read: a refusal (it is
    // audited), mounts to read again, a read that would wait for the store, bad input.
    if (version < 0 || !CheckPath(mount, path).ok() ||
        !SecretAccessGranted(ctx.actor.permissions, "read", Target(mount, path)) ||
        !MountKnownNow(mount)) {
      return false;
    }
    auto now = store_.TryReadSecretNow(mount, path, version);
    if (!now) return false;
    if (!now->ok()) {
      done(now->status());
      return true;
    }
    int64_t wanted = 0;
    store::Store::SecretReadNow& read = now->value();
    // Taken before the value is opened, by its sealed size (which bounds the plaintext's): a
    // refused read decrypts nothing.
    std::optional<PendingReads::Slot> slot =
        pending_.TryTake(read.version ? read.version->ciphertext.size() : 0);
    if (!slot) {
      done(ReadsBacklogged());
      return true;
    }
    StatusOr<SecretValue> out =
        OpenKept(mount, path, read.secret, version, wanted,
                 [&](int64_t v) -> StatusOr<store::SecretVersionRecord> {
                   if (!read.version || read.version->version != v) {
                     return NotFound("no such secret version", "data/secret_not_found");
                   }
                   return std::move(*read.version);
                 });
    if (!out.ok() || !out->available) {
      done(std::move(out));
      return true;
    }
    // Shared only because std::function must be copyable: one closure holds it.
    auto held = std::make_shared<std::optional<HeldRead>>(
        HeldRead{std::move(out.value()), std::move(*slot)});
    // Counted until the store's thread has left the closure: closing the service waits for it.
    answers_in_flight_.fetch_add(1, std::memory_order_relaxed);
    store_.RecordSecretReadLater(
        ReadEntry(ctx, mount, path, wanted), [this, held = std::move(held), done = std::move(done),
                                              who = UnauditedReadOf(ctx)](const Status& st) {
          struct Leaving {
            std::atomic<int64_t>& n;
            ~Leaving() { n.fetch_sub(1, std::memory_order_release); }
          } leaving{answers_in_flight_};  // the last thing this closure does
          if (!st.ok()) {
            held->reset();  // the value is wiped, and its slot given back, before anything else
            ReportUnaudited(who, st);
            return done(st);
          }
          ReportAudited();
          SecretValue value = std::move((*held)->value);
          done(std::move(value));
          held->reset();
        });
    return true;
  }

  void SetPendingReadLimits(PendingReadLimits limits) override { pending_.SetLimits(limits); }
  void SetUnauditedReadAlert(std::function<void(audit::Alert)> post) override {
    unaudited_alert_ = std::move(post);
  }

  StatusOr<SecretVersionInfo> Write(const RequestContext& ctx, const std::string& mount,
                                    const std::string& path, crypto::Secret data_json,
                                    std::optional<int64_t> cas) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(RequireWrite(ctx, mount, path));
    KH_RETURN_IF_ERROR(ParseDataObject(data_json.Reveal()).status());
    return WriteVersion(ctx, mount, path, "secret.write", cas,
                        [&](const store::SecretRecord&) -> StatusOr<crypto::Secret> {
                          return crypto::Secret(std::string(data_json.Reveal()));
                        });
  }

  StatusOr<SecretVersionInfo> Patch(const RequestContext& ctx, const std::string& mount,
                                    const std::string& path, crypto::Secret patch_json,
                                    std::optional<int64_t> cas) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "patch", mount, path, "secret.patch"));
    KH_ASSIGN_OR_RETURN(json patch, ParseDataObject(patch_json.Reveal()));
    return WriteVersion(
        ctx, mount, path, "secret.patch", cas,
        [&](const store::SecretRecord& rec) -> StatusOr<crypto::Secret> {
          KH_ASSIGN_OR_RETURN(crypto::Secret current, OpenCurrent(rec));
          json data = json::parse(current.Reveal(), nullptr, false);
          if (!data.is_object()) return Internal("a stored secret is not an object");
          data.merge_patch(patch);
          std::string text = data.dump();
          if (text.size() > kMaxSecretDataBytes) {
            return Status(StatusCode::kPayloadTooLarge, "application/payload_too_large",
                          "secret data is over " + std::to_string(kMaxSecretDataBytes) + " bytes");
          }
          return crypto::Secret(std::move(text));
        });
  }

  Status DeleteVersions(const RequestContext& ctx, const std::string& mount,
                        const std::string& path, const std::vector<int64_t>& versions) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "delete", mount, path, "secret.delete"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    std::vector<int64_t> which = versions;
    if (which.empty()) {
      KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
      if (rec.current_version == 0) return OkStatus();
      which.push_back(rec.current_version);
    }
    return ChangeVersions(ctx, mount, path, store::SecretVersionOp::kDelete, which,
                          "secret.delete");
  }

  Status UndeleteVersions(const RequestContext& ctx, const std::string& mount,
                          const std::string& path, const std::vector<int64_t>& versions) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "update", mount, path, "secret.undelete"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    return ChangeVersions(ctx, mount, path, store::SecretVersionOp::kUndelete, versions,
                          "secret.undelete");
  }

  Status DestroyVersions(const RequestContext& ctx, const std::string& mount,
                         const std::string& path, const std::vector<int64_t>& versions) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "destroy", mount, path, "secret.destroy"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    return ChangeVersions(ctx, mount, path, store::SecretVersionOp::kDestroy, versions,
                          "secret.destroy");
  }

  StatusOr<SecretMetadata> ReadMetadata(const RequestContext& ctx, const std::string& mount,
                                        const std::string& path) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "read", mount, path, "secret.metadata_read"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    return MetadataOf(rec);
  }

  Status WriteMetadata(const RequestContext& ctx, const std::string& mount, const std::string& path,
                       const MetadataChange& change) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "update", mount, path, "secret.metadata_update"));
    KH_RETURN_IF_ERROR(CheckMetadataChange(change));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    int64_t now = env_.NowMillis();
    store::SecretRecord rec;
    auto found = store_.ReadSecret(mount, path);
    bool existed = found.ok();
    if (existed) {
      rec = *std::move(found);
    } else if (found.status().code() == StatusCode::kNotFound) {
      rec.mount = mount;
      rec.path = path;
      rec.created_at_ms = now;
    } else {
      return found.status();
    }
    json before = existed ? Describe(rec) : json(nullptr);
    Apply(change, now, rec);
    rec.updated_at_ms = now;
    audit::AuditEntry entry = Entry(ctx, "secret.metadata_update", mount, path,
                                    {{"before", before}, {"after", Describe(rec)}});
    return store_.PutSecretMetadata(rec, &entry);
  }

  Status DeleteMetadata(const RequestContext& ctx, const std::string& mount,
                        const std::string& path) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "destroy", mount, path, "secret.metadata_delete"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    audit::AuditEntry entry = Entry(ctx, "secret.metadata_delete", mount, path, json::object());
    return store_.DeleteSecret(mount, path, &entry);
  }

  StatusOr<std::vector<std::string>> List(const RequestContext& ctx, const std::string& mount,
                                          const std::string& folder) override {
    KH_RETURN_IF_ERROR(CheckMount(mount));
    if (!folder.empty() &&
        (!folder.ends_with('/') ||
         !IsValidSecretPath(std::string_view(folder).substr(0, folder.size() - 1)))) {
      return InvalidArgument("invalid folder path");
    }
    std::string under = mount + "/" + folder;
    if (!SecretListReaches(ctx.actor.permissions, under)) {
      return Deny(ctx, "secret.list", mount, folder);
    }
    KH_RETURN_IF_ERROR(RequireMount(mount));
    return Children(ctx, mount, folder);
  }

  StatusOr<ListPage> ListRecursive(const RequestContext& ctx, const std::string& mount,
                                   const std::string& folder, const std::string& after,
                                   int limit) override {
    KH_RETURN_IF_ERROR(CheckMount(mount));
    if (!folder.empty() &&
        (!folder.ends_with('/') ||
         !IsValidSecretPath(std::string_view(folder).substr(0, folder.size() - 1)))) {
      return InvalidArgument("invalid folder path");
    }
    if (limit < 1 || limit > kMaxListPage) {
      return InvalidArgument("limit must be 1 to " + std::to_string(kMaxListPage));
    }
    if (after.size() > 4096) return InvalidArgument("after is too long");
    if (!SecretListReaches(ctx.actor.permissions, mount + "/" + folder)) {
      return Deny(ctx, "secret.list", mount, folder);
    }
    KH_RETURN_IF_ERROR(RequireMount(mount));
    const auto& held = ctx.actor.permissions;
    ListPage page;
    std::string from = folder + after;
    // The cursor handed back is always a path the caller was shown, never one it may not list
    // (even the name of a path is not the caller's to learn), so a page looks as far as it must
    // to fill up or reach the end, within the request's deadline, as a plain LIST does.
    while (page.keys.size() < static_cast<size_t>(limit)) {
      if (ctx.Expired(std::chrono::steady_clock::now())) {
        return Unavailable("listing took too long; list a narrower folder");
      }
      KH_ASSIGN_OR_RETURN(auto paths, store_.ListSecretPaths(mount, folder, from, 1000));
      for (const std::string& p : paths) {
        from = p;
        if (SecretAccessGranted(held, "list", Target(mount, p))) {
          page.keys.push_back(p.substr(folder.size()));
          if (page.keys.size() == static_cast<size_t>(limit)) break;
        }
      }
      if (page.keys.size() < static_cast<size_t>(limit) && paths.size() < 1000) {
        return page;  // the end
      }
    }
    page.next_after = page.keys.back();
    return page;
  }

  StatusOr<MountConfig> ReadMountConfig(const RequestContext& ctx,
                                        const std::string& mount) override {
    KH_RETURN_IF_ERROR(CheckMount(mount));
    if (!SecretAccessGranted(ctx.actor.permissions, "read", mount)) {
      return Deny(ctx, "secret.mount_read", mount, "");
    }
    KH_ASSIGN_OR_RETURN(store::SecretMountRecord m, FreshMount(mount));
    return MountConfig{m.name, m.max_versions, m.cas_required, m.delete_version_after_ms};
  }

  Status WriteMountConfig(const RequestContext& ctx, const MountConfig& config) override {
    KH_RETURN_IF_ERROR(CheckMount(config.name));
    KH_RETURN_IF_ERROR(CheckMountConfig(config));
    if (!SecretAccessGranted(ctx.actor.permissions, "update", config.name)) {
      return Deny(ctx, "secret.mount_update", config.name, "");
    }
    KH_ASSIGN_OR_RETURN(store::SecretMountRecord m, FreshMount(config.name));
    return PutMount(ctx, "secret.mount_update", m, config);
  }

  Status EnableMount(const RequestContext& ctx, const MountConfig& config) override {
    KH_RETURN_IF_ERROR(CheckMount(config.name));
    KH_RETURN_IF_ERROR(CheckMountConfig(config));
    if (!SecretAccessGranted(ctx.actor.permissions, "update", config.name)) {
      return Deny(ctx, "secret.mount_enable", config.name, "");
    }
    if (MountExists(config.name)) {
      return AlreadyExists("a mount named '" + config.name + "' already exists",
                           "data/mount_exists");
    }
    store::SecretMountRecord m;
    m.name = config.name;
    m.created_at_ms = env_.NowMillis();
    return PutMount(ctx, "secret.mount_enable", m, config);
  }

  bool MountExists(const std::string& mount) override { return RequireMount(mount).ok(); }

  StatusOr<SecretValue> ReadStage(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path, SecretStage stage) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "read", mount, path, "secret.read"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    // 0: no version at that stage.
    int64_t version = rec.current_version;
    if (stage == SecretStage::kPending) version = rec.pending_version.value_or(0);
    if (stage == SecretStage::kPrevious) version = rec.previous_version.value_or(0);
    if (version <= 0) return NotFound("no version at that stage", "data/secret_not_found");
    return Read(ctx, mount, path, version);
  }

  StatusOr<SecretVersionInfo> WritePending(const RequestContext& ctx, const std::string& mount,
                                           const std::string& path,
                                           crypto::Secret data_json) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    // A pending value becomes the secret's value at finish: writing one is an update as well as
    // a rotation, so `secret.rotate` alone (the keyring's permission) cannot replace values.
    KH_RETURN_IF_ERROR(Require(ctx, "rotate", mount, path, "secret.rotation_create"));
    KH_RETURN_IF_ERROR(Require(ctx, "update", mount, path, "secret.rotation_create"));
    KH_RETURN_IF_ERROR(ParseDataObject(data_json.Reveal()).status());
    KH_ASSIGN_OR_RETURN(store::SecretMountRecord m, FreshMount(mount));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    if (rec.current_version == 0) {
      return NotFound("the secret has no version to rotate", "data/secret_not_found");
    }
    store::SecretVersionWrite w = NextVersion(mount, path, rec, m, data_json.Reveal());
    audit::AuditEntry entry =
        Entry(ctx, "secret.rotation_create", mount, path, {{"version", w.version.version}});
    KH_RETURN_IF_ERROR(store_.WritePendingSecretVersion(w, &entry));
    return InfoOf(w.version);
  }

  StatusOr<SecretMetadata> RotationState(const RequestContext& ctx, const std::string& mount,
                                         const std::string& path) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "rotate", mount, path, "secret.rotation_read"));
    KH_RETURN_IF_ERROR(RequireMount(mount));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    return MetadataOf(rec);
  }

  Status RecordRotationStep(const RequestContext& ctx, const std::string& mount,
                            const std::string& path, const std::string& step,
                            const std::string& failure) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "rotate", mount, path, "secret.rotation_step"));
    json details = {{"step", step}};
    if (!failure.empty()) details["failure"] = failure;
    audit::AuditEntry entry =
        audit::EntryFor(ctx, env_.NowMillis(), "secret.rotation_step", Target(mount, path),
                        details.dump(), failure.empty() ? "success" : "failed");
    return store_.SetSecretRotationStep(mount, path, step, failure, &entry);
  }

  Status FinishRotation(const RequestContext& ctx, const std::string& mount,
                        const std::string& path, int64_t pending) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "rotate", mount, path, "secret.rotation_finish"));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    int64_t now = env_.NowMillis();
    // A pending version deleted or destroyed since it was written would become a current value
    // that cannot be read: the rotation is cancelled and started again instead.
    auto kept = std::find_if(rec.versions.begin(), rec.versions.end(),
                             [&](const auto& v) { return v.version == pending; });
    if (kept == rec.versions.end() || !Available(*kept, now)) {
      return FailedPrecondition(
          "the pending version was deleted or destroyed: cancel the rotation and run it again",
          "data/pending_version_gone");
    }
    std::optional<int64_t> next;
    if (rec.rotation_period_ms) next = now + *rec.rotation_period_ms;
    audit::AuditEntry entry =
        Entry(ctx, "secret.rotation_finish", mount, path,
              {{"version", pending}, {"previousVersion", rec.current_version}});
    return store_.FinishSecretRotation(mount, path, pending, next, now, &entry);
  }

  Status CancelRotation(const RequestContext& ctx, const std::string& mount,
                        const std::string& path, bool forced) override {
    KH_RETURN_IF_ERROR(CheckPath(mount, path));
    KH_RETURN_IF_ERROR(Require(ctx, "rotate", mount, path, "secret.rotation_cancel"));
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    json details = {{"version", rec.pending_version ? json(*rec.pending_version) : json(nullptr)}};
    if (forced) details["forced"] = true;
    audit::AuditEntry entry = Entry(ctx, "secret.rotation_cancel", mount, path, details);
    return store_.CancelSecretRotation(mount, path, &entry);
  }

  StatusOr<int32_t> RotateKeyring(const RequestContext& ctx) override {
    if (!ctx.actor.Can("secret.rotate")) return Deny(ctx, "secret.keyring_rotate", "", "");
    crypto::SealedTerm t = ring_->MakeTerm(env_.NowMillis());
    audit::AuditEntry entry = audit::EntryFor(ctx, env_.NowMillis(), "secret.keyring_rotate",
                                              "keyring", json{{"term", t.term}}.dump());
    KH_RETURN_IF_ERROR(store_.AddKeyringTerm(t, &entry));
    KH_RETURN_IF_ERROR(ring_->AddTerm(t));
    StartRewrap();
    return t.term;
  }

 private:
  // The version after `rec`'s current one, holding `plaintext` sealed under a fresh data key, with
  // the delete-after time of the secret or its mount.
  store::SecretVersionWrite NextVersion(const std::string& mount, const std::string& path,
                                        const store::SecretRecord& rec,
                                        const store::SecretMountRecord& m,
                                        std::string_view plaintext) const {
    const int64_t now = env_.NowMillis();
    store::SecretVersionWrite w;
    w.mount = mount;
    w.path = path;
    w.expected_current = rec.current_version;
    w.version.version = rec.current_version + 1;
    w.version.created_at_ms = now;
    int64_t dva = EffectiveLimit(rec.delete_version_after_ms, m.delete_version_after_ms);
    if (dva > 0) w.version.deleted_at_ms = now + dva;
    crypto::Envelope e = ring_->Seal(Aad(mount, path, w.version.version), plaintext);
    w.version.kek_term = e.term;
    w.version.wrapped_key = std::move(e.wrapped_key);
    w.version.ciphertext = std::move(e.ciphertext);
    return w;
  }

  // kPermissionDenied unless the caller holds `capability` on the path; a refusal is audited.
  Status Require(const RequestContext& ctx, std::string_view capability, const std::string& mount,
                 const std::string& path, const std::string& action) {
    if (SecretAccessGranted(ctx.actor.permissions, capability, Target(mount, path))) {
      return OkStatus();
    }
    return Deny(ctx, action, mount, path);
  }

  // A write needs create or update: which one depends on whether the secret has a version,
  // checked again once that is known.
  Status RequireWrite(const RequestContext& ctx, const std::string& mount,
                      const std::string& path) {
    const auto& held = ctx.actor.permissions;
    std::string target = Target(mount, path);
    if (SecretAccessGranted(held, "create", target) ||
        SecretAccessGranted(held, "update", target)) {
      return OkStatus();
    }
    return Deny(ctx, "secret.write", mount, path);
  }

  Status Deny(const RequestContext& ctx, const std::string& action, const std::string& mount,
              const std::string& path) {
    store::WriteBatch b;
    b.audit.push_back(audit::EntryFor(ctx, env_.NowMillis(), action,
                                      path.empty() ? mount : Target(mount, path), "{}", "denied"));
    if (Status st = store_.Apply(b); !st.ok()) {
      spdlog::warn("a refused secret call could not be audited: {}", st.message());
    }
    return PermissionDenied("permission denied", "auth/permission_denied");
  }

  audit::AuditEntry Entry(const RequestContext& ctx, std::string action, const std::string& mount,
                          const std::string& path, const json& details) const {
    return audit::EntryFor(ctx, env_.NowMillis(), std::move(action), Target(mount, path),
                           details.dump());
  }

  // The mount as stored now (for writes, which apply its settings).
  StatusOr<store::SecretMountRecord> FreshMount(const std::string& mount) {
    KH_ASSIGN_OR_RETURN(auto mounts, store_.ListSecretMounts());
    std::lock_guard lock(mounts_mu_);
    known_mounts_.clear();
    for (const auto& m : mounts) known_mounts_.insert(m.name);
    mounts_read_at_ = std::chrono::steady_clock::now();
    for (auto& m : mounts) {
      if (m.name == mount) return std::move(m);
    }
    return NotFound("no secrets mount '" + mount + "'", "data/mount_not_found");
  }

  // Whether a mount exists, from a list at most kMountsFresh old (mounts are only ever added;
  // one added by another node is seen within that time, one added here at once).
  Status RequireMount(const std::string& mount) {
    if (MountKnownNow(mount)) return OkStatus();
    return FreshMount(mount).status();
  }

  // Whether the list of mounts at hand, if fresh, has `mount`; false if it would have to be read.
  bool MountKnownNow(const std::string& mount) {
    std::lock_guard lock(mounts_mu_);
    return std::chrono::steady_clock::now() - mounts_read_at_ < kMountsFresh &&
           known_mounts_.contains(mount);
  }

  // Version `version` (0: the current one) of a secret, opened if it is available; `wanted` is
  // set to the version read. The caller has checked the path and the caller's access.
  StatusOr<SecretValue> OpenVersion(const std::string& mount, const std::string& path,
                                    int64_t version, int64_t& wanted) {
    KH_ASSIGN_OR_RETURN(store::SecretRecord rec, store_.ReadSecret(mount, path));
    return OpenKept(mount, path, rec, version, wanted,
                    [&](int64_t v) { return store_.ReadSecretVersion(mount, path, v); });
  }

  // OpenVersion of the secret `rec`, whose sealed versions `sealed_of` gives.
  StatusOr<SecretValue> OpenKept(
      const std::string& mount, const std::string& path, store::SecretRecord& rec, int64_t version,
      int64_t& wanted,
      const std::function<StatusOr<store::SecretVersionRecord>(int64_t)>& sealed_of) {
    wanted = version == 0 ? rec.current_version : version;
    auto kept = std::find_if(rec.versions.begin(), rec.versions.end(),
                             [&](const auto& v) { return v.version == wanted; });
    if (wanted == 0 || kept == rec.versions.end()) {
      return NotFound("no such secret version", "data/secret_not_found");
    }
    SecretValue out;
    out.version = InfoOf(*kept);
    out.custom_metadata_json = std::move(rec.custom_metadata_json);
    if (!Available(*kept, env_.NowMillis())) return out;
    KH_ASSIGN_OR_RETURN(store::SecretVersionRecord sealed, sealed_of(wanted));
    crypto::Envelope e{sealed.kek_term, std::move(sealed.wrapped_key),
                       std::move(sealed.ciphertext)};
    auto value = ring_->Open(Aad(mount, path, wanted), e);
    if (!value.ok()) {
      spdlog::error("secret {} version {} cannot be opened: {}", Target(mount, path), wanted,
                    value.status().message());
      return value.status();
    }
    out.available = true;
    out.data_json = std::move(*value);
    return out;
  }

  // A value waiting for its read's audit entry, and its place among the pending reads.
  struct HeldRead {
    SecretValue value;
    PendingReads::Slot slot;
  };

  // Who asked for a read, for the alert if its audit entry cannot be written.
  struct UnauditedRead {
    std::string request_id;
    std::string client_ip;
  };
  static UnauditedRead UnauditedReadOf(const RequestContext& ctx) {
    return {ctx.request_id, ctx.client_ip};
  }

  static Status ReadsBacklogged() {
    return Unavailable("too many secret reads are waiting for their audit entries; retry shortly",
                       std::string(kReadsBackloggedReason));
  }

  void ReportUnaudited(const RequestContext& ctx, const Status& st) {
    ReportUnaudited(UnauditedReadOf(ctx), st);
  }

  // A read refused because its audit entry could not be written: the caller gets the error
  // (503) and no value; the operator hears of it in the log, at most every 10 seconds, with how
  // many more were refused meanwhile, and through the audit.sink_failing alert (the one a
  // refused change raises) at the first failure of a streak and every minute while it lasts.
  void ReportUnaudited(const UnauditedRead& who, const Status& st) {
    const int64_t now = env_.NowMillis();
    // Raised again every minute while the streak lasts: the first alert may have been dropped
    // (a full queue) or not stored (the store is what fails), and it is deduplicated anyway.
    int64_t last = unaudited_raised_at_.load(std::memory_order_relaxed);
    const bool first = !unaudited_streak_.exchange(true, std::memory_order_acq_rel);
    if ((first || now - last >= 60'000) &&
        unaudited_raised_at_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      RaiseUnaudited(who, st);
    }
    LogUnaudited(st);
  }

  void RaiseUnaudited(const UnauditedRead& who, const Status& st) {
    if (!unaudited_alert_) return;
    audit::Alert a;
    a.kind = std::string(audit::kAlertAuditSinkFailing);
    a.severity = audit::AlertSeverity::kCritical;
    a.summary = "a secret read was refused because its audit entry could not be written";
    a.client_ip = who.client_ip;
    a.evidence_json =
        json{{"action", "secret.read"}, {"requestId", who.request_id}, {"error", st.message()}}
            .dump();
    a.dedupe_key = std::string(audit::kAlertAuditSinkFailing);
    try {
      unaudited_alert_(std::move(a));
    } catch (...) {  // best effort, as the log line below is
    }
  }

  // A read was audited: a streak of refusals, if there was one, is over.
  void ReportAudited() {
    if (!unaudited_streak_.load(std::memory_order_relaxed)) return;
    if (unaudited_streak_.exchange(false, std::memory_order_acq_rel)) {
      spdlog::info("secret reads are audited again");
    }
  }

  void LogUnaudited(const Status& st) {
    int64_t now = env_.NowMillis();
    int64_t last = unaudited_logged_at_.load(std::memory_order_relaxed);
    if (now - last < 10'000 || !unaudited_logged_at_.compare_exchange_strong(last, now)) {
      unaudited_since_log_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    spdlog::error(
        "secret reads refused: their audit entries could not be written ({}); {} more since the "
        "last report",
        st.log_detail().empty() ? st.message() : st.log_detail(),
        unaudited_since_log_.exchange(0, std::memory_order_relaxed));
  }

  // The audit entry of a read of `version`: never its value.
  audit::AuditEntry ReadEntry(const RequestContext& ctx, const std::string& mount,
                              const std::string& path, int64_t version) {
    return Entry(ctx, "secret.read", mount, path, {{"version", version}});
  }

  Status PutMount(const RequestContext& ctx, const std::string& action, store::SecretMountRecord m,
                  const MountConfig& config) {
    json before = {{"maxVersions", m.max_versions},
                   {"casRequired", m.cas_required},
                   {"deleteVersionAfterMs", m.delete_version_after_ms}};
    m.max_versions = config.max_versions;
    m.cas_required = config.cas_required;
    m.delete_version_after_ms = config.delete_version_after_ms;
    m.updated_at_ms = env_.NowMillis();
    json after = {{"maxVersions", m.max_versions},
                  {"casRequired", m.cas_required},
                  {"deleteVersionAfterMs", m.delete_version_after_ms}};
    audit::AuditEntry entry = audit::EntryFor(
        ctx, env_.NowMillis(), action, m.name,
        json{{"before", action == "secret.mount_enable" ? json(nullptr) : before}, {"after", after}}
            .dump());
    return store_.PutSecretMount(m, &entry);
  }

  static Status CheckMountConfig(const MountConfig& c) {
    if (c.max_versions < 0 || c.max_versions > kMaxSecretVersions) {
      return InvalidArgument("max_versions must be between 0 and " +
                             std::to_string(kMaxSecretVersions));
    }
    if (c.delete_version_after_ms < 0) {
      return InvalidArgument("delete_version_after must not be negative");
    }
    return OkStatus();
  }

  static Status CheckMetadataChange(const MetadataChange& c) {
    if (c.max_versions && (*c.max_versions < 0 || *c.max_versions > kMaxSecretVersions)) {
      return InvalidArgument("max_versions must be between 0 and " +
                             std::to_string(kMaxSecretVersions));
    }
    if (c.delete_version_after_ms && *c.delete_version_after_ms < 0) {
      return InvalidArgument("delete_version_after must not be negative");
    }
    if (c.rotation_period_ms && *c.rotation_period_ms < 0) {
      return InvalidArgument("rotation_period must not be negative");
    }
    if (c.custom_metadata_json) KH_RETURN_IF_ERROR(CheckCustomMetadata(*c.custom_metadata_json));
    return OkStatus();
  }

  static void Apply(const MetadataChange& c, int64_t now, store::SecretRecord& rec) {
    if (c.max_versions) rec.max_versions = *c.max_versions;
    if (c.cas_required) rec.cas_required = *c.cas_required;
    if (c.delete_version_after_ms) rec.delete_version_after_ms = *c.delete_version_after_ms;
    if (c.custom_metadata_json) rec.custom_metadata_json = *c.custom_metadata_json;
    if (c.rotation_period_ms) {
      if (*c.rotation_period_ms == 0) {
        rec.rotation_period_ms.reset();
        rec.next_rotation_at_ms.reset();
      } else {
        rec.rotation_period_ms = *c.rotation_period_ms;
        int64_t from = rec.current_version > 0 ? rec.updated_at_ms : now;
        rec.next_rotation_at_ms = from + *c.rotation_period_ms;
      }
    }
  }

  // The current version's value. Errors: kNotFound if there is none or it is deleted or
  // destroyed.
  StatusOr<crypto::Secret> OpenCurrent(const store::SecretRecord& rec) {
    auto kept = std::find_if(rec.versions.begin(), rec.versions.end(),
                             [&](const auto& v) { return v.version == rec.current_version; });
    if (rec.current_version == 0 || kept == rec.versions.end() ||
        !Available(*kept, env_.NowMillis())) {
      return NotFound("no current version to patch", "data/secret_not_found");
    }
    KH_ASSIGN_OR_RETURN(store::SecretVersionRecord sealed,
                        store_.ReadSecretVersion(rec.mount, rec.path, rec.current_version));
    crypto::Envelope e{sealed.kek_term, std::move(sealed.wrapped_key),
                       std::move(sealed.ciphertext)};
    return ring_->Open(Aad(rec.mount, rec.path, rec.current_version), e);
  }

  using MakeValue = std::function<StatusOr<crypto::Secret>(const store::SecretRecord&)>;

  // Seals make(current record) as the next version and stores it if nobody wrote meanwhile;
  // else tries again (or, under a cas, reports the mismatch).
  StatusOr<SecretVersionInfo> WriteVersion(const RequestContext& ctx, const std::string& mount,
                                           const std::string& path, const std::string& action,
                                           std::optional<int64_t> cas, const MakeValue& make) {
    if (cas && *cas < 0) return InvalidArgument("cas must not be negative");
    for (int attempt = 0; attempt < kWriteAttempts; ++attempt) {
      KH_ASSIGN_OR_RETURN(store::SecretMountRecord m, FreshMount(mount));
      store::SecretRecord rec;
      auto found = store_.ReadSecret(mount, path);
      if (found.ok()) {
        rec = *std::move(found);
      } else if (found.status().code() != StatusCode::kNotFound) {
        return found.status();
      }
      rec.mount = mount;
      rec.path = path;
      if (action == "secret.write") {
        const char* cap = rec.current_version == 0 ? "create" : "update";
        KH_RETURN_IF_ERROR(Require(ctx, cap, mount, path, action));
      }
      if (!cas && (rec.cas_required || m.cas_required)) {
        return InvalidArgument("check-and-set parameter required for this call",
                               "data/cas_required");
      }
      if (cas && *cas != rec.current_version) return CasMismatch();
      KH_ASSIGN_OR_RETURN(crypto::Secret value, make(rec));
      store::SecretVersionWrite w = NextVersion(mount, path, rec, m, value.Reveal());
      json details = {{"version", w.version.version}};
      if (cas) details["cas"] = *cas;
      audit::AuditEntry entry = Entry(ctx, action, mount, path, details);
      Status st = store_.WriteSecretVersion(w, &entry);
      if (st.ok()) return InfoOf(w.version);
      if (st.reason() != "data/secret_changed") return st;
      if (cas) return CasMismatch();  // another write took the version this one was set on
    }
    return Unavailable("the secret is being written too often to write it now; try again");
  }

  Status ChangeVersions(const RequestContext& ctx, const std::string& mount,
                        const std::string& path, store::SecretVersionOp op,
                        const std::vector<int64_t>& versions, const std::string& action) {
    if (versions.empty()) return InvalidArgument("no versions given");
    for (int64_t v : versions) {
      if (v < 1) return InvalidArgument("versions must be positive");
    }
    audit::AuditEntry entry = Entry(ctx, action, mount, path, {{"versions", versions}});
    return store_.ChangeSecretVersions(mount, path, op, versions, env_.NowMillis(), &entry);
  }

  // Whether a LIST may name the sub-folder `folder` ("dir/sub/"): a held `list` permission names
  // it (SecretListNamesFolder), or one that reaches it only through a `+` grants `list` on a
  // secret under it, which a recursive LIST would show by its path. A folder the caller could
  // list nothing under is never named.
  StatusOr<bool> FolderShown(const RequestContext& ctx, const std::string& mount,
                             const std::string& folder) {
    const auto& held = ctx.actor.permissions;
    if (SecretListNamesFolder(held, Target(mount, folder))) return true;
    if (!SecretListReaches(held, Target(mount, folder))) return false;
    std::string after;
    // Pages grow as in Children: the first secret of a folder often settles it.
    for (int page = 16;; page = std::min(page * 4, 1000)) {
      if (ctx.Expired(std::chrono::steady_clock::now())) {
        return Unavailable("listing took too long; list a narrower folder");
      }
      KH_ASSIGN_OR_RETURN(auto paths, store_.ListSecretPaths(mount, folder, after, page));
      for (const std::string& p : paths) {
        if (SecretAccessGranted(held, "list", Target(mount, p))) return true;
      }
      if (paths.size() < static_cast<size_t>(page)) return false;
      after = paths.back();
    }
  }

  StatusOr<std::vector<std::string>> Children(const RequestContext& ctx, const std::string& mount,
                                              const std::string& folder) {
    const auto& held = ctx.actor.permissions;
    std::vector<std::string> out;
    std::string after;
    // Pages start small and grow while they hold only leaves: a folder of many sub-folders
    // costs a short read per sub-folder, a folder of many leaves a few long ones.
    int page = 16;
    while (out.size() < kMaxListed) {
      if (ctx.Expired(std::chrono::steady_clock::now())) {
        return Unavailable("listing took too long; list a narrower folder");
      }
      KH_ASSIGN_OR_RETURN(auto paths, store_.ListSecretPaths(mount, folder, after, page));
      if (paths.empty()) break;
      std::string next = paths.back();
      bool jumped = false;
      for (const std::string& p : paths) {
        std::string_view rest = std::string_view(p).substr(folder.size());
        size_t slash = rest.find('/');
        if (slash == std::string_view::npos) {
          if (SecretAccessGranted(held, "list", Target(mount, p))) out.emplace_back(rest);
          continue;
        }
        std::string child(rest.substr(0, slash + 1));
        KH_ASSIGN_OR_RETURN(bool shown, FolderShown(ctx, mount, folder + child));
        if (shown) out.push_back(child);
        // Every path under the child folder sorts before this (paths hold no byte above '~'):
        // go on past the whole subtree.
        next = folder + child + '\x7f';
        jumped = true;
        break;
      }
      page = jumped ? 16 : std::min(page * 4, 1000);
      after = std::move(next);
    }
    return out;
  }

  void StartRewrap() {
    std::lock_guard lock(rewrap_mu_);
    if (rewrap_.joinable()) {
      rewrap_.request_stop();
      rewrap_.join();
    }
    rewrap_ = std::jthread([this](const std::stop_token& stop) { Rewrap(stop); });
  }

  // Moves every data key wrapped by an older term to the current one, a batch at a time, so
  // reads and writes go on between batches.
  void Rewrap(const std::stop_token& stop) {
    int32_t term = ring_->CurrentTerm();
    size_t moved = 0;
    while (!stop.stop_requested()) {
      auto batch = store_.VersionsWrappedBelow(term, kRewrapBatch);
      if (!batch.ok()) {
        spdlog::error("re-wrapping secrets stopped: {}", batch.status().message());
        return;
      }
      if (batch->empty()) break;
      for (const store::WrappedVersion& v : *batch) {
        if (stop.stop_requested()) return;
        crypto::Envelope e{v.kek_term, v.wrapped_key, {}};
        auto re = ring_->Rewrap(Aad(v.mount, v.path, v.version), e);
        if (!re.ok()) {
          spdlog::error("secret {} version {} cannot be re-wrapped: {}", Target(v.mount, v.path),
                        v.version, re.status().message());
          return;  // left for the operator: a row that does not open is not skipped silently
        }
        auto done = store_.RewrapSecretVersion(v, re->term, re->wrapped_key);
        if (!done.ok()) {
          spdlog::error("re-wrapping secrets stopped: {}", done.status().message());
          return;
        }
        moved += *done ? 1 : 0;
      }
    }
    if (moved > 0) spdlog::info("re-wrapped {} secret versions under keyring term {}", moved, term);
  }

  store::Store& store_;
  Env& env_;
  std::unique_ptr<crypto::Keyring> ring_;
  static constexpr std::chrono::seconds kMountsFresh{1};
  std::atomic<int64_t> unaudited_logged_at_{std::numeric_limits<int64_t>::min() / 2};
  std::atomic<int64_t> unaudited_raised_at_{std::numeric_limits<int64_t>::min() / 2};
  std::atomic<int64_t> answers_in_flight_{0};  // ReadLater closures the store has not left
  std::atomic<uint64_t> unaudited_since_log_{0};
  std::atomic<bool> unaudited_streak_{false};          // reads refused since the last audited one
  std::function<void(audit::Alert)> unaudited_alert_;  // set before concurrent reads
  PendingReads pending_;
  std::mutex mounts_mu_;
  std::set<std::string> known_mounts_;                    // guarded by mounts_mu_
  std::chrono::steady_clock::time_point mounts_read_at_;  // guarded by mounts_mu_
  std::mutex rewrap_mu_;
  std::jthread rewrap_;  // guarded by rewrap_mu_
};

}  // namespace

StatusOr<std::unique_ptr<SecretService>> SecretService::Open(store::Store& store, Env& env,
                                                             std::span<const uint8_t> master_key) {
  KH_ASSIGN_OR_RETURN(auto terms, store.ReadKeyring());
  KH_ASSIGN_OR_RETURN(auto ring, crypto::Keyring::Open(master_key, terms));
  if (ring->CurrentTerm() == 0) {
    crypto::SealedTerm first = ring->MakeTerm(env.NowMillis());
    Status st = store.AddKeyringTerm(first);
    if (st.code() == StatusCode::kAlreadyExists) {  // another process made it first
      KH_ASSIGN_OR_RETURN(terms, store.ReadKeyring());
      KH_ASSIGN_OR_RETURN(ring, crypto::Keyring::Open(master_key, terms));
    } else {
      KH_RETURN_IF_ERROR(st);
      KH_RETURN_IF_ERROR(ring->AddTerm(first));
    }
  }
  auto svc = std::make_unique<SecretServiceImpl>(store, env, std::move(ring));
  svc->ResumeRewrap();
  return std::unique_ptr<SecretService>(std::move(svc));
}

}  // namespace keyhold::service
