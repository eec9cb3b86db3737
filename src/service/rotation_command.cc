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

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
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

constexpr size_t kStartTimeField = 22;
constexpr int kKillRounds = 5;

bool IsMarker(std::string_view marker) {
  return marker.size() == 32 && std::all_of(marker.begin(), marker.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Whether the environment of `pid` (NUL-separated entries, its first kEnvironLimit bytes) holds
// exactly `entry`. False if it cannot be read: a zombie's is empty, another user's is refused.
bool CarriesEntry(const std::string& pid, std::string_view entry, std::vector<char>& buf) {
  int fd = open(("/proc/" + pid + "/environ").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t used = 0;
  while (used < buf.size()) {
    ssize_t got = read(fd, buf.data() + used, buf.size() - used);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    used += static_cast<size_t>(got);
  }
  close(fd);
  std::string_view all(buf.data(), used);
  while (!all.empty()) {
    size_t nul = all.find('\0');
    // An entry cut by the bound is not taken as whole.
    if (nul == std::string_view::npos) return false;
    if (all.substr(0, nul) == entry) return true;
    all.remove_prefix(nul + 1);
  }
  return false;
}

// Sends SIGKILL to `pid` if its environment holds `entry`. Through a pidfd opened before the
// environment is read, so that a pid reused in between is never signalled: the signal reaches
// the process whose environment was read, or no one. True if it was sent.
bool KillIfCarrying(pid_t pid, std::string_view entry, std::vector<char>& buf) {
  const std::string name = std::to_string(pid);
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
  const long fd = syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    bool sent = CarriesEntry(name, entry, buf) &&
                syscall(SYS_pidfd_send_signal, static_cast<int>(fd), SIGKILL, nullptr, 0) == 0;
    close(static_cast<int>(fd));
    return sent;
  }
  if (errno != ENOSYS) return false;  // gone
#endif
  return CarriesEntry(name, entry, buf) && kill(pid, SIGKILL) == 0;
}

// One scan of /proc: kills each process that carries `entry` (when `kill` is set); returns the
// pids that carried it.
std::vector<pid_t> ScanFor(std::string_view entry, bool kill, std::vector<char>& buf) {
  std::vector<pid_t> found;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return found;
  const pid_t self = getpid();
  while (const dirent* e = readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0' || pid == self) continue;
    const auto p = static_cast<pid_t>(pid);
    if (kill ? KillIfCarrying(p, entry, buf) : CarriesEntry(e->d_name, entry, buf)) {
      found.push_back(p);
    }
  }
  closedir(proc);
  return found;
}

// Kills every process whose environment carries the run marker `marker`, scanning again while
// new ones turn up (forked meanwhile), kKillRounds times at most.
LeftoverKill KillMarked(const std::string& marker) {
  const std::string entry = std::string(kRunMarkerVariable) + "=" + marker;
  std::vector<char> buf(kEnvironLimit);
  std::set<pid_t> killed;
  bool quiet = false;
  for (int round = 0; round < kKillRounds && !quiet; ++round) {
    quiet = true;
    for (pid_t pid : ScanFor(entry, true, buf)) {
      if (killed.insert(pid).second) quiet = false;
    }
    // A killed process may still show its environment for a moment: give it that moment.
    if (!quiet) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LeftoverKill out{.killed = static_cast<int>(killed.size())};
  if (!quiet) {
    for (pid_t pid : ScanFor(entry, false, buf)) {
      if (killed.count(pid) == 0) ++out.left;
    }
  }
  return out;
}

}  // namespace

std::optional<int64_t> ProcessStartTicks(pid_t pid) {
  return NumberField(StatFields("/proc/" + std::to_string(pid) + "/stat"), kStartTimeField);
}

std::optional<std::string> BootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!in || !std::getline(in, id) || id.empty()) return std::nullopt;
  return id;
}

LeftoverKill KillLeftovers(const CommandProcess& command) {
  if (command.boot_id.empty() || !IsMarker(command.marker)) return {};
  auto boot = BootId();
  if (!boot || *boot != command.boot_id) return {};  // another boot: nothing of it is left
  return KillMarked(command.marker);
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
  return call.started(
      {.pgid = pid, .start_ticks = *start, .boot_id = *boot, .marker = call.marker});
}

Status CommandDriver::Run(const Call& call) {
  if (interrupted_.load(std::memory_order_acquire)) {
    const StopReason why = reason_.load(std::memory_order_relaxed);
    return StepInterrupted(
        std::string("the command was not run: ") +
        (why == StopReason::kSeal ? "the server is being sealed" : "keyhold is stopping") + "; " +
        std::string(RetryAdvice(why)));
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
  if (!call.marker.empty()) env.push_back(std::string(kRunMarkerVariable) + "=" + call.marker);
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
  // What the command started outside its group (setsid) but with its environment goes too.
  auto sweep = [&call] {
    if (IsMarker(call.marker)) KillMarked(call.marker);
  };
  while (!Ended(pid)) {
    if (interrupted_.load(std::memory_order_acquire)) {
      // The server is stopping: the command's whole group is asked to end, then made to.
      EndGroup(pid, options_.stop_grace_ms);
      sweep();
      const StopReason why = reason_.load(std::memory_order_relaxed);
      return StepInterrupted("the command was stopped as " + std::string(StoppedBecause(why)) +
                             "; " + std::string(RetryAdvice(why)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      EndGroup(pid, options_.stop_grace_ms);
      sweep();
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
  sweep();
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
