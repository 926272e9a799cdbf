// Storyboards (scrub previews): a small picture every few seconds, tiled into JPEG sprite sheets,
// with a WebVTT index whose cues name a sheet and the tile's rectangle in it
// (`storyboard-1.jpg#xywh=160,0,160,90`): the format video.js, Plyr, hls.js-based players,
// PeerTube and Mux read for the preview over the progress bar.
//
// While a video is re-encoded the writer is fed the pictures going to the encoder (already
// upright, scaled and SDR); a file that is only remuxed is seeked once per tile
// (ExtractStoryboard). Either way memory holds one sheet at a time: a sheet is encoded and written
// as soon as it is full, and only the cues (a few bytes per tile) are kept until the end.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "core/status.h"
#include "media/av_ptr.h"
#include "media/limits.h"

namespace vidproc::media {

struct StoryboardOptions {
  int tile_width = 160;  // height from the picture's aspect, even
  int columns = 10;      // tiles per sheet: columns x rows
  int rows = 10;
  int quality = 75;  // JPEG quality of the sheets
  // The interval rule (StoryboardInterval): a tile every min_interval_s seconds, longer when the
  // video is long enough to need more than max_tiles tiles at that pace.
  double min_interval_s = 2;
  int max_tiles = 200;
};

// Seconds between tiles for a video of `duration_s`: min_interval_s, or for a video longer than
// max_tiles x min_interval_s, the whole number of seconds that keeps the tiles at or below
// max_tiles (ceil(duration / max_tiles)). A 10 s clip: 2 s, 5 tiles; 5 min: 2 s, 150 tiles;
// 1 h: 18 s, 200 tiles. Whole seconds keep the cue times readable.
double StoryboardInterval(double duration_s, const StoryboardOptions& options);

// What was made, as the summary reports it.
struct StoryboardInfo {
  int sheets = 0;
  int tiles = 0;
  double interval_s = 0;
  int tile_width = 0;
  int tile_height = 0;
  int columns = 0;  // of a full sheet; the last sheet is cut to the tiles it holds
  int rows = 0;
};

// Where sheet `n` (1-based) of the storyboard indexed at `vtt_path` is written: beside it, named
// after its stem ("dir/storyboard.vtt" -> "dir/storyboard-1.jpg").
std::string StoryboardSheetPath(const std::string& vtt_path, int n);
// The sheet's name as the index refers to it (relative, beside the index).
std::string StoryboardSheetName(const std::string& vtt_path, int n);
// Removes the index and sheets 1..sheets (what a later failure must not leave behind).
void RemoveStoryboard(const std::string& vtt_path, int sheets);

class StoryboardWriter {
 public:
  // Nothing is written until a sheet is full (or Finish).
  StoryboardWriter(std::string vtt_path, double duration_s, StoryboardOptions options = {});
  // Removes every file written unless Finish succeeded.
  ~StoryboardWriter();
  StoryboardWriter(const StoryboardWriter&) = delete;
  StoryboardWriter& operator=(const StoryboardWriter&) = delete;

  // Call with every picture in presentation order, `seconds` from the start of the video. The
  // first picture at or after a tile's start becomes that tile (a gap longer than the interval
  // repeats the picture after it). `rotation`: clockwise degrees (0, 90, 180, 270) that turn
  // the picture upright; the tile size comes from the first picture, upright.
  // The first error (out of memory, a sheet that cannot be written) is kept and stops the work.
  void Offer(const AVFrame* frame, double seconds, int rotation = 0);
  // When the next tile starts, in seconds: what a caller that seeks aims at.
  double next_tile_s() const { return static_cast<double>(tiles_) * interval_s_; }
  bool failed() const { return !status_.ok(); }
  // Writes the last sheet and then the index (cues end at `end_s`, the end of the last
  // picture). On failure nothing is left; on success the files are the caller's.
  Result<StoryboardInfo> Finish(double end_s);

 private:
  Status Place(const AVFrame* frame, int rotation);
  Status FlushSheet();
  Status WriteIndex(double end_s);

  const std::string vtt_path_;
  const StoryboardOptions options_;
  const double interval_s_;
  Status status_;
  int tile_width_ = 0;
  int tile_height_ = 0;
  int max_tiles_ = 0;       // of the declared duration, plus one
  int tiles_ = 0;           // placed so far
  int sheets_written_ = 0;  // sheets on disk
  int in_sheet_ = 0;        // tiles in the sheet being filled
  FramePtr sheet_;          // the one sheet in memory, full range yuv420p
  FramePtr scaled_;         // one tile before rotation
  SwsPtr sws_;
  int sws_width_ = 0, sws_height_ = 0, sws_format_ = -1, sws_range_ = -1;
  bool finished_ = false;
};

// For files that are remuxed, not decoded: seeks to each tile's start in `input_path` and
// decodes forward to it (dropping pictures the decoder marks as damaged, as ExtractThumbnail
// does), turning the pictures upright with the stream's display matrix. Decodes straight on
// instead of seeking when the next tile is near. `threads`: the decoder's, 0 for libav's choice.
Result<StoryboardInfo> ExtractStoryboard(const std::string& input_path, const InputLimits& limits,
                                         const CancelToken* cancel, const std::string& vtt_path,
                                         const StoryboardOptions& options, int threads);

}  // namespace vidproc::media
