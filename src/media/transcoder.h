// The engine's one entry point: an input file in, a web-ready MP4 and a JPEG thumbnail out.
//
//   open (allowlisted, local only) -> probe -> limits -> plan
//     passthrough: remux with faststart          -> thumbnail by seeking
//     re-encode:   demux -> decode -> filter -> encode -> mux (faststart), thumbnail picked on the
//     way
//   -> checks (truncated? damaged?) -> output renamed into place -> output probed for the summary
// With an HLS directory, the packets that go into the MP4 also go into CMAF segments as they are
// made (hls_output.h): the same encode, segments published while the rest is encoded.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cancel.h"
#include "core/status.h"
#include "media/hls_output.h"
#include "media/limits.h"
#include "media/plan.h"
#include "media/probe.h"
#include "media/stage.h"
#include "media/storyboard.h"

namespace vidproc::media {

struct TranscodeRequest {
  std::string input;
  std::string output;     // an .mp4 path; written as output + ".partial", then renamed
  std::string thumbnail;  // a .jpg path, or empty for none
  // A directory for HLS made from the same packets as the MP4 (hls_output.h), or empty for none.
  std::string hls_dir;
  // Told of each HLS segment once it and the playlist naming it are in place.
  std::function<void(int segments, double seconds)> on_hls_segment;
  // A .vtt path, or empty for none: the storyboard's index, its sheets beside it
  // (StoryboardSheetPath).
  std::string storyboard;
  TranscodeOptions options;
  InputLimits limits;
};

struct OutputInfo {
  int width = 0;
  int height = 0;
  double duration_s = 0;
  int64_t size_bytes = 0;
  std::string video_codec;
  std::string audio_codec;  // empty when there is no audio track
  int64_t video_bitrate = 0;
  int64_t audio_bitrate = 0;
};

struct TranscodeResult {
  bool passthrough = false;
  std::string reason;
  MediaInfo source;
  OutputInfo output;
  StageStats video;
  StageStats audio;
  double elapsed_s = 0;
  double thumbnail_at_s = -1;          // position of the thumbnail picture, -1 when none was made
  std::vector<int> thumbnail_widths;   // the thumbnail's smaller copies written beside it
  std::vector<std::string> warnings;   // "audio_damaged: ..." and the like: kept, but flawed
  std::vector<HlsRungInfo> hls_rungs;  // empty without HLS
  int hls_segments = 0;
  std::optional<StoryboardInfo> storyboard;  // when one was asked for
};

// Called often (every video packet) from the transcoding thread: throttle in the callee.
using ProgressCallback = std::function<void(double processed_s, double total_s)>;

// `cancel` may be null. On failure nothing is left at request.output, request.thumbnail or
// request.storyboard.
Result<TranscodeResult> Transcode(const TranscodeRequest& request, const ProgressCallback& progress,
                                  const CancelToken* cancel);

nlohmann::json ToJson(const TranscodeResult& result);

}  // namespace vidproc::media
