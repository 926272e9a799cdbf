#include <cstdio>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "core/text.h"
#include "media/input_file.h"
#include "media/probe.h"
#include "worker/sandbox.h"

namespace vidproc::cli {
namespace {

constexpr const char* kProbeHelp = R"(Usage: vidproc probe [--sandbox [--sandbox-skip L]] FILE

Prints what FILE contains as JSON: container, duration, streams, rotation, dimensions, codecs,
interlacing, HDR flags, and whether vidproc accepts it ("acceptable") and if not, why ("error").
The file is opened with the same protections as for transcoding (local file only, container
allowlist, limits). --sandbox: before reading FILE, no network and no file but FILE, and the
syscall allowlist, as `transcode --sandbox` (a worker probes a job's file this way before it
admits the job). Exit status: 0 acceptable, 1 refused, 2 usage, 3 could not read.
)";

}  // namespace

int RunProbe(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, 2, ArgSpec{{"--sandbox-skip"}, {"--sandbox"}, {}});
  if (!args.ok()) {
    std::fprintf(stderr, "vidproc probe: %s\n", args.status().message().c_str());
    return kExitUsage;
  }
  if (args->has("--help")) {
    std::fputs(kProbeHelp, stdout);
    return kExitOk;
  }
  if (args->positional().size() != 1) {
    std::fputs(kProbeHelp, stderr);
    return kExitUsage;
  }
  const std::string& path = args->positional()[0];
  if (args->has("--sandbox")) {
    // Before the file is opened, in a single-threaded process (transcode_command.cc).
    worker::SandboxPolicy policy;
    if (Status s = worker::SkipSandboxLayers(args->get("--sandbox-skip").value_or(""), &policy);
        !s.ok()) {
      std::fprintf(stderr, "vidproc probe: %s\n", s.message().c_str());
      return kExitUsage;
    }
    policy.read_files = {path};
    worker::EnterSandbox(policy);
  }
  media::InputLimits limits;
  auto input = media::InputFile::Open(path, limits, nullptr);
  nlohmann::json out;
  Status verdict;
  if (input.ok()) {
    media::MediaInfo info = media::Describe(*input.value());
    out = media::ToJson(info);
    verdict = media::CheckLimits(info, limits);
  } else {
    verdict = input.status();
  }
  out["file"] = path;
  out["acceptable"] = verdict.ok();
  out["error"] =
      verdict.ok() ? nlohmann::json(nullptr)
                   : nlohmann::json{{"code", verdict.code_name()}, {"message", verdict.message()}};
  std::printf("%s\n", DumpJson(out, 2).c_str());
  return ExitCodeFor(verdict);
}

}  // namespace vidproc::cli
