// vidproc: turns uploaded videos into web-ready MP4s. One binary, one subcommand per role.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/log.h"
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
  status [ID]        the queue, or one video, as JSON
  retry ID           queue a failed video again
  config             print the effective configuration (secrets masked)
  storage ...        put, get, list, delete or locate files in the configured store
  version            print the version

Run 'vidproc COMMAND --help' for a command's options.
Configuration: environment variables, also read from ./.env (see docs/CONFIGURATION.md).
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

}  // namespace

int main(int argc, char** argv) {
  ConfigureLogging();
  std::string command = argc > 1 ? argv[1] : "";
  // The processes that hold the secrets and start transcoder children: a child of the same user
  // must not read their /proc/<pid>/environ or memory.
  if (command == "serve" || command == "worker") vidproc::worker::MakeNonDumpable();
  if (command == "transcode") return vidproc::cli::RunTranscode(argc, argv);
  if (command == "probe") return vidproc::cli::RunProbe(argc, argv);
  if (command == "serve") return vidproc::cli::RunServe(argc, argv);
  if (command == "worker") return vidproc::cli::RunWorker(argc, argv);
  if (command == "enqueue") return vidproc::cli::RunEnqueue(argc, argv);
  if (command == "status") return vidproc::cli::RunStatus(argc, argv);
  if (command == "retry") return vidproc::cli::RunRetry(argc, argv);
  if (command == "config") return vidproc::cli::RunConfig(argc, argv);
  if (command == "migrate") return vidproc::cli::RunMigrate(argc, argv);
  if (command == "storage") return vidproc::cli::RunStorage(argc, argv);
  if (command == "sandbox-check") return vidproc::cli::RunSandboxCheck(argc, argv);
  if (command == "version" || command == "--version") {
    std::printf("vidproc %s\n", vidproc::kVersion);
    return vidproc::cli::kExitOk;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::fputs(kHelp, stdout);
    return vidproc::cli::kExitOk;
  }
  std::fputs(kHelp, stderr);
  if (!command.empty()) std::fprintf(stderr, "\nvidproc: unknown command '%s'\n", command.c_str());
  return vidproc::cli::kExitUsage;
}
