// `keyhold bench seed`: fills an empty data directory with an API and N keys in one write, and
// writes the root key and the keys' plaintext to a file (mode 0600) for load generators.
// For benchmarks only: a real deployment never has its keys' plaintext in a file.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "cli/commands.h"
#include "crypto/system_env.h"
#include "server/bootstrap.h"

namespace keyhold::cli {

static int Seed(const std::string& data_dir, int count, int64_t credits,
                const std::string& out_path) {
  crypto::SystemEnv env;
  auto opened = server::OpenDataDir(data_dir, "", env);
  if (!opened.ok()) {
    std::fprintf(stderr, "keyhold bench seed: %s\n", opened.status().message().c_str());
    return 1;
  }
  if (!opened->created_root_key) {
    std::fprintf(stderr, "keyhold bench seed: %s must be empty\n", data_dir.c_str());
    return 1;
  }
  auto started = std::chrono::steady_clock::now();
  auto& svc = *opened->service;
  auto root = svc.Authenticate(opened->created_root_key->key.Reveal());
  if (!root.ok()) return 1;
  RequestContext ctx{.request_id = "req_bench", .actor = *root};
  auto api = svc.CreateApi(ctx, {.name = "bench"});
  if (!api.ok()) return 1;
  service::CreateKeyRequest req{.api_id = api->id, .prefix = "bench"};
  if (credits > 0) req.credits = CreditsState{.remaining = credits};
  auto keys = svc.CreateKeys(ctx, req, count);
  if (!keys.ok()) {
    std::fprintf(stderr, "keyhold bench seed: %s\n", keys.status().message().c_str());
    return 1;
  }
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  int fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FILE* out = fd >= 0 ? fdopen(fd, "w") : nullptr;
  if (!out) {
    std::fprintf(stderr, "keyhold bench seed: cannot write %s\n", out_path.c_str());
    return 1;
  }
  auto root_text = opened->created_root_key->key.Reveal();
  std::fprintf(out, "%.*s\n", static_cast<int>(root_text.size()), root_text.data());
  for (const auto& k : *keys) {
    std::fprintf(out, "%.*s\n", static_cast<int>(k.key.Reveal().size()), k.key.Reveal().data());
  }
  std::fclose(out);
  std::printf("seeded %d keys into %s in %.2f s (api %s)\n", count, data_dir.c_str(), took,
              api->id.c_str());
  return 0;
}

void AddBench(CLI::App& app, int& code) {
  auto* bench = app.add_subcommand("bench", "benchmark helpers (see bench/README.md)");
  bench->require_subcommand(1);
  auto* seed =
      bench->add_subcommand("seed", "create N keys in an empty data directory, for load tests");
  static std::string dir, out;
  static int count = 10000;
  static int64_t credits = 0;
  seed->add_option("--data-dir", dir, "empty data directory to fill")->required();
  seed->add_option("--keys", count, "number of keys (1-1000000)")->check(CLI::Range(1, 1000000));
  seed->add_option("--out", out, "file for the root key and the keys' plaintext (mode 0600)")
      ->required();
  seed->add_option("--credits", credits,
                   "give every key this many credits (0: unlimited), to measure spending")
      ->check(CLI::Range(int64_t{0}, kMaxCredits));
  seed->callback([&] { code = Seed(dir, count, credits, out); });
}

}  // namespace keyhold::cli
