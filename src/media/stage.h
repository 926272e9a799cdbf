#pragma once

#include <functional>

#include "core/status.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/mathematics.h>
}

namespace vidproc::media {

// Where an encoding stage hands its packets (in the encoder's time base).
using PacketSink = std::function<Status(AVPacket* packet)>;
// Receives each filtered picture (null once at the end of the stream). May keep a reference.
using FrameSink = std::function<Status(AVFrame* frame)>;
// Sees every picture that goes to the video encoder (upright, scaled), with its time in seconds.
using FrameTap = std::function<void(const AVFrame* frame, double seconds)>;

// Counters that let the transcoder judge a damaged or truncated input after the run.
struct StageStats {
  int64_t packets = 0;
  int64_t frames_decoded = 0;
  int64_t frames_encoded = 0;
  int64_t frames_dropped = 0;  // over the frame-rate cap or with non-increasing timestamps
  int64_t decode_errors = 0;
  double end_s = 0;  // end of the last decoded frame, from the start of the file
};

// `ts` moved from time base `from` to `to`. AV_NOPTS_VALUE stays AV_NOPTS_VALUE: av_rescale_q
// would turn it into an ordinary (huge negative) timestamp that no later check recognises.
inline int64_t RescaleTimestamp(int64_t ts, AVRational from, AVRational to) {
  return ts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(ts, from, to);
}

}  // namespace vidproc::media
