// The keyhold command line. Returns the process exit code.
#pragma once

namespace keyhold::cli {

int RunCli(int argc, char** argv);

}  // namespace keyhold::cli
