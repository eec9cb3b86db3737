// The `keyhold serve` and `keyhold init` commands: wiring of store, service and HTTP server,
// signals and shutdown.
#pragma once

#include "server/settings.h"

namespace keyhold::server {

// Runs the server until SIGTERM or SIGINT, then drains in-flight requests. Returns the process
// exit code: 0 after a clean shutdown, 2 for bad settings, 1 for any other failure to start.
int Serve(const Settings& settings);

// Creates the data directory, master key and first root key, and prints the root key.
// Returns 0, or 1 if the directory was already initialized or could not be set up.
int Init(const Settings& settings, bool json_output);

}  // namespace keyhold::server
