// In-process verification throughput: KeyService::Verify on 10,000 distinct keys with no
// credits (the common case: no store I/O). Run by bench/run; see bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "crypto/system_env.h"
#include "service/key_service.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace keyhold;

struct Fixture {
  Fixture() {
    dir = std::filesystem::temp_directory_path() / ("keyhold-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    // As the server does. Only the first call can succeed; later ones are refused, harmlessly.
    store::SqliteStore::TurnOffMemoryStatistics().IgnoreError();
    store = std::move(store::SqliteStore::Open((dir / "b.db").string())).value();
    svc = std::move(service::KeyService::Open(*store, env)).value();
    auto root_key = svc->Bootstrap("bench");
    root.actor = *svc->Authenticate(root_key->key.Reveal());
    root.request_id = "req_bench";
    auto api = svc->CreateApi(root, {.name = "bench"});
    auto created = svc->CreateKeys(root, {.api_id = api->id, .prefix = "bench"}, 10000);
    for (auto& k : *created) keys.emplace_back(k.key.Reveal());
  }
  ~Fixture() { std::filesystem::remove_all(dir); }
  std::filesystem::path dir;
  crypto::SystemEnv env;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<service::KeyService> svc;
  RequestContext root;
  std::vector<std::string> keys;
};

Fixture& Shared() {
  static Fixture f;
  return f;
}

void BM_Verify(benchmark::State& state) {
  Fixture& f = Shared();
  size_t i = static_cast<size_t>(state.thread_index()) * 997;
  for (auto _ : state) {
    auto r = f.svc->Verify(f.root, {.key = f.keys[i++ % f.keys.size()]});
    benchmark::DoNotOptimize(r);
    if (!r.ok() || !r->valid()) state.SkipWithError("verification failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Verify)->Threads(1)->Threads(2)->UseRealTime();

void BM_VerifyWithPermissionQuery(benchmark::State& state) {
  Fixture& f = Shared();
  size_t i = 0;
  for (auto _ : state) {
    auto r = f.svc->Verify(f.root, {.key = f.keys[i++ % f.keys.size()],
                                    .permissions_query = "a.read OR (b.write AND c)"});
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyWithPermissionQuery);

void BM_RejectMalformed(benchmark::State& state) {
  Fixture& f = Shared();
  std::string bad = f.keys[0];
  bad.back() = bad.back() == 'a' ? 'b' : 'a';
  for (auto _ : state) {
    auto r = f.svc->Verify(f.root, {.key = bad});
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RejectMalformed);

}  // namespace

BENCHMARK_MAIN();
