// The `keyhold serve` and `keyhold init` commands: wiring of store, service and HTTP server,
// signals and shutdown.
#pragma once

#include <string>

#include "server/settings.h"

namespace keyhold::server {

// Runs the server until SIGTERM or SIGINT, then drains in-flight requests. Returns the process
// exit code: 0 after a clean shutdown, 2 for bad settings, 1 for any other failure to start.
int Serve(const Settings& settings);

// `keyhold serve --check-config FILE`: resolves the settings with FILE as the config file and
// checks every value as Serve would, without serving. Prints each problem on standard error as
// "FILE:LINE: message" (or the variable or flag it came from) and returns 2, or prints that the
// file is fine and returns 0.
int CheckConfig(Settings& settings, const std::string& toml_path);

// Creates the data directory, master key and first root key, and prints the root key.
// Returns 0, or 1 if the directory was already initialized or could not be set up.
int Init(const Settings& settings, bool json_output);

}  // namespace keyhold::server
