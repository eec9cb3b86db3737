// SecretRotator: rotation of held secrets — the staged versions pending → current → previous,
// moved on by four idempotent steps, and the reminders for secrets due for rotation.
//
// Steps, in order (docs/secrets.md "Rotation of held secrets"):
//   create  a new value is written as the pending version (by the driver, through keyhold);
//   set     the driver sets the pending value at the provider (a database password, an API);
//   test    the driver checks that the pending value works there;
//   finish  keyhold makes the pending version current and the current one previous.
// Until finish, a plain read returns the current version. A step that fails leaves the current
// version untouched and is recorded (audit and rotation state), and each attempt's end is stored
// (RotationStatus::last_outcome, kept across restarts); running the rotation again retries from
// the failed step. A step cut short because keyhold stops is recorded as interrupted. A step that
// is done is not run again. A rotation queued or running is written down (store::RotationRunRecord)
// before the caller is answered and before each step, so that after keyhold was killed Recover
// records it as interrupted, as a stop would have: rotations are never resumed on their own. Cancel
// drops the pending version — refused, unless forced, once `set` has run (done or failed), since
// the provider may already use the pending value and it is its only stored copy. A create that
// fails drops what it wrote, so a retry creates afresh.
//
// The driver (a command the operator configured, rotation_command.h) is called with the step and
// the path, and a token that may read and rotate that one path only, for as long as the step
// may take; it never gets a value in its arguments. Without a driver, steps are the caller's:
// create needs a pending value written first (WritePending), set and test are recorded as done.
//
//   SecretRotator rotator(secrets, store, env, &alerts, &command, {});
//   KH_ASSIGN_OR_RETURN(RotationStatus s, rotator.Rotate(ctx, "secret", "db/password", {}));
//
// Permissions: `secret.rotate:<glob>` on the path for every call (and read for values).
// Thread-safety: all methods may be called concurrently; one rotation of a path runs at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "audit/alert.h"
#include "core/context.h"
#include "core/env.h"
#include "core/status.h"
#include "service/secrets.h"

namespace keyhold::store {
class Store;
struct SecretRecord;
struct RotationRunRecord;
struct RotationRunEnd;
enum class RotationResult : int32_t;
}  // namespace keyhold::store

namespace keyhold::service {

enum class RotationStep { kCreate, kSet, kTest, kFinish };

// "create", "set", "test", "finish".
std::string_view RotationStepName(RotationStep step);
std::optional<RotationStep> ParseRotationStep(std::string_view name);

// The reason of a driver's status when the step was ended because keyhold is stopping (or was not
// started for that): the step is recorded as interrupted, not failed, and rotating again retries
// it.
inline constexpr std::string_view kStepInterrupted = "rotation/step_interrupted";

// Why rotation stops: the server stops, or it is sealed (and goes on serving keys).
enum class StopReason { kShutdown, kSeal };
// How an interrupted step's outcome says why: "keyhold stopped" or "the server was sealed".
std::string_view StoppedBecause(StopReason reason);
// What to do then: "rotate again to retry" or "rotate again once it is unsealed to retry".
std::string_view RetryAdvice(StopReason reason);

// A started command: its process group, its leader's start time (/proc/PID/stat field 22, clock
// ticks since boot), the boot `boot_id` (/proc/sys/kernel/random/boot_id) it ran in, and the
// marker of its run, which the command and all it starts inherit in their environment
// (KEYHOLD_ROTATION_RUN=marker): what is left of it is found by that marker, not by the group id,
// which may have been reused.
struct CommandProcess {
  int64_t pgid = 0;
  int64_t start_ticks = 0;
  std::string boot_id;
  std::string marker;
};

// What killing the leftovers of a command did: how many processes were killed, and how many
// carrying its marker were still found after the last try (0 when all were killed).
struct LeftoverKill {
  int killed = 0;
  int left = 0;
};

// What carries out a step outside keyhold.
class RotationDriver {
 public:
  struct Call {
    RotationStep step = RotationStep::kCreate;
    std::string mount;
    std::string path;
    std::string token;  // scoped to mount/path, valid while the step runs
    // 32 hex digits (128 random bits) naming this run; a driver that starts a command puts it in
    // the command's environment as KEYHOLD_ROTATION_RUN, and hands it back in `started`.
    std::string marker;
    // Called by a driver that starts a process group, once it is started and before it runs:
    // writes it down (durably) with the run. An error refuses the step (the group is killed).
    std::function<Status(const CommandProcess&)> started;
  };
  virtual ~RotationDriver() = default;
  // OK when the step was done. Otherwise a status whose message says why in words that hold
  // no value (an exit status, an HTTP status, a timeout); reason kStepInterrupted if Interrupt
  // ended it.
  virtual Status Run(const Call& call) = 0;
  // The server is stopping or being sealed (`reason`, which the interrupted runs' messages
  // name): runs under way end soon (reason kStepInterrupted), and later runs end so at once. By
  // default runs are left to end within their own timeout.
  virtual void Interrupt(StopReason /*reason*/) {}
};

struct RotationOptions {
  // A reminder is raised this long before a secret falls due.
  int64_t remind_before_ms = 7LL * 24 * 3600 * 1000;
  // Once overdue, a reminder is raised when it falls due and again every this long.
  int64_t remind_every_ms = 24LL * 3600 * 1000;
  // How long a driver's token stays valid (the driver's own timeout, and a little more).
  int64_t token_ttl_ms = 60'000;
  // Start runs rotations on threads of their own, never a request's: this many at once, and
  // this many more waiting; past that Start refuses (kResourceExhausted).
  int workers = 2;
  int queue_limit = 32;
  // One caller (one root key) may have this many rotations queued or running at once; past that
  // Start refuses (kResourceExhausted), so that one key cannot take the whole queue.
  int per_caller_limit = 4;
  // Recover: kills what a run's command left running (the processes carrying its marker) and
  // says how many it killed and how many it could not. Empty: KillLeftovers
  // (rotation_command.h).
  std::function<LeftoverKill(const CommandProcess&)> stop_leftovers;
};

// How the last rotation attempt of a secret ended, as stored (store::RotationOutcomeRecord).
struct RotationOutcome {
  std::string result;  // "finished", "failed", "interrupted" (retry: rotate again) or "error"
  std::string step;    // the step that failed or was interrupted; "" if finished or none started
  std::string error;   // why it did not finish; never a value; "" if finished
  int64_t at_ms = 0;   // when it ended (store::RotationOutcomeRecord::at_ms)
};

struct RotationStatus {
  std::string mount;
  std::string path;
  int64_t current_version = 0;
  std::optional<int64_t> pending_version;
  std::optional<int64_t> previous_version;
  std::string last_step;  // "", "create", "set", "test", or "finish" when this call finished it
  std::string failure;    // the failed step and why; "" if none failed
  std::optional<int64_t> rotation_period_ms;
  std::optional<int64_t> next_rotation_at_ms;
  bool running = false;  // a rotation of this secret is queued or running now
  // The last attempt that ended (kept across restarts); Get fills it in, nullopt if none.
  std::optional<RotationOutcome> last_outcome;
};

struct DueSecret {
  std::string mount;
  std::string path;
  int64_t due_at_ms = 0;
  bool overdue = false;
  bool rotating = false;  // a rotation is staged (a version is pending)
  bool running = false;   // a rotation of this secret is queued or running now
  // When staged: the step it is at (the next to run, or the one that failed) and whether a cancel
  // needs force (`set` has run); "" and false when nothing is staged.
  std::string staged_step;
  bool cancel_needs_force = false;
  std::optional<int64_t> rotation_period_ms;
  std::optional<RotationOutcome> last_outcome;  // as RotationStatus's
};

class SecretRotator {
 public:
  // Rotation-token prefix: a bearer token starting with it is one of AuthenticateToken's.
  static constexpr std::string_view kTokenPrefix = "khrot_";
  static constexpr int kMaxDue = 10'000;

  // `secrets`, `store`, `env` must outlive the rotator; `alerts` (reminders) and `driver` may
  // be null.
  SecretRotator(SecretService& secrets, store::Store& store, Env& env, audit::AlertSink* alerts,
                RotationDriver* driver, RotationOptions options);
  // Stop, if not stopped already.
  ~SecretRotator();
  SecretRotator(const SecretRotator&) = delete;
  SecretRotator& operator=(const SecretRotator&) = delete;

  // Runs the steps not yet done, in order, through finish; or, with `only`, that step alone if
  // the steps before it are done (a done step is a no-op). Returns the state after the call: a
  // failed step is in `failure` (this is not an error: the call did its work). Errors:
  // kPermissionDenied without rotate; kNotFound for no secret (or no version yet);
  // kFailedPrecondition "data/rotation_out_of_order" if `only` comes before its time, and
  // "rotation/no_pending_value" for create without a driver and without a pending value;
  // kAlreadyExists "data/rotation_busy" if this path is rotating now; kUnavailable.
  StatusOr<RotationStatus> Rotate(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path, std::optional<RotationStep> only);
  // As Rotate, but on the rotator's own threads: checks what Rotate would refuse at once
  // (permission, no secret, out of order, busy), queues the rotation and returns the state with
  // `running` set. Get tells how it went: `running` until it is done, then `last_step` "finish"
  // if it finished the rotation, and `failure` if a step failed or the run ended in an error.
  // A rotation command calls back into the server while its step runs: were the step run on
  // the request's thread, few request threads could all wait on steps waiting on them.
  // Errors: as Rotate; kResourceExhausted "rotation/queue_full" when workers + queue_limit
  // rotations are under way, "rotation/caller_limit" when the caller (ctx.actor.key_id) has
  // per_caller_limit rotations queued or running.
  StatusOr<RotationStatus> Start(const RequestContext& ctx, const std::string& mount,
                                 const std::string& path, std::optional<RotationStep> only);
  // Stops rotating, for the server to stop: refuses new rotations (Start: kUnavailable), drops
  // those still queued, starts no new step, interrupts the steps running now (the driver ends
  // them: a command is terminated, a webhook call abandoned) and waits for them to be recorded
  // as interrupted, so a later rotate retries them. Call it while the server still serves (a
  // command calls back into it) and before the last audit checkpoint.
  // `reason` is named in the outcomes of the steps it interrupts.
  void Stop(StopReason reason = StopReason::kShutdown);
  // The rotation's state, with the last attempt's outcome as stored. Errors: as Rotate.
  StatusOr<RotationStatus> Get(const RequestContext& ctx, const std::string& mount,
                               const std::string& path);
  // Drops the pending version; the current one is untouched. Once `set` has run (done, failed:
  // it may have changed the provider anyway, or started and not known to have ended, as when
  // keyhold was killed under it: its start is recorded before it runs) the pending value may be
  // the one the provider uses and keyhold holds its only copy, so cancel is then refused unless
  // `force`: kAlreadyExists "data/rotation_past_set". Other errors: as Rotate.
  StatusOr<RotationStatus> Cancel(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path, bool force);
  // The secrets due within `within_ms` from now (or overdue) that the caller may rotate,
  // earliest first, each with its last attempt's outcome. Errors: kInvalidArgument for a negative
  // within, or more than kMaxDue due; kUnavailable.
  StatusOr<std::vector<DueSecret>> ListDue(const RequestContext& ctx, int64_t within_ms);
  // Raises a secret.rotation_due alert for each secret coming due within remind_before, once,
  // and for each overdue secret when it falls due and every remind_every after. Returns how
  // many were raised. Errors: kUnavailable.
  StatusOr<int> SweepDue();

  // Called once at start, before any rotation: ends each rotation written down as queued or
  // running (what keyhold was killed under), as Stop would have. Its outcome becomes
  // "interrupted" (rotating again retries it): step "" and "stopped before the rotation ran" if it
  // was queued, else the step it ran, when that started; a pending version that a create cut
  // short wrote is dropped, as a create that fails or is stopped drops it. First, what the run's
  // command left running (every process carrying its run's marker) is killed
  // (RotationOptions::stop_leftovers), and the outcome says how many were. A run whose finish was
  // done (no version pending any more) is recorded "finished"; an outcome stored when or after the
  // run was is the run's own, and is kept. A staged rotation with no run left behind is not
  // touched: it waits for a rotate or a cancel (ListDue says so). Nothing is run again. All in
  // one store transaction. Returns how many outcomes it recorded. Errors: kUnavailable (the store
  // could not be read or written; then no run is ended).
  StatusOr<int> Recover();

  // The principal of a rotation token that is still valid: `secret.read` and `secret.rotate`
  // on its one path. nullopt for any other text.
  std::optional<Principal> AuthenticateToken(std::string_view token);

 private:
  StatusOr<RotationStatus> Drive(const RequestContext& ctx, const std::string& mount,
                                 const std::string& path, std::optional<RotationStep> only);
  // What Drive would refuse before running anything.
  Status CheckStart(const SecretMetadata& m, std::optional<RotationStep> only) const;
  // Cancel, with the path claimed in busy_.
  Status CancelClaimed(const RequestContext& ctx, const std::string& mount, const std::string& path,
                       bool force);
  // Queues `job` for a worker; false if the queue is full.
  bool Submit(std::function<void(bool)> job);
  void WorkerLoop();
  StatusOr<RotationStatus> Finish(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path);
  StatusOr<RotationStatus> Failed(const RequestContext& ctx, const std::string& mount,
                                  const std::string& path, RotationStep step, const Status& ran);
  // Runs `step` through the driver (or, without one, takes it as done); the run marked at
  // `marked_at_ms` records the command's process group. OK or the failure.
  Status RunStep(RotationStep step, const std::string& mount, const std::string& path,
                 int64_t marked_at_ms);
  // Stores how the attempt ended (best effort: a store that cannot be written is logged; the
  // steps' own records stand).
  void RecordOutcome(const std::string& mount, const std::string& path,
                     store::RotationResult result, std::string_view step, const std::string& error,
                     std::optional<int64_t> at_ms = std::nullopt);
  // Writes down, durably, that `step` of the rotation of mount/path starts now; returns when
  // (the record's at_ms).
  StatusOr<int64_t> MarkRunning(const std::string& mount, const std::string& path,
                                RotationStep step);
  // How Recover ends a run left behind: its outcome (interrupted; or finished, when the secret
  // shows the finish was done; or kept, when the stored one is the run's own or newer), with the
  // pending version of a create cut short dropped first.
  StatusOr<store::RotationRunEnd> EndOfLeftover(const store::RotationRunRecord& r);
  // Kills what the command of a run left behind left running (Recover); how many processes.
  LeftoverKill StopLeftovers(const store::RotationRunRecord& r);
  // Forgets the run of mount/path once its outcome is stored (best effort, logged).
  void EndRun(const std::string& mount, const std::string& path);
  StatusOr<std::optional<RotationOutcome>> ReadOutcome(const std::string& mount,
                                                       const std::string& path);
  // Takes one of `caller`'s places in the queue; false if it has per_caller_limit. REQUIRES: mu_.
  bool ClaimCallerPlace(const std::string& caller);
  void ReleaseCallerPlace(const std::string& caller);
  std::string MintToken(const std::string& mount, const std::string& path);
  void DropToken(const std::string& token);
  void Remind(const store::SecretRecord& r, int64_t now, bool overdue);

  SecretService& secrets_;
  store::Store& store_;
  Env& env_;
  audit::AlertSink* alerts_;
  RotationDriver* driver_;
  RotationOptions options_;

  std::mutex mu_;
  std::set<std::string> busy_;  // "mount/path" being rotated; guarded by mu_
  struct TokenGrant {
    std::string target;  // mount/path
    int64_t expires_at_ms = 0;
  };
  std::map<std::string, TokenGrant> tokens_;  // by SHA-256 hex of the token; guarded by mu_
  std::set<std::string> reminded_;            // reminder keys raised; guarded by mu_
  // Rotations queued or running per caller (key id), for per_caller_limit; guarded by mu_.
  std::map<std::string, int> per_caller_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  // Each job is called once: with true to run it, with false when it is dropped unrun.
  std::deque<std::function<void(bool)>> queue_;  // guarded by queue_mu_
  std::vector<std::thread> workers_;             // started at the first Start; guarded by queue_mu_
  bool stopping_ = false;                        // guarded by queue_mu_
  std::atomic<bool> stopped_{false};             // Stop was called: no new step starts
  std::atomic<StopReason> stop_reason_{StopReason::kShutdown};  // set before stopped_
};

}  // namespace keyhold::service
