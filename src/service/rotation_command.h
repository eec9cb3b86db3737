// CommandDriver: a RotationDriver (secret_rotation.h) that runs a command the operator
// configured (setting secret_rotation_command), once per step.
//
// The command is started as `COMMAND STEP MOUNT/PATH` with standard input, output and error on
// /dev/null and an environment of its own, not keyhold's (which may hold the master key):
//   PATH                   keyhold's PATH
//   KEYHOLD_ADDR           where keyhold serves (http://127.0.0.1:8080)
//   KEYHOLD_TOKEN          a token that may read and rotate MOUNT/PATH only, while the step runs
//   KEYHOLD_ROTATION_STEP  create, set or test
//   KEYHOLD_SECRET_MOUNT, KEYHOLD_SECRET_PATH
//   KEYHOLD_ROTATION_RUN   the run's marker (Call::marker), if it has one
// It reads and writes the pending value through keyhold with that token; no value is ever in
// its arguments. Exit status 0 is success; any other status, a signal, or running past the
// timeout fails the step. The command runs in a process group of its own: on a timeout or a stop
// the group gets SIGTERM, then SIGKILL after stop_grace_ms, and once the command has ended
// whatever it left running in the group, or anywhere with the run's marker in its environment,
// is killed. On Linux the command is also killed (PR_SET_PDEATHSIG) if keyhold dies, even by
// SIGKILL; what it started itself lives on, so the command is written down with the run
// (Call::started: its group, its leader's start time, the boot and the marker) before it may run
// (it waits for that), and the next start kills what carries the marker (KillLeftovers, from
// SecretRotator::Recover).
//
//   CommandDriver driver({.command = "/etc/keyhold/rotate-db", .timeout_ms = 30'000,
//                         .address = [] { return std::string("http://127.0.0.1:8080"); }});
//
// Thread-safety: Run may be called concurrently.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "service/secret_rotation.h"

namespace keyhold::service {

struct CommandOptions {
  std::string command;  // an absolute path to an executable
  int64_t timeout_ms = 30'000;
  std::function<std::string()> address;  // KEYHOLD_ADDR, asked at each run
  // Asked before each run, if set: an error refuses the step (the command is not started).
  std::function<Status()> check;
  // On Interrupt or a timeout, a running command's process group gets SIGTERM, and SIGKILL this
  // much later.
  int64_t stop_grace_ms = 2'000;
};

class CommandDriver final : public RotationDriver {
 public:
  explicit CommandDriver(CommandOptions options) : options_(std::move(options)) {}
  // OK on exit status 0. Errors: kUnavailable ("rotation/step_failed") with a message naming the
  // exit status, the signal, the timeout, that the command could not be started, or why `check`
  // refused it; kUnavailable (kStepInterrupted) once Interrupt was called.
  Status Run(const Call& call) override;
  // Terminates the commands running now (SIGTERM, then SIGKILL after stop_grace_ms; their steps
  // end interrupted); later runs end so at once.
  void Interrupt(StopReason reason) override {
    reason_.store(reason, std::memory_order_relaxed);
    interrupted_.store(true, std::memory_order_release);
  }

 private:
  // Hands the started group `pid` to call.started, if set.
  Status Record(const Call& call, pid_t pid);

  CommandOptions options_;
  std::atomic<bool> interrupted_{false};
  std::atomic<StopReason> reason_{StopReason::kShutdown};  // stored before interrupted_
};

// The start time of process `pid`: /proc/PID/stat field 22, in clock ticks since boot; nullopt
// if there is no such process or /proc cannot be read.
std::optional<int64_t> ProcessStartTicks(pid_t pid);
// The id of the boot running now (/proc/sys/kernel/random/boot_id); nullopt if it cannot be read.
std::optional<std::string> BootId();

// The environment variable that carries a run's marker into its command and all it starts.
inline constexpr std::string_view kRunMarkerVariable = "KEYHOLD_ROTATION_RUN";

// Kills (SIGKILL, pid by pid) every process, in any group, whose environment
// (/proc/PID/environ, its first kEnvironLimit bytes) holds exactly the entry
// KEYHOLD_ROTATION_RUN=`command.marker`, and scans again, a few times, for what they forked
// meanwhile. A process whose environment cannot be read (another user's, a zombie) is not killed.
// Nothing is killed unless the boot is `command.boot_id` and the marker is 32 hex digits. Returns
// how many were killed and how many still carried the marker after the last try.
LeftoverKill KillLeftovers(const CommandProcess& command);
inline constexpr size_t kEnvironLimit = 1 << 20;

}  // namespace keyhold::service
