#include "media/plan.h"

#include <algorithm>
#include <cmath>
#include <thread>

namespace vidproc::media {
namespace {

constexpr double kFrameRateTolerance = 0.5;
constexpr double kPassthroughBitrateSlack = 1.1;
constexpr int64_t kDecodeBoundPixelRatio = 8;

int EvenAtLeastTwo(double v) { return std::max(2, static_cast<int>(std::floor(v)) & ~1); }

// The video stream's bitrate, estimated from the file when the container does not declare it.
int64_t VideoBitrate(const MediaInfo& info) {
  if (info.video->bit_rate > 0) return info.video->bit_rate;
  if (info.duration_s <= 0) return 0;
  double total = info.size_bytes * 8.0 / info.duration_s;
  for (const auto& a : info.audio) total -= a.bit_rate;
  return static_cast<int64_t>(std::max(0.0, total));
}

// Empty when the file can be remuxed as it is; otherwise the first reason it cannot.
std::string WhyNotPassthrough(const MediaInfo& info, const TranscodeOptions& options) {
  const VideoStreamInfo& v = *info.video;
  if (!options.allow_passthrough) return "re-encode forced";
  if (info.container != "mov")
    return "container " + info.container + " is remuxed only from MP4/MOV";
  if (v.codec != "h264") return "video codec " + v.codec + " is not H.264";
  if (v.profile != "High" && v.profile != "Main" && v.profile != "Constrained Baseline" &&
      v.profile != "Baseline") {
    return "H.264 profile " + v.profile + " is not Baseline, Main or High";
  }
  if (v.pixel_format != "yuv420p") return "pixel format " + v.pixel_format + " is not yuv420p";
  if (v.hdr) return "HDR transfer " + v.color_transfer;
  if (v.interlaced) return "interlaced";
  if (v.rotation != 0) return "rotated " + std::to_string(v.rotation) + " degrees";
  if (v.sample_aspect.num != v.sample_aspect.den) return "non-square pixels";
  Size fitted = FitInside(v.width, v.height, options.max_size);
  if (fitted.width != v.width || fitted.height != v.height) {
    return std::to_string(v.width) + "x" + std::to_string(v.height) + " does not fit " +
           std::to_string(options.max_size.width) + "x" + std::to_string(options.max_size.height);
  }
  if (v.frame_rate > options.max_frame_rate + kFrameRateTolerance)
    return "frame rate above the cap";
  int64_t bitrate = VideoBitrate(info);
  if (bitrate <= 0) return "video bitrate unknown";
  if (bitrate > options.video_bitrate * kPassthroughBitrateSlack) {
    return "video bitrate " + std::to_string(bitrate / 1000) + "k is above the target";
  }
  if (const AudioStreamInfo* a = info.audio_stream()) {
    if (a->codec != "aac" || a->profile != "LC") return "audio is not AAC-LC";
    if (a->channels > 2) return "audio has more than 2 channels";
  }
  return "";
}

}  // namespace

Size FitInside(int width, int height, Size box) {
  int long_side = std::max(box.width, box.height);
  int short_side = std::min(box.width, box.height);
  int limit_w = width >= height ? long_side : short_side;
  int limit_h = width >= height ? short_side : long_side;
  double scale =
      std::min({1.0, static_cast<double>(limit_w) / width, static_cast<double>(limit_h) / height});
  // A tiny epsilon keeps exact fits (1920x1080 -> 1280x720) from flooring one pixel short.
  return {EvenAtLeastTwo(width * scale + 1e-6), EvenAtLeastTwo(height * scale + 1e-6)};
}

void SplitThreads(int budget, Plan* plan) {
  if (budget <= 0) budget = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // One core: everything in one thread, synchronously (no thread waits on another). More: a
  // reader thread demuxes, decodes and scales beside x264, and both the decoder and x264 get the
  // budget as frame threads. Measured on 2 cores (docs/BENCHMARKS.md): 2+2 threads beat 1+2 by
  // 5% in wall time for 10 MB more memory, and 2+3 (x264's own default of 1.5 x cores) adds
  // another 10 MB for no gain. The filter graph stays on one thread: scaling is ~6% of the work.
  plan->pipelined = budget > 1;
  plan->decoder_threads = budget;
  plan->filter_threads = 1;
  plan->encoder_threads = budget;
}

Plan MakePlan(const MediaInfo& info, const TranscodeOptions& options) {
  Plan plan;
  const VideoStreamInfo& v = *info.video;
  plan.has_audio = info.audio_stream() != nullptr;
  SplitThreads(options.threads, &plan);

  plan.reason = WhyNotPassthrough(info, options);
  if (plan.reason.empty()) {
    plan.passthrough = true;
    plan.reason = "already web-ready: H.264, yuv420p, fits the size, bitrate within the target";
    plan.width = v.width;
    plan.height = v.height;
    return plan;
  }

  Size fitted = FitInside(v.display_width(), v.display_height(), options.max_size);
  plan.width = fitted.width;
  plan.height = fitted.height;
  // Decoding and scaling a source of kDecodeBoundPixelRatio times the output's pixels or more
  // (4K for 720p) outweigh encoding it: the reader thread sets the pace and one x264 thread keeps
  // up (the same wall and CPU time), while a second one holds ~18 MB more pictures
  // (docs/BENCHMARKS.md, "Memory"). A 1080p source for 720p keeps both.
  if (plan.pipelined && static_cast<int64_t>(v.width) * v.height >=
                            kDecodeBoundPixelRatio * plan.width * plan.height) {
    plan.encoder_threads = 1;
  }
  plan.rotation = v.rotation;
  plan.deinterlace = v.interlaced;
  plan.tone_map = v.hdr;
  plan.to_bt709 = !v.hdr && v.color_primaries == "bt2020";
  double rate = v.frame_rate > 0 ? v.frame_rate : 30.0;
  plan.cap_frame_rate = rate > options.max_frame_rate + kFrameRateTolerance;
  plan.output_frame_rate = plan.cap_frame_rate ? options.max_frame_rate : rate;
  plan.gop_frames = std::max(
      1, static_cast<int>(std::lround(options.keyframe_interval_s * plan.output_frame_rate)));
  return plan;
}

}  // namespace vidproc::media
