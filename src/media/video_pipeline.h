// Decode -> filter for the video stream: pictures come out upright, scaled, yuv420p, at most at
// the capped rate, timed in the input stream's time base from the start of the file. The filter
// graph is built from the first decoded frame (the only reliable source of its size and pixel
// format) and rebuilt if a later frame changes them.
#pragma once

#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "media/av_ptr.h"
#include "media/limits.h"
#include "media/plan.h"
#include "media/stage.h"
#include "media/tone_map_lut.h"

namespace vidproc::media {

class VideoPipeline {
 public:
  // `start_time_us` is the file's start time; output timestamps start at zero from it.
  static Result<std::unique_ptr<VideoPipeline>> Create(const AVStream* input, const Plan& plan,
                                                       const TranscodeOptions& options,
                                                       const InputLimits& limits,
                                                       int64_t start_time_us);

  void set_frame_sink(FrameSink sink) { sink_ = std::move(sink); }
  void set_frame_tap(FrameTap tap) { tap_ = std::move(tap); }

  // Feeds one demuxed packet of the video stream; null drains decoder and filters, releases them,
  // then passes null to the frame sink (nothing may be sent after it).
  Status SendPacket(const AVPacket* packet);
  const StageStats& stats() const { return stats_; }

 private:
  VideoPipeline() = default;
  Status OnDecodedFrame(AVFrame* frame);
  Status ConfigureFilters(const AVFrame* frame);
  Status PullFiltered();
  // At most one frame per 1/max_frame_rate s slot, which caps the rate and keeps variable timing:
  // true when the slot of a frame at `seconds` is taken already, else takes it. Slots are
  // counted from the first frame's time.
  bool OverRateCap(double seconds);
  static constexpr double kMinRateSlotSlack = 1e-3;

  const AVStream* input_ = nullptr;
  Plan plan_;
  TranscodeOptions options_;
  int64_t start_pts_ = 0;  // in the input stream's time base
  CodecContextPtr decoder_;
  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_filter_ = nullptr;
  int graph_width_ = 0, graph_height_ = 0, graph_format_ = -1;
  FramePtr decoded_ = MakeFrame();
  FramePtr filtered_ = MakeFrame();
  std::shared_ptr<const ToneMapLut> tone_map_;  // set for HDR sources
  FramePtr tone_mapped_ = MakeFrame();
  FrameSink sink_;
  FrameTap tap_;
  StageStats stats_;
  int64_t last_pts_ = AV_NOPTS_VALUE;
  int64_t last_rate_slot_ = std::numeric_limits<int64_t>::min();
  std::optional<double> rate_origin_s_;
};

// The filter chain from a decoded picture to the plan's upright yuv420p output; `transfer` is the
// source's color transfer name. For a plan that tone-maps, the chain ends in yuv420p10le and
// ToneMapLut does the mapping, unless `reference_tone_map` asks for the float zscale + hable
// chain whose look the table reproduces (kept for tests and benchmarks).
std::string BuildVideoFilterChain(const Plan& plan, const std::string& transfer,
                                  bool reference_tone_map = false);

// libx264 (H.264 High) set up from the plan, before the first picture, so the output header can
// be written at once. Its time base is the input video stream's.
class VideoEncoder {
 public:
  static Result<std::unique_ptr<VideoEncoder>> Create(const AVStream* input, const Plan& plan,
                                                      const TranscodeOptions& options);
  const AVCodecContext* context() const { return encoder_.get(); }
  void set_packet_sink(PacketSink sink) { sink_ = std::move(sink); }
  // Encodes one picture; null flushes the encoder.
  Status Encode(AVFrame* frame);
  int64_t frames_encoded() const { return frames_encoded_; }

 private:
  VideoEncoder() = default;
  CodecContextPtr encoder_;
  PacketPtr encoded_ = MakePacket();
  PacketSink sink_;
  int64_t frames_encoded_ = 0;
};

}  // namespace vidproc::media
