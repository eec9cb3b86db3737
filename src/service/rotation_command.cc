// CommandDriver: fork and exec with nothing of keyhold's inherited but PATH; between fork and
// exec only async-signal-safe calls, as the server is multi-threaded.
#include "service/rotation_command.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <dirent.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
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

// The child's side: never returns. `parent` is keyhold's pid; `go` is read until keyhold has
// written the group down (one byte), or has died (end of file).
[[noreturn]] void Exec(const char* file, char* const argv[], char* const envp[], pid_t parent,
                       int go) {
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
  // Nothing runs before the group is on record: a kill -9 after this leaves a group the next
  // start can find.
  char byte = 0;
  ssize_t got = 0;
  do {
    got = read(go, &byte, 1);
  } while (got < 0 && errno == EINTR);
  if (got != 1) _exit(kExecFailed);
  close(go);
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

// Fields 3 onwards of /proc/PID/stat (after the command name, which may hold spaces and
// parentheses), or empty if it cannot be read.
std::vector<std::string> StatFields(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  size_t close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(std::move(f));
  return fields;
}

// Field `n` (1-based, as proc(5) numbers them; n >= 3) as a number.
std::optional<int64_t> NumberField(const std::vector<std::string>& fields, size_t n) {
  if (n < 3 || fields.size() < n - 2) return std::nullopt;
  const std::string& f = fields[n - 3];
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(f.c_str(), &end, 10);
  if (errno != 0 || end == f.c_str() || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

constexpr size_t kPgrpField = 5;
constexpr size_t kStartTimeField = 22;

// A process of the scan: its pid, state (R, S, Z, ...), start time.
struct Member {
  pid_t pid = 0;
  char state = '?';
  int64_t start_ticks = 0;
};

// Every process in process group `pgid` that /proc shows.
std::vector<Member> GroupMembers(int64_t pgid) {
  std::vector<Member> out;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return out;
  while (const dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    auto fields = StatFields(std::string("/proc/") + e->d_name + "/stat");
    auto pgrp = NumberField(fields, kPgrpField);
    auto start = NumberField(fields, kStartTimeField);
    if (!pgrp || !start || *pgrp != pgid) continue;
    out.push_back({static_cast<pid_t>(pid), fields[0].empty() ? '?' : fields[0][0], *start});
  }
  closedir(proc);
  return out;
}

}  // namespace

std::optional<int64_t> ProcessStartTicks(pid_t pid) {
  return NumberField(StatFields("/proc/" + std::to_string(pid) + "/stat"), kStartTimeField);
}

int64_t OwnStartTicks() {
  return ProcessStartTicks(getpid()).value_or(std::numeric_limits<int64_t>::max());
}

std::optional<std::string> BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!in || !std::getline(in, id) || id.empty()) return std::nullopt;
  return id;
}

int KillLeftoverGroup(const CommandProcess& group, int64_t not_after_ticks) {
  if (group.pgid <= 1 || group.boot_id.empty()) return 0;
  auto boot = BootId();
  if (!boot || *boot != group.boot_id) return 0;  // another boot: the ids mean nothing now
  int alive = 0;
  for (const Member& m : GroupMembers(group.pgid)) {
    // The id leads another group now: the recorded one ended entirely and the id was reused.
    if (m.pid == group.pgid && m.start_ticks != group.start_ticks) return 0;
    if (m.start_ticks < group.start_ticks || m.start_ticks > not_after_ticks) return 0;
    if (m.state != 'Z' && m.state != 'X') ++alive;
  }
  if (alive == 0) return 0;
  kill(static_cast<pid_t>(-group.pgid), SIGKILL);
  return alive;
}

Status CommandDriver::Record(const Call& call, pid_t pid) {
  if (!call.started) return OkStatus();
  auto start = ProcessStartTicks(pid);
  auto boot = BootId();
  if (!start || !boot) {
    // Without /proc there is nothing to tell the group apart by later: nothing is recorded, and
    // nothing will be killed for it.
    spdlog::warn(
        "the rotation command's process group cannot be recorded (no /proc): what it "
        "leaves running if keyhold is killed is not ended at the next start");
    return OkStatus();
  }
  return call.started({.pgid = pid, .start_ticks = *start, .boot_id = *boot});
}

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

  int go[2];
  if (pipe2(go, O_CLOEXEC) != 0) {
    return StepFailed("the command could not be started (pipe failed)");
  }
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close(go[0]);
    close(go[1]);
    return StepFailed("the command could not be started (fork failed)");
  }
  if (pid == 0) {
    close(go[1]);
    Exec(options_.command.c_str(), argv.data(), envp.data(), parent, go[0]);
  }
  close(go[0]);
  setpgid(pid, pid);  // also here: the child may not have run yet when the timeout strikes
  if (Status st = Record(call, pid); !st.ok()) {
    close(go[1]);  // the command sees end of file and exits without running
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    int ignored = 0;
    while (waitpid(pid, &ignored, 0) < 0 && errno == EINTR) {
    }
    return StepFailed("the command was not run: its process could not be recorded: " +
                      st.message());
  }
  ssize_t sent = 0;
  do {
    sent = write(go[1], "1", 1);
  } while (sent < 0 && errno == EINTR);
  close(go[1]);

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
