// CommandDriver: fork and exec with nothing of keyhold's inherited but PATH; between fork and
// exec only async-signal-safe calls, as the server is multi-threaded.
#include "service/rotation_command.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace keyhold::service {
namespace {

constexpr int kExecFailed = 127;

Status StepFailed(const std::string& why) {
  return Status(StatusCode::kUnavailable, "rotation/step_failed", why);
}

Status StepInterrupted(const std::string& why) {
  return Status(StatusCode::kUnavailable, std::string(kStepInterrupted), why);
}

// The child's side: never returns. `parent` is keyhold's pid.
[[noreturn]] void Exec(const char* file, char* const argv[], char* const envp[], pid_t parent) {
  // A group of its own: on a timeout or a stop the command and all it started are ended at once.
  setpgid(0, 0);
#ifdef __linux__
  // Killed with keyhold, even by SIGKILL, which leaves keyhold no time to end it. (The signal is
  // sent when the thread that forked ends: that thread waits for the command.)
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(kExecFailed);  // keyhold died before prctl took effect
#else
  (void)parent;
#endif
  // The server blocks its stop signals in every thread and ignores SIGPIPE; both would pass
  // through exec, leaving a command that ignores SIGTERM and never sees a broken pipe.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  // Nothing of keyhold's (the database, sockets, the master key file) stays open in the command.
  if (syscall(SYS_close_range, 3U, ~0U, 0U) != 0) {
    for (int fd = 3; fd < 65536; ++fd) close(fd);  // kernels before 5.9
  }
  execve(file, argv, envp);
  _exit(kExecFailed);
}

// Whether the command has ended, without reaping it: until it is reaped its pid stays its process
// group's id and cannot be reused, so what it left running in the group can still be signalled.
bool Ended(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
    return errno != EINTR;  // ECHILD: nothing left to wait for
  }
  return info.si_pid == pid;
}

// Ends the command's process group: SIGTERM, then SIGKILL to all that is left once the command
// has ended or `grace_ms` has passed. Then reaps the command; returns its wait status.
int EndGroup(pid_t pid, int64_t grace_ms) {
  kill(-pid, SIGTERM);
  const auto grace = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  while (!Ended(pid) && std::chrono::steady_clock::now() < grace) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

Status CommandDriver::Run(const Call& call) {
  if (interrupted_.load(std::memory_order_acquire)) {
    return StepInterrupted("the command was not run: keyhold is stopping; rotate again to retry");
  }
  if (options_.check) {
    if (Status st = options_.check(); !st.ok()) {
      return StepFailed("the command was not run: " + st.message());
    }
  }
  const std::string step(RotationStepName(call.step));
  const std::string target = call.mount + "/" + call.path;
  std::vector<std::string> args = {options_.command, step, target};
  const char* path_env = std::getenv("PATH");
  std::vector<std::string> env = {
      std::string("PATH=") + (path_env ? path_env : "/usr/local/bin:/usr/bin:/bin"),
      "KEYHOLD_ADDR=" + (options_.address ? options_.address() : std::string()),
      "KEYHOLD_TOKEN=" + call.token,
      "KEYHOLD_ROTATION_STEP=" + step,
      "KEYHOLD_SECRET_MOUNT=" + call.mount,
      "KEYHOLD_SECRET_PATH=" + call.path};
  // Built before fork: the child may only make async-signal-safe calls.
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return StepFailed("the command could not be started (fork failed)");
  if (pid == 0) Exec(options_.command.c_str(), argv.data(), envp.data(), parent);
  setpgid(pid, pid);  // also here: the child may not have run yet when the timeout strikes

  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  auto pause = std::chrono::milliseconds(1);
  while (!Ended(pid)) {
    if (interrupted_.load(std::memory_order_acquire)) {
      // The server is stopping: the command's whole group is asked to end, then made to.
      EndGroup(pid, options_.stop_grace_ms);
      return StepInterrupted("the command was stopped as keyhold stopped; rotate again to retry");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      EndGroup(pid, options_.stop_grace_ms);
      return StepFailed("the command did not finish within " + std::to_string(options_.timeout_ms) +
                        "ms");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  // Nothing the command started outlives its step.
  kill(-pid, SIGKILL);
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return StepFailed("the command could not be waited for");
  if (WIFSIGNALED(status)) {
    return StepFailed("the command was killed by signal " + std::to_string(WTERMSIG(status)));
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0) return OkStatus();
  if (code == kExecFailed) {
    return StepFailed("the command exited with status 127 (could it be started?)");
  }
  return StepFailed("the command exited with status " + std::to_string(code));
}

}  // namespace keyhold::service
