#include "cli/commands.h"

int main(int argc, char** argv) { return keyhold::cli::RunCli(argc, argv); }
