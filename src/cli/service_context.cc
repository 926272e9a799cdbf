#include "cli/service_context.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/exit_codes.h"
#include "cli/wiring.h"

namespace vidproc::cli {
namespace {

constexpr const char* kCommonOptions = R"(
Options (each overrides the variable named; the environment overrides .env):
  --data-dir DIR       VIDPROC_DATA_DIR: database, stored files, scratch (default ./data)
  --max-tasks N        MAX_VIDEO_PROCESSING_TASKS: jobs processed at once (default 2)
  --timeout SECONDS    VIDEO_PROCESSING_TIMEOUT: a job running longer is killed (default 600)
  --help               this text
)";

// Flags shared by the service commands, as configuration variables.
const std::map<std::string, std::string> kFlagVariables = {
    {"--data-dir", "VIDPROC_DATA_DIR"},
    {"--max-tasks", "MAX_VIDEO_PROCESSING_TASKS"},
    {"--timeout", "VIDEO_PROCESSING_TIMEOUT"},
};

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop = true; }

}  // namespace

void InstallStopSignals() {
  signal(SIGTERM, OnStopSignal);
  signal(SIGINT, OnStopSignal);
}

void WaitForStopSignal() {
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

std::optional<Context> Prepare(int argc, char** argv, const char* name, const char* help,
                               int* exit_code, const ExtraOptions& extra) {
  ArgSpec spec;
  std::map<std::string, std::string> variables = kFlagVariables;
  for (const auto& [flag, variable] : extra.valued) variables[flag] = variable;
  for (const auto& [flag, variable] : variables) spec.valued.insert(flag);
  spec.flags.insert(extra.flags.begin(), extra.flags.end());
  auto args = Args::Parse(argc, argv, 2, spec);
  if (!args.ok()) {
    std::fprintf(stderr, "vidproc %s: %s\n", name, args.status().message().c_str());
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  if (args->has("--help")) {
    std::printf("%s%s%s", help, extra.help, kCommonOptions);
    *exit_code = kExitOk;
    return std::nullopt;
  }
  Environment flags;
  for (const auto& [flag, variable] : variables) {
    if (variable.empty()) continue;
    if (auto v = args->get(flag)) flags[variable] = *v;
  }
  auto config = LoadAndApplyConfig(flags);
  if (!config.ok()) {
    std::fprintf(stderr, "vidproc %s: %s\n", name, config.status().message().c_str());
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  return Context{std::move(args).value(), std::move(config).value()};
}

int Fail(const char* name, const Status& s) {
  std::fprintf(stderr, "vidproc %s: %s\n", name, s.ToString().c_str());
  return ExitCodeFor(s) == kExitInputRefused ? kExitFailed : ExitCodeFor(s);
}

}  // namespace vidproc::cli
