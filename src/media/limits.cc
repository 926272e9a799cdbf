#include "media/limits.h"

#include <algorithm>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace vidproc::media {
namespace {

constexpr AVCodecID kVideoCodecs[] = {
    AV_CODEC_ID_H264,   AV_CODEC_ID_HEVC,  AV_CODEC_ID_VP8,        AV_CODEC_ID_VP9,
    AV_CODEC_ID_AV1,    AV_CODEC_ID_MPEG4, AV_CODEC_ID_MPEG1VIDEO, AV_CODEC_ID_MPEG2VIDEO,
    AV_CODEC_ID_PRORES, AV_CODEC_ID_DNXHD, AV_CODEC_ID_MJPEG,      AV_CODEC_ID_DVVIDEO,
    AV_CODEC_ID_H263,   AV_CODEC_ID_H263P, AV_CODEC_ID_FLV1,       AV_CODEC_ID_THEORA,
    AV_CODEC_ID_WMV3,   AV_CODEC_ID_VC1,
};

constexpr AVCodecID kAudioCodecs[] = {
    AV_CODEC_ID_AAC,       AV_CODEC_ID_AAC_LATM,   AV_CODEC_ID_MP3,       AV_CODEC_ID_MP2,
    AV_CODEC_ID_OPUS,      AV_CODEC_ID_VORBIS,     AV_CODEC_ID_AC3,       AV_CODEC_ID_EAC3,
    AV_CODEC_ID_FLAC,      AV_CODEC_ID_ALAC,       AV_CODEC_ID_AMR_NB,    AV_CODEC_ID_AMR_WB,
    AV_CODEC_ID_WMAV2,     AV_CODEC_ID_WMAPRO,     AV_CODEC_ID_PCM_S16LE, AV_CODEC_ID_PCM_S16BE,
    AV_CODEC_ID_PCM_U8,    AV_CODEC_ID_PCM_S8,     AV_CODEC_ID_PCM_S24LE, AV_CODEC_ID_PCM_S24BE,
    AV_CODEC_ID_PCM_S32LE, AV_CODEC_ID_PCM_S32BE,  AV_CODEC_ID_PCM_F32LE, AV_CODEC_ID_PCM_F32BE,
    AV_CODEC_ID_PCM_F64LE, AV_CODEC_ID_PCM_F64BE,  AV_CODEC_ID_PCM_MULAW, AV_CODEC_ID_PCM_ALAW,
    AV_CODEC_ID_PCM_DVD,   AV_CODEC_ID_PCM_BLURAY,
};

template <size_t N>
bool Contains(const AVCodecID (&list)[N], int id) {
  return std::find(std::begin(list), std::end(list), static_cast<AVCodecID>(id)) != std::end(list);
}

}  // namespace

Status CheckPictureSize(int width, int height, const InputLimits& limits) {
  if (width <= limits.max_width && height <= limits.max_height &&
      int64_t{width} * height <= limits.max_pixels) {
    return Status::Ok();
  }
  return Status(ErrorCode::kTooLargeDimensions,
                "The video is " + std::to_string(width) + "x" + std::to_string(height) +
                    "; the largest accepted is " + std::to_string(limits.max_width) + "x" +
                    std::to_string(limits.max_height) + " and " +
                    std::to_string(limits.max_pixels / 1'000'000) + " megapixels.");
}

Status CheckCodecAllowed(int codec_id, bool video) {
  if (video ? Contains(kVideoCodecs, codec_id) : Contains(kAudioCodecs, codec_id)) {
    return Status::Ok();
  }
  const char* name = avcodec_get_name(static_cast<AVCodecID>(codec_id));
  return Status(
      ErrorCode::kUnsupportedCodec,
      std::string("The ") + (video ? "video" : "audio") + " codec '" + name +
          "' is not accepted: videos must be H.264, HEVC, VP8, VP9, AV1, MPEG-4, MPEG-2, ProRes, "
          "DNxHD, MJPEG, DV or similar camera, phone or editor formats. Export the video as "
          "H.264 MP4 and upload it again.");
}

const std::string& AllowedDecoderNames() {
  static const std::string names = [] {
    std::string list;
    void* it = nullptr;
    while (const AVCodec* c = av_codec_iterate(&it)) {
      if (!av_codec_is_decoder(c)) continue;
      if (!Contains(kVideoCodecs, c->id) && !Contains(kAudioCodecs, c->id)) continue;
      list += (list.empty() ? "" : ",") + std::string(c->name);
    }
    return list;
  }();
  return names;
}

}  // namespace vidproc::media
