#pragma once

#include "media/av_error.h"

namespace vidproc::media {

template <typename OnFrame>
Status Decode(AVCodecContext* decoder, const AVPacket* packet, AVFrame* scratch,
              int64_t* decode_errors, OnFrame&& on_frame) {
  int err = avcodec_send_packet(decoder, packet);
  if (err == AVERROR_INVALIDDATA ||
      (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_EOF && err != AVERROR(ENOMEM))) {
    ++*decode_errors;
  } else if (err == AVERROR(ENOMEM)) {
    return FromAvError(err, ErrorCode::kInternal, "The decoder ran out of memory");
  }
  for (;;) {
    err = avcodec_receive_frame(decoder, scratch);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return Status::Ok();
    if (err < 0) {
      if (err == AVERROR(ENOMEM)) {
        return FromAvError(err, ErrorCode::kInternal, "The decoder ran out of memory");
      }
      ++*decode_errors;
      if (!packet) return Status::Ok();  // draining a broken decoder: stop here
      continue;
    }
    if (scratch->decode_error_flags) ++*decode_errors;
    Status s = on_frame(scratch);
    av_frame_unref(scratch);
    if (!s.ok()) return s;
  }
}

}  // namespace vidproc::media
