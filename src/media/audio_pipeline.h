// Decode -> resample -> encode for the one audio stream kept: AAC-LC, stereo, 48 kHz.
#pragma once

#include <memory>

#include "media/av_ptr.h"
#include "media/plan.h"
#include "media/stage.h"

namespace vidproc::media {

class AudioPipeline {
 public:
  static Result<std::unique_ptr<AudioPipeline>> Create(const AVStream* input,
                                                       const TranscodeOptions& options,
                                                       int64_t start_time_us);

  const AVCodecContext* encoder() const { return encoder_.get(); }
  void set_packet_sink(PacketSink sink) { sink_ = std::move(sink); }

  // Feeds one demuxed packet of the audio stream; null drains everything.
  Status SendPacket(const AVPacket* packet);
  const StageStats& stats() const { return stats_; }

 private:
  AudioPipeline() = default;
  Status OnDecodedFrame(AVFrame* frame);
  Status ConfigureFilters(const AVFrame* frame);
  Status PullFiltered();
  Status Encode(AVFrame* frame);

  const AVStream* input_ = nullptr;
  int64_t start_pts_ = 0;  // in the input stream's time base
  CodecContextPtr decoder_;
  CodecContextPtr encoder_;
  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_filter_ = nullptr;
  bool broken_ = false;  // the graph could not be built: audio is dropped, video goes on
  FramePtr decoded_ = MakeFrame();
  FramePtr filtered_ = MakeFrame();
  PacketPtr encoded_ = MakePacket();
  PacketSink sink_;
  StageStats stats_;
};

}  // namespace vidproc::media
