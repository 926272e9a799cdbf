#include "media/decoder.h"

#include "media/limits.h"

namespace vidproc::media {

Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const DecoderOptions& options) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec) {
    return Status(ErrorCode::kUnsupportedCodec, std::string("No decoder for the codec '") +
                                                    avcodec_get_name(stream->codecpar->codec_id) +
                                                    "'.");
  }
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (!ctx) return Status(ErrorCode::kInternal, "Out of memory.");
  int err = avcodec_parameters_to_context(ctx.get(), stream->codecpar);
  if (err < 0) return FromAvError(err, ErrorCode::kCorruptInput, "Bad codec parameters");
  ctx->pkt_timebase = stream->time_base;
  ctx->thread_count = options.threads;
  ctx->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  if (options.max_pixels > 0) ctx->max_pixels = options.max_pixels;
  if (options.output_corrupt) {
    ctx->flags |= AV_CODEC_FLAG_OUTPUT_CORRUPT;
  } else {
    ctx->flags &= ~AV_CODEC_FLAG_OUTPUT_CORRUPT;
  }
  // The allowlist once more, where the decoder is opened (limits.h).
  AVDictionary* open_options = nullptr;
  av_dict_set(&open_options, "codec_whitelist", AllowedDecoderNames().c_str(), 0);
  err = avcodec_open2(ctx.get(), codec, &open_options);
  av_dict_free(&open_options);
  if (err < 0) {
    return FromAvError(err, ErrorCode::kUnsupportedCodec,
                       std::string("Cannot open the ") + codec->name + " decoder");
  }
  return ctx;
}

}  // namespace vidproc::media
