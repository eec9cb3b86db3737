// The secret_rotation_* settings: what is read from them, and what is refused.
#include "server/secret_rotation_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fakes/temp_dir.h"

namespace keyhold::server {
namespace {

class SecretRotationConfigTest : public ::testing::Test {
 protected:
  Settings From(const std::string& toml_text) {
    std::string path = dir_.path() + "/keyhold.toml";
    std::ofstream(path) << toml_text;
    Settings s(ServeSettingTable());
    EXPECT_TRUE(s.Resolve(path).ok());
    return s;
  }
  std::string SecretFile(const std::string& text) {
    std::string path = dir_.path() + "/whsec";
    std::ofstream(path) << text;
    return path;
  }
  // An executable script at dir/name, mode `mode`.
  std::string Command(const std::string& dir, const std::string& name, mode_t mode) {
    std::string path = dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\nexit 0\n";
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(SecretRotationConfigTest, DefaultsRotateByHandWithWeeklyReminders) {
  auto s = ReadSecretRotationSettings(From(""));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->command, "");
  EXPECT_FALSE(s->webhook);
  EXPECT_EQ(s->timeout_ms, 30'000);
  EXPECT_EQ(s->options.remind_before_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(s->options.remind_every_ms, 24LL * 3600 * 1000);
  EXPECT_EQ(s->options.token_ttl_ms, 35'000);
  EXPECT_TRUE(CheckSecretRotationPairs(From("")).ok());
}

TEST_F(SecretRotationConfigTest, ACommandMustBeAnAbsolutePath) {
  auto s = ReadSecretRotationSettings(From("secret_rotation_command = \"rotate.sh\"\n"));
  EXPECT_EQ(s.status().message(), "secret_rotation_command must be an absolute path");
  const std::string command = Command(dir_.path(), "rotate", 0700);
  auto good = ReadSecretRotationSettings(From("secret_rotation_command = \"" + command + "\"\n"));
  EXPECT_TRUE(good.ok()) << good.status().message();
}

TEST_F(SecretRotationConfigTest, ACommandOthersCanChangeIsRefusedNamingIt) {
  const uid_t self = geteuid();
  const std::string ok = Command(dir_.path(), "rotate", 0750);
  EXPECT_TRUE(CheckCommandFile(ok, self).ok()) << CheckCommandFile(ok, self).message();

  for (mode_t mode : {0770, 0702, 0777}) {
    const std::string loose = Command(dir_.path(), "loose", mode);
    Status st = CheckCommandFile(loose, self);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(loose + ": it is writable by group or others"), std::string::npos)
        << st.message();
  }
  // Through the setting too, as `serve --check-config` reads it.
  const std::string loose = Command(dir_.path(), "loose", 0777);
  EXPECT_NE(ReadSecretRotationSettings(From("secret_rotation_command = \"" + loose + "\"\n"))
                .status()
                .message()
                .find(loose),
            std::string::npos);

  // Owned by another user who is not root: refused. (As root, the file is given away; otherwise
  // the server is taken to run as someone else.)
  const std::string theirs = Command(dir_.path(), "theirs", 0755);
  uid_t server = self;
  if (self == 0) {
    ASSERT_EQ(chown(theirs.c_str(), 4242, static_cast<gid_t>(-1)), 0);
  } else {
    server = self + 1;
  }
  Status st = CheckCommandFile(theirs, server);
  EXPECT_NE(st.message().find(theirs + ": it is owned by uid"), std::string::npos) << st.message();

  // A symbolic link is judged by what it points at, and named with it.
  const std::string link = dir_.path() + "/link";
  std::filesystem::create_symlink(dir_.path() + "/loose", link);
  EXPECT_NE(CheckCommandFile(link, self).message().find("(" + dir_.path()), std::string::npos);

  EXPECT_NE(CheckCommandFile(dir_.path() + "/missing", self).message().find("missing"),
            std::string::npos);
  EXPECT_NE(CheckCommandFile(dir_.path(), self).message().find("not a regular file"),
            std::string::npos);
  const std::string plain = Command(dir_.path(), "plain", 0600);
  // (Root too may execute only a file with an execute bit.)
  EXPECT_NE(CheckCommandFile(plain, self).message().find("not executable"), std::string::npos);
}

TEST_F(SecretRotationConfigTest, ADirectoryOthersCanWriteIsRefusedUnlessSticky) {
  const uid_t self = geteuid();
  const std::string open_dir = dir_.path() + "/open";
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  const std::string command = Command(open_dir, "rotate", 0700);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  Status st = CheckCommandFile(command, self);
  EXPECT_NE(st.message().find("its directory " + open_dir + ": it is writable by group or others"),
            std::string::npos)
      << st.message();
  ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);  // sticky, as /tmp
  EXPECT_TRUE(CheckCommandFile(command, self).ok());
}

TEST_F(SecretRotationConfigTest, ALinkIsResolvedOnceAndTheFileCheckedBeforeEachRun) {
  // A safe command, linked from a directory anyone may write (and so re-point the link in).
  const std::string safe_dir = dir_.path() + "/safe", open_dir = dir_.path() + "/open";
  ASSERT_EQ(mkdir(safe_dir.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(open_dir.c_str(), 0700), 0);
  const std::string ran = dir_.path() + "/ran";
  auto script = [&](const std::string& name, const std::string& says) {
    std::string path = safe_dir + "/" + name;
    std::ofstream(path) << "#!/bin/sh\necho " << says << " >> " << ran << "\n";
    EXPECT_EQ(chmod(path.c_str(), 0755), 0);
    return path;
  };
  const std::string good = script("good", "good"), other = script("other", "other");
  const std::string link = open_dir + "/rotate";
  ASSERT_EQ(symlink(good.c_str(), link.c_str()), 0);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  auto s = ReadSecretRotationSettings(From("secret_rotation_command = \"" + link + "\"\n"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->command, std::filesystem::canonical(good).string());
  auto driver = MakeCommandDriver(*s, nullptr);
  const service::RotationDriver::Call call{
      .step = service::RotationStep::kCreate, .mount = "secret", .path = "app/db", .token = "t"};
  auto ran_lines = [&] {
    std::ifstream in(ran);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all;
  };
  ASSERT_TRUE(driver->Run(call).ok());
  EXPECT_EQ(ran_lines(), "good\n");
  // Re-pointing the link after start changes nothing: the file resolved at start runs.
  ASSERT_EQ(unlink(link.c_str()), 0);
  ASSERT_EQ(symlink(other.c_str(), link.c_str()), 0);
  ASSERT_TRUE(driver->Run(call).ok());
  EXPECT_EQ(ran_lines(), "good\ngood\n");
  // The file itself turned unsafe after start: the step is refused and nothing runs.
  ASSERT_EQ(chmod(good.c_str(), 0777), 0);
  Status st = driver->Run(call);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("the command was not run"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("writable by group or others"), std::string::npos) << st.message();
  EXPECT_EQ(ran_lines(), "good\ngood\n");
  ASSERT_EQ(chmod(good.c_str(), 0755), 0);
  // Its directory opened to others: refused too.
  ASSERT_EQ(chmod(safe_dir.c_str(), 0777), 0);
  EXPECT_NE(driver->Run(call).message().find("its directory"), std::string::npos);
  ASSERT_EQ(chmod(safe_dir.c_str(), 0755), 0);
  ASSERT_TRUE(driver->Run(call).ok());
  EXPECT_EQ(ran_lines(), "good\ngood\ngood\n");
  ASSERT_EQ(chmod(open_dir.c_str(), 0700), 0);
}

TEST_F(SecretRotationConfigTest, AWebhookNeedsItsSecretFileAndNoCommand) {
  std::string file = SecretFile("whsec_" + std::string(32, 'A') + "\n");
  Settings good = From(
      "secret_rotation_webhook = \"https://rotate.example.com/x\"\n"
      "secret_rotation_webhook_secret_file = \"" +
      file + "\"\n");
  auto s = ReadSecretRotationSettings(good);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE(s->webhook);
  EXPECT_EQ(s->webhook->host, "rotate.example.com");
  EXPECT_EQ(s->webhook_key.size(), 24u);
  EXPECT_TRUE(CheckSecretRotationPairs(good).ok());

  Settings alone = From("secret_rotation_webhook = \"https://rotate.example.com/x\"\n");
  EXPECT_NE(CheckSecretRotationPairs(alone).message().find("secret_rotation_webhook_secret_file"),
            std::string::npos);
  Settings both = From(
      "secret_rotation_webhook = \"https://rotate.example.com/x\"\n"
      "secret_rotation_command = \"/bin/true\"\n");
  EXPECT_NE(CheckSecretRotationPairs(both).message().find("either"), std::string::npos);
  Settings garbled = From(
      "secret_rotation_webhook = \"https://rotate.example.com/x\"\n"
      "secret_rotation_webhook_secret_file = \"" +
      SecretFile("not a secret") + "\"\n");
  EXPECT_EQ(ReadSecretRotationSettings(garbled).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ReadSecretRotationSettings(From("secret_rotation_webhook = \"ftp://x\"\n")).status().code(),
      StatusCode::kInvalidArgument);
  // Plain http carries the token in the clear: only to this machine.
  file = SecretFile("whsec_" + std::string(32, 'A') + "\n");  // (garbled above)
  auto plain =
      ReadSecretRotationSettings(From("secret_rotation_webhook = \"http://rotate.example.com/x\"\n"
                                      "secret_rotation_webhook_secret_file = \"" +
                                      file + "\"\n"));
  EXPECT_NE(plain.status().message().find("use https"), std::string::npos);
  for (const char* local : {"http://127.0.0.1:9/x", "http://localhost:9/x", "http://[::1]:9/x"}) {
    EXPECT_TRUE(ReadSecretRotationSettings(
                    From(std::string("secret_rotation_webhook = \"") + local +
                         "\"\nsecret_rotation_webhook_secret_file = \"" + file + "\"\n"))
                    .ok())
        << local;
  }
}

TEST_F(SecretRotationConfigTest, DurationsMustParseAndBePositive) {
  EXPECT_EQ(
      ReadSecretRotationSettings(From("secret_rotation_timeout = \"0s\"\n")).status().message(),
      "secret_rotation_timeout must be at least 1ms");
  EXPECT_EQ(
      ReadSecretRotationSettings(From("secret_rotation_remind_every = \"soon\"\n")).status().code(),
      StatusCode::kInvalidArgument);
}

TEST_F(SecretRotationConfigTest, TheQueueAndPerKeyLimitsAreWholeNumbersFromOne) {
  auto defaults = ReadSecretRotationSettings(From(""));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.queue_limit, 32);
  EXPECT_EQ(defaults->options.per_caller_limit, 4);
  auto set = ReadSecretRotationSettings(
      From("secret_rotation_queue_limit = \"100\"\nsecret_rotation_per_key_limit = \"1\"\n"));
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->options.queue_limit, 100);
  EXPECT_EQ(set->options.per_caller_limit, 1);
  for (const char* bad : {"0", "-1", "many", "4x", "10001"}) {
    EXPECT_EQ(ReadSecretRotationSettings(
                  From(std::string("secret_rotation_per_key_limit = \"") + bad + "\"\n"))
                  .status()
                  .message(),
              "secret_rotation_per_key_limit must be a whole number from 1 to 10000")
        << bad;
  }
}

TEST_F(SecretRotationConfigTest, ACommandReachesTheListenerOnLoopbackForAWildcard) {
  EXPECT_EQ(CommandAddress(false, "0.0.0.0:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(CommandAddress(true, "10.0.0.5:8443"), "https://10.0.0.5:8443");
  EXPECT_EQ(CommandAddress(false, "[::]:80"), "http://[::1]:80");
}

}  // namespace
}  // namespace keyhold::server
