#include "media/thumbnail.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "media/av_error.h"
#include "media/decoder.h"
#include "media/input_file.h"
#include "media/output_file.h"
#include "media/plan.h"
#include "media/probe.h"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

namespace vidproc::media {
namespace {

constexpr int kSampleStep = 4;             // score every 4th pixel of every 4th row
constexpr double kMinStddev = 10.0;        // below: a blank, flat picture
constexpr double kMinMean = 28.0;          // below: black (limited-range black is 16)
constexpr double kMaxMean = 230.0;         // above: white
constexpr double kMaxChromaOffset = 45.0;  // above: green or magenta decoder garbage
constexpr int kMaxFramesPerCandidate = 600;

double PlaneMean(const uint8_t* data, int linesize, int width, int height) {
  double sum = 0;
  int64_t n = 0;
  for (int y = 0; y < height; y += kSampleStep) {
    const uint8_t* row = data + static_cast<ptrdiff_t>(y) * linesize;
    for (int x = 0; x < width; x += kSampleStep) {
      sum += row[x];
      ++n;
    }
  }
  return n ? sum / n : 0;
}

}  // namespace

FrameScore ScoreFrame(const AVFrame* frame) {
  FrameScore s;
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(frame->format));
  if (!desc || desc->comp[0].depth != 8 || !(desc->flags & AV_PIX_FMT_FLAG_PLANAR)) return s;
  double sum = 0, sum_sq = 0;
  int64_t n = 0;
  for (int y = 0; y < frame->height; y += kSampleStep) {
    const uint8_t* row = frame->data[0] + static_cast<ptrdiff_t>(y) * frame->linesize[0];
    for (int x = 0; x < frame->width; x += kSampleStep) {
      double v = row[x];
      sum += v;
      sum_sq += v * v;
      ++n;
    }
  }
  if (n == 0) return s;
  s.luma_mean = sum / n;
  s.luma_stddev = std::sqrt(std::max(0.0, sum_sq / n - s.luma_mean * s.luma_mean));
  int cw = AV_CEIL_RSHIFT(frame->width, desc->log2_chroma_w);
  int ch = AV_CEIL_RSHIFT(frame->height, desc->log2_chroma_h);
  if (desc->nb_components >= 3) {
    double u = PlaneMean(frame->data[1], frame->linesize[1], cw, ch);
    double v = PlaneMean(frame->data[2], frame->linesize[2], cw, ch);
    s.chroma_offset = (std::abs(u - 128) + std::abs(v - 128)) / 2;
  }
  s.acceptable = s.luma_stddev >= kMinStddev && s.luma_mean >= kMinMean &&
                 s.luma_mean <= kMaxMean && s.chroma_offset <= kMaxChromaOffset;
  // Detail first; a mild preference for mid-tones over very dark or very bright pictures.
  s.value = s.luma_stddev - std::abs(s.luma_mean - 128) * 0.1 + (s.acceptable ? 1000 : 0);
  return s;
}

ThumbnailPicker::ThumbnailPicker(double duration_s) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    targets_[i] = std::max(0.0, duration_s) * 0.1 * static_cast<double>(i + 1);
  }
}

void ThumbnailPicker::Offer(const AVFrame* frame, double seconds) {
  if (!first_) {
    first_.reset(av_frame_clone(frame));
    best_score_ = ScoreFrame(frame);
    best_seconds_ = seconds;
  }
  if (done() || seconds < targets_[next_]) return;
  while (!done() && seconds >= targets_[next_]) ++next_;
  FrameScore score = ScoreFrame(frame);
  if (!best_ || score.value > best_score_.value) {
    best_.reset(av_frame_clone(frame));
    best_score_ = score;
    best_seconds_ = seconds;
  }
  if (best_ && first_) first_.reset();  // the fallback is no longer needed
}

const AVFrame* ThumbnailPicker::best() const { return best_ ? best_.get() : first_.get(); }

// The deprecated "J" formats only mean full range: swscale wants the plain format plus a range.
AVPixelFormat PlainFormat(AVPixelFormat f, bool* full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    default: return f;
  }
}

Status EncodeJpeg(const AVFrame* frame, const std::string& path, Size size, int quality) {
  bool src_full = frame->color_range == AVCOL_RANGE_JPEG;
  AVPixelFormat src_format = PlainFormat(static_cast<AVPixelFormat>(frame->format), &src_full);
  SwsPtr sws(sws_getContext(frame->width, frame->height, src_format, size.width, size.height,
                            AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!sws) return Status(ErrorCode::kInternal, "Cannot convert the picture for " + path + ".");
  // JPEG is full range: expand limited-range video levels.
  const int* coefficients = sws_getCoefficients(SWS_CS_DEFAULT);
  sws_setColorspaceDetails(sws.get(), coefficients, src_full ? 1 : 0, coefficients, 1, 0, 1 << 16,
                           1 << 16);
  FramePtr jpeg_frame = MakeFrame();
  jpeg_frame->format = AV_PIX_FMT_YUV420P;
  jpeg_frame->width = size.width;
  jpeg_frame->height = size.height;
  int err = av_frame_get_buffer(jpeg_frame.get(), 0);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Out of memory for " + path);
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, jpeg_frame->data,
            jpeg_frame->linesize);
  jpeg_frame->format = AV_PIX_FMT_YUVJ420P;  // same layout; the JPEG encoder's name for it

  const AVCodec* mjpeg = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!mjpeg) return Status(ErrorCode::kInternal, "No JPEG encoder in this libavcodec.");
  CodecContextPtr enc(avcodec_alloc_context3(mjpeg));
  enc->width = size.width;
  enc->height = size.height;
  enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
  enc->time_base = {1, 25};
  // JPEG quality q maps to a quantiser scale of about (100 - q) / 5: 85 -> 3.
  int qscale = std::clamp((100 - quality + 2) / 5, 1, 31);
  enc->flags |= AV_CODEC_FLAG_QSCALE;
  enc->global_quality = qscale * FF_QP2LAMBDA;
  enc->qmin = enc->qmax = qscale;
  err = avcodec_open2(enc.get(), mjpeg, nullptr);
  if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "Cannot open the JPEG encoder");
  jpeg_frame->quality = enc->global_quality;
  jpeg_frame->pts = 0;
  PacketPtr packet = MakePacket();
  err = avcodec_send_frame(enc.get(), jpeg_frame.get());
  if (err >= 0) err = avcodec_send_frame(enc.get(), nullptr);
  if (err >= 0) err = avcodec_receive_packet(enc.get(), packet.get());
  if (err < 0) return FromAvError(err, ErrorCode::kEncodeFailed, "Cannot encode " + path);

  std::string temp = path + ".partial";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) return Status(ErrorCode::kOutputWriteFailed, "Cannot create " + path + ".");
  bool written = std::fwrite(packet->data, 1, packet->size, f) == static_cast<size_t>(packet->size);
  written = (std::fclose(f) == 0) && written;
  if (!written) {
    std::remove(temp.c_str());
    return Status(ErrorCode::kOutputWriteFailed, "Cannot write " + path + ".");
  }
  return CommitFile(temp, path);
}

namespace {

int EvenAtLeastTwo(double v) { return std::max(2, static_cast<int>(std::lround(v / 2)) * 2); }

}  // namespace

Status WriteJpeg(const AVFrame* frame, const std::string& path, Size max_size, int quality) {
  return EncodeJpeg(frame, path, FitInside(frame->width, frame->height, max_size), quality);
}

std::string ThumbnailVariantPath(const std::string& thumbnail_path, int width) {
  std::string stem = thumbnail_path;
  if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, ".jpg") == 0)
    stem.resize(stem.size() - 4);
  return stem + "-" + std::to_string(width) + ".jpg";
}

Result<std::vector<int>> WriteThumbnails(const AVFrame* frame, const std::string& path,
                                         Size max_size, int quality,
                                         const std::vector<int>& widths) {
  const Size full = FitInside(frame->width, frame->height, max_size);
  std::vector<int> wanted;
  for (int w : widths) {
    if (w >= 2 && w % 2 == 0 && w < full.width) wanted.push_back(w);
  }
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  Status s = EncodeJpeg(frame, path, full, quality);
  for (size_t i = 0; s.ok() && i < wanted.size(); ++i) {
    const Size variant{wanted[i],
                       EvenAtLeastTwo(static_cast<double>(full.height) * wanted[i] / full.width)};
    s = EncodeJpeg(frame, ThumbnailVariantPath(path, wanted[i]), variant, quality);
  }
  if (!s.ok()) {
    std::remove(path.c_str());
    for (int w : wanted) std::remove(ThumbnailVariantPath(path, w).c_str());
    return s;
  }
  return wanted;
}

Result<ExtractedThumbnail> ExtractThumbnail(const std::string& input_path,
                                            const InputLimits& limits, const CancelToken* cancel,
                                            const std::string& jpeg_path, Size max_size,
                                            int quality, const std::vector<int>& widths) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input, InputFile::Open(input_path, limits, cancel));
  MediaInfo info = Describe(*input);
  if (!info.video) return Status(ErrorCode::kNoVideoStream, "The file contains no video stream.");
  AVFormatContext* fmt = input->format();
  const AVStream* stream = fmt->streams[info.video->index];
  ASSIGN_OR_RETURN(CodecContextPtr decoder, OpenDecoder(stream, {.threads = 1,
                                                                 .max_pixels = limits.max_pixels,
                                                                 .output_corrupt = false}));
  ThumbnailPicker picker(info.duration_s);
  FramePtr frame = MakeFrame();
  PacketPtr packet = MakePacket();
  int64_t errors = 0;
  int64_t start = fmt->start_time == AV_NOPTS_VALUE ? 0 : fmt->start_time;
  const int64_t start_pts = av_rescale_q(start, AV_TIME_BASE_Q, stream->time_base);
  const double step = info.duration_s * 0.1;

  for (int candidate = 1; candidate <= 5 && !picker.done(); ++candidate) {
    double target = step * candidate;
    int64_t ts = start + static_cast<int64_t>(target * AV_TIME_BASE);
    if (av_seek_frame(fmt, -1, ts, AVSEEK_FLAG_BACKWARD) < 0) break;
    avcodec_flush_buffers(decoder.get());
    int frames = 0;
    bool reached = false;
    while (!reached && frames < kMaxFramesPerCandidate) {
      if (cancel && cancel->cancelled())
        return Status(ErrorCode::kCancelled, "The job was cancelled.");
      int err = av_read_frame(fmt, packet.get());
      bool eof = err < 0;
      if (!eof && packet->stream_index != stream->index) {
        av_packet_unref(packet.get());
        continue;
      }
      Status s = Decode(
          decoder.get(), eof ? nullptr : packet.get(), frame.get(), &errors, [&](AVFrame* f) {
            ++frames;
            if ((f->flags & AV_FRAME_FLAG_CORRUPT) || f->decode_error_flags) {
              return Status::Ok();  // a picture decoded from a bad reference
            }
            double t = (f->best_effort_timestamp - start_pts) * av_q2d(stream->time_base);
            picker.Offer(f, t);
            reached = t + 1e-3 >= target;
            return Status::Ok();
          });
      av_packet_unref(packet.get());
      RETURN_IF_ERROR(s);
      if (eof) break;
    }
  }
  if (!picker.best()) {
    return Status(ErrorCode::kCorruptInput,
                  "No picture of the video could be decoded for the thumbnail.");
  }
  ASSIGN_OR_RETURN(std::vector<int> written,
                   WriteThumbnails(picker.best(), jpeg_path, max_size, quality, widths));
  return ExtractedThumbnail{picker.best_seconds(), std::move(written)};
}

}  // namespace vidproc::media
