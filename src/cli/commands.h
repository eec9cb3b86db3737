// The keyhold command line. Returns the process exit code.
#pragma once

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

}  // namespace keyhold::cli
