#pragma once

#include <cstdint>

namespace vidproc::media {

// What an input may be before the engine spends work on it. Every upload is hostile: these bound
// the memory a decoder can be made to allocate and the time a job can be made to take.
struct InputLimits {
  int64_t max_file_bytes = int64_t{20} << 30;  // 20 GiB
  int max_width = 8192;
  int max_height = 8192;
  int64_t max_pixels = 40'000'000;  // per frame, also enforced inside decoders (max_pixels)
  double max_duration_s = 4 * 3600.0;
  int max_streams = 32;
  double max_frame_rate = 240.0;
  int64_t probe_bytes = 20 << 20;   // how much the demuxer may read to find the streams
  int64_t analyze_us = 15'000'000;  // how much media time it may read for that
};

}  // namespace vidproc::media

#include "core/status.h"

namespace vidproc::media {

// too_large_dimensions when a picture of width x height exceeds the limits.
Status CheckPictureSize(int width, int height, const InputLimits& limits);

// The decoder allowlist: what cameras, phones, screen recorders and editors produce (H.264, HEVC,
// VP8/VP9, AV1, MPEG-4 part 2, MPEG-1/2, ProRes, DNxHD/HR, MJPEG, DV, H.263, Theora, WMV 9/VC-1;
// AAC, MP3/MP2, Opus, Vorbis, AC-3/E-AC-3, FLAC, ALAC, PCM, AMR, WMA). Every other decoder
// FFmpeg has (smc, qtrle, cinepak and a few hundred more) is attack surface no upload needs.
// unsupported_codec, naming the codec, for a video (`video`) or audio stream outside it.
Status CheckCodecAllowed(int codec_id, bool video);
// The libavcodec decoders of the allowlist, comma-separated: the `codec_whitelist` option, so
// that not even probing (avformat_find_stream_info) opens another decoder.
const std::string& AllowedDecoderNames();

}  // namespace vidproc::media
