// Sealed start: the master key split into Shamir shares (crypto/shamir.h), none of it on disk.
//
// A sealed data directory holds DATA_DIR/seal.json (threshold, number of shares, the split's id
// and a key check value; no key material) and no master.key. `keyhold serve` then starts
// sealed; an Unsealer takes shares (PUT /v1/sys/unseal, `keyhold operator unseal`) until it has
// the threshold, checks the combined key against the key check value, and hands it to the
// services that need it. Each attempt is recorded in the audit log (which is in the store, not
// under the master key, so it is written while sealed): a share taken (seal.unseal_share, with
// the progress and the share's index, never the share), a share refused (outcome failed, with
// why), the unseal (seal.unseal), a reset (seal.unseal_reset). A running server is sealed again
// by Seal (PUT /v1/sys/seal, `keyhold operator seal`): the services that hold the key are
// stopped and their key material zeroed and freed (seal.seal, naming who sealed), and shares
// unseal it again as at start.
//
//   KH_ASSIGN_OR_RETURN(std::optional<SealConfig> seal, LoadSealConfig(data_dir));
//   Unsealer unsealer(*seal, env, [&](std::span<const uint8_t> key) { return StartKeyed(key); });
//
// Thread-safety: Unsealer may be called from many threads; the rest are free functions.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/chain.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "crypto/shamir.h"
#include "http/vault/vault_api.h"
#include "server/settings.h"

namespace keyhold::server {

struct SealConfig {
  int threshold = 0;
  int shares = 0;
  crypto::shamir::SetId set_id{};
  crypto::Sha256Digest key_check{};
};

// DATA_DIR/seal.json.
std::string SealConfigPath(const std::string& data_dir);
// The seal configuration of `data_dir`, or nullopt when it has none (the key is not split).
// Errors: kFailedPrecondition for a file that is not a seal configuration; kUnavailable for I/O.
StatusOr<std::optional<SealConfig>> LoadSealConfig(const std::string& data_dir);
// Writes the seal configuration (mode 0600) in place of any other, atomically.
Status SaveSealConfig(const std::string& data_dir, const SealConfig& config);
// True if `key` is the key whose check value `config` holds (in constant time).
bool KeyMatches(const SealConfig& config, std::span<const uint8_t> key);

// `keyhold operator init-shares`: splits the data directory's master key (created first, with
// the first root key, on a new directory) into `shares` shares, prints them once, keeps a seal
// configuration and securely removes DATA_DIR/master.key. Refused when the master key comes
// from KEYHOLD_MASTER_KEY_FILE or KEYHOLD_MASTER_KEY (keyhold does not own those), or when the
// directory is already sealed. Returns the exit code.
int InitShares(const Settings& settings, int shares, int threshold, bool json_output);

class Unsealer final : public http::vault::SealControl {
 public:
  // Shares held this long without a new one are forgotten.
  static constexpr int64_t kProgressTimeoutMs = 10 * 60 * 1000;
  // At most this many shares or resets (good or bad) are taken per minute from one address.
  static constexpr int kMaxSharesPerMinute = 30;
  // Addresses counted at once; past it, those over the count share one window.
  static constexpr size_t kMaxTrackedAddresses = 4096;

  // `on_unseal` is called once, with the master key, when a threshold of shares gives it; until
  // it returns OK the server stays sealed (a failure is returned to the caller who gave the last
  // share, and the shares are forgotten).
  using OnUnseal = std::function<Status(std::span<const uint8_t> master_key)>;
  // Appends one entry to the audit log (e.g. a store::WriteBatch holding only it). A share is
  // taken only once its entry is written; refusals and resets whose entry cannot be written are
  // logged. Empty: nothing is audited.
  using AuditRecorder = std::function<Status(const audit::AuditEntry&)>;
  // Called by Seal, once the server reports sealed: returns once nothing uses the master key's
  // material any more and it is zeroed and freed (it waits for the requests and rotations under
  // way). Empty: Seal is refused (kFailedPrecondition).
  using OnSeal = std::function<void()>;
  Unsealer(SealConfig config, Env& env, OnUnseal on_unseal, AuditRecorder audit = {},
           OnSeal on_seal = {})
      : config_(config),
        env_(env),
        on_unseal_(std::move(on_unseal)),
        audit_(std::move(audit)),
        on_seal_(std::move(on_seal)) {}

  bool IsSealed() const override { return sealed_.load(std::memory_order_acquire); }
  State Get() override;
  StatusOr<State> Submit(std::string_view share, const RequestContext& ctx) override;
  StatusOr<State> Reset(const RequestContext& ctx) override;
  // Seals an unsealed server: reports sealed at once, forgets any shares held, audits seal.seal
  // (the caller's key id and address; a failure to write it is logged, and the server is sealed
  // anyway: an audit log that cannot be written must not keep the secrets open), then calls
  // on_seal. Sealed already (or being sealed): OK, nothing done, nothing audited. While on_seal
  // runs Get answers sealed at once, and Submit and Reset refuse (kUnavailable,
  // "server/sealing").
  Status Seal(const RequestContext& ctx) override;

 private:
  // Writes an audit entry for `ctx`'s caller; OK without a recorder.
  Status Audit(const RequestContext& ctx, std::string action, std::string outcome,
               std::string details_json);
  // Audits a refused share (a failure to write the entry is logged) and returns `refusal`.
  Status Refuse(const RequestContext& ctx, std::string_view why, Status refusal);
  State StateLocked() const;  // REQUIRES: mu_ held
  // kUnavailable while a seal is under way, else OK. REQUIRES: mu_ held.
  Status SealingLocked() const;
  void ForgetLocked();  // REQUIRES: mu_ held
  // Counts one attempt from `client`; false past kMaxSharesPerMinute. REQUIRES: mu_ held.
  bool AdmitLocked(std::string_view client, int64_t now);

  const SealConfig config_;
  Env& env_;
  const OnUnseal on_unseal_;
  const AuditRecorder audit_;
  const OnSeal on_seal_;
  std::atomic<bool> sealed_{true};
  std::mutex mu_;
  bool sealing_ = false;                     // guarded by mu_; on_seal is running
  std::vector<crypto::shamir::Share> held_;  // guarded by mu_; in locked memory
  std::string nonce_;                        // guarded by mu_
  int64_t last_share_ms_ = 0;                // guarded by mu_
  struct Window {
    int64_t start_ms = 0;
    int count = 0;
  };
  std::map<std::string, Window, std::less<>> windows_;  // guarded by mu_; by client address
};

}  // namespace keyhold::server
