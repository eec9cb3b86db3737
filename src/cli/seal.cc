// `keyhold operator init-shares` (offline: split the master key, seal the data directory),
// `keyhold operator unseal` (give a running sealed server one or more shares) and
// `keyhold operator seal` (seal a running server again).
#include "server/seal.h"

#include <openssl/crypto.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/commands.h"
#include "server/settings.h"

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitApiError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

// Reads one share from the terminal without echoing it. Returns false at end of input.
bool PromptHidden(std::string* out) {
  std::fprintf(stderr, "Unseal share (input hidden): ");
  std::fflush(stderr);
  termios old{};
  bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
  if (restore) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  bool got = static_cast<bool>(std::getline(std::cin, *out));
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
  std::fprintf(stderr, "\n");
  return got;
}

void Wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

void PrintStatus(const json& status, bool json_output) {
  if (json_output) {
    std::printf("%s\n", status.dump().c_str());
  } else if (!status.value("sealed", true)) {
    std::printf("unsealed\n");
  } else {
    std::printf("sealed; unseal progress %d/%d\n", status.value("progress", 0),
                status.value("t", 0));
  }
}

// Sends `body` to PUT /v1/sys/unseal; on success `*status` is the answer. Returns an exit code.
int SendUnseal(const ApiClient& client, const json& body, json* status) {
  auto r = client.Vault("PUT", "/v1/sys/unseal", body);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return kExitUnreachable;
  }
  if (r->http_status != 200) {
    PrintVaultError(*r);
    return kExitApiError;
  }
  *status = r->body;
  return 0;
}

int Unseal(bool reset, bool json_output) {
  auto client = ApiClient::WithoutToken();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  json status;
  if (reset) {
    int rc = SendUnseal(*client, {{"reset", true}}, &status);
    if (rc == 0) PrintStatus(status, json_output);
    return rc;
  }
  // On a terminal: one share, typed without echo. Otherwise every non-empty line of standard
  // input is a share, given in turn until the server is unsealed.
  bool tty = isatty(STDIN_FILENO) != 0;
  std::string line;
  int given = 0;
  while (tty ? PromptHidden(&line) : static_cast<bool>(std::getline(std::cin, line))) {
    size_t start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos) {
      if (tty) break;
      continue;
    }
    json body = {{"key", line.substr(start)}};
    Wipe(line);
    int rc = SendUnseal(*client, body, &status);
    OPENSSL_cleanse(body["key"].get_ref<std::string&>().data(),
                    body["key"].get_ref<const std::string&>().size());
    if (rc != 0) return rc;
    ++given;
    if (tty || !status.value("sealed", true)) break;
  }
  Wipe(line);
  if (given == 0) {
    std::fprintf(stderr, "error: no share given (type one, or pipe one per line)\n");
    return kExitUsage;
  }
  PrintStatus(status, json_output);
  return 0;
}

// PUT /v1/sys/seal with KEYHOLD_TOKEN. Returns the exit code.
int Seal(bool json_output) {
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  auto r = client->Vault("PUT", "/v1/sys/seal", nullptr);
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
    return kExitUnreachable;
  }
  if (r->http_status != 204 && r->http_status != 200) {
    PrintVaultError(*r);
    return kExitApiError;
  }
  if (json_output) {
    std::printf("%s\n", json{{"sealed", true}}.dump().c_str());
  } else {
    std::printf("sealed\n");
  }
  return 0;
}

}  // namespace

void AddSealCommands(CLI::App& app, int& code) {
  CLI::App* op = app.get_subcommand("operator");

  auto settings = std::make_shared<server::Settings>(server::ServeSettingTable());
  struct InitFlags {
    int shares = 0;
    int threshold = 0;
    bool json_output = false;
  };
  auto f = std::make_shared<InitFlags>();
  auto* init = op->add_subcommand(
      "init-shares",
      "split the master key of a data directory (offline, like init) into shares, print them "
      "once and seal it: keyhold serve then starts sealed until `operator unseal`");
  settings->AddTo(*init);
  init->add_option("--shares", f->shares, "how many shares to make (1 to 255)")->required();
  init->add_option("--threshold", f->threshold, "how many shares unseal (1 to --shares)")
      ->required();
  init->add_flag("--json", f->json_output,
                 "print {\"unseal_keys_b64\":[…],\"unseal_shares\",\"unseal_threshold\"} (and "
                 "the root key of a new directory) as JSON");
  init->callback([&code, settings, f] {
    Status st = settings->Resolve("");
    if (!st.ok()) {
      std::fprintf(stderr, "keyhold operator init-shares: %s\n", st.message().c_str());
      code = kExitUsage;
      return;
    }
    code = server::InitShares(*settings, f->shares, f->threshold, f->json_output);
  });

  struct UnsealFlags {
    bool reset = false;
    bool json_output = false;
    std::vector<std::string> arguments;  // refused: a share is never taken from argv
  };
  auto u = std::make_shared<UnsealFlags>();
  auto* unseal = op->add_subcommand(
      "unseal",
      "give the sealed server at KEYHOLD_ADDR one unseal share: typed without echo on a "
      "terminal, else one per line on standard input (never as an argument); no token needed");
  unseal->add_flag("--reset", u->reset, "forget the shares given so far");
  unseal->add_flag("--json", u->json_output, "print the seal status as JSON");
  // A share typed as an argument must not be echoed back in a usage error: it is taken by a
  // hidden positional, and refused without being shown.
  unseal->add_option("SHARE", u->arguments)->group("");
  unseal->callback([&code, u] {
    if (!u->arguments.empty()) {
      for (std::string& a : u->arguments) OPENSSL_cleanse(a.data(), a.size());
      std::fprintf(stderr,
                   "error: operator unseal takes no arguments: shares are read from the terminal "
                   "or standard input, never from the command line (where other users and the "
                   "shell history see them)\n");
      code = kExitUsage;
      return;
    }
    code = Unseal(u->reset, u->json_output);
  });

  auto seal_json = std::make_shared<bool>(false);
  auto* seal = op->add_subcommand(
      "seal",
      "seal the server at KEYHOLD_ADDR again (KEYHOLD_TOKEN must hold secret.seal): secrets "
      "answer 503 and the key material in memory is wiped until `operator unseal` is given the "
      "threshold of shares; keys still verify. Only a server whose master key is split into "
      "shares (operator init-shares) can be sealed: one with a key file or KEYHOLD_MASTER_KEY "
      "refuses (400)");
  seal->add_flag("--json", *seal_json, "print {\"sealed\":true} as JSON");
  seal->callback([&code, seal_json] { code = Seal(*seal_json); });
}

}  // namespace keyhold::cli
