#include "metrics/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "metrics/process.h"

namespace keyhold::metrics {
namespace {

TEST(MetricsText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\nd"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeHelp("quote \" stays, \\ and\nare escaped"),
            "quote \" stays, \\\\ and\\nare escaped");
}

TEST(MetricsText, FormatsValues) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::quiet_NaN()), "NaN");
}

TEST(Registry, RendersCountersAndGaugesWithHeaders) {
  Registry r;
  auto& c = r.AddCounter("test_requests_total", "Requests\nserved.", {"code", "path"});
  c.With({"200", R"(a"b)"}).Inc(3);
  c.With({"404", "x"}).Inc();
  r.AddGauge("test_temperature", "A gauge.").With({}).Set(-1.5);
  EXPECT_EQ(r.Render(),
            "# HELP test_requests_total Requests\\nserved.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{code=\"200\",path=\"a\\\"b\"} 3\n"
            "test_requests_total{code=\"404\",path=\"x\"} 1\n"
            "# HELP test_temperature A gauge.\n"
            "# TYPE test_temperature gauge\n"
            "test_temperature -1.5\n");
}

TEST(Registry, WithReturnsTheSameChildForTheSameLabels) {
  Registry r;
  auto& f = r.AddCounter("test_total", "T.", {"a"});
  EXPECT_EQ(&f.With({"x"}), &f.With({"x"}));
  EXPECT_NE(&f.With({"x"}), &f.With({"y"}));
}

TEST(Registry, RendersHistogramBucketsCumulativelyWithInf) {
  Registry r;
  auto& h = r.AddHistogram("test_seconds", "Durations.", {"route"}, {0.1, 1, 2.5});
  Histogram& child = h.With({"verify"});
  for (double v : {0.0625, 0.09375, 0.5, 3.0, 100.0}) child.Observe(v);  // exact in binary
  EXPECT_EQ(r.Render(),
            "# HELP test_seconds Durations.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{route=\"verify\",le=\"0.1\"} 2\n"
            "test_seconds_bucket{route=\"verify\",le=\"1\"} 3\n"
            "test_seconds_bucket{route=\"verify\",le=\"2.5\"} 3\n"
            "test_seconds_bucket{route=\"verify\",le=\"+Inf\"} 5\n"
            "test_seconds_sum{route=\"verify\"} 103.65625\n"
            "test_seconds_count{route=\"verify\"} 5\n");
}

TEST(Registry, HistogramWithoutLabels) {
  Registry r;
  r.AddHistogram("test_bytes", "Sizes.", {}, {10}).With({}).Observe(5);
  EXPECT_EQ(r.Render(),
            "# HELP test_bytes Sizes.\n# TYPE test_bytes histogram\n"
            "test_bytes_bucket{le=\"10\"} 1\ntest_bytes_bucket{le=\"+Inf\"} 1\n"
            "test_bytes_sum 5\ntest_bytes_count 1\n");
}

TEST(Registry, CallbacksAreReadAtEveryRender) {
  Registry r;
  double v = 1;
  r.AddCallback("test_cache_entries", "Entries.", Type::kGauge, {"cache"}, [&] {
    return std::vector<Sample>{{{"keys"}, v}};
  });
  EXPECT_NE(r.Render().find("test_cache_entries{cache=\"keys\"} 1\n"), std::string::npos);
  v = 7;
  EXPECT_NE(r.Render().find("test_cache_entries{cache=\"keys\"} 7\n"), std::string::npos);
}

TEST(RegistryDeathTest, RefusesBadRegistrations) {
  EXPECT_DEATH(Registry().AddCounter("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(Registry().AddCounter("ok", "x", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {"le"}, {1}), "cannot have 'le'");
  EXPECT_DEATH(Registry().AddHistogram("h", "x", {}, {2, 1}), "strictly ascending");
  EXPECT_DEATH(
      {
        Registry r;
        r.AddCounter("twice", "x");
        r.AddGauge("twice", "x");
      },
      "registered twice");
  EXPECT_DEATH(Registry().AddCounter("c", "x", {"a"}).With({}), "wrong label count");
}

// Under TSan this also shows that updates and rendering need no lock between them.
TEST(Registry, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  Counter& c = r.AddCounter("test_total", "T.").With({});
  auto& family = r.AddHistogram("test_seconds", "T.", {"t"}, {0.5});
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Histogram& h = family.With({std::to_string(t % 2)});
      for (int i = 0; i < kEach; ++i) {
        c.Inc();
        h.Observe(i % 2 == 0 ? 0.25 : 1.0);
      }
    });
  }
  std::thread renderer([&] {
    for (int i = 0; i < 20; ++i) EXPECT_FALSE(r.Render().empty());
  });
  for (auto& t : threads) t.join();
  renderer.join();
  EXPECT_EQ(c.Value(), uint64_t{kThreads} * kEach);
  Histogram::Snapshot s = family.With({"0"}).Read();
  EXPECT_EQ(s.count, uint64_t{kThreads / 2} * kEach);
  EXPECT_EQ(s.cumulative[0], s.count / 2);
  EXPECT_DOUBLE_EQ(s.sum, (0.25 + 1.0) * (kThreads / 2) * kEach / 2);
}

TEST(ProcessMetrics, ParsesProcSelfStat) {
  // A command name with spaces and parentheses; fields from proc(5).
  std::string stat =
      "4242 (kh (x) y) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 7 0 1000 "
      "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";
  auto s = ParseProcStat(stat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'010.0);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 2560.0 * 4096);
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 104857600.0);
  EXPECT_FALSE(ParseProcStat("garbage", 100, 4096, 0).has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2", 100, 4096, 0).has_value());
}

TEST(ProcessMetrics, ReadsThisProcess) {
  Registry r;
  AddProcessMetrics(r);
  std::string text = r.Render();
  for (const char* name :
       {"process_cpu_seconds_total ", "process_resident_memory_bytes ", "process_open_fds ",
        "process_start_time_seconds ", "process_max_fds "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << "\n" << text;
  }
}

}  // namespace
}  // namespace keyhold::metrics
