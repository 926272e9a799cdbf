// Decode -> filter -> encode for the video stream. The encoder is set up from the plan at once,
// so the output header can be written before the first packet; the filter graph is built from
// the first decoded frame (the only reliable source of its size and pixel format) and rebuilt if
// a later frame changes them.
#pragma once

#include <memory>
#include <string>

#include "media/av_ptr.h"
#include "media/limits.h"
#include "media/plan.h"
#include "media/stage.h"

namespace vidproc::media {

class VideoPipeline {
 public:
  // `start_time_us` is the file's start time; output timestamps start at zero from it.
  static Result<std::unique_ptr<VideoPipeline>> Create(const AVStream* input, const Plan& plan,
                                                       const TranscodeOptions& options,
                                                       const InputLimits& limits,
                                                       int64_t start_time_us);

  const AVCodecContext* encoder() const { return encoder_.get(); }
  void set_packet_sink(PacketSink sink) { sink_ = std::move(sink); }
  void set_frame_tap(FrameTap tap) { tap_ = std::move(tap); }

  // Feeds one demuxed packet of the video stream; null drains decoder, filters and encoder.
  Status SendPacket(const AVPacket* packet);
  const StageStats& stats() const { return stats_; }

 private:
  VideoPipeline() = default;
  Status OnDecodedFrame(AVFrame* frame);
  Status ConfigureFilters(const AVFrame* frame);
  Status PullFiltered();
  Status Encode(AVFrame* frame);

  const AVStream* input_ = nullptr;
  Plan plan_;
  TranscodeOptions options_;
  int64_t start_pts_ = 0;  // in the input stream's time base
  CodecContextPtr decoder_;
  CodecContextPtr encoder_;
  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_filter_ = nullptr;
  int graph_width_ = 0, graph_height_ = 0, graph_format_ = -1;
  FramePtr decoded_ = MakeFrame();
  FramePtr filtered_ = MakeFrame();
  PacketPtr encoded_ = MakePacket();
  PacketSink sink_;
  FrameTap tap_;
  StageStats stats_;
  int64_t last_encoded_pts_ = AV_NOPTS_VALUE;
  int64_t last_rate_slot_ = -1;
};

// The filter chain from a decoded picture to the plan's upright
// yuv420p output. `transfer` is the source's color transfer name (for tone mapping).
std::string BuildVideoFilterChain(const Plan& plan, const std::string& transfer);

}  // namespace vidproc::media
