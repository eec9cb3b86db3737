// The SQLite store's write paths, on a file in the temporary directory with synchronous=FULL as
// in production: a credit spend (the only store write on the verify path), a refused spend, an
// absolute credit update, and a bulk put of keys. Each write also records its change-feed rows,
// so these numbers include them. See bench/RESULTS.md.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "store/sqlite/sqlite_store.h"

namespace {

using namespace keyhold;

constexpr int64_t kNow = 1'767'225'600'000;

struct Db {
  Db() {
    dir = std::filesystem::temp_directory_path() /
          ("keyhold-store-bench-" + std::to_string(getpid()) + "-" + std::to_string(next++));
    std::filesystem::create_directories(dir);
    // As the server does. Only the first call can succeed; later ones are refused, harmlessly.
    store::SqliteStore::TurnOffMemoryStatistics().IgnoreError();
    store = std::move(store::SqliteStore::Open((dir / "b.db").string())).value();
  }
  ~Db() {
    store.reset();
    std::filesystem::remove_all(dir);
  }
  static inline int next = 0;
  std::filesystem::path dir;
  std::unique_ptr<store::SqliteStore> store;
};

store::KeyRecord Key(int n, std::optional<int64_t> credits) {
  store::KeyRecord k;
  k.id = "key_" + std::to_string(n);
  k.api_id = "api_1";
  for (size_t i = 0; i < k.hash.size(); ++i) k.hash[i] = static_cast<uint8_t>(n >> (8 * (i % 4)));
  k.hash[31] = static_cast<uint8_t>(n % 251);
  k.start = "bench_ab";
  k.created_at = k.updated_at = kNow;
  k.credits.remaining = credits;
  return k;
}

void PutOne(store::Store& s, const store::KeyRecord& k) {
  store::WriteBatch b;
  b.put_keys.push_back(k);
  if (!s.Apply(b).ok()) std::abort();
}

void BM_SpendCredits(benchmark::State& state) {
  Db db;
  PutOne(*db.store, Key(1, kMaxCredits));
  for (auto _ : state) {
    auto r = db.store->SpendCredits("key_1", 1, kNow, 0);
    if (!r.ok() || !r->spent) state.SkipWithError("spend failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpendCredits)->UseRealTime();

void BM_SpendCreditsRefused(benchmark::State& state) {
  Db db;
  PutOne(*db.store, Key(1, 0));
  for (auto _ : state) {
    auto r = db.store->SpendCredits("key_1", 1, kNow, 0);
    if (!r.ok() || r->spent) state.SkipWithError("spend not refused");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SpendCreditsRefused)->UseRealTime();

// What verification did before SpendCredits: write the balance computed in memory.
void BM_ApplyCreditsUpdate(benchmark::State& state) {
  Db db;
  PutOne(*db.store, Key(1, kMaxCredits));
  int64_t balance = kMaxCredits;
  for (auto _ : state) {
    store::WriteBatch b;
    b.credits.push_back({"key_1", CreditsState{--balance, std::nullopt, kNow}});
    if (!db.store->Apply(b).ok()) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ApplyCreditsUpdate)->UseRealTime();

// A bulk creation (keys.createKey in bulk, `keyhold bench seed`): one Apply of range(0) keys.
void BM_PutKeysInOneBatch(benchmark::State& state) {
  int n = static_cast<int>(state.range(0));
  int base = 0;
  Db db;
  for (auto _ : state) {
    store::WriteBatch b;
    b.put_keys.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) b.put_keys.push_back(Key(base + i, std::nullopt));
    base += n;
    if (!db.store->Apply(b).ok()) state.SkipWithError("apply failed");
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_PutKeysInOneBatch)->Arg(100'000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
BENCHMARK_MAIN();
