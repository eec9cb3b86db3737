// The cost of metrics on the request path and of a scrape: a counter increment and a histogram
// observation (one and two threads, the same child: the worst case for its cache line), a whole
// HttpMetrics::Record as the listener calls it per request, and rendering a registry the size of
// a busy server's. Run by bench/run; see bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <string>

#include "core/env.h"
#include "http/health.h"
#include "http/http_metrics.h"
#include "http/router.h"
#include "http/vault/vault_api.h"
#include "metrics/metrics.h"
#include "metrics/process.h"

namespace {

using namespace keyhold;

void BM_CounterInc(benchmark::State& state) {
  static metrics::Registry registry;
  static metrics::Counter& c = registry.AddCounter("bench_total", "B.").With({});
  for (auto _ : state) c.Inc();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CounterInc)->Threads(1)->Threads(2)->UseRealTime();

void BM_HistogramObserve(benchmark::State& state) {
  static metrics::Registry registry;
  static metrics::Histogram& h =
      registry.AddHistogram("bench_seconds", "B.", {}, metrics::DurationBuckets()).With({});
  double v = 0.0004;
  for (auto _ : state) h.Observe(v);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HistogramObserve)->Threads(1)->Threads(2)->UseRealTime();

class NoEnv final : public Env {
 public:
  int64_t NowMillis() override { return 0; }
  void RandomBytes(std::span<uint8_t> /*out*/) override {}
};

void BM_HttpMetricsRecord(benchmark::State& state) {
  NoEnv env;
  http::HealthSurface health("bench");
  http::vault::VaultApi vault({.version = "bench"}, env);
  http::Router router;
  router.Mount("/v1/", vault);
  router.Mount("/health", health);
  metrics::Registry registry;
  http::HttpMetrics m(registry, router);
  http::HttpRequest req{.method = "GET", .target = "/v1/sys/health", .body = std::string(80, 'x')};
  for (auto _ : state) m.Record(req, 200, std::chrono::microseconds(120), 300);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HttpMetricsRecord);

// 40 routes with three histograms each and two statuses, plus the process metrics.
void BM_Render(benchmark::State& state) {
  metrics::Registry registry;
  auto& requests = registry.AddCounter("bench_requests_total", "B.", {"route", "status"});
  auto& duration =
      registry.AddHistogram("bench_duration_seconds", "B.", {"route"}, metrics::DurationBuckets());
  auto& in = registry.AddHistogram("bench_in_bytes", "B.", {"route"}, metrics::SizeBuckets());
  auto& out = registry.AddHistogram("bench_out_bytes", "B.", {"route"}, metrics::SizeBuckets());
  for (int r = 0; r < 40; ++r) {
    std::string route = "namespace.operation" + std::to_string(r);
    requests.With({route, "200"}).Inc(r);
    requests.With({route, "400"}).Inc();
    for (auto* h : {&duration, &in, &out}) h->With({route}).Observe(r);
  }
  metrics::AddProcessMetrics(registry);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = registry.Render();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Render);

}  // namespace

BENCHMARK_MAIN();
