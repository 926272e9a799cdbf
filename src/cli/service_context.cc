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

// Flags of every service command, as configuration variables.
const std::map<std::string, std::string> kCommonFlagVariables = {
    {"--data-dir", "VIDPROC_DATA_DIR"},
};
// Flags of the commands that run jobs (serve, worker). Two spellings of one setting are one
// setting: --workers is the name `serve` has always documented, --max-tasks the older one; both
// set MAX_VIDEO_PROCESSING_TASKS, exactly as the environment does.
const std::map<std::string, std::string> kJobFlagVariables = {
    {"--workers", "MAX_VIDEO_PROCESSING_TASKS"},
    {"--max-tasks", "MAX_VIDEO_PROCESSING_TASKS"},
    {"--timeout", "VIDEO_PROCESSING_TIMEOUT"},
};

// The defaults come from the settings table (core/config.cc).
std::string CommonOptionsHelp(bool runs_jobs) {
  std::string help =
      "\nOptions (each overrides the variable named; the environment overrides the env file):\n"
      "  --env-file FILE      read settings from FILE (default ./.env, else " +
      std::string(kPackagedEnvFile) +
      ")\n"
      "  --data-dir DIR       VIDPROC_DATA_DIR: database, stored files, scratch (default ./" +
      SettingDefaultText("VIDPROC_DATA_DIR") + ")\n";
  if (runs_jobs) {
    help +=
        "  --workers N          MAX_VIDEO_PROCESSING_TASKS: jobs processed at once, the worker\n"
        "                       slots (default " +
        SettingDefaultText("MAX_VIDEO_PROCESSING_TASKS") +
        "; --max-tasks N is the same)\n"
        "  --timeout SECONDS    VIDEO_PROCESSING_TIMEOUT: a job running longer is killed "
        "(default " +
        SettingDefaultText("VIDEO_PROCESSING_TIMEOUT") + ")\n";
  }
  return help + "  --help               this text\n";
}

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
  std::map<std::string, std::string> variables = kCommonFlagVariables;
  if (extra.runs_jobs) variables.insert(kJobFlagVariables.begin(), kJobFlagVariables.end());
  for (const auto& [flag, variable] : extra.valued) variables[flag] = variable;
  for (const auto& [flag, variable] : variables) spec.valued.insert(flag);
  spec.valued.insert("--env-file");
  spec.flags.insert(extra.flags.begin(), extra.flags.end());
  if (extra.flags.count("--overwrite")) spec.aliases["-y"] = "--overwrite";  // as transcode
  auto args = Args::Parse(argc, argv, 2, spec);
  if (!args.ok()) {
    std::fprintf(stderr, "vidproc %s: %s\n", name, args.status().message().c_str());
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  if (args->has("--help")) {
    std::printf("%s%s%s%s", help, extra.help, CommonOptionsHelp(extra.runs_jobs).c_str(),
                extra.footer);
    *exit_code = kExitOk;
    return std::nullopt;
  }
  Environment flags;
  std::map<std::string, std::string> flag_of;  // variable -> the flag that set it
  for (const auto& [flag, variable] : variables) {
    if (variable.empty()) continue;
    auto v = args->get(flag);
    if (!v) continue;
    if (auto other = flag_of.find(variable); other != flag_of.end() && flags[variable] != *v) {
      std::fprintf(stderr, "vidproc %s: %s and %s both set %s; give one.\n", name,
                   other->second.c_str(), flag.c_str(), variable.c_str());
      *exit_code = kExitUsage;
      return std::nullopt;
    }
    flags[variable] = *v;
    flag_of[variable] = flag;
  }
  auto config = LoadAndApplyConfig(flags, args->get("--env-file").value_or(""));
  if (!config.ok()) {
    std::fprintf(stderr, "vidproc %s: %s\n", name, config.status().message().c_str());
    *exit_code = kExitUsage;
    return std::nullopt;
  }
  return Context{std::move(args).value(), std::move(config).value()};
}

int UsageError(const char* name, const std::string& problem) {
  std::fprintf(stderr, "vidproc %s: %s; 'vidproc help %s' shows the usage.\n", name,
               problem.c_str(), name);
  return kExitUsage;
}

int Fail(const char* name, const Status& s) {
  std::fprintf(stderr, "vidproc %s: %s\n", name, s.ToString().c_str());
  return ExitCodeFor(s) == kExitInputRefused ? kExitFailed : ExitCodeFor(s);
}

}  // namespace vidproc::cli
