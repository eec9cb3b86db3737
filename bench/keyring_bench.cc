// Envelope encryption of 1 KiB secret values in process: sealing (a fresh data key, two AES-256-GCM
// seals) and opening (two opens), beside a single raw AES-256-GCM seal of the same size, the unit
// `openssl speed -evp aes-256-gcm -bytes 1024` measures (bench/secrets reports the ratio).
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "crypto/keyring.h"

namespace {

using keyhold::crypto::Keyring;

std::unique_ptr<Keyring> Ring() {
  std::vector<uint8_t> master(32, 7);
  auto ring = Keyring::Open(master, {}).value();
  if (!ring->AddTerm(ring->MakeTerm(0)).ok()) std::abort();
  return ring;
}

const std::string kValue(1024, 'v');
constexpr std::string_view kAad = "secret|helpdesk/smtp|1";

void BM_KeyringSeal1KiB(benchmark::State& state) {
  auto ring = Ring();
  for (auto _ : state) benchmark::DoNotOptimize(ring->Seal(kAad, kValue));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_KeyringSeal1KiB);

void BM_KeyringOpen1KiB(benchmark::State& state) {
  auto ring = Ring();
  auto sealed = ring->Seal(kAad, kValue);
  for (auto _ : state) {
    auto v = ring->Open(kAad, sealed);
    if (!v.ok()) std::abort();
    benchmark::DoNotOptimize(v->Reveal().data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_KeyringOpen1KiB);

void BM_RawAesGcmSeal1KiB(benchmark::State& state) {
  std::vector<uint8_t> key(32, 1);
  std::array<uint8_t, 12> nonce{};
  for (auto _ : state) {
    benchmark::DoNotOptimize(keyhold::crypto::Aes256GcmSeal(key, nonce, kValue, kAad));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kValue.size()));
}
BENCHMARK(BM_RawAesGcmSeal1KiB);

}  // namespace

BENCHMARK_MAIN();
