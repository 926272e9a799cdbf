#include "media/storyboard.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <utility>

#include "media/av_error.h"
#include "media/decoder.h"
#include "media/input_file.h"
#include "media/output_file.h"
#include "media/probe.h"
#include "media/thumbnail.h"

extern "C" {
#include <libavutil/imgutils.h>
}

namespace vidproc::media {
namespace {

// A timestamp this close before a tile's start counts as reaching it (rounded time bases).
constexpr double kTimeSlackS = 1e-3;
// Remuxed files: a tile this far ahead of the last decoded picture is reached by seeking;
// nearer ones by decoding on (a seek lands on the keyframe before, often no nearer).
constexpr double kSeekAheadS = 6.0;
// Pictures decoded after a seek before giving up on reaching the tile (a broken index).
constexpr int kMaxFramesPerTile = 600;

FramePtr AllocatePicture(int width, int height) {
  FramePtr f = MakeFrame();
  if (!f) return nullptr;
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  f->color_range = AVCOL_RANGE_JPEG;
  if (av_frame_get_buffer(f.get(), 0) < 0) return nullptr;
  return f;
}

// Full-range black, so the unused cells of a last, partly filled row are black.
void FillBlack(AVFrame* f) {
  for (int p = 0; p < 3; ++p) {
    const int h = p == 0 ? f->height : (f->height + 1) / 2;
    std::memset(f->data[p], p == 0 ? 0 : 128, static_cast<size_t>(f->linesize[p]) * h);
  }
}

// Copies the yuv420p picture `from` into `to` at (x, y) (even), turned `rotation` degrees
// clockwise: for 90 and 270 `from` is the tile on its side (its width is the tile's height).
void CopyTurned(const AVFrame* from, AVFrame* to, int x, int y, int rotation) {
  for (int p = 0; p < 3; ++p) {
    const int shift = p == 0 ? 0 : 1;
    const int sw = from->width >> shift, sh = from->height >> shift;
    const bool quarter = rotation == 90 || rotation == 270;
    const int dw = quarter ? sh : sw, dh = quarter ? sw : sh;
    const uint8_t* src = from->data[p];
    const int src_stride = from->linesize[p];
    for (int dy = 0; dy < dh; ++dy) {
      uint8_t* row =
          to->data[p] + static_cast<ptrdiff_t>((y >> shift) + dy) * to->linesize[p] + (x >> shift);
      for (int dx = 0; dx < dw; ++dx) {
        int sx = dx, sy = dy;
        switch (rotation) {
          case 90: sx = dy, sy = sh - 1 - dx; break;
          case 180: sx = sw - 1 - dx, sy = sh - 1 - dy; break;
          case 270: sx = sw - 1 - dy, sy = dx; break;
          default: break;
        }
        row[dx] = src[static_cast<ptrdiff_t>(sy) * src_stride + sx];
      }
    }
  }
}

// WebVTT's timestamp: HH:MM:SS.mmm (hours grow past 99 if they must).
std::string VttTime(double seconds) {
  const int64_t ms = std::llround(std::max(0.0, seconds) * 1000);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 ".%03" PRId64,
                ms / 3'600'000, ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
  return buf;
}

Status WriteTextFile(const std::string& path, const std::string& text) {
  const std::string temp = path + ".partial";
  FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) return Status(ErrorCode::kOutputWriteFailed, "Cannot create " + path + ".");
  bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  written = (std::fclose(f) == 0) && written;
  if (!written) {
    std::remove(temp.c_str());
    return Status(ErrorCode::kOutputWriteFailed, "Cannot write " + path + ".");
  }
  return CommitFile(temp, path);
}

std::string StemOf(const std::string& vtt_path) {
  std::string stem = vtt_path;
  const size_t slash = stem.rfind('/');
  const size_t dot = stem.rfind('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash + 1)) {
    stem.resize(dot);
  }
  return stem;
}

}  // namespace

double StoryboardInterval(double duration_s, const StoryboardOptions& options) {
  const double min = std::max(1.0, options.min_interval_s);
  const int max_tiles = std::max(1, options.max_tiles);
  if (!(duration_s > min * max_tiles)) return min;
  return std::max(min, std::ceil(duration_s / max_tiles));
}

std::string StoryboardSheetPath(const std::string& vtt_path, int n) {
  return StemOf(vtt_path) + "-" + std::to_string(n) + ".jpg";
}

std::string StoryboardSheetName(const std::string& vtt_path, int n) {
  const std::string path = StoryboardSheetPath(vtt_path, n);
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void RemoveStoryboard(const std::string& vtt_path, int sheets) {
  std::remove(vtt_path.c_str());
  for (int n = 1; n <= sheets; ++n) std::remove(StoryboardSheetPath(vtt_path, n).c_str());
}

StoryboardWriter::StoryboardWriter(std::string vtt_path, double duration_s,
                                   StoryboardOptions options)
    : vtt_path_(std::move(vtt_path)),
      options_(options),
      interval_s_(StoryboardInterval(duration_s, options)) {
  // A timestamp far past the declared duration (a hostile or broken file) would otherwise fill
  // tile after tile with one picture: a tile of slack for rounding, no more.
  max_tiles_ = duration_s > 0 ? static_cast<int>(std::ceil(duration_s / interval_s_)) + 1
                              : std::max(1, options.max_tiles);
}

StoryboardWriter::~StoryboardWriter() {
  if (!finished_) RemoveStoryboard(vtt_path_, sheets_written_);
}

void StoryboardWriter::Offer(const AVFrame* frame, double seconds, int rotation) {
  // One picture for every tile whose start it has reached.
  while (status_.ok() && !finished_ && tiles_ < max_tiles_ &&
         seconds + kTimeSlackS >= next_tile_s()) {
    status_ = Place(frame, rotation);
  }
}

Status StoryboardWriter::Place(const AVFrame* frame, int rotation) {
  const bool quarter = rotation == 90 || rotation == 270;
  if (tile_width_ == 0) {
    double w = frame->width, h = frame->height;
    if (frame->sample_aspect_ratio.num > 0 && frame->sample_aspect_ratio.den > 0) {
      w *= av_q2d(frame->sample_aspect_ratio);
    }
    if (quarter) std::swap(w, h);
    if (w < 1 || h < 1) return Status(ErrorCode::kInternal, "A picture without a size.");
    tile_width_ = std::max(2, options_.tile_width / 2 * 2);
    tile_height_ = std::max(2, static_cast<int>(std::lround(tile_width_ * h / w / 2)) * 2);
  }
  // The tile as the picture lies, before it is turned upright.
  const int sw = quarter ? tile_height_ : tile_width_;
  const int sh = quarter ? tile_width_ : tile_height_;
  if (!scaled_ || scaled_->width != sw || scaled_->height != sh) {
    scaled_ = AllocatePicture(sw, sh);
    if (!scaled_) return Status(ErrorCode::kInternal, "Out of memory for the storyboard.");
  }
  bool full_range = frame->color_range == AVCOL_RANGE_JPEG;
  const AVPixelFormat format = PlainFormat(static_cast<AVPixelFormat>(frame->format), &full_range);
  if (!sws_ || frame->width != sws_width_ || frame->height != sws_height_ ||
      format != sws_format_ || static_cast<int>(full_range) != sws_range_) {
    sws_.reset(sws_getContext(frame->width, frame->height, format, sw, sh, AV_PIX_FMT_YUV420P,
                              SWS_BICUBIC, nullptr, nullptr, nullptr));
    if (!sws_) return Status(ErrorCode::kInternal, "Cannot scale pictures for the storyboard.");
    // Sheets are JPEG, full range: expand limited-range video levels once, here.
    const int* coefficients = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(sws_.get(), coefficients, full_range ? 1 : 0, coefficients, 1, 0,
                             1 << 16, 1 << 16);
    sws_width_ = frame->width;
    sws_height_ = frame->height;
    sws_format_ = format;
    sws_range_ = full_range ? 1 : 0;
  }
  sws_scale(sws_.get(), frame->data, frame->linesize, 0, frame->height, scaled_->data,
            scaled_->linesize);
  if (!sheet_) {
    sheet_ = AllocatePicture(options_.columns * tile_width_, options_.rows * tile_height_);
    if (!sheet_) return Status(ErrorCode::kInternal, "Out of memory for the storyboard.");
    FillBlack(sheet_.get());
  }
  CopyTurned(scaled_.get(), sheet_.get(), in_sheet_ % options_.columns * tile_width_,
             in_sheet_ / options_.columns * tile_height_, rotation);
  ++in_sheet_;
  ++tiles_;
  return in_sheet_ == options_.columns * options_.rows ? FlushSheet() : Status::Ok();
}

Status StoryboardWriter::FlushSheet() {
  if (in_sheet_ == 0) return Status::Ok();
  // The last sheet is cut to the rows (and, with one row, the columns) it holds.
  FramePtr used = MakeFrame();
  if (!used || av_frame_ref(used.get(), sheet_.get()) < 0) {
    return Status(ErrorCode::kInternal, "Out of memory for the storyboard.");
  }
  used->width = std::min(in_sheet_, options_.columns) * tile_width_;
  used->height = (in_sheet_ + options_.columns - 1) / options_.columns * tile_height_;
  RETURN_IF_ERROR(EncodeJpeg(used.get(), StoryboardSheetPath(vtt_path_, sheets_written_ + 1),
                             {used->width, used->height}, options_.quality));
  used.reset();
  ++sheets_written_;
  in_sheet_ = 0;
  FillBlack(sheet_.get());
  return Status::Ok();
}

Status StoryboardWriter::WriteIndex(double end_s) {
  const int per_sheet = options_.columns * options_.rows;
  std::string text = "WEBVTT\n";
  for (int i = 0; i < tiles_; ++i) {
    const double start = i * interval_s_;
    // The last cue runs to the end of the video, so every moment has a picture (a tile that
    // starts there, from a timestamp past the end, gets an interval).
    const double end = i + 1 < tiles_  ? (i + 1) * interval_s_
                       : end_s > start ? end_s
                                       : start + interval_s_;
    const int cell = i % per_sheet;
    text += "\n" + VttTime(start) + " --> " + VttTime(end) + "\n" +
            StoryboardSheetName(vtt_path_, i / per_sheet + 1) +
            "#xywh=" + std::to_string(cell % options_.columns * tile_width_) + "," +
            std::to_string(cell / options_.columns * tile_height_) + "," +
            std::to_string(tile_width_) + "," + std::to_string(tile_height_) + "\n";
  }
  return WriteTextFile(vtt_path_, text);
}

Result<StoryboardInfo> StoryboardWriter::Finish(double end_s) {
  if (status_.ok() && tiles_ == 0) {
    status_ = Status(ErrorCode::kCorruptInput,
                     "No picture of the video could be decoded for the storyboard.");
  }
  if (status_.ok()) status_ = FlushSheet();
  if (status_.ok()) status_ = WriteIndex(end_s);
  sheet_.reset();
  scaled_.reset();
  sws_.reset();
  if (!status_.ok()) {
    RemoveStoryboard(vtt_path_, sheets_written_);
    sheets_written_ = 0;
    return status_;
  }
  finished_ = true;
  return StoryboardInfo{sheets_written_, tiles_,           interval_s_,  tile_width_,
                        tile_height_,    options_.columns, options_.rows};
}

Result<StoryboardInfo> ExtractStoryboard(const std::string& input_path, const InputLimits& limits,
                                         const CancelToken* cancel, const std::string& vtt_path,
                                         const StoryboardOptions& options, int threads) {
  ASSIGN_OR_RETURN(std::unique_ptr<InputFile> input, InputFile::Open(input_path, limits, cancel));
  MediaInfo info = Describe(*input);
  if (!info.video) return Status(ErrorCode::kNoVideoStream, "The file contains no video stream.");
  AVFormatContext* fmt = input->format();
  const AVStream* stream = fmt->streams[info.video->index];
  ASSIGN_OR_RETURN(CodecContextPtr decoder, OpenDecoder(stream, {.threads = threads,
                                                                 .max_pixels = limits.max_pixels,
                                                                 .output_corrupt = false}));
  const double duration =
      info.video->duration_s > 0 ? info.video->duration_s : std::max(0.0, info.duration_s);
  const int rotation = info.video->rotation;
  StoryboardWriter writer(vtt_path, duration, options);
  FramePtr frame = MakeFrame();
  PacketPtr packet = MakePacket();
  int64_t errors = 0;
  const int64_t start = fmt->start_time == AV_NOPTS_VALUE ? 0 : fmt->start_time;
  const int64_t start_pts = av_rescale_q(start, AV_TIME_BASE_Q, stream->time_base);
  double decoded_s = -1;  // time of the last picture decoded; < 0 before the first seek
  bool eof = false;

  while (!eof && !writer.failed() && writer.next_tile_s() < duration) {
    const double target = writer.next_tile_s();
    if (decoded_s < 0 || target > decoded_s + kSeekAheadS) {
      const int64_t ts = start + static_cast<int64_t>(target * AV_TIME_BASE);
      if (av_seek_frame(fmt, -1, ts, AVSEEK_FLAG_BACKWARD) < 0) break;
      avcodec_flush_buffers(decoder.get());
    }
    int frames = 0;
    while (!eof && frames < kMaxFramesPerTile && writer.next_tile_s() <= target) {
      if (cancel && cancel->cancelled()) {
        return Status(ErrorCode::kCancelled, "The job was cancelled.");
      }
      eof = av_read_frame(fmt, packet.get()) < 0;
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
            decoded_s = (f->best_effort_timestamp - start_pts) * av_q2d(stream->time_base);
            writer.Offer(f, decoded_s, rotation);
            return Status::Ok();
          });
      av_packet_unref(packet.get());
      RETURN_IF_ERROR(s);
    }
    if (frames >= kMaxFramesPerTile && writer.next_tile_s() <= target) break;
  }
  return writer.Finish(duration);
}

}  // namespace vidproc::media
