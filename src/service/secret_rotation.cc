// SecretRotator: the order of the steps, what a failure leaves behind, and the reminders.
#include "service/secret_rotation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/base62.h"
#include "core/secret_path.h"
#include "crypto/crypto.h"
#include "service/rotation_command.h"
#include "store/store.h"

namespace keyhold::service {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kStepNames = {"create", "set", "test", "finish"};
constexpr int kDuePage = 1000;
// The step recorded, durably, just before set runs: from then on the provider may use the pending
// value, even if keyhold is killed before set ends and nothing else is recorded.
constexpr std::string_view kSetStarted = "set-started";
constexpr std::string_view kSetUnfinished =
    "set: started, but keyhold stopped before it ended (the provider may use the pending value); "
    "rotate again to retry it";

constexpr std::string_view kStoppedBeforeRun =
    "keyhold stopped before the rotation ran; rotate again to run it";
constexpr int kRecoverPage = store::kMaxSecretListPage;

// The caller of what Recover does by itself, as the audit log names it.
RequestContext RecoveryContext() {
  RequestContext ctx{.request_id = "recover"};
  ctx.actor.key_id = "keyhold";
  ctx.actor.permissions = {"secret.rotate"};
  return ctx;
}

std::string_view ResultName(store::RotationResult r) {
  switch (r) {
    case store::RotationResult::kFinished:
      return "finished";
    case store::RotationResult::kFailed:
      return "failed";
    case store::RotationResult::kInterrupted:
      return "interrupted";
    case store::RotationResult::kError:
      break;
  }
  return "error";
}

std::string TokenKey(std::string_view token) {
  crypto::Sha256Digest d = crypto::Sha256(token);
  return crypto::HexEncode(d);
}

// How far the rotation has come: 0 nothing pending, 1 created, 2 set, 3 tested.
int Progress(const SecretMetadata& m) {
  if (!m.pending_version) return 0;
  if (m.rotation_step == "test") return 3;
  if (m.rotation_step == "set") return 2;
  return 1;
}

// Whether `set` has run for the pending version: done (the step is set or test), failed (it
// may have changed the provider before it failed), or started and not known to have ended.
bool SetHasRun(const SecretMetadata& m) {
  if (!m.pending_version) return false;
  return Progress(m) >= 2 || m.rotation_step == kSetStarted ||
         m.rotation_failure.starts_with("set:") || m.rotation_failure.starts_with("test:");
}

// The last step done ("" if none): "set-started" is create done, set not (yet).
std::string LastDone(const SecretMetadata& m) {
  const int progress = Progress(m);
  return progress == 0 ? "" : std::string(kStepNames[progress - 1]);
}

// The step a staged rotation is at: the one that failed, the set that started, or the first not
// done.
std::string StagedStep(const SecretMetadata& m) {
  if (!m.rotation_failure.empty())
    return m.rotation_failure.substr(0, m.rotation_failure.find(':'));
  if (m.rotation_step == kSetStarted) return "set";
  return std::string(kStepNames[Progress(m)]);
}

RotationStatus StatusOf(const SecretMetadata& m) {
  RotationStatus s;
  s.mount = m.mount;
  s.path = m.path;
  s.current_version = m.current_version;
  s.pending_version = m.pending_version;
  s.previous_version = m.previous_version;
  s.last_step = LastDone(m);
  s.failure = m.rotation_failure;
  // Set started and nothing since: it is running now (Get says so), or keyhold stopped under it.
  if (m.pending_version && m.rotation_step == kSetStarted && s.failure.empty()) {
    s.failure = kSetUnfinished;
  }
  s.rotation_period_ms = m.rotation_period_ms;
  s.next_rotation_at_ms = m.next_rotation_at_ms;
  return s;
}

}  // namespace

std::string_view RotationStepName(RotationStep step) {
  return kStepNames[static_cast<size_t>(step)];
}

std::optional<RotationStep> ParseRotationStep(std::string_view name) {
  for (size_t i = 0; i < kStepNames.size(); ++i) {
    if (kStepNames[i] == name) return static_cast<RotationStep>(i);
  }
  return std::nullopt;
}

SecretRotator::SecretRotator(SecretService& secrets, store::Store& store, Env& env,
                             audit::AlertSink* alerts, RotationDriver* driver,
                             RotationOptions options)
    : secrets_(secrets),
      store_(store),
      env_(env),
      alerts_(alerts),
      driver_(driver),
      options_(std::move(options)) {}

std::string_view StoppedBecause(StopReason reason) {
  return reason == StopReason::kSeal ? "the server was sealed" : "keyhold stopped";
}

std::string_view RetryAdvice(StopReason reason) {
  return reason == StopReason::kSeal ? "rotate again once it is unsealed to retry"
                                     : "rotate again to retry";
}

SecretRotator::~SecretRotator() { Stop(); }

void SecretRotator::Stop(StopReason reason) {
  std::vector<std::thread> workers;
  std::deque<std::function<void(bool)>> dropped;
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
    if (!stopped_.load(std::memory_order_relaxed)) {
      stop_reason_.store(reason, std::memory_order_relaxed);
    }
    stopped_.store(true, std::memory_order_release);
    dropped.swap(queue_);
    workers.swap(workers_);
  }
  queue_cv_.notify_all();
  for (auto& job : dropped) job(false);
  if (driver_) driver_->Interrupt(stop_reason_.load(std::memory_order_relaxed));
  for (std::thread& t : workers) t.join();
}

bool SecretRotator::Submit(std::function<void(bool)> job) {
  std::lock_guard lock(queue_mu_);
  if (stopping_ || queue_.size() >= static_cast<size_t>(std::max(options_.queue_limit, 0))) {
    return false;
  }
  queue_.push_back(std::move(job));
  if (workers_.empty()) {
    for (int i = 0; i < std::max(options_.workers, 1); ++i) {
      workers_.emplace_back([this] { WorkerLoop(); });
    }
  }
  queue_cv_.notify_one();
  return true;
}

void SecretRotator::WorkerLoop() {
  for (;;) {
    std::function<void(bool)> job;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job(true);
  }
}

Status SecretRotator::CheckStart(const SecretMetadata& m, std::optional<RotationStep> only) const {
  if (m.current_version == 0) {
    return NotFound("the secret has no version to rotate", "data/secret_not_found");
  }
  const int progress = Progress(m);
  if (only && static_cast<int>(*only) > progress &&
      !(*only == RotationStep::kFinish && !m.pending_version)) {
    return FailedPrecondition("step '" + std::string(RotationStepName(*only)) + "' comes after '" +
                                  std::string(kStepNames[progress]) + "', which is not done yet",
                              "data/rotation_out_of_order");
  }
  if (!driver_ && progress == 0 && (!only || *only == RotationStep::kCreate)) {
    return FailedPrecondition(
        "no rotation command or webhook is configured: write the pending value first "
        "(secrets.putPendingValue)",
        "rotation/no_pending_value");
  }
  return OkStatus();
}

StatusOr<RotationStatus> SecretRotator::Start(const RequestContext& ctx, const std::string& mount,
                                              const std::string& path,
                                              std::optional<RotationStep> only) {
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  KH_RETURN_IF_ERROR(CheckStart(m, only));
  const std::string target = mount + "/" + path;
  const std::string caller = ctx.actor.key_id;
  {
    std::lock_guard lock(mu_);
    if (busy_.contains(target)) {
      return AlreadyExists("this secret is being rotated now; try again when that is done",
                           "data/rotation_busy");
    }
    if (!ClaimCallerPlace(caller)) {
      return Status(StatusCode::kResourceExhausted, "rotation/caller_limit",
                    "this key has " + std::to_string(options_.per_caller_limit) +
                        " rotations queued or running, the most one key may have; try again "
                        "when one has ended");
    }
    busy_.insert(target);
  }
  // Durably before the caller hears it was accepted: a kill before it runs still leaves a trace.
  if (Status st = store_.PutRotationRun({.mount = mount,
                                         .path = path,
                                         .state = store::RotationRunState::kQueued,
                                         .step = "",
                                         .at_ms = env_.NowMillis()});
      !st.ok()) {
    std::lock_guard lock(mu_);
    busy_.erase(target);
    ReleaseCallerPlace(caller);
    return st;
  }
  // The request is answered before the rotation ends: its audit entries still name its caller,
  // address and request id, without its deadline.
  RequestContext job_ctx = ctx;
  job_ctx.deadline = std::chrono::steady_clock::time_point::max();
  job_ctx.may_block = true;
  const bool queued = Submit([this, job_ctx, mount, path, only, target, caller](bool run) {
    if (!run) {
      RecordOutcome(mount, path, store::RotationResult::kInterrupted, "",
                    std::string(kStoppedBeforeRun));
    } else if (auto done = Drive(job_ctx, mount, path, only);
               !done.ok() && done.status().reason() != kStepInterrupted) {
      // Step failures, interruptions and finishes were recorded as they came; this is neither.
      spdlog::warn("{}: rotation of secret {} ended in an error: {}", job_ctx.request_id, target,
                   done.status().message());
      RecordOutcome(mount, path, store::RotationResult::kError, "", done.status().message());
    }
    EndRun(mount, path);
    // Recorded before the path is free: whoever sees it not running sees how it ended.
    std::lock_guard lock(mu_);
    busy_.erase(target);
    ReleaseCallerPlace(caller);
  });
  if (!queued) {
    EndRun(mount, path);
    std::lock_guard lock(mu_);
    busy_.erase(target);
    ReleaseCallerPlace(caller);
    if (stopped_.load(std::memory_order_acquire)) return Unavailable("keyhold is stopping");
    return Status(StatusCode::kResourceExhausted, "rotation/queue_full",
                  "too many rotations are under way; try again in a few seconds");
  }
  RotationStatus out = StatusOf(m);
  out.running = true;
  return out;
}

StatusOr<RotationStatus> SecretRotator::Rotate(const RequestContext& ctx, const std::string& mount,
                                               const std::string& path,
                                               std::optional<RotationStep> only) {
  // Permission and existence first, so a caller who may not rotate learns nothing more.
  KH_RETURN_IF_ERROR(secrets_.RotationState(ctx, mount, path).status());
  std::string target = mount + "/" + path;
  {
    std::lock_guard lock(mu_);
    if (!busy_.insert(target).second) {
      return AlreadyExists("this secret is being rotated now; try again when that is done",
                           "data/rotation_busy");
    }
  }
  auto done = Drive(ctx, mount, path, only);
  EndRun(mount, path);
  std::lock_guard lock(mu_);
  busy_.erase(target);
  return done;
}

// Runs the steps from the first not done (or `only`) through finish (or `only`), stopping at
// the first that fails.
StatusOr<RotationStatus> SecretRotator::Drive(const RequestContext& ctx, const std::string& mount,
                                              const std::string& path,
                                              std::optional<RotationStep> only) {
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  if (m.current_version == 0) {
    return NotFound("the secret has no version to rotate", "data/secret_not_found");
  }
  const int progress = Progress(m);
  const int first = only ? static_cast<int>(*only) : progress;
  const int last = only ? first : static_cast<int>(RotationStep::kFinish);
  if (only && first > progress) {
    if (*only == RotationStep::kFinish && !m.pending_version) return StatusOf(m);  // finished
    return FailedPrecondition("step '" + std::string(RotationStepName(*only)) + "' comes after '" +
                                  std::string(kStepNames[progress]) + "', which is not done yet",
                              "data/rotation_out_of_order");
  }
  if (only && first < progress) return StatusOf(m);  // done already: nothing to do
  for (int i = first; i <= last; ++i) {
    auto step = static_cast<RotationStep>(i);
    if (stopped_.load(std::memory_order_acquire)) {
      // The steps done so far are recorded: a later rotate picks up here.
      const bool sealed = stop_reason_.load(std::memory_order_relaxed) == StopReason::kSeal;
      const std::string why =
          std::string(sealed ? "the server was sealed" : "keyhold is stopping") + ": step '" +
          std::string(RotationStepName(step)) + "' was not started; rotate again once " +
          (sealed ? "it is unsealed" : "it runs");
      RecordOutcome(mount, path, store::RotationResult::kInterrupted, RotationStepName(step), why);
      return Status(StatusCode::kUnavailable, std::string(kStepInterrupted), why);
    }
    if (step == RotationStep::kFinish) return Finish(ctx, mount, path);
    if (step == RotationStep::kCreate && !driver_) {
      return FailedPrecondition(
          "no rotation command or webhook is configured: write the pending value first "
          "(secrets.putPendingValue)",
          "rotation/no_pending_value");
    }
    KH_ASSIGN_OR_RETURN(int64_t marked_at_ms, MarkRunning(mount, path, step));
    if (step == RotationStep::kSet && driver_) {
      // Durably before set runs: a cancel must know set may have changed the provider, however
      // this run ends (even by keyhold being killed).
      KH_RETURN_IF_ERROR(
          secrets_.RecordRotationStep(ctx, mount, path, std::string(kSetStarted), ""));
    }
    Status ran = RunStep(step, mount, path, marked_at_ms);
    if (ran.ok() && step == RotationStep::kCreate) {
      KH_ASSIGN_OR_RETURN(m, secrets_.RotationState(ctx, mount, path));
      if (!m.pending_version) {
        ran = FailedPrecondition("no pending value was written", "rotation/step_failed");
      }
    }
    if (!ran.ok()) return Failed(ctx, mount, path, step, ran);
    std::string name(RotationStepName(step));
    KH_RETURN_IF_ERROR(secrets_.RecordRotationStep(ctx, mount, path, name, ""));
  }
  // The steps asked for are done and the rotation is not finished: an earlier attempt's failure
  // is no longer what there is to retry.
  // Cleared with the run, in one write: a kill cannot leave a run whose end is stored.
  if (Status st = store_.EndRotationRuns(
          {{.mount = mount, .path = path, .change = store::RotationRunEnd::Outcome::kRemove}});
      !st.ok()) {
    spdlog::warn("the outcome of the rotation of secret {}/{} could not be cleared: {}", mount,
                 path, st.message());
  }
  KH_ASSIGN_OR_RETURN(m, secrets_.RotationState(ctx, mount, path));
  return StatusOf(m);
}

StatusOr<RotationStatus> SecretRotator::Finish(const RequestContext& ctx, const std::string& mount,
                                               const std::string& path) {
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  if (!m.pending_version) {
    return FailedPrecondition("nothing is pending", "data/no_pending_version");
  }
  // Written down like every other step: a kill after the finish and before its outcome is
  // stored leaves a run at "finish" and no pending version, which Recover reads as finished.
  KH_RETURN_IF_ERROR(MarkRunning(mount, path, RotationStep::kFinish).status());
  KH_RETURN_IF_ERROR(secrets_.FinishRotation(ctx, mount, path, *m.pending_version));
  RecordOutcome(mount, path, store::RotationResult::kFinished, "", "");
  KH_ASSIGN_OR_RETURN(m, secrets_.RotationState(ctx, mount, path));
  RotationStatus out = StatusOf(m);
  out.last_step = RotationStepName(RotationStep::kFinish);
  return out;
}

// Records that `step` failed with `ran`; the current version is left as it is.
StatusOr<RotationStatus> SecretRotator::Failed(const RequestContext& ctx, const std::string& mount,
                                               const std::string& path, RotationStep step,
                                               const Status& ran) {
  std::string failure = std::string(RotationStepName(step)) + ": " + ran.message();
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  if (step == RotationStep::kCreate && m.pending_version) {
    // What a failed create wrote is not trusted: the retry creates afresh.
    KH_RETURN_IF_ERROR(secrets_.CancelRotation(ctx, mount, path, /*forced=*/false));
    KH_ASSIGN_OR_RETURN(m, secrets_.RotationState(ctx, mount, path));
  }
  KH_RETURN_IF_ERROR(secrets_.RecordRotationStep(ctx, mount, path, LastDone(m), failure));
  const bool interrupted = ran.reason() == kStepInterrupted;
  spdlog::warn("rotation of secret {}/{} {}: {}", mount, path,
               interrupted ? "interrupted" : "failed", failure);
  RecordOutcome(mount, path,
                interrupted ? store::RotationResult::kInterrupted : store::RotationResult::kFailed,
                RotationStepName(step), ran.message());
  KH_ASSIGN_OR_RETURN(m, secrets_.RotationState(ctx, mount, path));
  RotationStatus out = StatusOf(m);
  out.failure = failure;
  return out;
}

Status SecretRotator::RunStep(RotationStep step, const std::string& mount, const std::string& path,
                              int64_t marked_at_ms) {
  if (!driver_) return OkStatus();  // set and test done by hand: the caller says so
  RotationDriver::Call call{step, mount, path, MintToken(mount, path)};
  std::array<uint8_t, 16> marker{};
  env_.RandomBytes(marker);
  call.marker = crypto::HexEncode(marker);
  store::RotationRunRecord run{.mount = mount,
                               .path = path,
                               .state = store::RotationRunState::kRunning,
                               .step = std::string(RotationStepName(step)),
                               .at_ms = marked_at_ms};
  bool recorded = false;
  call.started = [&](const CommandProcess& command) {
    store::RotationRunRecord with = run;
    with.command_pgid = command.pgid;
    with.command_start_ticks = command.start_ticks;
    with.command_boot_id = command.boot_id;
    with.command_marker = command.marker;
    recorded = true;
    return store_.PutRotationRun(with);
  };
  Status st = driver_->Run(call);
  DropToken(call.token);
  // The command has been reaped: its record goes now, so that a run whose end cannot be stored
  // leaves nothing for a later start to kill.
  if (recorded) {
    if (Status cleared = store_.PutRotationRun(run); !cleared.ok()) {
      spdlog::warn("rotation of secret {}/{}: that step '{}' ended could not be stored: {}", mount,
                   path, run.step, cleared.message());
    }
  }
  return st;
}

void SecretRotator::RecordOutcome(const std::string& mount, const std::string& path,
                                  store::RotationResult result, std::string_view step,
                                  const std::string& error, std::optional<int64_t> at_ms) {
  store::RotationRunEnd end{.mount = mount,
                            .path = path,
                            .change = store::RotationRunEnd::Outcome::kReplace,
                            .outcome = {.mount = mount,
                                        .path = path,
                                        .result = result,
                                        .step = std::string(step),
                                        .error = error,
                                        .at_ms = at_ms.value_or(env_.NowMillis())}};
  // The run ends in the same write as its outcome is stored: a kill between the two would leave
  // a run that the next start takes for one cut short, and relabel its end "interrupted".
  if (Status st = store_.EndRotationRuns({end}); !st.ok()) {
    spdlog::warn("the outcome of the rotation of secret {}/{} could not be stored: {}", mount, path,
                 st.message());
  }
}

StatusOr<int64_t> SecretRotator::MarkRunning(const std::string& mount, const std::string& path,
                                             RotationStep step) {
  const int64_t now = env_.NowMillis();
  KH_RETURN_IF_ERROR(store_.PutRotationRun({.mount = mount,
                                            .path = path,
                                            .state = store::RotationRunState::kRunning,
                                            .step = std::string(RotationStepName(step)),
                                            .at_ms = now}));
  return now;
}

void SecretRotator::EndRun(const std::string& mount, const std::string& path) {
  if (Status st = store_.EndRotationRuns({{.mount = mount, .path = path}}); !st.ok()) {
    // Left behind, the next start records the run as interrupted: stale, never lost.
    spdlog::warn("the end of the rotation of secret {}/{} could not be stored: {}", mount, path,
                 st.message());
  }
}

StatusOr<int> SecretRotator::Recover() {
  KH_ASSIGN_OR_RETURN(auto runs, store_.ListRotationRuns(kRecoverPage));
  std::vector<store::RotationRunEnd> ends;
  ends.reserve(runs.size());
  int recorded = 0;
  for (const store::RotationRunRecord& r : runs) {
    KH_ASSIGN_OR_RETURN(store::RotationRunEnd end, EndOfLeftover(r));
    if (end.change == store::RotationRunEnd::Outcome::kReplace) {
      spdlog::warn("rotation of secret {}/{} {}: keyhold stopped while it was {}", r.mount, r.path,
                   ResultName(end.outcome.result),
                   r.state == store::RotationRunState::kQueued ? "queued" : "running");
      ++recorded;
    }
    ends.push_back(std::move(end));
  }
  // One transaction for them all: this runs before keyhold serves, and each write is synced.
  if (!ends.empty()) KH_RETURN_IF_ERROR(store_.EndRotationRuns(ends));
  return recorded;
}

// Kills what the command of run `r` left running, if it recorded one; returns how many processes.
LeftoverKill SecretRotator::StopLeftovers(const store::RotationRunRecord& r) {
  if (r.command_pgid <= 0 && r.command_marker.empty()) return {};
  const CommandProcess command{.pgid = r.command_pgid,
                               .start_ticks = r.command_start_ticks,
                               .boot_id = r.command_boot_id,
                               .marker = r.command_marker};
  const LeftoverKill done =
      options_.stop_leftovers ? options_.stop_leftovers(command) : KillLeftovers(command);
  if (done.killed > 0) {
    spdlog::warn("rotation of secret {}/{}: {} process(es) its command left running were killed",
                 r.mount, r.path, done.killed);
  }
  if (done.left > 0) {
    spdlog::warn(
        "rotation of secret {}/{}: {} process(es) its command left running could not all be "
        "killed (they kept starting others); they still run",
        r.mount, r.path, done.left);
  }
  return done;
}

StatusOr<store::RotationRunEnd> SecretRotator::EndOfLeftover(const store::RotationRunRecord& r) {
  const int stopped =
      StopLeftovers(r).killed;  // first: whatever is told of the run, they are ended
  store::RotationRunEnd end{.mount = r.mount, .path = r.path};
  auto secret = store_.ReadSecret(r.mount, r.path);
  if (!secret.ok() && secret.status().code() == StatusCode::kNotFound) return end;  // deleted
  KH_RETURN_IF_ERROR(secret.status());
  KH_ASSIGN_OR_RETURN(auto outcome, store_.ReadRotationOutcome(r.mount, r.path));
  // Stored when or after this run was: the run's own end, never to be relabelled.
  if (outcome && outcome->at_ms >= r.at_ms) return end;
  end.change = store::RotationRunEnd::Outcome::kReplace;
  end.outcome = {.mount = r.mount,
                 .path = r.path,
                 .result = store::RotationResult::kInterrupted,
                 .step = r.step,
                 .error = "",
                 .at_ms = r.at_ms};
  SecretMetadata m;
  m.pending_version = secret->pending_version;
  m.rotation_step = secret->rotation_step;
  m.rotation_failure = secret->rotation_failure;
  if (r.state == store::RotationRunState::kQueued) {
    end.outcome.step.clear();
    end.outcome.error = std::string(kStoppedBeforeRun);
  } else if (r.step != RotationStepName(RotationStep::kCreate) && !m.pending_version) {
    // Past create a version was pending; none is now: the finish was done (a run holds its path,
    // so nothing else made it current or dropped it), and only its outcome was not stored.
    end.outcome.result = store::RotationResult::kFinished;
    end.outcome.step.clear();
  } else {
    if (r.step == RotationStepName(RotationStep::kCreate) && m.pending_version && !SetHasRun(m)) {
      // As a create that fails or is stopped: what it wrote is not trusted, the retry creates
      // afresh. Set has not run, so the provider does not use it.
      KH_RETURN_IF_ERROR(secrets_.CancelRotation(RecoveryContext(), r.mount, r.path, false));
    }
    end.outcome.error = "keyhold stopped while step '" + r.step +
                        "' ran, before it ended; rotate again to retry it";
    if (stopped > 0) {
      end.outcome.error +=
          "; " + std::to_string(stopped) + (stopped == 1 ? " process" : " processes") +
          " its command left running " + (stopped == 1 ? "was" : "were") + " stopped";
    }
  }
  return end;
}

StatusOr<std::optional<RotationOutcome>> SecretRotator::ReadOutcome(const std::string& mount,
                                                                    const std::string& path) {
  KH_ASSIGN_OR_RETURN(auto stored, store_.ReadRotationOutcome(mount, path));
  if (!stored) return std::optional<RotationOutcome>();
  return std::optional<RotationOutcome>(
      RotationOutcome{.result = std::string(ResultName(stored->result)),
                      .step = stored->step,
                      .error = stored->error,
                      .at_ms = stored->at_ms});
}

bool SecretRotator::ClaimCallerPlace(const std::string& caller) {
  auto it = per_caller_.find(caller);
  if (it != per_caller_.end() && it->second >= std::max(options_.per_caller_limit, 1)) return false;
  ++per_caller_[caller];
  return true;
}

void SecretRotator::ReleaseCallerPlace(const std::string& caller) {
  auto it = per_caller_.find(caller);
  if (it != per_caller_.end() && --it->second <= 0) per_caller_.erase(it);
}

StatusOr<RotationStatus> SecretRotator::Get(const RequestContext& ctx, const std::string& mount,
                                            const std::string& path) {
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  RotationStatus out = StatusOf(m);
  {
    std::lock_guard lock(mu_);
    out.running = busy_.contains(mount + "/" + path);
  }
  // Read after `running`: a run records its outcome before it frees the path.
  KH_ASSIGN_OR_RETURN(out.last_outcome, ReadOutcome(mount, path));
  if (out.running && out.failure == kSetUnfinished) out.failure.clear();  // set is running now
  if (out.running || !out.last_outcome) return out;
  const RotationOutcome& o = *out.last_outcome;
  if (o.result == "finished" && !m.pending_version) {
    out.last_step = RotationStepName(RotationStep::kFinish);
  }
  // A failed step's failure is on the secret; a run that ended with none (stopped before a step,
  // or in an error of no step) has only its outcome to say why.
  if ((o.result == "interrupted" || o.result == "error") && out.failure.empty()) {
    out.failure = o.error;
  }
  return out;
}

StatusOr<RotationStatus> SecretRotator::Cancel(const RequestContext& ctx, const std::string& mount,
                                               const std::string& path, bool force) {
  // Permission and existence first, so a caller who may not rotate learns nothing more.
  KH_RETURN_IF_ERROR(secrets_.RotationState(ctx, mount, path).status());
  const std::string target = mount + "/" + path;
  {
    // Claimed while the state is read again and acted on: no rotation may start (and run set)
    // between the check below and the cancel.
    std::lock_guard lock(mu_);
    if (!busy_.insert(target).second) {
      return AlreadyExists("this secret is being rotated now; try again when that is done",
                           "data/rotation_busy");
    }
  }
  Status cancelled = CancelClaimed(ctx, mount, path, force);
  if (cancelled.ok()) {
    // Nothing is left to retry: the last attempt's outcome goes with the pending version.
    if (Status st = store_.DeleteRotationOutcome(mount, path); !st.ok()) cancelled = st;
  }
  {
    std::lock_guard lock(mu_);
    busy_.erase(target);
  }
  KH_RETURN_IF_ERROR(cancelled);
  return Get(ctx, mount, path);
}

Status SecretRotator::CancelClaimed(const RequestContext& ctx, const std::string& mount,
                                    const std::string& path, bool force) {
  KH_ASSIGN_OR_RETURN(SecretMetadata m, secrets_.RotationState(ctx, mount, path));
  if (!force && SetHasRun(m)) {
    const std::string ran = !m.rotation_failure.empty()
                                ? m.rotation_failure.substr(0, m.rotation_failure.find(':'))
                            : m.rotation_step == kSetStarted ? "set"
                                                             : m.rotation_step;
    return AlreadyExists("step '" + ran +
                             "' has run: the provider may already use the pending value, and "
                             "keyhold holds its only copy; finish the rotation, or cancel with "
                             "force to drop it anyway",
                         "data/rotation_past_set");
  }
  return secrets_.CancelRotation(ctx, mount, path, force && SetHasRun(m));
}

StatusOr<std::vector<DueSecret>> SecretRotator::ListDue(const RequestContext& ctx,
                                                        int64_t within_ms) {
  if (within_ms < 0) return InvalidArgument("within must not be negative");
  const int64_t now = env_.NowMillis();
  const int64_t by = within_ms > std::numeric_limits<int64_t>::max() - now
                         ? std::numeric_limits<int64_t>::max()
                         : now + within_ms;
  KH_ASSIGN_OR_RETURN(auto rows, store_.ListSecretsDue(by, store::kMaxSecretListPage));
  if (rows.size() >= static_cast<size_t>(store::kMaxSecretListPage)) {
    return InvalidArgument("too many secrets are due: ask for a shorter within");
  }
  std::vector<DueSecret> out;
  for (const store::SecretRecord& r : rows) {
    if (!SecretAccessGranted(ctx.actor.permissions, "rotate", r.mount + "/" + r.path)) continue;
    bool running = false;
    {
      std::lock_guard lock(mu_);
      running = busy_.contains(r.mount + "/" + r.path);
    }
    // Read after `running`, as Get does.
    KH_ASSIGN_OR_RETURN(auto outcome, ReadOutcome(r.mount, r.path));
    SecretMetadata m;
    m.pending_version = r.pending_version;
    m.rotation_step = r.rotation_step;
    m.rotation_failure = r.rotation_failure;
    out.push_back({.mount = r.mount,
                   .path = r.path,
                   .due_at_ms = *r.next_rotation_at_ms,
                   .overdue = *r.next_rotation_at_ms <= now,
                   .rotating = r.pending_version.has_value(),
                   .running = running,
                   .staged_step = r.pending_version ? StagedStep(m) : "",
                   .cancel_needs_force = SetHasRun(m),
                   .rotation_period_ms = r.rotation_period_ms,
                   .last_outcome = std::move(outcome)});
  }
  return out;
}

StatusOr<int> SecretRotator::SweepDue() {
  const int64_t now = env_.NowMillis();
  KH_ASSIGN_OR_RETURN(auto rows, store_.ListSecretsDue(now + options_.remind_before_ms, kDuePage));
  int raised = 0;
  std::set<std::string> current;
  for (const store::SecretRecord& r : rows) {
    const int64_t due = *r.next_rotation_at_ms;
    const bool overdue = due <= now;
    // One key per reminder: "upcoming" once, then one per remind_every period while overdue.
    std::string key = r.mount + "/" + r.path + "@" + std::to_string(due) + ":";
    key += overdue ? "overdue:" + std::to_string((now - due) /
                                                 std::max<int64_t>(options_.remind_every_ms, 1))
                   : "upcoming";
    bool fresh = false;
    {
      std::lock_guard lock(mu_);
      fresh = !reminded_.contains(key);
    }
    current.insert(std::move(key));
    if (!fresh) continue;
    Remind(r, now, overdue);
    ++raised;
  }
  // Only the reminders that could still come up again are remembered: the set stays as small as
  // the due list, however long the server runs.
  std::lock_guard lock(mu_);
  reminded_ = std::move(current);
  return raised;
}

void SecretRotator::Remind(const store::SecretRecord& r, int64_t now, bool overdue) {
  if (!alerts_) return;
  const std::string target = r.mount + "/" + r.path;
  const int64_t due = *r.next_rotation_at_ms;
  audit::Alert a;
  a.kind = std::string(audit::kAlertSecretRotationDue);
  a.severity = overdue ? audit::AlertSeverity::kWarning : audit::AlertSeverity::kInfo;
  a.summary = "secret " + target + (overdue ? " is overdue for rotation" : " is due for rotation");
  a.evidence_json = json{{"mount", r.mount},
                         {"path", r.path},
                         {"dueAt", due},
                         {"overdue", overdue},
                         {"overdueMs", overdue ? now - due : 0},
                         {"rotating", r.pending_version.has_value()}}
                        .dump();
  a.dedupe_key = std::string(audit::kAlertSecretRotationDue) + ":" + target + ":" +
                 (overdue ? "overdue" : "upcoming");
  auto st = alerts_->Raise(a);
  if (!st.ok()) {
    spdlog::warn("the secret.rotation_due alert for {} could not be stored: {}", target,
                 st.status().message());
  }
}

std::string SecretRotator::MintToken(const std::string& mount, const std::string& path) {
  std::array<uint8_t, 32> bytes{};
  env_.RandomBytes(bytes);
  std::string token = std::string(kTokenPrefix) + Base62EncodeFixed(bytes);
  std::lock_guard lock(mu_);
  const int64_t now = env_.NowMillis();
  std::erase_if(tokens_, [&](const auto& t) { return t.second.expires_at_ms <= now; });
  tokens_[TokenKey(token)] = {mount + "/" + path, now + options_.token_ttl_ms};
  return token;
}

void SecretRotator::DropToken(const std::string& token) {
  std::lock_guard lock(mu_);
  tokens_.erase(TokenKey(token));
}

std::optional<Principal> SecretRotator::AuthenticateToken(std::string_view token) {
  if (!token.starts_with(kTokenPrefix)) return std::nullopt;
  std::lock_guard lock(mu_);
  auto it = tokens_.find(TokenKey(token));
  if (it == tokens_.end() || it->second.expires_at_ms <= env_.NowMillis()) return std::nullopt;
  Principal p;
  p.key_id = "rotation:" + it->second.target;
  p.permissions = {"secret.read:" + it->second.target, "secret.update:" + it->second.target,
                   "secret.rotate:" + it->second.target};
  return p;
}

}  // namespace keyhold::service
