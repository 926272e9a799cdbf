#include "media/transcoder.h"

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "core/log.h"
#include "media/audio_pipeline.h"
#include "media/av_error.h"
#include "media/frame_queue.h"
#include "media/input_file.h"
#include "media/output_file.h"
#include "media/remuxer.h"
#include "media/thumbnail.h"
#include "media/video_pipeline.h"

namespace vidproc::media {
namespace {

// A file whose pictures end this much earlier than it declares was cut short.
constexpr double kTruncationRatio = 0.9;
constexpr double kTruncationSlackS = 0.5;
// More damaged packets than this share of all video packets (and at least kMinDecodeErrors)
// make the file corrupt rather than merely imperfect.
constexpr double kCorruptErrorRatio = 0.05;
constexpr int64_t kMinDecodeErrors = 5;
// 4K and up; glibc's initial M_MMAP_THRESHOLD and M_TRIM_THRESHOLD.
constexpr int64_t kLargePicturePixels = 3840 * 2160;
constexpr int kMallocDefaultThreshold = 128 * 1024;

Status CheckDecodedWhole(const MediaInfo& info, const StageStats& video) {
  if (video.frames_decoded == 0 && video.packets > 0) {
    return Status(ErrorCode::kCorruptInput,
                  "No picture of the video could be decoded: the file is damaged.");
  }
  if (video.packets == 0) {
    return Status(ErrorCode::kTruncatedInput, "The file contains no video data: it was cut short.");
  }
  if (video.decode_errors > kMinDecodeErrors &&
      video.decode_errors > video.packets * kCorruptErrorRatio) {
    return Status(ErrorCode::kCorruptInput,
                  std::to_string(video.decode_errors) + " of " + std::to_string(video.packets) +
                      " video packets are damaged. Upload an undamaged copy of the video.");
  }
  double declared = info.video->duration_s > 0 ? info.video->duration_s : info.duration_s;
  if (!info.duration_estimated && declared > 1.0 &&
      video.end_s < declared * kTruncationRatio - kTruncationSlackS) {
    char msg[256];
    std::snprintf(msg, sizeof msg,
                  "The video ends after %.1f s but declares %.1f s: the file was cut short. "
                  "Upload the complete file.",
                  video.end_s, declared);
    return Status(ErrorCode::kTruncatedInput, msg);
  }
  return Status::Ok();
}

// Removes the HLS files of a failed transcode, playlists first (a reader of the directory never
// sees a playlist naming a missing segment).
void RemoveHls(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::vector<std::filesystem::path> rest;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".m3u8")) {
      std::filesystem::remove(entry.path(), ec);
    } else if (name.ends_with(".m4s") || name.ends_with("-init.mp4")) {
      rest.push_back(entry.path());
    }
  }
  for (const auto& path : rest) std::filesystem::remove(path, ec);
}

// Removes every output a request made so far: a failure after them must leave nothing.
void RemoveOutputs(const TranscodeRequest& request, const TranscodeResult& result) {
  std::remove(request.output.c_str());
  if (!request.thumbnail.empty()) {
    std::remove(request.thumbnail.c_str());
    for (int w : result.thumbnail_widths) {
      std::remove(ThumbnailVariantPath(request.thumbnail, w).c_str());
    }
  }
  if (result.storyboard) RemoveStoryboard(request.storyboard, result.storyboard->sheets);
  RemoveHls(request.hls_dir);
}

// The video stream's own duration when the container gives one, else the file's.
double VideoDuration(const MediaInfo& info) {
  return info.video && info.video->duration_s > 0 ? info.video->duration_s
                                                  : std::max(0.0, info.duration_s);
}

Result<OutputInfo> DescribeOutput(const std::string& path, const InputLimits& limits) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> out, InputFile::Open(path, limits, nullptr));
  MediaInfo info = Describe(*out);
  OutputInfo o;
  o.size_bytes = info.size_bytes;
  o.duration_s = info.duration_s;
  if (info.video) {
    o.width = info.video->width;
    o.height = info.video->height;
    o.video_codec = info.video->codec;
    o.video_bitrate = info.video->bit_rate;
  }
  if (const AudioStreamInfo* a = info.audio_stream()) {
    o.audio_codec = a->codec;
    o.audio_bitrate = a->bit_rate;
  }
  return o;
}

// HLS segments last this long, the first one shorter so that a video being encoded plays
// sooner; each starts at a keyframe (Reencoder::EncodeVideo forces one there).
constexpr double kHlsSegmentS = 4.0;
constexpr double kHlsFirstSegmentS = 2.0;

// Makes `output` write HLS too when the request asks for it. The rung is named for its short
// side, as people name sizes ("720p", also for a portrait 720x1280).
Status AttachHls(const TranscodeRequest& request, int width, int height, OutputFile& output) {
  if (request.hls_dir.empty()) return Status::Ok();
  HlsOutput::Options options;
  options.segment_s = kHlsSegmentS;
  options.first_segment_s = kHlsFirstSegmentS;
  options.rung = std::to_string(std::min(width, height)) + "p";
  ASSIGN_OR_RETURN(std::unique_ptr<HlsOutput> hls, HlsOutput::Create(request.hls_dir, options));
  hls->set_segment_listener(request.on_hls_segment);
  output.AttachHls(std::move(hls));
  return Status::Ok();
}

// The master playlist of a remux's one rung, with the bandwidth measured from its segments.
Status WriteMaster(OutputFile& output, TranscodeResult* result) {
  HlsOutput* hls = output.hls();
  if (!hls) return Status::Ok();
  result->hls_rungs = {hls->RungInfo()};
  return WriteMasterPlaylist(hls->dir(), result->hls_rungs);
}

// Re-encodes the file. With a thread budget of one everything runs in the calling thread; with
// more, a reader thread demuxes, decodes and filters (and encodes the cheap audio) while the
// calling thread runs x264 and the muxer, connected by a small FrameQueue.
class Reencoder {
 public:
  Reencoder(const TranscodeRequest& request, InputFile& input, const MediaInfo& info,
            const Plan& plan, const ProgressCallback& progress, const CancelToken* cancel)
      : request_(request),
        input_(input),
        info_(info),
        plan_(plan),
        progress_(progress),
        cancel_(cancel),
        picker_(info.duration_s) {}

  Status Run(TranscodeResult* result);

 private:
  Status Setup();
  Status RunInline();
  Status RunPipelined();
  // Demux and decode everything, handing pictures to video_'s frame sink.
  Status Read();
  Status WriteVideo(AVPacket* p) {
    return output_->WritePacket(p, encoder_->context()->time_base, out_video_);
  }
  Status WriteAudio(AVPacket* p) {
    for (const auto& rung : rungs_) {
      RETURN_IF_ERROR(rung->hls->WritePacket(p, audio_->encoder()->time_base, 1));
    }
    return output_->WritePacket(p, audio_->encoder()->time_base, out_audio_);
  }
  // Every filtered picture goes to the main encoder and, scaled down, to each extra rung's.
  // With HLS the picture at each segment boundary is forced to be a keyframe in all of them, so
  // that every rung's segments start at the same instants (a player switching rungs needs that).
  Status EncodeVideo(AVFrame* f);
  Status AddRungs();
  Status FinishRungs(TranscodeResult* result);

  // An extra HLS rung (TranscodeOptions::renditions): its own encoder and segments; the audio
  // is the main rung's packets.
  struct Rung {
    SwsPtr scaler;
    FramePtr picture;
    std::unique_ptr<VideoEncoder> encoder;
    std::unique_ptr<HlsOutput> hls;
  };

  const TranscodeRequest& request_;
  InputFile& input_;
  const MediaInfo& info_;
  const Plan& plan_;
  const ProgressCallback& progress_;
  const CancelToken* cancel_;
  std::unique_ptr<OutputFile> output_;
  std::unique_ptr<VideoPipeline> video_;
  std::unique_ptr<VideoEncoder> encoder_;
  std::unique_ptr<AudioPipeline> audio_;
  const AVStream* in_video_ = nullptr;
  const AVStream* in_audio_ = nullptr;
  AVStream* out_video_ = nullptr;
  AVStream* out_audio_ = nullptr;
  ThumbnailPicker picker_;
  std::vector<std::unique_ptr<Rung>> rungs_;
  std::optional<double> first_picture_s_;  // where the segment boundaries are counted from
  double next_keyframe_s_ = 0;
  std::unique_ptr<StoryboardWriter> storyboard_;
};

Status Reencoder::AddRungs() {
  if (!output_->hls()) return Status::Ok();
  const int main_short = std::min(plan_.width, plan_.height);
  const AVCodecContext* main = encoder_->context();
  for (int short_side : request_.options.renditions) {
    if (short_side >= main_short) continue;  // never above the main rung (nor upscaled)
    auto even = [](double v) { return std::max(2, static_cast<int>(std::lround(v / 2)) * 2); };
    const double scale = static_cast<double>(short_side) / main_short;
    Plan plan = plan_;
    plan.width = even(plan_.width * scale);
    plan.height = even(plan_.height * scale);
    TranscodeOptions options = request_.options;
    options.video_bitrate =
        std::max<int64_t>(200'000, static_cast<int64_t>(options.video_bitrate * scale));
    auto rung = std::make_unique<Rung>();
    ASSIGN_OR_RETURN(rung->encoder, VideoEncoder::Create(in_video_, plan, options));
    rung->scaler.reset(sws_getContext(main->width, main->height, main->pix_fmt, plan.width,
                                      plan.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr,
                                      nullptr, nullptr));
    rung->picture = MakeFrame();
    if (!rung->scaler || !rung->picture) return Status(ErrorCode::kInternal, "Out of memory.");
    rung->picture->format = AV_PIX_FMT_YUV420P;
    rung->picture->width = plan.width;
    rung->picture->height = plan.height;
    if (av_frame_get_buffer(rung->picture.get(), 0) < 0) {
      return Status(ErrorCode::kInternal, "Out of memory.");
    }
    HlsOutput::Options hls_options;
    hls_options.rung = std::to_string(short_side) + "p";
    ASSIGN_OR_RETURN(rung->hls, HlsOutput::Create(request_.hls_dir, hls_options));
    RETURN_IF_ERROR(rung->hls->AddEncodedStream(rung->encoder->context()));
    if (audio_) RETURN_IF_ERROR(rung->hls->AddEncodedStream(audio_->encoder()));
    RETURN_IF_ERROR(rung->hls->WriteHeader());
    Rung* r = rung.get();
    r->encoder->set_packet_sink(
        [r](AVPacket* p) { return r->hls->WritePacket(p, r->encoder->context()->time_base, 0); });
    rungs_.push_back(std::move(rung));
  }
  return Status::Ok();
}

Status Reencoder::EncodeVideo(AVFrame* f) {
  if (f && output_->hls() && f->pts != AV_NOPTS_VALUE) {
    // The boundaries HlsOutput cuts at, counted from the first picture as it counts them.
    const double t = f->pts * av_q2d(encoder_->context()->time_base);
    if (!first_picture_s_) first_picture_s_ = t;
    const double since = t - *first_picture_s_;
    if (since >= next_keyframe_s_ - 1e-3) {
      f->pict_type = AV_PICTURE_TYPE_I;
      next_keyframe_s_ =
          since < kHlsFirstSegmentS - 1e-3
              ? kHlsFirstSegmentS
              : kHlsFirstSegmentS +
                    (std::floor((since - kHlsFirstSegmentS) / kHlsSegmentS + 1e-6) + 1) *
                        kHlsSegmentS;
    }
  }
  RETURN_IF_ERROR(encoder_->Encode(f));
  for (const auto& rung : rungs_) {
    AVFrame* scaled = nullptr;
    if (f) {
      // The encoder may still hold the last picture: a fresh buffer when it is shared.
      if (av_frame_make_writable(rung->picture.get()) < 0) {
        return Status(ErrorCode::kInternal, "Out of memory.");
      }
      sws_scale(rung->scaler.get(), f->data, f->linesize, 0, f->height, rung->picture->data,
                rung->picture->linesize);
      av_frame_copy_props(rung->picture.get(), f);
      scaled = rung->picture.get();
    }
    RETURN_IF_ERROR(rung->encoder->Encode(scaled));
  }
  return Status::Ok();
}

Status Reencoder::FinishRungs(TranscodeResult* result) {
  for (const auto& rung : rungs_) RETURN_IF_ERROR(rung->hls->Finish());
  HlsOutput* main = output_->hls();
  if (!main) return Status::Ok();
  result->hls_rungs = {main->RungInfo()};
  for (const auto& rung : rungs_) result->hls_rungs.push_back(rung->hls->RungInfo());
  result->hls_segments = main->segments();
  return WriteMasterPlaylist(main->dir(), result->hls_rungs);
}

Status Reencoder::Setup() {
  ASSIGN_OR_RETURN(output_, OutputFile::Create(request_.output));
  RETURN_IF_ERROR(AttachHls(request_, plan_.width, plan_.height, *output_));
  AVFormatContext* fmt = input_.format();
  in_video_ = fmt->streams[info_.video->index];
  ASSIGN_OR_RETURN(video_, VideoPipeline::Create(in_video_, plan_, request_.options,
                                                 request_.limits, fmt->start_time));
  ASSIGN_OR_RETURN(encoder_, VideoEncoder::Create(in_video_, plan_, request_.options));
  ASSIGN_OR_RETURN(out_video_, output_->AddEncodedStream(encoder_->context()));
  encoder_->set_packet_sink([this](AVPacket* p) { return WriteVideo(p); });
  if (!request_.storyboard.empty()) {
    storyboard_ = std::make_unique<StoryboardWriter>(request_.storyboard, VideoDuration(info_));
  }
  // One tap for both: the thumbnail and the storyboard see the same upright, scaled pictures.
  if (!request_.thumbnail.empty() || storyboard_) {
    video_->set_frame_tap([this](const AVFrame* f, double t) {
      if (!request_.thumbnail.empty()) picker_.Offer(f, t);
      if (storyboard_) storyboard_->Offer(f, t);
    });
  }
  if (const AudioStreamInfo* a = info_.audio_stream()) {
    const AVStream* in_audio = fmt->streams[a->index];
    auto audio = AudioPipeline::Create(in_audio, request_.options, fmt->start_time);
    if (audio.ok()) {
      audio_ = std::move(audio).value();
      in_audio_ = in_audio;
      ASSIGN_OR_RETURN(out_audio_, output_->AddEncodedStream(audio_->encoder()));
    } else {
      LogWarning("audio dropped: it cannot be decoded", {{"reason", audio.status().message()}});
    }
  }
  RETURN_IF_ERROR(output_->WriteHeader());
  RETURN_IF_ERROR(AddRungs());
  std::vector<HlsRungInfo> estimate;
  if (output_->hls()) {
    estimate.push_back(output_->hls()->RungInfo());
    for (const auto& rung : rungs_) estimate.push_back(rung->hls->RungInfo());
    RETURN_IF_ERROR(WriteMasterPlaylist(output_->hls()->dir(), estimate));
  }
  return Status::Ok();
}

Status Reencoder::Read() {
  AVFormatContext* fmt = input_.format();
  PacketPtr packet = MakePacket();
  for (;;) {
    if (cancel_ && cancel_->cancelled())
      return Status(ErrorCode::kCancelled, "The job was cancelled.");
    int err = av_read_frame(fmt, packet.get());
    if (err < 0) {
      // Damaged or cut data stops the reading; the duration and error checks judge the file.
      RETURN_IF_ERROR(ReadStopStatus(err, fmt->pb ? fmt->pb->error : 0));
      if (err != AVERROR_EOF)
        LogWarning("input read stopped early", {{"reason", AvErrorText(err)}});
      break;
    }
    const AVStream* st = fmt->streams[packet->stream_index];
    Status s;
    if (st == in_video_) {
      s = video_->SendPacket(packet.get());
      if (progress_) progress_(video_->stats().end_s, info_.duration_s);
    } else if (st == in_audio_) {
      s = audio_->SendPacket(packet.get());
    }
    av_packet_unref(packet.get());
    RETURN_IF_ERROR(s);
  }
  if (audio_) RETURN_IF_ERROR(audio_->SendPacket(nullptr));
  return video_->SendPacket(nullptr);  // last: its sink sees the end of the stream
}

Status Reencoder::RunInline() {
  video_->set_frame_sink([this](AVFrame* f) { return EncodeVideo(f); });
  if (audio_) audio_->set_packet_sink([this](AVPacket* p) { return WriteAudio(p); });
  return Read();
}

Status Reencoder::RunPipelined() {
  constexpr size_t kQueuedFrames = 3;
  FrameQueue queue(kQueuedFrames);
  video_->set_frame_sink([&queue](AVFrame* f) {
    bool pushed = f ? queue.Push(FrameQueue::VideoFrame{FramePtr(av_frame_clone(f))})
                    : queue.Push(FrameQueue::End{});
    return pushed ? Status::Ok() : Status(ErrorCode::kCancelled, "The encoder stopped.");
  });
  if (audio_) {
    audio_->set_packet_sink([&queue](AVPacket* p) {
      return queue.Push(FrameQueue::AudioPacket{PacketPtr(av_packet_clone(p))})
                 ? Status::Ok()
                 : Status(ErrorCode::kCancelled, "The encoder stopped.");
    });
  }
  Status read_status;
  std::thread reader([&] {
    read_status = Read();
    if (!read_status.ok()) queue.Close();
  });
  Status write_status;
  for (bool done = false; !done && write_status.ok();) {
    FrameQueue::Item item = queue.Pop();
    if (auto* v = std::get_if<FrameQueue::VideoFrame>(&item)) {
      write_status = EncodeVideo(v->frame.get());
    } else if (auto* a = std::get_if<FrameQueue::AudioPacket>(&item)) {
      write_status = WriteAudio(a->packet.get());
    } else {
      done = true;
    }
  }
  queue.Close();  // unblocks the reader if the writer failed
  reader.join();
  // A failed writer closes the queue, which stops the reader with a follow-on error: report the
  // writer's. A failed reader closes it after the writer has drained what was decoded.
  RETURN_IF_ERROR(write_status);
  RETURN_IF_ERROR(read_status);
  return EncodeVideo(nullptr);
}

Status Reencoder::Run(TranscodeResult* result) {
  RETURN_IF_ERROR(Setup());
  RETURN_IF_ERROR(plan_.pipelined ? RunPipelined() : RunInline());
  if (!plan_.pipelined) RETURN_IF_ERROR(EncodeVideo(nullptr));
  result->video = video_->stats();
  result->video.frames_encoded = encoder_->frames_encoded();
  // Flushed: x264's pictures go before the muxers finish and the thumbnails are made.
  encoder_.reset();
  for (const auto& rung : rungs_) rung->encoder.reset();
  if (audio_) result->audio = audio_->stats();
  RETURN_IF_ERROR(CheckDecodedWhole(info_, result->video));
  if (audio_ && result->audio.decode_errors > kMinDecodeErrors &&
      result->audio.decode_errors > result->audio.packets * kCorruptErrorRatio) {
    // The picture is fine; the sound is not. Keep the video, and say so.
    result->warnings.push_back("audio_damaged: " + std::to_string(result->audio.decode_errors) +
                               " of " + std::to_string(result->audio.packets) +
                               " audio packets could not be decoded; the sound has gaps");
    LogWarning("audio damaged",
               {{"errors", result->audio.decode_errors}, {"packets", result->audio.packets}});
  }
  RETURN_IF_ERROR(output_->Finish());
  RETURN_IF_ERROR(FinishRungs(result));
  if (!request_.thumbnail.empty()) {
    if (!picker_.best()) {
      std::remove(request_.output.c_str());
      return Status(ErrorCode::kCorruptInput, "No picture of the video could be decoded.");
    }
    auto written =
        WriteThumbnails(picker_.best(), request_.thumbnail, request_.options.thumbnail_max_size,
                        request_.options.thumbnail_quality, request_.options.thumbnail_widths);
    if (!written.ok()) {
      std::remove(request_.output.c_str());
      return written.status();
    }
    result->thumbnail_at_s = picker_.best_seconds();
    result->thumbnail_widths = std::move(written).value();
  }
  if (storyboard_) {
    auto made = storyboard_->Finish(result->video.end_s);
    if (!made.ok()) {
      RemoveOutputs(request_, *result);
      return made.status();
    }
    result->storyboard = made.value();
  }
  return Status::Ok();
}

Status RunPassthrough(const TranscodeRequest& request, InputFile& input, const MediaInfo& info,
                      const ProgressCallback& progress, const CancelToken* cancel,
                      TranscodeResult* result) {
  ASSIGN_OR_RETURN(std::unique_ptr<OutputFile> output, OutputFile::Create(request.output));
  RETURN_IF_ERROR(
      AttachHls(request, info.video->display_width(), info.video->display_height(), *output));
  RETURN_IF_ERROR(Remux(input, info, *output, progress, cancel, &result->video, &result->audio));
  RETURN_IF_ERROR(CheckDecodedWhole(info, {.packets = result->video.packets,
                                           .frames_decoded = result->video.packets,
                                           .end_s = result->video.end_s}));
  RETURN_IF_ERROR(output->Finish());
  // Written last: a remux is quick, and its bandwidth is only known from the segments.
  RETURN_IF_ERROR(WriteMaster(*output, result));
  result->hls_segments = output->hls() ? output->hls()->segments() : 0;
  if (!request.thumbnail.empty()) {
    auto made =
        ExtractThumbnail(request.input, request.limits, cancel, request.thumbnail,
                         request.options.thumbnail_max_size, request.options.thumbnail_quality,
                         request.options.thumbnail_widths);
    if (!made.ok()) {
      std::remove(request.output.c_str());
      return made.status();
    }
    result->thumbnail_at_s = made->at_s;
    result->thumbnail_widths = made->widths;
  }
  if (!request.storyboard.empty()) {
    auto made = ExtractStoryboard(request.input, request.limits, cancel, request.storyboard, {},
                                  request.options.threads);
    if (!made.ok()) {
      RemoveOutputs(request, *result);
      return made.status();
    }
    result->storyboard = made.value();
  }
  return Status::Ok();
}

}  // namespace

Result<TranscodeResult> Transcode(const TranscodeRequest& request, const ProgressCallback& progress,
                                  const CancelToken* cancel) {
  auto started = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input,
                   InputFile::Open(request.input, request.limits, cancel));
  TranscodeResult result;
  result.source = Describe(*input);
  RETURN_IF_ERROR(CheckLimits(result.source, request.limits));
  Plan plan = MakePlan(result.source, request.options);
  result.passthrough = plan.passthrough;
  result.reason = plan.reason;
  LogDebug("plan", {{"passthrough", plan.passthrough},
                    {"reason", plan.reason},
                    {"width", plan.width},
                    {"height", plan.height},
                    {"threads", plan.encoder_threads}});

  if (!plan.passthrough &&
      static_cast<int64_t>(result.source.video->width) * result.source.video->height >=
          kLargePicturePixels) {
    // glibc raises its mmap threshold to the size of the largest mmapped block freed (the probe's
    // 16 MB plane of a 4K picture) and its trim threshold to twice that: the job's later buffers
    // then land in heaps that are never given back. Fixed at glibc's defaults, a 4K job peaks
    // ~5 MB lower (docs/BENCHMARKS.md, "Memory"); smaller sources keep the adaptive thresholds,
    // which save a 1080p job page faults for no memory.
    mallopt(M_MMAP_THRESHOLD, kMallocDefaultThreshold);
    mallopt(M_TRIM_THRESHOLD, kMallocDefaultThreshold);
  }
  Status made;
  if (plan.passthrough) {
    made = RunPassthrough(request, *input, result.source, progress, cancel, &result);
  } else {
    Reencoder reencoder(request, *input, result.source, plan, progress, cancel);
    made = reencoder.Run(&result);
  }
  if (!made.ok()) {
    RemoveHls(request.hls_dir);  // the master playlist outlives the output that wrote the rest
    return made;
  }
  auto described = DescribeOutput(request.output, request.limits);
  if (!described.ok()) {
    RemoveOutputs(request, result);
    return Status(ErrorCode::kEncodeFailed,
                  "The output cannot be read back: " + described.status().message());
  }
  result.output = described.value();
  result.elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

namespace {

nlohmann::json HlsJson(const TranscodeResult& r) {
  if (r.hls_rungs.empty()) return nullptr;
  nlohmann::json rungs = nlohmann::json::array();
  for (const HlsRungInfo& rung : r.hls_rungs) {
    rungs.push_back({{"playlist", rung.playlist},
                     {"width", rung.width},
                     {"height", rung.height},
                     {"codecs", rung.codecs},
                     {"bandwidth", rung.peak_bandwidth},
                     {"average_bandwidth", rung.average_bandwidth}});
  }
  return {{"master", kMasterPlaylistName}, {"segments", r.hls_segments}, {"rungs", rungs}};
}

}  // namespace

nlohmann::json ToJson(const TranscodeResult& r) {
  auto round3 = [](double v) { return std::round(v * 1000) / 1000; };
  nlohmann::json j = {
      {"path", r.passthrough ? "passthrough" : "encode"},
      {"reason", r.reason},
      {"source", ToJson(r.source)},
      {"output",
       {{"width", r.output.width},
        {"height", r.output.height},
        {"duration_s", round3(r.output.duration_s)},
        {"size_bytes", r.output.size_bytes},
        {"video_codec", r.output.video_codec},
        {"audio_codec", r.output.audio_codec.empty() ? nlohmann::json(nullptr)
                                                     : nlohmann::json(r.output.audio_codec)},
        {"video_bitrate_kbps", r.output.video_bitrate / 1000},
        {"audio_bitrate_kbps", r.output.audio_bitrate / 1000},
        {"passthrough", r.passthrough},
        {"thumbnail_widths", r.thumbnail_widths},
        {"hls", HlsJson(r)},
        {"storyboard", r.storyboard ? nlohmann::json{{"sheets", r.storyboard->sheets},
                                                     {"tiles", r.storyboard->tiles},
                                                     {"interval_s", r.storyboard->interval_s},
                                                     {"tile_width", r.storyboard->tile_width},
                                                     {"tile_height", r.storyboard->tile_height},
                                                     {"columns", r.storyboard->columns},
                                                     {"rows", r.storyboard->rows}}
                                    : nlohmann::json(nullptr)}}},
      {"frames",
       {{"decoded", r.video.frames_decoded},
        {"encoded", r.video.frames_encoded},
        {"dropped", r.video.frames_dropped},
        {"decode_errors", r.video.decode_errors}}},
      {"thumbnail_at_s",
       r.thumbnail_at_s < 0 ? nlohmann::json(nullptr) : nlohmann::json(round3(r.thumbnail_at_s))},
      {"warnings", r.warnings},
      {"elapsed_s", round3(r.elapsed_s)},
      {"speed", r.elapsed_s > 0 ? round3(r.source.duration_s / r.elapsed_s) : 0.0},
  };
  return j;
}

}  // namespace vidproc::media
