#include "media/video_pipeline.h"

#include <cmath>

#include "core/log.h"
#include "media/av_error.h"
#include "media/decoder.h"
#include "media/filter_graph.h"
#include "media/tone_map_lut.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace vidproc::media {
namespace {

std::string Num(int v) { return std::to_string(v); }

}  // namespace

std::string BuildVideoFilterChain(const Plan& plan, const std::string& transfer,
                                  bool reference_tone_map) {
  std::string chain;
  auto add = [&chain](const std::string& f) {
    if (!chain.empty()) chain += ',';
    chain += f;
  };
  if (plan.deinterlace) add("yadif=mode=send_frame:parity=auto:deint=interlaced");
  // Scale before rotating: turning the smaller picture is cheaper.
  bool quarter_turn = plan.rotation == 90 || plan.rotation == 270;
  std::string w = Num(quarter_turn ? plan.height : plan.width);
  std::string h = Num(quarter_turn ? plan.width : plan.height);
  if (plan.tone_map && reference_tone_map) {
    add(ReferenceToneMapFilters(transfer, "w=" + w + ":h=" + h + ":f=bicubic:"));
  } else if (plan.tone_map) {
    // Scale in the source's own 10-bit encoding; ToneMapLut maps the small picture afterwards.
    // zscale resamples as the reference chain does (the same bicubic, the same chroma siting),
    // which keeps the result within 0.999 SSIM of it; swscale's chroma handling costs ~0.01.
    add("zscale=w=" + w + ":h=" + h + ":f=bicubic:r=tv");
  } else if (plan.to_bt709) {
    add("zscale=w=" + w + ":h=" + h +
        ":f=bicubic:pin=bt2020:min=bt2020nc:tin=bt2020-10:p=bt709:m=bt709:t=bt709:r=tv");
  } else {
    add("scale=w=" + w + ":h=" + h + ":flags=bicubic:out_range=tv");
  }
  if (plan.rotation == 90) add("transpose=clock");
  if (plan.rotation == 270) add("transpose=cclock");
  if (plan.rotation == 180) add("hflip,vflip");
  add("setsar=1");
  add(plan.tone_map && !reference_tone_map ? "format=yuv444p10le" : "format=yuv420p");
  return chain;
}

Result<std::unique_ptr<VideoPipeline>> VideoPipeline::Create(const AVStream* input,
                                                             const Plan& plan,
                                                             const TranscodeOptions& options,
                                                             const InputLimits& limits,
                                                             int64_t start_time_us) {
  std::unique_ptr<VideoPipeline> p(new VideoPipeline());
  p->input_ = input;
  p->plan_ = plan;
  p->options_ = options;
  p->start_pts_ = start_time_us == AV_NOPTS_VALUE
                      ? 0
                      : av_rescale_q(start_time_us, AV_TIME_BASE_Q, input->time_base);

  ASSIGN_OR_RETURN(p->decoder_, OpenDecoder(input, {.threads = plan.decoder_threads,
                                                    .max_pixels = limits.max_pixels,
                                                    .output_corrupt = true}));

  return p;
}

Status VideoPipeline::SendPacket(const AVPacket* packet) {
  if (!decoder_) return Status(ErrorCode::kInternal, "The video was sent after its end.");
  if (packet) stats_.packets++;
  RETURN_IF_ERROR(Decode(decoder_.get(), packet, decoded_.get(), &stats_.decode_errors,
                         [this](AVFrame* f) { return OnDecodedFrame(f); }));
  if (packet) return Status::Ok();
  // Drain: the filter graph, then the encoder.
  if (graph_) {
    int err = av_buffersrc_add_frame_flags(source_, nullptr, 0);
    if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot flush the video filters");
    RETURN_IF_ERROR(PullFiltered());
  }
  // Drained: the decoder's pictures (a 4K stream holds six or seven of 25 MB) and the filters go
  // now, not after the encoder's flush and the thumbnails, where they would add to the job's peak.
  graph_.reset();
  source_ = nullptr;
  sink_filter_ = nullptr;
  decoder_.reset();
  return sink_ ? sink_(nullptr) : Status::Ok();
}

bool VideoPipeline::OverRateCap(double seconds) {
  // The slots start at the first frame, wherever the stream starts (after an audio pre-roll, a
  // B-frame delay): a first frame in the middle of a slot would make the second gap short.
  if (!rate_origin_s_) rate_origin_s_ = seconds;
  seconds -= *rate_origin_s_;
  // A timestamp may sit up to a tick of its time base before the true instant (Matroska and
  // WebM count milliseconds: 1/30 s is written 0.033): one tick of slack keeps such a frame in
  // the slot it belongs to, so 60 fps capped at 30 keeps every other frame, evenly.
  const double slack =
      std::max(av_q2d(input_->time_base) * options_.max_frame_rate, kMinRateSlotSlack);
  const auto slot = static_cast<int64_t>(std::floor(seconds * options_.max_frame_rate + slack));
  if (slot <= last_rate_slot_) return true;
  last_rate_slot_ = slot;
  return false;
}

Status VideoPipeline::OnDecodedFrame(AVFrame* frame) {
  stats_.frames_decoded++;
  int64_t pts = frame->best_effort_timestamp;
  if (pts == AV_NOPTS_VALUE) pts = frame->pts;
  if (pts == AV_NOPTS_VALUE) return Status::Ok();  // cannot be placed in time
  frame->pts = pts - start_pts_;
  double end = (frame->pts + std::max<int64_t>(frame->pkt_duration, 0)) * av_q2d(input_->time_base);
  stats_.end_s = std::max(stats_.end_s, end);
  // Over the frame-rate cap: dropped before the filters, so that a 60 fps source capped at 30
  // costs the scaler half as much; after them when deinterlacing (the deinterlacer needs every
  // field's neighbours).
  if (plan_.cap_frame_rate && !plan_.deinterlace &&
      OverRateCap(frame->pts * av_q2d(input_->time_base))) {
    stats_.frames_dropped++;
    return Status::Ok();
  }

  if (!graph_ || frame->width != graph_width_ || frame->height != graph_height_ ||
      frame->format != graph_format_) {
    if (graph_) {
      // The picture changed size or format mid-stream: flush what the old graph holds.
      int err = av_buffersrc_add_frame_flags(source_, nullptr, 0);
      if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot flush the video filters");
      RETURN_IF_ERROR(PullFiltered());
    }
    RETURN_IF_ERROR(ConfigureFilters(frame));
  }
  int err = av_buffersrc_add_frame_flags(source_, frame, AV_BUFFERSRC_FLAG_KEEP_REF);
  if (err < 0)
    return FromAvError(err, ErrorCode::kCorruptInput, "A video frame cannot be filtered");
  return PullFiltered();
}

Status VideoPipeline::ConfigureFilters(const AVFrame* frame) {
  graph_.reset(avfilter_graph_alloc());
  if (!graph_) return Status(ErrorCode::kInternal, "Out of memory.");
  graph_->nb_threads = plan_.filter_threads;
  AVRational sar =
      frame->sample_aspect_ratio.num > 0 ? frame->sample_aspect_ratio : AVRational{1, 1};
  // The plan's output size already includes the SAR correction: tell the scaler the source's SAR
  // only through the plan, and let setsar=1 mark the result square.
  char args[256];
  snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
           frame->width, frame->height, frame->format, input_->time_base.num, input_->time_base.den,
           sar.num, sar.den);
  int err = avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in", args,
                                         nullptr, graph_.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the video source");
  err = avfilter_graph_create_filter(&sink_filter_, avfilter_get_by_name("buffersink"), "out",
                                     nullptr, nullptr, graph_.get());
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the video sink");
  const enum AVPixelFormat formats[] = {
      plan_.tone_map ? AV_PIX_FMT_YUV444P10LE : AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE};
  av_opt_set_int_list(sink_filter_, "pix_fmts", formats, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);

  std::string transfer =
      av_color_transfer_name(frame->color_trc) ? av_color_transfer_name(frame->color_trc) : "";
  if (transfer.empty() || transfer == "unknown") {
    const char* declared = av_color_transfer_name(input_->codecpar->color_trc);
    transfer = declared ? declared : "";
  }
  if (plan_.tone_map) {
    ASSIGN_OR_RETURN(tone_map_, ToneMapLut::For(transfer, frame));
  }
  std::string chain = BuildVideoFilterChain(plan_, transfer);
  RETURN_IF_ERROR(
      LinkFilterChain(graph_.get(), source_, sink_filter_, chain, ErrorCode::kUnsupportedCodec));
  graph_width_ = frame->width;
  graph_height_ = frame->height;
  graph_format_ = frame->format;
  LogDebug("video filters", {{"chain", chain}});
  return Status::Ok();
}

Status VideoPipeline::PullFiltered() {
  AVRational sink_tb = av_buffersink_get_time_base(sink_filter_);
  for (;;) {
    int err = av_buffersink_get_frame(sink_filter_, filtered_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
    if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Video filtering failed");
    AVFrame* f = filtered_.get();
    f->pts = RescaleTimestamp(f->pts, sink_tb, input_->time_base);
    double seconds = f->pts * av_q2d(input_->time_base);
    // The encoder needs strictly increasing timestamps; broken files repeat them.
    bool keep = f->pts != AV_NOPTS_VALUE && (last_pts_ == AV_NOPTS_VALUE || f->pts > last_pts_);
    if (keep && plan_.cap_frame_rate && plan_.deinterlace) keep = !OverRateCap(seconds);
    if (keep && tone_map_) {
      Status mapped = tone_map_->Apply(f, tone_mapped_.get());
      av_frame_unref(f);
      if (!mapped.ok()) return mapped;
      f = tone_mapped_.get();
    }
    if (keep) {
      last_pts_ = f->pts;
      if (tap_) tap_(f, seconds);
      f->pict_type = AV_PICTURE_TYPE_NONE;  // the encoder decides frame types
      Status s = sink_ ? sink_(f) : Status::Ok();
      av_frame_unref(f);
      if (!s.ok()) return s;
    } else {
      stats_.frames_dropped++;
      av_frame_unref(f);
    }
  }
}

Result<std::unique_ptr<VideoEncoder>> VideoEncoder::Create(const AVStream* input, const Plan& plan,
                                                           const TranscodeOptions& options) {
  std::unique_ptr<VideoEncoder> e(new VideoEncoder());
  const AVCodec* x264 = avcodec_find_encoder_by_name("libx264");
  if (!x264) return Status(ErrorCode::kInternal, "libx264 is not available in this libavcodec.");
  e->encoder_.reset(avcodec_alloc_context3(x264));
  AVCodecContext* enc = e->encoder_.get();
  enc->width = plan.width;
  enc->height = plan.height;
  enc->pix_fmt = AV_PIX_FMT_YUV420P;
  enc->sample_aspect_ratio = {1, 1};
  enc->time_base = input->time_base;
  enc->framerate = av_d2q(plan.output_frame_rate, 1001000);
  enc->bit_rate = options.video_bitrate;
  enc->rc_max_rate = options.video_bitrate * 3 / 2;
  enc->rc_buffer_size = static_cast<int>(options.video_bitrate * 2);
  enc->gop_size = plan.gop_frames;
  enc->thread_count = plan.encoder_threads;
  enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;  // MP4 keeps SPS/PPS in the avcC box
  enc->color_range = AVCOL_RANGE_MPEG;
  const AVCodecParameters* par = input->codecpar;
  if (plan.tone_map || plan.to_bt709) {
    enc->color_primaries = AVCOL_PRI_BT709;
    enc->color_trc = AVCOL_TRC_BT709;
    enc->colorspace = AVCOL_SPC_BT709;
  } else {
    enc->color_primaries = par->color_primaries;
    enc->color_trc = par->color_trc;
    enc->colorspace = par->color_space;
  }
  av_opt_set(enc->priv_data, "preset", options.preset.c_str(), 0);
  av_opt_set(enc->priv_data, "profile", "high", 0);
  // A picture marked I (HLS segment boundaries, transcoder.cc) becomes an IDR: a segment that a
  // player can start with.
  av_opt_set(enc->priv_data, "forced-idr", "1", 0);
  int err = avcodec_open2(enc, x264, nullptr);
  if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "Cannot open the H.264 encoder");
  return e;
}

Status VideoEncoder::Encode(AVFrame* frame) {
  int err = avcodec_send_frame(encoder_.get(), frame);
  if (err < 0 && err != AVERROR_EOF) {
    return FromAvError(err, ErrorCode::kEncodeFailed, "The H.264 encoder refused a frame");
  }
  if (frame) frames_encoded_++;
  for (;;) {
    err = avcodec_receive_packet(encoder_.get(), encoded_.get());
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
    if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "H.264 encoding failed");
    if (encoded_->duration <= 0) {
      // x264 leaves durations unset; the muxer needs one for the last picture (or a one-picture
      // video would last zero seconds).
      encoded_->duration = av_rescale_q(1, av_inv_q(encoder_->framerate), encoder_->time_base);
    }
    Status s = sink_ ? sink_(encoded_.get()) : Status::Ok();
    av_packet_unref(encoded_.get());
    if (!s.ok()) return s;
  }
}

}  // namespace vidproc::media
