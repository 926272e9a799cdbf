// A probe's description of a clip, made by hand: for the tests of what is decided from a probe
// alone (the plan, the cost model, admission), without a file.
#pragma once

#include <string>

#include "media/probe.h"

namespace vidproc::testing {

struct ClipShape {
  std::string codec = "h264";
  int width = 1920;
  int height = 1080;
  int bit_depth = 8;
  double fps = 30;
  bool hdr = false;  // HLG
  double seconds = 60;
  int64_t bit_rate = 20'000'000;
};

// A MOV with that video stream and a stereo AAC track, as `vidproc probe` describes it.
inline media::MediaInfo ClipInfo(const ClipShape& shape) {
  media::MediaInfo info;
  info.container = "mov";
  info.size_bytes = shape.bit_rate / 8 * static_cast<int64_t>(shape.seconds);
  info.duration_s = shape.seconds;
  media::VideoStreamInfo v;
  v.index = 0;
  v.codec = shape.codec;
  v.profile = shape.codec == "h264" ? "High" : (shape.bit_depth > 8 ? "Main 10" : "Main");
  v.width = shape.width;
  v.height = shape.height;
  v.bit_depth = shape.bit_depth;
  v.pixel_format = shape.bit_depth > 8 ? "yuv420p10le" : "yuv420p";
  v.frame_rate = shape.fps;
  v.hdr = shape.hdr;
  v.color_primaries = shape.hdr ? "bt2020" : "bt709";
  v.color_transfer = shape.hdr ? "arib-std-b67" : "bt709";
  v.color_space = shape.hdr ? "bt2020nc" : "bt709";
  v.bit_rate = shape.bit_rate;
  v.duration_s = shape.seconds;
  info.video = v;
  media::AudioStreamInfo a;
  a.index = 1;
  a.codec = "aac";
  a.profile = "LC";
  a.channels = 2;
  a.sample_rate = 48000;
  a.bit_rate = 128'000;
  info.audio.push_back(a);
  info.chosen_audio = 0;
  return info;
}

}  // namespace vidproc::testing
