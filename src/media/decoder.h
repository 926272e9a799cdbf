#pragma once

#include "core/status.h"
#include "media/av_ptr.h"

namespace vidproc::media {

struct DecoderOptions {
  int threads = 1;
  int64_t max_pixels = 0;      // 0: libav's default
  bool output_corrupt = true;  // false: drop frames the decoder knows are damaged (after a seek)
};

// A decoder for `stream`, opened, with the stream's time base as its packet time base.
Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const DecoderOptions& options);

// One send/receive step. Calls `on_frame` for every frame the decoder has ready after `packet`
// (null packet: drain). Errors the decoder reports for damaged data are counted in
// `*decode_errors`, not returned: hostile files are judged by the count, not by the first error.
template <typename OnFrame>
Status Decode(AVCodecContext* decoder, const AVPacket* packet, AVFrame* scratch,
              int64_t* decode_errors, OnFrame&& on_frame);

}  // namespace vidproc::media

#include "media/decoder_inl.h"
