// CommandDriver: a real command per step, its arguments and environment, and each way it fails.
#include "service/rotation_command.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "fakes/temp_dir.h"

namespace keyhold::service {
namespace {

class RotationCommandTest : public ::testing::Test {
 protected:
  std::string Script(const std::string& body) {
    std::string path = dir_.path() + "/rotate.sh";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0700);
    return path;
  }
  std::string Slurp(const std::string& name) {
    std::ifstream in(dir_.path() + "/" + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The pid a script wrote to `name`, once it has (0 if it never does).
  pid_t PidIn(const std::string& name) {
    for (int i = 0; i < 500; ++i) {
      std::string text = Slurp(name);
      if (!text.empty() && text.back() == '\n') return static_cast<pid_t>(std::stol(text));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }
  // Whether `pid` has ended (or is a zombie left for its new parent to reap), within 5 s.
  static bool Gone(pid_t pid) {
    for (int i = 0; i < 250; ++i) {
      std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      if (!std::getline(stat, line)) return true;
      const auto close = line.rfind(')');
      if (close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z') {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  // A command that starts a sleeping grandchild (its pid in `grandchild`), then does `then`.
  std::string SpawningScript(const std::string& then) {
    return Script("sleep 300 &\necho $! > '" + dir_.path() + "/grandchild.tmp'\nmv '" +
                  dir_.path() + "/grandchild.tmp' '" + dir_.path() + "/grandchild'\n" + then);
  }
  // A call with a marker of its own, so that no two tests (nor two runs of them) share one.
  static RotationDriver::Call Call(RotationStep step) {
    return {step, "secret", "db/password", "khrot_token", NewMarker()};
  }
  static std::string NewMarker() {
    std::random_device random;
    std::string marker;
    for (int i = 0; i < 4; ++i) {
      char word[9];
      std::snprintf(word, sizeof(word), "%08x", static_cast<unsigned>(random()));
      marker += word;
    }
    return marker;
  }
  testing::TempDir dir_;
};

TEST_F(RotationCommandTest, GetsTheStepAndPathAndAnEnvironmentOfItsOwn) {
  setenv("KEYHOLD_MASTER_KEY", "must-not-leak", 1);
  CommandDriver d({.command = Script("echo \"$1 $2 $#\" > '" + dir_.path() +
                                     "/args'\nenv | sort > '" + dir_.path() + "/env'"),
                   .timeout_ms = 10'000,
                   .address = [] { return std::string("http://127.0.0.1:9"); }});
  ASSERT_TRUE(d.Run(Call(RotationStep::kSet)).ok());
  unsetenv("KEYHOLD_MASTER_KEY");
  EXPECT_EQ(Slurp("args"), "set secret/db/password 2\n");
  std::string env = Slurp("env");
  EXPECT_NE(env.find("KEYHOLD_ADDR=http://127.0.0.1:9\n"), std::string::npos);
  EXPECT_NE(env.find("KEYHOLD_TOKEN=khrot_token\n"), std::string::npos);
  EXPECT_NE(env.find("KEYHOLD_ROTATION_STEP=set\n"), std::string::npos);
  EXPECT_NE(env.find("KEYHOLD_SECRET_PATH=db/password\n"), std::string::npos);
  EXPECT_NE(env.find("KEYHOLD_ROTATION_RUN="), std::string::npos);
  EXPECT_EQ(env.find("MASTER_KEY"), std::string::npos);
}

TEST_F(RotationCommandTest, StartsWithNoSignalBlockedOrIgnoredAndNoInheritedDescriptors) {
  // As the server runs it: stop signals blocked, SIGPIPE ignored, a descriptor open.
  sigset_t stop, old;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, &old);
  auto old_pipe = std::signal(SIGPIPE, SIG_IGN);
  int opened = open("/dev/null", O_RDONLY);  // no O_CLOEXEC
  int held = fcntl(opened, F_DUPFD, 200);    // a number the shell does not use itself
  close(opened);
  CommandDriver d(
      {.command = Script("grep -E '^Sig(Blk|Ign):' /proc/self/status > '" + dir_.path() +
                         "/signals'\nls /proc/$$/fd > '" + dir_.path() + "/fds'"),
       .timeout_ms = 10'000});
  Status st = d.Run(Call(RotationStep::kSet));
  close(held);
  std::signal(SIGPIPE, old_pipe);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Slurp("signals"), "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  std::string fds = Slurp("fds");
  EXPECT_EQ(fds.find(std::to_string(held) + "\n"), std::string::npos) << fds;
}

TEST_F(RotationCommandTest, ANonZeroExitFailsTheStep) {
  CommandDriver d({.command = Script("exit 3"), .timeout_ms = 10'000});
  Status st = d.Run(Call(RotationStep::kTest));
  EXPECT_EQ(st.reason(), "rotation/step_failed");
  EXPECT_EQ(st.message(), "the command exited with status 3");
}

TEST_F(RotationCommandTest, ACommandThatRunsTooLongIsKilled) {
  CommandDriver d({.command = Script("sleep 30"), .timeout_ms = 200});
  auto started = std::chrono::steady_clock::now();
  Status st = d.Run(Call(RotationStep::kSet));
  EXPECT_EQ(st.message(), "the command did not finish within 200ms");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(RotationCommandTest, ATimeoutEndsWhatTheCommandStartedToo) {
  CommandDriver d({.command = SpawningScript("sleep 30"), .timeout_ms = 500, .stop_grace_ms = 200});
  EXPECT_EQ(d.Run(Call(RotationStep::kSet)).message(), "the command did not finish within 500ms");
  const pid_t grandchild = PidIn("grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(Gone(grandchild));
}

TEST_F(RotationCommandTest, ACommandTermedOnTimeoutMayEndItsOwnWork) {
  // SIGTERM first: a command that traps it gets to record that it stopped.
  CommandDriver d({.command = Script("trap 'echo stopped > \"" + dir_.path() +
                                     "/trapped\"; exit 1' TERM\nsleep 30 & wait"),
                   .timeout_ms = 300,
                   .stop_grace_ms = 2'000});
  EXPECT_EQ(d.Run(Call(RotationStep::kSet)).message(), "the command did not finish within 300ms");
  EXPECT_EQ(Slurp("trapped"), "stopped\n");
}

TEST_F(RotationCommandTest, NothingTheCommandStartedOutlivesItsStep) {
  CommandDriver d({.command = SpawningScript("exit 0"), .timeout_ms = 10'000});
  ASSERT_TRUE(d.Run(Call(RotationStep::kTest)).ok());
  const pid_t grandchild = PidIn("grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(Gone(grandchild));
}

TEST_F(RotationCommandTest, TheCommandDiesWithKeyholdEvenByKill9) {
  // A process of its own stands for keyhold, so that it can be killed.
  const std::string pid_file = dir_.path() + "/command";
  const pid_t keyhold = fork();
  ASSERT_GE(keyhold, 0);
  if (keyhold == 0) {
    CommandDriver d({.command = Script("echo $$ > '" + pid_file + ".tmp'\nmv '" + pid_file +
                                       ".tmp' '" + pid_file + "'\nexec sleep 300"),
                     .timeout_ms = 60'000});
    (void)d.Run(Call(RotationStep::kSet));
    _exit(0);
  }
  const pid_t command = PidIn("command");
  kill(keyhold, SIGKILL);
  waitpid(keyhold, nullptr, 0);
  ASSERT_GT(command, 0);
  EXPECT_TRUE(Gone(command));
  if (!Gone(command)) kill(command, SIGKILL);
}

TEST_F(RotationCommandTest, AMissingCommandFails) {
  CommandDriver d({.command = dir_.path() + "/nowhere", .timeout_ms = 10'000});
  EXPECT_EQ(d.Run(Call(RotationStep::kCreate)).message(),
            "the command exited with status 127 (could it be started?)");
}

TEST_F(RotationCommandTest, OutputIsNeitherKeptNorPassedOn) {
  CommandDriver d({.command = Script("echo secret-value; echo secret-value >&2; exit 0"),
                   .timeout_ms = 10'000});
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_TRUE(d.Run(Call(RotationStep::kTest)).ok());
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
}

TEST_F(RotationCommandTest, AnInterruptEndsTheRunningCommandAsInterruptedAndLaterRunsAtOnce) {
  CommandDriver d(
      {.command = SpawningScript("sleep 30"), .timeout_ms = 60'000, .stop_grace_ms = 200});
  Status ran;
  std::thread run([&] { ran = d.Run(Call(RotationStep::kSet)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto interrupted_at = std::chrono::steady_clock::now();
  d.Interrupt(StopReason::kShutdown);
  run.join();
  EXPECT_LT(std::chrono::steady_clock::now() - interrupted_at, std::chrono::seconds(5));
  EXPECT_EQ(ran.reason(), kStepInterrupted) << ran.message();
  EXPECT_NE(ran.message().find("rotate again"), std::string::npos);
  EXPECT_EQ(d.Run(Call(RotationStep::kTest)).reason(), kStepInterrupted);
  const pid_t grandchild = PidIn("grandchild");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(Gone(grandchild));
}

// Whether `pid` runs now (a zombie does not).
bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

TEST_F(RotationCommandTest, ACommandStoppedByASealSaysTheServerWasSealed) {
  CommandDriver d({.command = Script("sleep 30"), .timeout_ms = 60'000, .stop_grace_ms = 200});
  Status ran;
  std::thread run([&] { ran = d.Run(Call(RotationStep::kSet)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  d.Interrupt(StopReason::kSeal);
  run.join();
  EXPECT_EQ(ran.reason(), kStepInterrupted);
  EXPECT_EQ(ran.message(),
            "the command was stopped as the server was sealed; rotate again once it is unsealed "
            "to retry");
  EXPECT_EQ(d.Run(Call(RotationStep::kTest)).message(),
            "the command was not run: the server is being sealed; rotate again once it is "
            "unsealed to retry");
}

TEST_F(RotationCommandTest, TheGroupIsRecordedBeforeTheCommandRuns) {
  const std::string ran = dir_.path() + "/ran";
  CommandDriver d({.command = Script("echo $$ > '" + ran + "'"), .timeout_ms = 10'000});
  RotationDriver::Call call = Call(RotationStep::kSet);
  std::optional<CommandProcess> recorded;
  bool ran_before = true;
  call.started = [&](const CommandProcess& group) {
    recorded = group;
    ran_before = access(ran.c_str(), F_OK) == 0;
    EXPECT_EQ(ProcessStartTicks(static_cast<pid_t>(group.pgid)), group.start_ticks);
    return OkStatus();
  };
  ASSERT_TRUE(d.Run(call).ok());
  ASSERT_TRUE(recorded.has_value());
  EXPECT_FALSE(ran_before);
  EXPECT_EQ(std::to_string(recorded->pgid) + "\n", Slurp("ran"));  // the command leads it
  EXPECT_GT(recorded->start_ticks, 0);
  EXPECT_EQ(recorded->boot_id, BootId().value_or("?"));
  EXPECT_EQ(recorded->boot_id.size(), 36U);
  EXPECT_EQ(recorded->marker, call.marker);
}

TEST_F(RotationCommandTest, ACommandWhoseGroupCannotBeRecordedDoesNotRun) {
  const std::string ran = dir_.path() + "/ran";
  CommandDriver d({.command = Script("touch '" + ran + "'"), .timeout_ms = 10'000});
  RotationDriver::Call call = Call(RotationStep::kSet);
  call.started = [](const CommandProcess&) { return Unavailable("database is locked"); };
  Status st = d.Run(call);
  EXPECT_EQ(st.reason(), "rotation/step_failed");
  EXPECT_NE(st.message().find("could not be recorded: database is locked"), std::string::npos)
      << st.message();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_NE(access(ran.c_str(), F_OK), 0);
}

TEST_F(RotationCommandTest, WhatAKilledKeyholdsCommandLeftIsKilledByItsMarkerEvenOutOfItsGroup) {
  // A process of its own stands for keyhold, so that it can be killed; the command it started is
  // written to a file, as the store would hold it. The command starts a sleep in its group, one
  // in a session of its own (setsid), and a loop that keeps forking.
  const std::string group_file = dir_.path() + "/group";
  const std::string d_path = dir_.path();
  const pid_t keyhold = fork();
  ASSERT_GE(keyhold, 0);
  if (keyhold == 0) {
    CommandDriver d({.command = SpawningScript(
                         "setsid sleep 300 &\necho $! > '" + d_path + "/session.tmp'\nmv '" +
                         d_path + "/session.tmp' '" + d_path + "/session'\n" +
                         "(while :; do sleep 300 & sleep 0.01; done) &\n" + "sleep 300"),
                     .timeout_ms = 60'000});
    RotationDriver::Call call = Call(RotationStep::kSet);
    call.started = [&](const CommandProcess& g) {
      std::ofstream(group_file + ".tmp")
          << g.pgid << " " << g.start_ticks << " " << g.boot_id << " " << g.marker << "\n";
      rename((group_file + ".tmp").c_str(), group_file.c_str());
      return OkStatus();
    };
    (void)d.Run(call);
    _exit(0);
  }
  const pid_t grandchild = PidIn("grandchild");
  const pid_t in_session = PidIn("session");
  kill(keyhold, SIGKILL);
  waitpid(keyhold, nullptr, 0);
  ASSERT_GT(grandchild, 0);
  ASSERT_GT(in_session, 0);
  CommandProcess command;
  std::istringstream(Slurp("group")) >> command.pgid >> command.start_ticks >> command.boot_id >>
      command.marker;
  ASSERT_EQ(command.marker.size(), 32U);
  // The command died with keyhold; what it started did not.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(Running(grandchild));
  ASSERT_TRUE(Running(in_session));

  CommandProcess other_boot = command;
  other_boot.boot_id = "00000000-0000-0000-0000-000000000000";
  EXPECT_EQ(KillLeftovers(other_boot).killed, 0);
  CommandProcess other_run = command;
  other_run.marker = NewMarker();
  EXPECT_EQ(KillLeftovers(other_run).killed, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(Running(grandchild));

  // All of them, the one out of the group and what the loop forked while it was killed.
  const LeftoverKill killed = KillLeftovers(command);
  EXPECT_GE(killed.killed, 4);
  EXPECT_EQ(killed.left, 0);
  EXPECT_TRUE(Gone(grandchild));
  EXPECT_TRUE(Gone(in_session));
  EXPECT_EQ(KillLeftovers(command).killed, 0);  // nothing left
  if (Running(grandchild)) kill(grandchild, SIGKILL);
  if (Running(in_session)) kill(in_session, SIGKILL);
}

TEST_F(RotationCommandTest, AReusedGroupWhoseLeaderIsGoneIsNotKilled) {
  // As after the id was reused: a group with the recorded id, started after the recorded time,
  // whose leader has exited (setsid sh -c 'sleep 300 & exit'); its members lack the marker.
  const std::string member_file = dir_.path() + "/member";
  const pid_t leader = fork();
  ASSERT_GE(leader, 0);
  if (leader == 0) {
    setsid();
    execl("/bin/sh", "sh", "-c",
          ("sleep 300 & echo $! > '" + member_file + ".tmp'; mv '" + member_file + ".tmp' '" +
           member_file + "'")
              .c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::optional<int64_t> start = ProcessStartTicks(leader);
  const pid_t member = PidIn("member");
  waitpid(leader, nullptr, 0);
  ASSERT_GT(member, 0);
  ASSERT_TRUE(Running(member));
  ASSERT_TRUE(start.has_value());
  CommandProcess recorded{
      .pgid = leader, .start_ticks = *start - 1, .boot_id = *BootId(), .marker = NewMarker()};
  EXPECT_EQ(KillLeftovers(recorded).killed, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(Running(member));
  kill(member, SIGKILL);
}

TEST_F(RotationCommandTest, WhatACommandStartedOutOfItsGroupEndsWithItsStep) {
  CommandDriver d(
      {.command = Script("setsid sleep 300 &\necho $! > '" + dir_.path() + "/session.tmp'\nmv '" +
                         dir_.path() + "/session.tmp' '" + dir_.path() + "/session'"),
       .timeout_ms = 10'000});
  ASSERT_TRUE(d.Run(Call(RotationStep::kSet)).ok());
  const pid_t in_session = PidIn("session");
  ASSERT_GT(in_session, 0);
  EXPECT_TRUE(Gone(in_session));
  if (Running(in_session)) kill(in_session, SIGKILL);
}

}  // namespace
}  // namespace keyhold::service
