// HLS from the packets that make the MP4: the same encoded video and audio also go into CMAF
// (fragmented MP4) segments, so streaming costs no second encode and no second decode.
//
//   {rung}-init.mp4        ftyp + moov (the codecs' set-up), written by WriteHeader()
//   {rung}-00000.m4s ...   moof + mdat, each starting at a video keyframe, about segment_s long
//                          (the first one first_segment_s)
//   {rung}.m3u8            the media playlist: rewritten after every segment as an EVENT playlist
//                          (a player can start while the rest is encoded), closed by Finish()
//                          with #EXT-X-ENDLIST
//   master.m3u8            the master playlist (WriteMasterPlaylist): BANDWIDTH, RESOLUTION, CODECS
//
// Every file is written under a temporary name and renamed into place, so a reader of the
// directory (the worker publishing segments while the job runs) never sees a partial file, and a
// playlist only names segments that are already complete.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "media/av_ptr.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

namespace vidproc::media {

inline constexpr char kMasterPlaylistName[] = "master.m3u8";

// What the master playlist says about one rung.
struct HlsRungInfo {
  std::string playlist;  // "720p.m3u8", relative to the master playlist
  int width = 0;
  int height = 0;
  std::string codecs;          // RFC 6381: "avc1.64001f,mp4a.40.2"
  int64_t peak_bandwidth = 0;  // bits/s of the most demanding segment (or an estimate)
  int64_t average_bandwidth = 0;
};

class HlsOutput {
 public:
  struct Options {
    double segment_s = 4.0;  // a segment ends at the first video keyframe at or after this
    // The first one is shorter: a video still being encoded can be played as soon as its first
    // segment is published, and this is most of the wait.
    double first_segment_s = 2.0;
    std::string rung = "720p";
  };
  // After a segment and the playlist naming it are in place: the segments so far and the seconds
  // they cover. Called from the muxing thread.
  using SegmentListener = std::function<void(int segments, double seconds)>;

  static Result<std::unique_ptr<HlsOutput>> Create(const std::string& dir, Options options);
  // Removes what it wrote unless Finish() succeeded.
  ~HlsOutput();
  HlsOutput(const HlsOutput&) = delete;
  HlsOutput& operator=(const HlsOutput&) = delete;

  void set_segment_listener(SegmentListener listener) { listener_ = std::move(listener); }

  // REQUIRES: before WriteHeader(). Streams are numbered in the order they are added.
  Status AddStream(const AVCodecParameters* codec, AVRational time_base);
  // The same for an encoder's output.
  Status AddEncodedStream(const AVCodecContext* encoder);
  // Writes the init segment.
  Status WriteHeader();
  // `packet` (in `time_base`, for the stream numbered `index`) is copied, not consumed.
  Status WritePacket(const AVPacket* packet, AVRational time_base, int index);
  // Writes the last segment and closes the playlist.
  Status Finish();

  // What the master playlist says of this rung: estimated before the first segment (from the
  // streams' bit rates), measured after.
  HlsRungInfo RungInfo() const;
  const std::string& dir() const { return dir_; }
  int segments() const { return static_cast<int>(segments_.size()); }

 private:
  HlsOutput() = default;
  // Flushes the fragment into a segment file and names it in the playlist.
  Status CutSegment(double end_s);
  // Writes what the dynamic buffer holds as the next segment, ending at `end_s`.
  Status StoreSegment(double end_s);
  Status WriteMediaPlaylist(bool ended);
  Status Mux(const AVPacket* packet, AVRational time_base, int index);
  Status WriteFile(const std::string& name, const uint8_t* data, size_t size);
  void Abort();

  struct Segment {
    std::string name;
    double duration_s = 0;
    int64_t bytes = 0;
  };

  // Packets of other streams that came before the first video packet (at most kMaxHeldPackets).
  struct Held {
    PacketPtr packet;
    AVRational time_base;
    int index;
  };
  static constexpr size_t kMaxHeldPackets = 4096;

  std::string dir_;
  Options options_;
  bool video_started_ = false;
  std::vector<Held> held_;
  AVFormatContext* format_ = nullptr;
  PacketPtr scratch_;
  int video_index_ = -1;
  bool header_written_ = false;
  bool finished_ = false;
  bool segment_has_video_ = false;
  double segment_start_s_ = 0;
  double video_end_s_ = 0;  // end of the last video packet written
  double max_duration_s_ = 0;
  int64_t estimated_bandwidth_ = 0;
  std::vector<Segment> segments_;
  std::vector<std::string> written_;  // every file this output made, for Abort()
  SegmentListener listener_;
};

// RFC 6381 codec names as HLS's CODECS attribute wants them: "avc1.PPCCLL" from the H.264
// parameter sets (avcC or Annex B extradata), "mp4a.40.N" from the AAC profile.
std::string CodecString(const AVCodecParameters* codec);

// Writes `dir`/master.m3u8 (temporary name, then renamed) listing `rungs`, highest first.
Status WriteMasterPlaylist(const std::string& dir, const std::vector<HlsRungInfo>& rungs);

}  // namespace vidproc::media
