// What a file contains, as far as the engine cares: read from the demuxer's headers and the
// first packets, without decoding the whole file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "media/input_file.h"
#include "media/limits.h"

namespace vidproc::media {

struct Rational {
  int num = 0;
  int den = 1;
  double value() const { return den ? static_cast<double>(num) / den : 0.0; }
};

struct VideoStreamInfo {
  int index = -1;
  std::string codec;    // "h264"
  int codec_id = 0;     // AVCodecID
  std::string profile;  // "High"
  int width = 0;        // coded picture size
  int height = 0;
  Rational sample_aspect{1, 1};
  std::string pixel_format;  // "yuv420p10le"
  int bit_depth = 8;
  double frame_rate = 0;  // average frames per second, 0 if unknown
  int rotation = 0;       // clockwise degrees to turn the picture for display: 0, 90, 180, 270
  bool interlaced = false;
  std::string color_primaries;
  std::string color_transfer;
  std::string color_space;
  bool hdr = false;       // PQ or HLG transfer
  int64_t bit_rate = 0;   // bits/s, 0 if unknown
  double duration_s = 0;  // 0 if unknown

  // Display size after SAR and rotation.
  int display_width() const;
  int display_height() const;
};

struct AudioStreamInfo {
  int index = -1;
  std::string codec;
  std::string profile;
  int channels = 0;
  int sample_rate = 0;
  int64_t bit_rate = 0;
  bool is_default = false;
};

struct MediaInfo {
  std::string container;  // "mov", "matroska", ...
  int64_t size_bytes = 0;
  double duration_s = 0;            // 0 if unknown
  bool duration_estimated = false;  // guessed from the bitrate: not reliable for truncation checks
  int64_t bit_rate = 0;
  int stream_count = 0;
  int subtitle_streams = 0;
  int data_streams = 0;
  std::optional<VideoStreamInfo> video;  // the stream the engine will use
  std::vector<AudioStreamInfo> audio;    // all audio streams
  int chosen_audio = -1;                 // index into `audio`: the default, else the first; -1 none

  const AudioStreamInfo* audio_stream() const {
    return chosen_audio >= 0 ? &audio[chosen_audio] : nullptr;
  }
};

// Reads what the demuxer found. Never fails on an open InputFile; see CheckLimits.
MediaInfo Describe(const InputFile& input);

// Whether the engine will accept the file: no_video_stream, too_large_dimensions, too_long, ...
Status CheckLimits(const MediaInfo& info, const InputLimits& limits);

nlohmann::json ToJson(const MediaInfo& info);
// The inverse of ToJson (what `vidproc probe` prints and the queue stores), for deciding about a
// file from its stored probe without opening it. Fails when the JSON is not of that shape.
Result<MediaInfo> MediaInfoFromJson(const nlohmann::json& j);

}  // namespace vidproc::media
