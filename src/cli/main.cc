// vidproc: turns uploaded videos into web-ready MP4s. One binary, one subcommand per role.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/log.h"
#include "core/text.h"
#include "core/version.h"
#include "media/av_error.h"
#include "worker/sandbox.h"

namespace {

constexpr const char* kHelp = R"(Usage: vidproc COMMAND [options]

Commands:
  transcode IN OUT   make a web-ready 720p H.264/AAC MP4 (and a thumbnail) from a video
  probe FILE         describe a file as JSON and say whether it is accepted
  enqueue FILE...    store files as new videos and queue them
  migrate            bring the job database to this version's schema
  serve              the HTTP API and web page, with worker slots (docs/API.md)
  worker             process queued videos (MAX_VIDEO_PROCESSING_TASKS at once)
  status [ID]        the queue, or one video (a table on a terminal, else JSON)
  retry ID           queue a failed video again
  config             print the effective configuration (secrets masked)
  storage ...        put, get, list, delete or locate files in the configured store
  backup DIR         a consistent copy of the SQLite job database, taken while the service runs
  version            print the version

Run 'vidproc help COMMAND' (or 'vidproc COMMAND --help') for a command's options.
Configuration: environment variables, also read from an env file: --env-file FILE, else ./.env,
else /etc/vidproc/vidproc.env (see docs/CONFIGURATION.md).
)";

void ConfigureLogging() {
  if (const char* level = std::getenv("LOG_LEVEL")) {
    vidproc::LogLevel parsed;
    if (vidproc::ParseLogLevel(level, &parsed)) vidproc::SetLogLevel(parsed);
  }
  if (const char* format = std::getenv("LOG_FORMAT"); format && std::string(format) == "json") {
    vidproc::SetLogFormat(vidproc::LogFormat::kJson);
  }
  vidproc::media::InstallAvLogBridge();
}

using Runner = int (*)(int, char**);

struct Command {
  const char* name;
  Runner run;
};

// Every command, in the order of the help. `sandbox-check` is for tests and not listed there.
constexpr Command kCommands[] = {
    {"transcode", vidproc::cli::RunTranscode}, {"probe", vidproc::cli::RunProbe},
    {"enqueue", vidproc::cli::RunEnqueue},     {"migrate", vidproc::cli::RunMigrate},
    {"serve", vidproc::cli::RunServe},         {"worker", vidproc::cli::RunWorker},
    {"status", vidproc::cli::RunStatus},       {"retry", vidproc::cli::RunRetry},
    {"config", vidproc::cli::RunConfig},       {"storage", vidproc::cli::RunStorage},
    {"backup", vidproc::cli::RunBackup},       {"sandbox-check", vidproc::cli::RunSandboxCheck},
};

const Command* FindCommand(const std::string& name) {
  for (const Command& c : kCommands) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

// One line naming what was not understood, with the closest command when there is one.
int UnknownCommand(const std::string& name) {
  std::vector<std::string> names = {"version", "help"};
  for (const Command& c : kCommands) names.emplace_back(c.name);
  std::string suggestion = vidproc::ClosestName(name, names);
  std::fprintf(stderr, "vidproc: unknown command '%s'%s; 'vidproc help' lists the commands.\n",
               vidproc::SanitizeText(name, 100).c_str(),
               suggestion.empty() ? "" : (" (did you mean '" + suggestion + "'?)").c_str());
  return vidproc::cli::kExitUsage;
}

// `vidproc help CMD` is `vidproc CMD --help`.
int RunHelp(int argc, char** argv) {
  if (argc < 3) {
    std::fputs(kHelp, stdout);
    return vidproc::cli::kExitOk;
  }
  std::string topic = argv[2];
  if (topic == "help" || topic == "version") {
    std::fputs(kHelp, stdout);
    return vidproc::cli::kExitOk;
  }
  const Command* command = FindCommand(topic);
  if (!command) return UnknownCommand(topic);
  char help_flag[] = "--help";
  char* args[] = {argv[0], argv[2], help_flag, nullptr};
  return command->run(3, args);
}

}  // namespace

int main(int argc, char** argv) {
  ConfigureLogging();
  std::string command = argc > 1 ? argv[1] : "";
  // The processes that hold the secrets and start transcoder children: a child of the same user
  // must not read their /proc/<pid>/environ or memory.
  if (command == "serve" || command == "worker") vidproc::worker::MakeNonDumpable();
  if (const Command* c = FindCommand(command)) return c->run(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("vidproc %s\n", vidproc::kVersion);
    return vidproc::cli::kExitOk;
  }
  if (command == "help" || command == "--help" || command == "-h") return RunHelp(argc, argv);
  if (command.empty()) {
    std::fputs(kHelp, stderr);
    return vidproc::cli::kExitUsage;
  }
  return UnknownCommand(command);
}
