// What the service commands (worker, serve, enqueue, status, ...) share: their common options
// and the start-up that turns the command line and the environment into a Config.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>

#include "cli/args.h"
#include "core/config.h"

namespace vidproc::cli {

struct Context {
  Args args;
  Config config;
};

// A command's own options beyond the common ones: `valued` options mapped to the configuration
// variable they set (or to "" when the command reads them itself), and plain flags.
struct ExtraOptions {
  std::map<std::string, std::string> valued;
  std::set<std::string> flags;
  const char* help = "";    // after the usage, before the common options
  const char* footer = "";  // after the common options
  bool runs_jobs = false;   // serve and worker: --workers/--max-tasks and --timeout too
};

// Parses the command line and loads the configuration; nullopt after printing the problem (or
// the help) with `*exit_code` set.
std::optional<Context> Prepare(int argc, char** argv, const char* name, const char* help,
                               int* exit_code, const ExtraOptions& extra = {});
// SIGTERM and SIGINT ask a long-running command to stop: install the handlers first (before
// starting threads), then wait for one of them.
void InstallStopSignals();
void WaitForStopSignal();

// Prints a usage problem in one line ("missing ID") with where the usage is, and returns
// kExitUsage.
int UsageError(const char* name, const std::string& problem);

// Prints the failure and returns the exit status for it.
int Fail(const char* name, const Status& s);

}  // namespace vidproc::cli
