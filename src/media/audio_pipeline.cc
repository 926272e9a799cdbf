#include "media/audio_pipeline.h"

#include <algorithm>

#include "core/log.h"
#include "media/av_error.h"
#include "media/decoder.h"
#include "media/filter_graph.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
}

namespace vidproc::media {

Result<std::unique_ptr<AudioPipeline>> AudioPipeline::Create(const AVStream* input,
                                                             const TranscodeOptions& options,
                                                             int64_t start_time_us) {
  std::unique_ptr<AudioPipeline> p(new AudioPipeline());
  p->input_ = input;
  p->start_pts_ = start_time_us == AV_NOPTS_VALUE
                      ? 0
                      : av_rescale_q(start_time_us, AV_TIME_BASE_Q, input->time_base);
  ASSIGN_OR_RETURN(p->decoder_, OpenDecoder(input, {.threads = 1}));

  const AVCodec* aac = avcodec_find_encoder(AV_CODEC_ID_AAC);
  if (!aac) return Status(ErrorCode::kInternal, "No AAC encoder in this libavcodec.");
  p->encoder_.reset(avcodec_alloc_context3(aac));
  AVCodecContext* enc = p->encoder_.get();
  enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
  enc->sample_rate = options.audio_sample_rate;
  av_channel_layout_default(&enc->ch_layout, 2);
  enc->bit_rate = options.audio_bitrate;
  enc->profile = FF_PROFILE_AAC_LOW;
  enc->time_base = {1, options.audio_sample_rate};
  enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  int err = avcodec_open2(enc, aac, nullptr);
  if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "Cannot open the AAC encoder");
  return p;
}

Status AudioPipeline::SendPacket(const AVPacket* packet) {
  if (packet) stats_.packets++;
  RETURN_IF_ERROR(Decode(decoder_.get(), packet, decoded_.get(), &stats_.decode_errors,
                         [this](AVFrame* f) { return OnDecodedFrame(f); }));
  if (packet) return Status::Ok();
  if (graph_ && !broken_) {
    int err = av_buffersrc_add_frame_flags(source_, nullptr, 0);
    if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot flush the audio filters");
    RETURN_IF_ERROR(PullFiltered());
  }
  return Encode(nullptr);
}

Status AudioPipeline::OnDecodedFrame(AVFrame* frame) {
  stats_.frames_decoded++;
  if (broken_) return Status::Ok();
  int64_t pts = frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = frame->pts;
  if (pts == AV_NOPTS_VALUE) return Status::Ok();
  // Into 1/sample_rate, the filter graph's time base, measured from the start of the file.
  frame->pts = av_rescale_q(pts - start_pts_, input_->time_base, {1, frame->sample_rate});
  double end = (frame->pts + frame->nb_samples) / static_cast<double>(frame->sample_rate);
  stats_.end_s = std::max(stats_.end_s, end);
  if (!graph_) {
    Status s = ConfigureFilters(frame);
    if (!s.ok()) {
      // Video without sound is better than no video: keep going, say so.
      LogWarning("audio dropped: its format cannot be converted", {{"reason", s.message()}});
      broken_ = true;
      return Status::Ok();
    }
  }
  int err = av_buffersrc_add_frame_flags(source_, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  if (err < 0) {
    // A frame whose format changed mid-stream is rejected by the source; skip it.
    stats_.decode_errors++;
    return Status::Ok();
  }
  return PullFiltered();
}

Status AudioPipeline::ConfigureFilters(const AVFrame* frame) {
  graph_.reset(avfilter_graph_alloc());
  if (!graph_) return Status(ErrorCode::kInternal, "Out of memory.");
  graph_->nb_threads = 1;
  AVChannelLayout layout{};
  if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0) {
    av_channel_layout_default(&layout, std::max(1, frame->ch_layout.nb_channels));
  } else {
    av_channel_layout_copy(&layout, &frame->ch_layout);
  }
  char layout_name[128] = {};
  av_channel_layout_describe(&layout, layout_name, sizeof layout_name);
  av_channel_layout_uninit(&layout);
  const char* fmt_name = av_get_sample_fmt_name(static_cast<AVSampleFormat>(frame->format));
  if (!fmt_name) return Status(ErrorCode::kCorruptInput, "Unknown audio sample format.");
  char args[512];
  snprintf(args, sizeof args, "time_base=1/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
           frame->sample_rate, frame->sample_rate, fmt_name, layout_name);
  int err = avfilter_graph_create_filter(&source_, avfilter_get_by_name("abuffer"), "in", args,
                                         nullptr, graph_.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the audio source");
  err = avfilter_graph_create_filter(&sink_filter_, avfilter_get_by_name("abuffersink"), "out",
                                     nullptr, nullptr, graph_.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the audio sink");

  const AVCodecContext* enc = encoder_.get();
  // async=1 fills gaps with silence and trims overlaps, so audio stays on its timestamps (in sync
  // with the video) even when the source has holes.
  std::string chain =
      "aresample=" + std::to_string(enc->sample_rate) +
      ":async=1,aformat=sample_fmts=fltp:sample_rates=" + std::to_string(enc->sample_rate) +
      ":channel_layouts=stereo";
  RETURN_IF_ERROR(
      LinkFilterChain(graph_.get(), source_, sink_filter_, chain, ErrorCode::kInternal));
  av_buffersink_set_frame_size(sink_filter_, enc->frame_size);
  return Status::Ok();
}

Status AudioPipeline::PullFiltered() {
  AVRational sink_tb = av_buffersink_get_time_base(sink_filter_);
  for (;;) {
    int err = av_buffersink_get_frame(sink_filter_, filtered_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
    if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Audio filtering failed");
    filtered_->pts = RescaleTimestamp(filtered_->pts, sink_tb, encoder_->time_base);
    Status s = Encode(filtered_.get());
    av_frame_unref(filtered_.get());
    if (!s.ok()) return s;
  }
}

Status AudioPipeline::Encode(AVFrame* frame) {
  int err = avcodec_send_frame(encoder_.get(), frame);
  if (err < 0 && err != AVERROR_EOF) {
    return FromAvError(err, ErrorCode::kEncodeFailed, "The AAC encoder refused a frame");
  }
  if (frame) stats_.frames_encoded++;
  for (;;) {
    err = avcodec_receive_packet(encoder_.get(), encoded_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
    if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "AAC encoding failed");
    Status s = sink_ ? sink_(encoded_.get()) : Status::Ok();
    av_packet_unref(encoded_.get());
    if (!s.ok()) return s;
  }
}

}  // namespace vidproc::media
