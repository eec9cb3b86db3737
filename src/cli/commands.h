// The keyhold command line. Returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace keyhold::cli {

int RunCli(int argc, char** argv);

}  // namespace keyhold::cli

namespace CLI {
class App;
}

namespace keyhold::cli {

// Registers `keyhold bench …` (bench.cc).
void AddBench(CLI::App& app, int& code);
// Registers `keyhold scan …` and `keyhold hook install` (scan.cc).
void AddScan(CLI::App& app, int& code);
// `keyhold audit verify|export|events` (audit.cc).
void AddAudit(CLI::App& app, int& code);
// `keyhold webhooks create|list|delete|test` and `keyhold alerts list|ack` (alerts.cc).
void AddAlertCommands(CLI::App& app, int& code);
// `keyhold ratelimit limit` and `keyhold ratelimit overrides set|get|list|delete` (ratelimit.cc).
void AddRatelimit(CLI::App& app, int& code);
// `keyhold secrets …` and `keyhold operator rotate-kek` (secrets.cc).
void AddSecrets(CLI::App& app, int& code);
// `keyhold operator init-shares|unseal|seal` (seal.cc). REQUIRES: AddSecrets made `operator`.
void AddSealCommands(CLI::App& app, int& code);
// `keyhold file encrypt|decrypt|keygen` (file.cc).
void AddFile(CLI::App& app, int& code);
// `keyhold secrets rotate|due` under `secrets` (secret_rotation.cc).
void AddSecretRotationCommands(CLI::App& secrets, int& code);
// `keyhold completion bash|zsh`, from the commands registered before it (completion.cc).
void AddCompletion(CLI::App& app, int& code);
// `keyhold run -- CMD` (run.cc). `after_dashes`: the words after `keyhold run … --`, split off
// before parsing so that none of the command's own flags is taken for one of ours.
void AddRun(CLI::App& app, int& code, const std::vector<std::string>& after_dashes);

}  // namespace keyhold::cli
