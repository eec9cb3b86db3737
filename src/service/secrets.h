// SecretService: the KV version 2 secrets — versioned, sealed at rest, decided by path policy,
// audited on every read and change.
//
// Every call first checks the caller's `secret.<capability>:<glob>` permissions
// (core/secret_path.h) against "<mount>/<path>", so a caller learns nothing about paths it may not
// touch; then does the work with values sealed by the keyring (crypto/keyring.h) and appends an
// audit entry in the same store transaction (a read or change whose entry cannot be written does
// not happen: kUnavailable). Denied calls are audited too, with outcome "denied". Values and field
// names never reach the audit log or an error.
//
//   KH_ASSIGN_OR_RETURN(auto secrets, SecretService::Open(store, env, master_key));
//   KH_ASSIGN_OR_RETURN(SecretVersionInfo v, secrets->Write(ctx, "secret", "helpdesk/smtp",
//                                                           crypto::Secret(R"({"password":"…"})"),
//                                                           {}));
//   KH_ASSIGN_OR_RETURN(SecretValue got, secrets->Read(ctx, "secret", "helpdesk/smtp", 0));
//
// Capabilities: read (data, metadata, config), create (a first version), update (later versions,
// undelete, metadata, mount config), patch, delete (soft delete of versions), destroy (of versions,
// and of a whole secret with its metadata), list (folders), rotate (the keyring).
//
// Errors common to every call: kPermissionDenied ("auth/permission_denied") when the caller lacks
// the capability; kInvalidArgument for a malformed mount or path; kNotFound
// ("data/mount_not_found") for an unknown mount; kUnavailable when the store cannot be read or
// written, or the audit entry cannot be; WouldBlock() when ctx.may_block is false (every call
// waits on the store).
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audit/alert.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "crypto/secret.h"
#include "service/pending_reads.h"

namespace keyhold::store {
class Store;
}

namespace keyhold::service {

// The largest data object a version may hold, as JSON text.
inline constexpr size_t kMaxSecretDataBytes = 512 * 1024;
// The largest custom_metadata object, as JSON text (Vault: 64 keys of up to 128 + 512 bytes).
inline constexpr size_t kMaxCustomMetadataBytes = 64 * 1024;
inline constexpr int32_t kMaxSecretVersions = 1000;
// The reason of the kUnavailable a read gets when too many reads already wait for their audit
// entries (SetPendingReadLimits): nothing is returned (what was decrypted is wiped), and the
// caller may retry shortly.
inline constexpr std::string_view kReadsBackloggedReason = "application/reads_backlogged";

struct SecretVersionInfo {
  int64_t version = 0;
  int64_t created_at_ms = 0;
  // When the version was (or, in the future, will be) soft-deleted.
  std::optional<int64_t> deletion_time_ms;
  bool destroyed = false;
};

struct SecretValue {
  SecretVersionInfo version;
  std::string custom_metadata_json;  // the secret's, "" for none
  bool available = false;            // false: the version is deleted or destroyed
  crypto::Secret data_json;          // the data object's JSON text when available
};

struct SecretMetadata {
  std::string mount;
  std::string path;
  int64_t current_version = 0;
  int64_t oldest_version = 0;
  int32_t max_versions = 0;  // 0: the mount's
  bool cas_required = false;
  int64_t delete_version_after_ms = 0;
  std::string custom_metadata_json;
  std::optional<int64_t> rotation_period_ms;
  std::optional<int64_t> next_rotation_at_ms;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::vector<SecretVersionInfo> versions;  // kept versions, oldest first, pending one included
  // The staged versions of a rotation (service/secret_rotation.h): current_version is the
  // current stage; these are the pending and previous ones, if any.
  std::optional<int64_t> pending_version;
  std::optional<int64_t> previous_version;
  std::string rotation_step;     // the last rotation step done: "", "create", "set" or "test"
  std::string rotation_failure;  // why the last step failed, "" if it did not; never a value
};

// The stages of a rotation: which version a stage selector reads.
enum class SecretStage { kCurrent, kPending, kPrevious };

// A change to a secret's metadata: fields left empty stay as they are.
struct MetadataChange {
  std::optional<int32_t> max_versions;
  std::optional<bool> cas_required;
  std::optional<int64_t> delete_version_after_ms;
  std::optional<std::string> custom_metadata_json;  // a JSON object of strings
  // keyhold's rotation schedule: every period from the last write; 0 removes it.
  std::optional<int64_t> rotation_period_ms;
};

struct MountConfig {
  std::string name;
  int32_t max_versions = 0;
  bool cas_required = false;
  int64_t delete_version_after_ms = 0;
};

class SecretService {
 public:
  virtual ~SecretService() = default;

  // Opens the keyring with `master_key` (creating its first term in a new store). Errors:
  // kFailedPrecondition ("crypto/wrong_master_key") if the master key does not open the stored
  // keyring; kUnavailable.
  static StatusOr<std::unique_ptr<SecretService>> Open(store::Store& store, Env& env,
                                                       std::span<const uint8_t> master_key);

  // Version `version` (0: the current one). A deleted or destroyed version comes back with
  // available = false (and its metadata). Needs read. Errors: kNotFound
  // ("data/secret_not_found") if there is no such secret or version; kInternal
  // ("crypto/tampered") if the stored row does not decrypt; kUnavailable if the read's audit
  // entry could not be written, or (reason kReadsBackloggedReason) if too many reads already
  // wait for theirs. A value that is not returned is wiped at once.
  virtual StatusOr<SecretValue> Read(const RequestContext& ctx, const std::string& mount,
                                     const std::string& path, int64_t version) = 0;
  // Read, for a thread that must not wait (an I/O thread). Returns false, having done nothing,
  // when the read would have to wait for more than the disk (the writer's connection, a refusal
  // to audit, the mounts to read again) or its input is bad: the caller then calls Read on a
  // thread that may wait. Else returns true, and `done` is called exactly once with what Read
  // would return: from this call for an answer that needs no audit entry, or once the read's
  // audit entry is committed, from a thread of the store's. Past the pending-read limits, `done`
  // is called from this call with kUnavailable (kReadsBackloggedReason), nothing decrypted.
  virtual bool ReadLater(const RequestContext& ctx, const std::string& mount,
                         const std::string& path, int64_t version,
                         std::function<void(StatusOr<SecretValue>)> done) = 0;

  // Writes `data_json` (a JSON object) as a new version. `cas`: 0 writes only if the secret has
  // no version yet, N only if N is the current version. Needs create for a first version,
  // update after. Errors: kInvalidArgument for data that is not an object or is over
  // kMaxSecretDataBytes, a missing cas where the secret or mount requires one, or a cas that
  // does not match (reason "data/cas_mismatch").
  virtual StatusOr<SecretVersionInfo> Write(const RequestContext& ctx, const std::string& mount,
                                            const std::string& path, crypto::Secret data_json,
                                            std::optional<int64_t> cas) = 0;

  // Applies the JSON merge patch `patch_json` (RFC 7386) to the current version, as a new
  // version. Needs patch. Errors: as Write; kNotFound if there is no current version or it is
  // deleted or destroyed.
  virtual StatusOr<SecretVersionInfo> Patch(const RequestContext& ctx, const std::string& mount,
                                            const std::string& path, crypto::Secret patch_json,
                                            std::optional<int64_t> cas) = 0;

  // Soft-deletes `versions` (empty: the current version); needs delete. Undelete needs update;
  // destroy needs destroy. Versions that are not kept are ignored. Errors: kNotFound if there
  // is no such secret; kInvalidArgument for no versions (undelete, destroy) or a version < 1.
  virtual Status DeleteVersions(const RequestContext& ctx, const std::string& mount,
                                const std::string& path, const std::vector<int64_t>& versions) = 0;
  virtual Status UndeleteVersions(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path,
                                  const std::vector<int64_t>& versions) = 0;
  virtual Status DestroyVersions(const RequestContext& ctx, const std::string& mount,
                                 const std::string& path, const std::vector<int64_t>& versions) = 0;

  // Needs read. Errors: kNotFound if there is no such secret.
  virtual StatusOr<SecretMetadata> ReadMetadata(const RequestContext& ctx, const std::string& mount,
                                                const std::string& path) = 0;
  // Creates or changes a secret's metadata. Needs update. Errors: kInvalidArgument for
  // max_versions outside [0, kMaxSecretVersions], a negative duration, or custom metadata that
  // is not an object of strings within kMaxCustomMetadataBytes.
  virtual Status WriteMetadata(const RequestContext& ctx, const std::string& mount,
                               const std::string& path, const MetadataChange& change) = 0;
  // Removes a secret with every version. Needs destroy. Errors: kNotFound if there is none.
  virtual Status DeleteMetadata(const RequestContext& ctx, const std::string& mount,
                                const std::string& path) = 0;

  // The names directly under `folder` ("" for the top, else ending in "/"), folders ending in
  // "/", sorted; only names under which the caller may list something. Needs list reaching
  // somewhere under the folder. Empty if there is nothing to show.
  virtual StatusOr<std::vector<std::string>> List(const RequestContext& ctx,
                                                  const std::string& mount,
                                                  const std::string& folder) = 0;
  // One page of every secret under `folder`, at any depth: paths relative to the folder, sorted,
  // only those the caller may list, the first after `after` (relative too; "" for the start), at
  // most `limit` (1 to kMaxListPage). `next_after` is set when the page is full (there may be
  // more): the last path of the page, to pass as `after` for the next. Needs list reaching
  // somewhere under the folder. Errors: as List; kInvalidArgument for a limit out of range;
  // kUnavailable if the request's deadline passes first.
  struct ListPage {
    std::vector<std::string> keys;
    std::optional<std::string> next_after;
  };
  static constexpr int kMaxListPage = 10'000;
  virtual StatusOr<ListPage> ListRecursive(const RequestContext& ctx, const std::string& mount,
                                           const std::string& folder, const std::string& after,
                                           int limit) = 0;

  // Mounts. Reading a mount's config needs read on "<mount>"; changing it, or enabling a new
  // mount, needs update on "<mount>". Errors: EnableMount: kAlreadyExists if it exists,
  // kInvalidArgument for a bad name.
  virtual StatusOr<MountConfig> ReadMountConfig(const RequestContext& ctx,
                                                const std::string& mount) = 0;
  virtual Status WriteMountConfig(const RequestContext& ctx, const MountConfig& config) = 0;
  virtual Status EnableMount(const RequestContext& ctx, const MountConfig& config) = 0;
  virtual bool MountExists(const std::string& mount) = 0;

  // The version at `stage` (as Read of that version). Needs read. Errors: as Read; kNotFound
  // ("data/secret_not_found") if no version is at that stage.
  virtual StatusOr<SecretValue> ReadStage(const RequestContext& ctx, const std::string& mount,
                                          const std::string& path, SecretStage stage) = 0;

  // Rotation of the held value, one primitive each (service/secret_rotation.h puts them in
  // order). Each needs rotate on the path, and is audited (actions secret.rotation_create,
  // secret.rotation_step, secret.rotation_finish, secret.rotation_cancel; details hold version
  // numbers, steps and failure reasons, never a value).
  //
  // Seals `data_json` as the pending version, beside the current one, which stays current.
  // Errors: as Write; kNotFound if the secret has no version yet; kFailedPrecondition
  // ("data/rotation_pending") if a version is already pending.
  virtual StatusOr<SecretVersionInfo> WritePending(const RequestContext& ctx,
                                                   const std::string& mount,
                                                   const std::string& path,
                                                   crypto::Secret data_json) = 0;
  // The secret's metadata as the rotation sees it. Errors: kNotFound if there is no secret.
  virtual StatusOr<SecretMetadata> RotationState(const RequestContext& ctx,
                                                 const std::string& mount,
                                                 const std::string& path) = 0;
  // Records that `step` was done (failure empty), or that the step after it failed. Errors:
  // kNotFound; kFailedPrecondition ("data/no_pending_version") if nothing is pending.
  virtual Status RecordRotationStep(const RequestContext& ctx, const std::string& mount,
                                    const std::string& path, const std::string& step,
                                    const std::string& failure) = 0;
  // Makes pending version `pending` current (the current one becomes previous) and schedules
  // the next rotation one rotation_period from now, if the secret has one. Errors: kNotFound;
  // kFailedPrecondition ("data/no_pending_version") if `pending` is not pending.
  virtual Status FinishRotation(const RequestContext& ctx, const std::string& mount,
                                const std::string& path, int64_t pending) = 0;
  // Drops the pending version, if any, and the rotation's progress; current is untouched.
  // `forced` (the caller overrode the refusal to drop a value already set at the provider) is
  // recorded in the audit entry. Errors: kNotFound if there is no secret.
  virtual Status CancelRotation(const RequestContext& ctx, const std::string& mount,
                                const std::string& path, bool forced) = 0;

  // Adds a keyring term and re-wraps every data key under it; returns the new term. Needs
  // rotate on "*"-equivalent access (`secret.rotate` or a glob matching everything). Errors:
  // kAlreadyExists if another node rotated at the same moment.
  virtual StatusOr<int32_t> RotateKeyring(const RequestContext& ctx) = 0;

  // How many reads (Read and ReadLater together) may hold a decrypted value while they wait for
  // their audit entries, and how many bytes of values they may hold together; past either, a
  // read is refused (see Read). REQUIRES: called before concurrent reads start.
  virtual void SetPendingReadLimits(PendingReadLimits limits) = 0;
  // Calls `post` with an audit.sink_failing alert (the shape the key service raises) when a read
  // is refused because its audit entry could not be written: once per failure streak, that is
  // again only after a read has been audited since. `post` is called from whichever thread saw
  // the failure, the store's commit thread included: it must not wait and must not call into the
  // store (hand the alert to an audit::AlertQueue). Empty: nothing is raised (the failure is
  // logged either way). REQUIRES: called before concurrent reads start.
  virtual void SetUnauditedReadAlert(std::function<void(audit::Alert)> post) = 0;
};

}  // namespace keyhold::service
