// The thumbnail: a representative picture, never a black, blank or broken one. While a video is
// re-encoded the picker is fed the pictures going to the encoder (decoded from the start, so never
// from a bad seek, already upright and scaled) and keeps only the best candidate so far: memory
// stays at one picture whatever the video's length.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/units.h"
#include "media/av_ptr.h"
#include "media/limits.h"

namespace vidproc::media {

struct FrameScore {
  double luma_mean = 0;
  double luma_stddev = 0;
  double chroma_offset = 0;  // mean distance of U and V from neutral grey; decoder garbage is green
  bool acceptable = false;   // neither black, nor blank, nor broken
  double value = 0;          // higher is more representative
};

// REQUIRES: `frame` is planar YUV with 8-bit samples (yuv420p, yuvj420p, ...).
FrameScore ScoreFrame(const AVFrame* frame);

class ThumbnailPicker {
 public:
  // Candidates are the first pictures at or after 10%, 20%, ... 50% of `duration_s`.
  explicit ThumbnailPicker(double duration_s);
  // Call with every picture in presentation order.
  void Offer(const AVFrame* frame, double seconds);
  // True once every candidate position has been passed.
  bool done() const { return next_ >= targets_.size(); }
  // The best candidate, or the first picture if there was no candidate; null if none was offered.
  const AVFrame* best() const;
  const FrameScore& best_score() const { return best_score_; }
  double best_seconds() const { return best_seconds_; }

 private:
  std::array<double, 5> targets_{};
  size_t next_ = 0;
  FramePtr best_;
  FrameScore best_score_;
  double best_seconds_ = 0;
  FramePtr first_;
};

// The deprecated "J" pixel formats only mean full range: the plain format, with `*full_range` set
// to true for them (left as it is otherwise), which is what swscale wants.
AVPixelFormat PlainFormat(AVPixelFormat f, bool* full_range);

// Scales `frame` to exactly `size` (swscale, bicubic; limited-range video levels expanded to
// JPEG's full range) and writes it as a JPEG of `quality` (1..100), through `path`.partial renamed
// into place. Any 8-bit or deeper YUV `frame` the decoders and filters give.
Status EncodeJpeg(const AVFrame* frame, const std::string& path, Size size, int quality);

// Scales `frame` to fit `max_size` (never up) and writes it as a JPEG of `quality` (1..100).
Status WriteJpeg(const AVFrame* frame, const std::string& path, Size max_size, int quality);

// Where the variant of `width` is written beside a thumbnail: "thumbnail.jpg" ->
// "thumbnail-320.jpg".
std::string ThumbnailVariantPath(const std::string& thumbnail_path, int width);

// Writes `frame` as the thumbnail (WriteJpeg) and, scaled from the same picture rather than from
// the JPEG, one variant for each of `widths` narrower than the thumbnail: aspect kept, never
// upscaled, so a list can fetch a 160 px picture instead of a 1280 px one. Returns the widths
// written, ascending. On failure nothing is left at `path` or at any variant's path.
Result<std::vector<int>> WriteThumbnails(const AVFrame* frame, const std::string& path,
                                         Size max_size, int quality,
                                         const std::vector<int>& widths);

struct ExtractedThumbnail {
  double at_s = 0;          // the position of the picture chosen
  std::vector<int> widths;  // the variants written (WriteThumbnails)
};

// For files that are not re-encoded: seeks to the candidate positions in `input_path`, decodes
// forward to each (dropping pictures the decoder marks as damaged, as after a seek to a falsely
// flagged keyframe) and writes the best as a JPEG, with its variants of `widths`.
// REQUIRES: the video stream is upright with square pixels (true of every passthrough file).
Result<ExtractedThumbnail> ExtractThumbnail(const std::string& input_path,
                                            const InputLimits& limits, const CancelToken* cancel,
                                            const std::string& jpeg_path, Size max_size,
                                            int quality, const std::vector<int>& widths);

}  // namespace vidproc::media
