#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/progress_reporter.h"
#include "cli/service_context.h"
#include "core/cancel.h"
#include "core/log.h"
#include "core/text.h"
#include "core/units.h"
#include "media/thumbnail.h"
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
  --thumbnail-widths L  also write smaller copies of T beside it, a comma list of even widths
                       (T-160.jpg for 160); widths not below T's own are skipped
  --hls DIR            also write HLS to DIR from the same encode: master.m3u8, a media
                       playlist (updated after every segment while the job runs), an init
                       segment and CMAF segments of about 4 s; DIR is made if missing
  --renditions L       with --hls, extra HLS rungs below the main one, a comma list of short
                       sides (360 for 640x360), from the same decode; larger ones are skipped
  --storyboard S.vtt   also write a storyboard (scrub previews): a 160 px wide picture every
                       2 s or more (at most ~200 pictures), tiled 10x10 into JPEG sheets
                       beside S named after it (S-1.jpg, S-2.jpg, ...), indexed by the WebVTT
                       file S (cues "S-1.jpg#xywh=x,y,w,h", the format players read)
  --preset P           libx264 preset (default veryfast)
  --bitrate B          target video bitrate, e.g. 1500k (default 1500k)
  --max-size WxH       box to fit the video in, either orientation (default 1280x720)
  --max-fps N          frame-rate cap: faster sources drop frames to stay at or below N
                       (default 60)
  --threads N          thread budget of this job (default: all cores)
  --progress MODE      auto|bar|json|none (default auto: a bar on a terminal)
  --force-encode       re-encode even when the input is already web-ready
  -y, --overwrite      replace OUT (and T) if they exist (without it, an existing file is kept
                       and the command refuses); OUT is never allowed to be IN
  --sandbox            before reading IN: no network, file access only to IN (read) and the
                       output directories (write), a system-call allowlist (what a worker does)
  --sandbox-skip L     leave out layers of --sandbox: a comma list of network, files, syscalls
  --help               this text

Output: progress on stderr (bar) or JSON lines on stdout (json; with --hls, also
{"event":"hls","segments":N,"seconds":S} after each segment). At the end, on a terminal,
one line saying what was made; otherwise (piped, or --progress json) a JSON line on stdout:
{"event":"done",...} or {"event":"error","error":{"code":...,"message":...}}.
Exit status: 0 done, 1 input refused, 2 usage, 3 failed, 4 cancelled.
)";

CancelToken g_cancel;

extern "C" void OnSignal(int) { g_cancel.Cancel(); }

// A comma list of even numbers in [min, max] (picture sizes: 4:2:0 needs them even).
Result<std::vector<int>> ParseEvenList(std::string_view list, int64_t min, int64_t max,
                                       const std::string& what) {
  std::vector<int> out;
  std::string_view rest = list;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    ASSIGN_OR_RETURN(int64_t n, ParseInteger(rest.substr(0, comma), min, max));
    if (n % 2 != 0) {
      return Status(ErrorCode::kInvalidArgument,
                    what + " must be even (" + std::to_string(n) + ").");
    }
    out.push_back(static_cast<int>(n));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return out;
}

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
  if (auto v = args.get("--max-fps")) {
    ASSIGN_OR_RETURN(int64_t fps, ParseInteger(*v, 1, 240));
    o.max_frame_rate = static_cast<double>(fps);
  }
  if (auto v = args.get("--threads")) {
    ASSIGN_OR_RETURN(int64_t threads, ParseInteger(*v, 1, 64));
    o.threads = static_cast<int>(threads);
  }
  o.allow_passthrough = !args.has("--force-encode");
  if (auto v = args.get("--thumbnail")) request->thumbnail = *v;
  if (auto v = args.get("--hls")) {
    if (v->empty()) return Status(ErrorCode::kInvalidArgument, "--hls needs a directory.");
    request->hls_dir = *v;
  }
  if (auto v = args.get("--renditions")) {
    if (request->hls_dir.empty()) {
      return Status(ErrorCode::kInvalidArgument, "--renditions needs --hls.");
    }
    ASSIGN_OR_RETURN(o.renditions, ParseEvenList(*v, 64, 4320, "Rendition sizes"));
  }
  if (auto v = args.get("--storyboard")) {
    if (!v->ends_with(".vtt")) {
      return Status(ErrorCode::kInvalidArgument, "--storyboard takes a .vtt path.");
    }
    request->storyboard = *v;
  }
  if (auto v = args.get("--thumbnail-widths")) {
    if (request->thumbnail.empty()) {
      return Status(ErrorCode::kInvalidArgument, "--thumbnail-widths needs --thumbnail.");
    }
    ASSIGN_OR_RETURN(o.thumbnail_widths, ParseEvenList(*v, 16, 4096, "Thumbnail widths"));
  }
  return Status::Ok();
}

void PrintError(const Status& s, bool json_only) {
  nlohmann::json j = {{"event", "error"},
                      {"error", {{"code", s.code_name()}, {"message", s.message()}}}};
  std::printf("%s\n", DumpJson(j).c_str());
  std::fflush(stdout);
  if (!json_only) std::fprintf(stderr, "vidproc transcode: %s\n", s.ToString().c_str());
}

// True if `a` and `b` name the same file: the same inode when both exist, else the same
// normalized absolute path (a file about to be created).
bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  std::error_code ec;
  auto ca = std::filesystem::weakly_canonical(a, ec);
  auto cb = std::filesystem::weakly_canonical(b, ec);
  return !ec && ca == cb;
}

// What ffmpeg refuses too: writing over the input, and (without -y) over an existing file.
Status CheckOutputs(const media::TranscodeRequest& request, bool overwrite) {
  std::vector<std::pair<std::string, std::string>> outputs = {{"OUT", request.output}};
  if (!request.thumbnail.empty()) outputs.emplace_back("the thumbnail", request.thumbnail);
  for (int w : request.options.thumbnail_widths) {
    outputs.emplace_back("a smaller thumbnail", media::ThumbnailVariantPath(request.thumbnail, w));
  }
  for (const auto& [what, path] : outputs) {
    if (SameFile(path, request.input)) {
      return Status(ErrorCode::kInvalidArgument,
                    what + " (" + path + ") is the input file itself; write the output elsewhere.");
    }
    std::error_code ec;
    if (!overwrite && std::filesystem::exists(path, ec)) {
      return Status(ErrorCode::kInvalidArgument,
                    what + " (" + path + ") exists; pass -y (--overwrite) to replace it.");
    }
  }
  if (!request.storyboard.empty()) {
    // Only the index: the sheets' names come from it and are replaced with it.
    outputs.emplace_back("the storyboard", request.storyboard);
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    for (size_t j = i + 1; j < outputs.size(); ++j) {
      if (SameFile(outputs[i].second, outputs[j].second)) {
        return Status(ErrorCode::kInvalidArgument,
                      outputs[i].first + " and " + outputs[j].first + " are the same file.");
      }
    }
  }
  if (!request.hls_dir.empty()) {
    std::error_code ec;
    const std::string master = request.hls_dir + "/" + media::kMasterPlaylistName;
    if (!overwrite && std::filesystem::exists(master, ec)) {
      return Status(ErrorCode::kInvalidArgument, "The HLS directory holds a master playlist (" +
                                                     master +
                                                     "); pass -y (--overwrite) to replace it.");
    }
    if (std::filesystem::exists(request.hls_dir, ec) &&
        !std::filesystem::is_directory(request.hls_dir, ec)) {
      return Status(ErrorCode::kInvalidArgument,
                    "--hls " + request.hls_dir + " is not a directory.");
    }
  }
  return Status::Ok();
}

std::string ShortSize(int64_t bytes) {
  char buf[32];
  if (bytes < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.0f kB", static_cast<double>(bytes) / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  }
  return buf;
}

// The one line a person at a terminal reads when the job is done.
std::string HumanSummary(const media::TranscodeResult& r, const media::TranscodeRequest& request) {
  char line[512];
  std::snprintf(line, sizeof line, "%s %s: %dx%d %s%s, %.1f s, %s (from %s, %dx%d %s) in %.1f s",
                r.passthrough ? "Remuxed (already web-ready)" : "Encoded", request.output.c_str(),
                r.output.width, r.output.height, r.output.video_codec.c_str(),
                r.output.audio_codec.empty() ? "" : ("+" + r.output.audio_codec).c_str(),
                r.output.duration_s, ShortSize(r.output.size_bytes).c_str(),
                ShortSize(r.source.size_bytes).c_str(),
                r.source.video ? r.source.video->display_width() : 0,
                r.source.video ? r.source.video->display_height() : 0,
                r.source.video ? r.source.video->codec.c_str() : "", r.elapsed_s);
  std::string out = SanitizeText(line, sizeof line);
  if (r.elapsed_s > 0 && r.source.duration_s > 0) {
    char speed[32];
    std::snprintf(speed, sizeof speed, " (%.1fx real time)", r.source.duration_s / r.elapsed_s);
    out += speed;
  }
  if (!request.thumbnail.empty()) out += "; thumbnail " + SanitizeText(request.thumbnail);
  if (r.storyboard) {
    out += "; storyboard " + SanitizeText(request.storyboard) + " (" +
           std::to_string(r.storyboard->tiles) + " pictures on " +
           std::to_string(r.storyboard->sheets) + " sheet" +
           (r.storyboard->sheets == 1 ? "" : "s") + ")";
  }
  if (!r.warnings.empty()) out += "; " + std::to_string(r.warnings.size()) + " warning(s)";
  return out + ".";
}

std::string DirectoryOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

int RunTranscode(int argc, char** argv) {
  ArgSpec spec{
      {"--thumbnail", "--thumbnail-widths", "--hls", "--renditions", "--storyboard", "--preset",
       "--bitrate", "--max-size", "--max-fps", "--threads", "--progress", "--sandbox-skip"},
      {"--force-encode", "--sandbox", "--overwrite"},
      {{"-y", "--overwrite"}}};
  auto args = Args::Parse(argc, argv, 2, spec);
  if (!args.ok()) {
    std::fprintf(stderr, "vidproc transcode: %s\n", args.status().message().c_str());
    return kExitUsage;
  }
  if (args->has("--help")) {
    std::fputs(kTranscodeHelp, stdout);
    return kExitOk;
  }
  if (args->positional().empty()) return UsageError("transcode", "missing IN and OUT");
  if (args->positional().size() == 1) return UsageError("transcode", "missing OUT");
  if (args->positional().size() > 2) {
    return UsageError("transcode", "one IN and one OUT, not " +
                                       std::to_string(args->positional().size()) + " files");
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
  if (Status s = CheckOutputs(request, args->has("--overwrite")); !s.ok()) {
    PrintError(s, mode == ProgressMode::kJson);
    return kExitUsage;
  }

  if (!request.hls_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(request.hls_dir, ec);
    if (ec) {
      PrintError(Status(ErrorCode::kOutputWriteFailed,
                        "Cannot create the HLS directory " + request.hls_dir + ": " + ec.message()),
                 mode == ProgressMode::kJson);
      return kExitFailed;
    }
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
    if (!request.hls_dir.empty()) policy.write_dirs.push_back(request.hls_dir);
    if (!request.storyboard.empty()) {
      policy.write_dirs.push_back(DirectoryOf(request.storyboard));
    }
    worker::EnterSandbox(policy);
  }
  // x264 asks for transparent huge pages for its frame buffers; partly used 2 MB pages cost
  // ~10 MB of resident memory per job for no measurable speed (docs/BENCHMARKS.md).
  prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  ProgressReporter reporter(mode);
  if (mode == ProgressMode::kJson) {
    // What a worker publishes while the job runs (a line per segment, from the muxing thread).
    request.on_hls_segment = [](int segments, double seconds) {
      nlohmann::json j = {{"event", "hls"}, {"segments", segments}, {"seconds", seconds}};
      std::printf("%s\n", DumpJson(j).c_str());
      std::fflush(stdout);
    };
  }
  auto result = media::Transcode(
      request, [&reporter](double done, double total) { reporter.Update(done, total); }, &g_cancel);
  reporter.Finish();
  if (!result.ok()) {
    PrintError(result.status(), mode == ProgressMode::kJson);
    return ExitCodeFor(result.status());
  }
  if (mode != ProgressMode::kJson && isatty(STDOUT_FILENO)) {
    std::printf("%s\n", HumanSummary(result.value(), request).c_str());
    return kExitOk;
  }
  nlohmann::json summary = media::ToJson(result.value());
  summary["event"] = "done";
  summary["output"]["path"] = request.output;
  if (!request.thumbnail.empty()) summary["thumbnail"] = request.thumbnail;
  if (!request.storyboard.empty()) summary["storyboard"] = request.storyboard;
  std::printf("%s\n", DumpJson(summary).c_str());
  return kExitOk;
}

}  // namespace vidproc::cli
