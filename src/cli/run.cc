// `keyhold run [--secret ENV=MOUNT/PATH#FIELD]… [--env-file MAPPING] -- CMD ARGS…`: starts CMD with
// secrets in its environment. Values are fetched over `/v1/`, placed in the child's environment
// only (never its arguments, never a file), and wiped from this process once the child has
// started. KEYHOLD_TOKEN is not passed on: the child gets its secrets, not the key that reads
// them. Signals this process receives are forwarded to the child; the exit status is the
// child's (128 + the signal if a signal ended it, 127 if CMD cannot be started).
#include <openssl/crypto.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>

#include "cli/client.h"
#include "cli/commands.h"
#include "core/secret_path.h"

extern char** environ;

namespace keyhold::cli {
namespace {

using nlohmann::json;

constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;
constexpr int kExitApiError = 1;
constexpr int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

struct Mapping {
  std::string env;
  std::string mount;
  std::string path;
  std::string field;  // empty: the secret's only field
};

bool IsEnvName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

StatusOr<Mapping> ParseMapping(std::string_view spec) {
  size_t eq = spec.find('=');
  if (eq == std::string_view::npos || !IsEnvName(spec.substr(0, eq))) {
    return InvalidArgument("write each secret as ENV=MOUNT/PATH#FIELD (got '" +
                           std::string(spec.substr(0, 64)) + "')");
  }
  Mapping m;
  m.env = std::string(spec.substr(0, eq));
  std::string_view ref = spec.substr(eq + 1);
  if (size_t hash = ref.find('#'); hash != std::string_view::npos) {
    m.field = std::string(ref.substr(hash + 1));
    ref = ref.substr(0, hash);
  }
  size_t slash = ref.find('/');
  if (slash == std::string_view::npos) return InvalidArgument(m.env + ": no secret path");
  m.mount = std::string(ref.substr(0, slash));
  m.path = std::string(ref.substr(slash + 1));
  if (!IsValidMountName(m.mount) || !IsValidSecretPath(m.path)) {
    return InvalidArgument(m.env + ": '" + std::string(ref) + "' is not MOUNT/PATH");
  }
  return m;
}

// The mappings of an env file: one ENV=MOUNT/PATH#FIELD per line; blank lines and # comments
// skipped.
StatusOr<std::vector<Mapping>> ReadEnvFile(const std::string& file) {
  std::ifstream in(file);
  if (!in) return InvalidArgument("cannot read " + file);
  std::vector<Mapping> out;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    KH_ASSIGN_OR_RETURN(Mapping m, ParseMapping(std::string_view(line).substr(start)));
    out.push_back(std::move(m));
  }
  return out;
}

// Fetches every secret named (each once) and picks the fields. Returns ENV=value strings, or an
// exit code through `code`.
std::vector<std::string> Fetch(const ApiClient& client, const std::vector<Mapping>& mappings,
                               int& code) {
  std::map<std::string, json> fetched;
  std::vector<std::string> out;
  for (const Mapping& m : mappings) {
    std::string key = m.mount + "/" + m.path;
    if (!fetched.contains(key)) {
      auto r = client.Vault("GET", "/v1/" + m.mount + "/data/" + m.path, nullptr);
      if (!r.ok()) {
        std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
        code = kExitUnreachable;
        return {};
      }
      if (r->http_status != 200) {
        std::fprintf(stderr, "error: %s: cannot read %s (%d)\n", m.env.c_str(), key.c_str(),
                     r->http_status);
        code = kExitApiError;
        return {};
      }
      fetched[key] = r->body["data"]["data"];
    }
    const json& data = fetched[key];
    const json* value = nullptr;
    if (!m.field.empty() && data.contains(m.field)) {
      value = &data[m.field];
    } else if (m.field.empty() && data.size() == 1) {
      value = &data.begin().value();
    }
    if (!value) {
      std::fprintf(stderr, "error: %s: %s has %s\n", m.env.c_str(), key.c_str(),
                   m.field.empty() ? "several fields: name one with #FIELD"
                                   : ("no field '" + m.field + "'").c_str());
      code = kExitApiError;
      return {};
    }
    out.push_back(m.env + "=" + (value->is_string() ? value->get<std::string>() : value->dump()));
  }
  for (auto& [k, v] : fetched) v = nullptr;
  return out;
}

// The child's environment: ours, less KEYHOLD_TOKEN and anything `secrets` sets, plus `secrets`.
std::vector<char*> ChildEnvironment(std::vector<std::string>& secrets) {
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) {
      return std::string_view(s).substr(0, s.find('=')) == name;
    });
    if (name != "KEYHOLD_TOKEN" && !replaced) env.push_back(*e);
  }
  for (std::string& s : secrets) env.push_back(s.data());
  env.push_back(nullptr);
  return env;
}

int StatusOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

// Starts the command and waits for it, forwarding signals. REQUIRES: `forwarded` blocked.
int Supervise(const std::vector<std::string>& command, std::vector<char*>& env,
              const sigset_t& old_mask, const sigset_t& forwarded) {
  std::vector<char*> argv;
  argv.reserve(command.size() + 1);
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "error: cannot start %s: %s\n", command[0].c_str(), std::strerror(errno));
    return kExitUsage;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old_mask, nullptr);
    execvpe(argv[0], argv.data(), env.data());
    std::fprintf(stderr, "error: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(errno == ENOENT ? 127 : 126);
  }
  while (true) {
    int sig = 0;
    if (sigwait(&forwarded, &sig) != 0) continue;
    if (sig == SIGCHLD) {
      int status = 0;
      pid_t done = waitpid(child, &status, WNOHANG);
      if (done == child) return StatusOf(status);
      continue;
    }
    kill(child, sig);
  }
}

int Run(const std::vector<std::string>& specs, const std::string& env_file,
        const std::vector<std::string>& command) {
  std::vector<Mapping> mappings;
  if (!env_file.empty()) {
    auto from_file = ReadEnvFile(env_file);
    if (!from_file.ok()) {
      std::fprintf(stderr, "error: %s\n", from_file.status().message().c_str());
      return kExitUsage;
    }
    mappings = *std::move(from_file);
  }
  for (const std::string& spec : specs) {
    auto m = ParseMapping(spec);
    if (!m.ok()) {
      std::fprintf(stderr, "error: %s\n", m.status().message().c_str());
      return kExitUsage;
    }
    mappings.push_back(*std::move(m));
  }
  auto client = ApiClient::FromEnvironment();
  if (!client.ok()) {
    std::fprintf(stderr, "error: %s\n", client.status().message().c_str());
    return kExitUsage;
  }
  int code = 0;
  std::vector<std::string> secrets = Fetch(*client, mappings, code);
  if (code != 0) return code;
  std::vector<char*> env = ChildEnvironment(secrets);
  sigset_t forwarded;
  sigset_t old_mask;
  sigemptyset(&forwarded);
  for (int s : kForwarded) sigaddset(&forwarded, s);
  sigaddset(&forwarded, SIGCHLD);
  sigprocmask(SIG_BLOCK, &forwarded, &old_mask);
  // The child has its copy once fork returns; wipe ours as soon as it is running.
  int status = Supervise(command, env, old_mask, forwarded);
  for (std::string& s : secrets) OPENSSL_cleanse(s.data(), s.size());
  return status;
}

}  // namespace

void AddRun(CLI::App& app, int& code, const std::vector<std::string>& after_dashes) {
  static std::vector<std::string> specs;
  static std::string env_file;
  auto* run = app.add_subcommand("run", "run a command with secrets in its environment");
  run->footer(
      "Usage: keyhold run [--secret ENV=MOUNT/PATH#FIELD]... [--env-file FILE] -- CMD ARGS...");
  // Everything from the first word that is not an option of ours (or after --) is the command,
  // passed on untouched: its own flags are not parsed here.
  run->prefix_command();
  run->add_option("--secret", specs,
                  "ENV=MOUNT/PATH#FIELD (repeatable; #FIELD optional for a "
                  "secret of one field)");
  run->add_option("--env-file", env_file, "a file of ENV=MOUNT/PATH#FIELD lines");
  run->callback([run, &code, &after_dashes] {
    std::vector<std::string> command = after_dashes.empty() ? run->remaining() : after_dashes;
    if (!command.empty() && command.front() == "--") command.erase(command.begin());
    if (command.empty()) {
      std::fprintf(stderr, "error: give the command to run after --\n");
      code = kExitUsage;
      return;
    }
    code = Run(specs, env_file, command);
  });
}

}  // namespace keyhold::cli
