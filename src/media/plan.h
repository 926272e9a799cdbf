// The decision of what to do with a file, made from its probe before any decoding: remux it as
// it is (already web-ready) or re-encode it, and if so to which size, with which filters and how
// many threads. A pure function, so every rule here is unit-tested without media files.
#pragma once

#include <string>
#include <vector>

#include "core/units.h"
#include "media/probe.h"

namespace vidproc::media {

struct TranscodeOptions {
  Size max_size{1280, 720};           // a box for the long and the short side, either orientation
  int64_t video_bitrate = 1'500'000;  // target, bits/s
  std::string preset = "veryfast";    // libx264 preset; see docs/BENCHMARKS.md for why
  int64_t audio_bitrate = 128'000;
  int audio_sample_rate = 48'000;
  double max_frame_rate = 60.0;
  double keyframe_interval_s = 2.0;
  int threads = 0;  // the job's thread budget; 0 = all cores
  bool allow_passthrough = true;
  Size thumbnail_max_size{1280, 720};
  int thumbnail_quality = 85;         // JPEG quality, 1..100
  std::vector<int> thumbnail_widths;  // smaller copies of the thumbnail (WriteThumbnails)
  // Extra HLS rungs by their short side (360 for 640x360), each below the main one's: the same
  // decoded and filtered pictures scaled down and encoded again (only with an HLS directory).
  std::vector<int> renditions;
};

struct Plan {
  bool passthrough = false;
  std::string reason;  // why passthrough was or was not chosen, for the summary and logs

  // Re-encode only.
  int width = 0;  // output size, upright
  int height = 0;
  int rotation = 0;  // clockwise quarter turns applied by the filter graph
  bool deinterlace = false;
  bool tone_map = false;         // HDR (PQ/HLG) to SDR BT.709
  bool to_bt709 = false;         // wide-gamut SDR to BT.709
  double output_frame_rate = 0;  // nominal rate after the cap, for the GOP size and rate control
  bool cap_frame_rate = false;   // drop frames to stay at or below options.max_frame_rate
  int gop_frames = 0;

  // Threads, within the budget: decoder, filter graph and encoder, and whether reading and
  // decoding run in their own thread beside the encoder.
  bool pipelined = false;
  int decoder_threads = 1;
  int filter_threads = 1;
  int encoder_threads = 1;

  bool has_audio = false;
};

// Fits (width, height) inside the box, long side against the box's long side; never upscales;
// even dimensions, at least 2.
Size FitInside(int width, int height, Size box);

// The thread budget's split across decoder, filter and encoder. 0 means all cores.
void SplitThreads(int budget, Plan* plan);

Plan MakePlan(const MediaInfo& info, const TranscodeOptions& options);

}  // namespace vidproc::media
