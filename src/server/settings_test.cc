#include "server/settings.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>

#include "fakes/temp_dir.h"
#include "server/anomalies.h"

namespace keyhold::server {
namespace {

class SettingsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    unsetenv("KEYHOLD_LISTEN");
    unsetenv("KEYHOLD_THREADS");
  }
  std::string WriteToml(const std::string& text) {
    std::string path = dir_.path() + "/keyhold.toml";
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(SettingsTest, FlagBeatsEnvBeatsFileBeatsDefault) {
  std::string toml = WriteToml("listen = \"0.0.0.0:1\"\nthreads = 7\ndata_dir = \"/from/file\"\n");
  setenv("KEYHOLD_LISTEN", "0.0.0.0:2", 1);
  setenv("KEYHOLD_THREADS", "5", 1);
  Settings s(ServeSettingTable());
  CLI::App app;
  s.AddTo(app);
  const char* argv[] = {"serve", "--threads", "3"};
  app.parse(3, const_cast<char**>(argv));
  ASSERT_TRUE(s.Resolve(toml).ok());
  EXPECT_EQ(s.Get("threads"), "3");
  EXPECT_EQ(s.Source("threads"), "flag");
  EXPECT_EQ(s.Get("listen"), "0.0.0.0:2");
  EXPECT_EQ(s.Source("listen"), "env");
  EXPECT_EQ(s.Get("data_dir"), "/from/file");
  EXPECT_EQ(s.Source("data_dir"), "file");
  EXPECT_EQ(s.Get("log_level"), "info");
  EXPECT_EQ(s.Source("log_level"), "default");
}

TEST_F(SettingsTest, MalformedFileNamesTheLine) {
  std::string toml = WriteToml("listen = \"ok\"\nthreads = = 2\n");
  Settings s(ServeSettingTable());
  Status st = s.Resolve(toml);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("line 2"), std::string::npos) << st.message();
}

TEST_F(SettingsTest, UnknownKeyInFileIsAnError) {
  std::string toml = WriteToml("listen = \"ok\"\nlisten_port = 9\n");
  Settings s(ServeSettingTable());
  Status st = s.Resolve(toml);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("listen_port"), std::string::npos);
  EXPECT_NE(st.message().find("line 2"), std::string::npos);
}

TEST_F(SettingsTest, BooleansAndIntegersInFileKeepTheirType) {
  std::string toml = WriteToml("access_log = true\nusage_recording = false\nthreads = 3\n");
  Settings s(ServeSettingTable());
  ASSERT_TRUE(s.Resolve(toml).ok());
  EXPECT_EQ(s.Get("access_log"), "true");
  EXPECT_EQ(s.Get("usage_recording"), "false");
  EXPECT_EQ(s.Get("threads"), "3");
}

TEST_F(SettingsTest, ResolveAllNamesEveryProblemWithItsLine) {
  std::string toml = WriteToml("colour = 1\nlisten = \"x:1\"\nthreads = [2]\nshade = 2\n");
  Settings s(ServeSettingTable());
  auto problems = s.ResolveAll(toml);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].line, 1);
  EXPECT_NE(problems[0].message.find("colour"), std::string::npos);
  EXPECT_EQ(problems[1].line, 4);
  EXPECT_EQ(problems[2].line, 3);
  EXPECT_EQ(s.Get("threads"), "2");  // left at its default
  EXPECT_EQ(s.Origin("listen"), toml + ":2");
  Settings alone = s.Isolated("listen");
  EXPECT_EQ(alone.Get("listen"), "x:1");
  EXPECT_EQ(alone.Source("data_dir"), "default");
}

TEST_F(SettingsTest, AnomalyDetectorsAreConfiguredBySettings) {
  std::string toml = WriteToml(
      "anomaly_spike_z = 5\nanomaly_baseline = \"2h\"\n"
      "anomaly_sensitive_routes = \"DELETE /admin/*, POST /billing/* ,\"\n");
  Settings s(ServeSettingTable());
  ASSERT_TRUE(s.Resolve(toml).ok());
  bool on = false;
  auto o = AnomalyOptions(s, std::chrono::seconds(1), &on);
  ASSERT_TRUE(o.ok()) << o.status().message();
  EXPECT_TRUE(on);
  EXPECT_EQ(o->spike_z, 5.0);
  EXPECT_EQ(o->baseline_minutes, 120);
  EXPECT_EQ(o->warmup_minutes, 30);
  EXPECT_EQ(o->spike_min_per_minute, 60);
  EXPECT_EQ(o->failed_window_ms, 60'000);
  EXPECT_EQ(o->network_learning_ms, 24 * 3'600'000);
  EXPECT_EQ(o->grace_ms, 2000);
  EXPECT_EQ(o->sensitive_routes, (std::vector<std::string>{"DELETE /admin/*", "POST /billing/*"}));
  EXPECT_TRUE(o->sensitive_tags.empty());
}

TEST_F(SettingsTest, MalformedAnomalySettingsAreNamed) {
  for (auto [name, value] : {std::pair{"anomaly_spike_z", "4.5"},
                             {"anomaly_spike_z", "0"},
                             {"anomaly_spike_min", "-1"},
                             {"anomaly_baseline", "30s"},
                             {"anomaly_failed_per_key", "many"},
                             {"anomaly_detection", "yes"},
                             {"anomaly_failed_window", "1h30m"}}) {
    Settings s(ServeSettingTable());
    ASSERT_TRUE(s.Resolve(WriteToml(std::string(name) + " = \"" + value + "\"\n")).ok());
    bool on = false;
    auto o = AnomalyOptions(s, std::chrono::seconds(1), &on);
    ASSERT_FALSE(o.ok()) << name << "=" << value;
    EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(o.status().message().find(name), std::string::npos) << o.status().message();
  }
}

TEST(ParseDuration, WholeNumbersWithAUnitOrSeconds) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ParseDuration("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseDuration("30s").value(), milliseconds(30000));
  EXPECT_EQ(ParseDuration("30").value(), milliseconds(30000));
  EXPECT_EQ(ParseDuration("2m").value(), milliseconds(120000));
  EXPECT_EQ(ParseDuration("2h").value(), milliseconds(7200000));
  EXPECT_EQ(ParseDuration("7d").value(), milliseconds(604800000));
  for (const char* bad : {"", "s", "-1s", "1.5s", "10w", "1 s", "9999999999s"}) {
    EXPECT_EQ(ParseDuration(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace keyhold::server
