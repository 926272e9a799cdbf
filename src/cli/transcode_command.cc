#include <sys/prctl.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress_reporter.h"
#include "core/cancel.h"
#include "core/log.h"
#include "core/text.h"
#include "core/units.h"
#include "media/transcoder.h"
#include "worker/sandbox.h"

namespace vidproc::cli {
namespace {

constexpr const char* kTranscodeHelp = R"(Usage: vidproc transcode IN OUT [options]

Turns the video IN into a web-ready MP4 at OUT: H.264 High + AAC-LC, fitted inside the maximum
size (never upscaled, rotation and pixel aspect applied), faststart. A file that is already
web-ready is remuxed without re-encoding.

Options:
  --thumbnail T        also write a JPEG thumbnail to T
  --preset P           libx264 preset (default veryfast)
  --bitrate B          target video bitrate, e.g. 1500k (default 1500k)
  --max-size WxH       box to fit the video in, either orientation (default 1280x720)
  --threads N          thread budget of this job (default: all cores)
  --progress MODE      auto|bar|json|none (default auto: a bar on a terminal)
  --force-encode       re-encode even when the input is already web-ready
  --sandbox            before reading IN: no network, file access only to IN (read) and the
                       output directories (write), a system-call allowlist (what a worker does)
  --sandbox-skip L     leave out layers of --sandbox: a comma list of network, files, syscalls
  --help               this text

Output: progress on stderr (bar) or JSON lines on stdout (json); a final JSON line on stdout:
{"event":"done",...} or {"event":"error","error":{"code":...,"message":...}}.
Exit status: 0 done, 1 input refused, 2 usage, 3 failed, 4 cancelled.
)";

CancelToken g_cancel;

extern "C" void OnSignal(int) { g_cancel.Cancel(); }

Status ApplyOptions(const Args& args, media::TranscodeRequest* request) {
  media::TranscodeOptions& o = request->options;
  if (auto v = args.get("--preset")) {
    static const char* kPresets[] = {"ultrafast", "superfast", "veryfast", "faster",  "fast",
                                     "medium",    "slow",      "slower",   "veryslow"};
    bool known = false;
    for (const char* p : kPresets) known = known || *v == p;
    if (!known) return Status(ErrorCode::kInvalidArgument, "Unknown x264 preset '" + *v + "'.");
    o.preset = *v;
  }
  if (auto v = args.get("--bitrate")) {
    ASSIGN_OR_RETURN(o.video_bitrate, ParseBitrate(*v));
  }
  if (auto v = args.get("--max-size")) {
    ASSIGN_OR_RETURN(o.max_size, ParseSize(*v));
    o.thumbnail_max_size = o.max_size;
  }
  if (auto v = args.get("--threads")) {
    ASSIGN_OR_RETURN(int64_t threads, ParseInteger(*v, 1, 64));
    o.threads = static_cast<int>(threads);
  }
  o.allow_passthrough = !args.has("--force-encode");
  if (auto v = args.get("--thumbnail")) request->thumbnail = *v;
  return Status::Ok();
}

void PrintError(const Status& s, bool json_only) {
  nlohmann::json j = {{"event", "error"},
                      {"error", {{"code", s.code_name()}, {"message", s.message()}}}};
  std::printf("%s\n", DumpJson(j).c_str());
  std::fflush(stdout);
  if (!json_only) std::fprintf(stderr, "vidproc transcode: %s\n", s.ToString().c_str());
}

std::string DirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

int RunTranscode(int argc, char** argv) {
  ArgSpec spec{{"--thumbnail", "--preset", "--bitrate", "--max-size", "--threads", "--progress",
                "--sandbox-skip"},
               {"--force-encode", "--sandbox"}};
  auto args = Args::Parse(argc, argv, 2, spec);
  if (!args.ok()) {
    std::fprintf(stderr, "vidproc transcode: %s\n", args.status().message().c_str());
    return kExitUsage;
  }
  if (args->has("--help")) {
    std::fputs(kTranscodeHelp, stdout);
    return kExitOk;
  }
  if (args->positional().size() != 2) {
    std::fputs(kTranscodeHelp, stderr);
    return kExitUsage;
  }
  ProgressMode mode;
  if (!ParseProgressMode(args->get("--progress").value_or("auto"), &mode)) {
    std::fprintf(stderr, "vidproc transcode: --progress takes auto, bar, json or none.\n");
    return kExitUsage;
  }
  media::TranscodeRequest request;
  request.input = args->positional()[0];
  request.output = args->positional()[1];
  if (Status s = ApplyOptions(*args, &request); !s.ok()) {
    std::fprintf(stderr, "vidproc transcode: %s\n", s.message().c_str());
    return kExitUsage;
  }

  if (args->has("--sandbox")) {
    // Before any thread starts (a user namespace needs a single-threaded process) and before the
    // input is opened: nothing a hostile file makes a decoder do escapes the sandbox.
    worker::SandboxPolicy policy;
    if (Status s = worker::SkipSandboxLayers(args->get("--sandbox-skip").value_or(""), &policy);
        !s.ok()) {
      std::fprintf(stderr, "vidproc transcode: %s\n", s.message().c_str());
      return kExitUsage;
    }
    policy.read_files = {request.input};
    policy.write_dirs = {DirectoryOf(request.output)};
    if (!request.thumbnail.empty()) policy.write_dirs.push_back(DirectoryOf(request.thumbnail));
    worker::EnterSandbox(policy);
  }
  // x264 asks for transparent huge pages for its frame buffers; partly used 2 MB pages cost
  // ~10 MB of resident memory per job for no measurable speed (docs/BENCHMARKS.md).
  prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ProgressReporter reporter(mode);
  auto result = media::Transcode(
      request, [&reporter](double done, double total) { reporter.Update(done, total); }, &g_cancel);
  reporter.Finish();
  if (!result.ok()) {
    PrintError(result.status(), mode == ProgressMode::kJson);
    return ExitCodeFor(result.status());
  }
  nlohmann::json summary = media::ToJson(result.value());
  summary["event"] = "done";
  summary["output"]["path"] = request.output;
  if (!request.thumbnail.empty()) summary["thumbnail"] = request.thumbnail;
  std::printf("%s\n", DumpJson(summary).c_str());
  return kExitOk;
}

}  // namespace vidproc::cli
