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
// It reads and writes the pending value through keyhold with that token; no value is ever in
// its arguments. Exit status 0 is success; any other status, a signal, or running past the
// timeout fails the step. The command runs in a process group of its own: on a timeout or a stop
// the group gets SIGTERM, then SIGKILL after stop_grace_ms, and once the command has ended
// whatever it left running in the group is killed. On Linux the command is also killed
// (PR_SET_PDEATHSIG) if keyhold dies, even by SIGKILL; what it started itself lives on, so the
// group is written down with the run (Call::started: its id, its leader's start time and the
// boot) before the command may run (it waits for that), and the next start kills what is left of
// it (KillLeftoverGroup, from SecretRotator::Recover).
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
  void Interrupt() override { interrupted_.store(true, std::memory_order_release); }

 private:
  // Hands the started group `pid` to call.started, if set.
  Status Record(const Call& call, pid_t pid);

  CommandOptions options_;
  std::atomic<bool> interrupted_{false};
};

// The start time of process `pid`: /proc/PID/stat field 22, in clock ticks since boot; nullopt
// if there is no such process or /proc cannot be read.
std::optional<int64_t> ProcessStartTicks(pid_t pid);
// This process's start time, as ProcessStartTicks; the largest int64_t if it cannot be read.
int64_t OwnStartTicks();
// The id of the boot running now (/proc/sys/kernel/random/boot_id); nullopt if it cannot be read.
std::optional<std::string> BootId();

// Kills (SIGKILL to the group) what is left of the process group `group` recorded as a command
// started, and returns how many of its processes were alive (zombies not counted). Nothing is
// killed (0) unless the boot is `group.boot_id`, and at least one process of that group is found
// (by scanning /proc, as a group whose leader has ended can still have members) that started at
// or after `group.start_ticks` and not after `not_after_ticks` (a later keyhold passes its own
// start: what the command started came before it). A group whose id now has another leader (a
// process with pid `pgid` started at another time) is a recycled id: nothing is killed.
int KillLeftoverGroup(const CommandProcess& group, int64_t not_after_ticks);

}  // namespace keyhold::service
