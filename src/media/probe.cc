#include "media/probe.h"

#include <cmath>
#include <cstdio>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace vidproc::media {
namespace {

std::string OrEmpty(const char* s) { return s ? s : ""; }

// Clockwise rotation to apply for display, from the stream's display matrix.
int DisplayRotation(const AVStream* st) {
  const uint8_t* matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!matrix) return 0;
  double ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
  if (std::isnan(ccw)) return 0;
  int cw = static_cast<int>(std::lround(-ccw)) % 360;
  if (cw < 0) cw += 360;
  // Snap to the quarter turns we can apply losslessly; other angles are not produced by cameras.
  return ((cw + 45) / 90 % 4) * 90;
}

double StreamDuration(const AVStream* st) {
  if (st->duration == AV_NOPTS_VALUE || st->duration <= 0) return 0;
  return st->duration * av_q2d(st->time_base);
}

bool IsUsableVideo(const AVStream* st) {
  return st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
         !(st->disposition & AV_DISPOSITION_ATTACHED_PIC);
}

VideoStreamInfo DescribeVideo(const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  VideoStreamInfo v;
  v.index = st->index;
  v.codec = avcodec_get_name(par->codec_id);
  v.codec_id = par->codec_id;
  v.profile = OrEmpty(avcodec_profile_name(par->codec_id, par->profile));
  v.width = par->width;
  v.height = par->height;
  AVRational sar =
      par->sample_aspect_ratio.num ? par->sample_aspect_ratio : st->sample_aspect_ratio;
  if (sar.num > 0 && sar.den > 0) v.sample_aspect = {sar.num, sar.den};
  auto fmt = static_cast<AVPixelFormat>(par->format);
  if (const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(fmt)) {
    v.pixel_format = desc->name;
    v.bit_depth = desc->comp[0].depth;
  }
  AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
  if (rate.num > 0 && rate.den > 0) v.frame_rate = av_q2d(rate);
  v.rotation = DisplayRotation(st);
  v.interlaced = par->field_order == AV_FIELD_TT || par->field_order == AV_FIELD_BB ||
                 par->field_order == AV_FIELD_TB || par->field_order == AV_FIELD_BT;
  v.color_primaries = OrEmpty(av_color_primaries_name(par->color_primaries));
  v.color_transfer = OrEmpty(av_color_transfer_name(par->color_trc));
  v.color_space = OrEmpty(av_color_space_name(par->color_space));
  v.hdr = par->color_trc == AVCOL_TRC_SMPTE2084 || par->color_trc == AVCOL_TRC_ARIB_STD_B67;
  v.bit_rate = par->bit_rate;
  v.duration_s = StreamDuration(st);
  return v;
}

AudioStreamInfo DescribeAudio(const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  AudioStreamInfo a;
  a.index = st->index;
  a.codec = avcodec_get_name(par->codec_id);
  a.profile = OrEmpty(avcodec_profile_name(par->codec_id, par->profile));
  a.channels = par->ch_layout.nb_channels;
  a.sample_rate = par->sample_rate;
  a.bit_rate = par->bit_rate;
  a.is_default = st->disposition & AV_DISPOSITION_DEFAULT;
  return a;
}

}  // namespace

int VideoStreamInfo::display_width() const {
  double w = width * (sample_aspect.num > 0 ? sample_aspect.value() : 1.0);
  int dw = static_cast<int>(std::lround(w));
  return rotation == 90 || rotation == 270 ? height : dw;
}

int VideoStreamInfo::display_height() const {
  double w = width * (sample_aspect.num > 0 ? sample_aspect.value() : 1.0);
  int dw = static_cast<int>(std::lround(w));
  return rotation == 90 || rotation == 270 ? dw : height;
}

MediaInfo Describe(const InputFile& input) {
  const AVFormatContext* fmt = input.format();
  MediaInfo info;
  info.container = input.container();
  info.size_bytes = input.size_bytes();
  if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
    info.duration_s = fmt->duration / static_cast<double>(AV_TIME_BASE);
  }
  info.duration_estimated = fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
  info.bit_rate = fmt->bit_rate;
  info.stream_count = static_cast<int>(fmt->nb_streams);

  const AVStream* video = nullptr;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    switch (st->codecpar->codec_type) {
      case AVMEDIA_TYPE_VIDEO:
        // Prefer the stream marked default; cover art is not a video.
        if (IsUsableVideo(st) && (!video || (!(video->disposition & AV_DISPOSITION_DEFAULT) &&
                                             (st->disposition & AV_DISPOSITION_DEFAULT)))) {
          video = st;
        }
        break;
      case AVMEDIA_TYPE_AUDIO:
        if (st->codecpar->ch_layout.nb_channels > 0 && st->codecpar->sample_rate > 0) {
          info.audio.push_back(DescribeAudio(st));
        }
        break;
      case AVMEDIA_TYPE_SUBTITLE: info.subtitle_streams++; break;
      default: info.data_streams++; break;
    }
  }
  if (video) info.video = DescribeVideo(video);
  for (size_t i = 0; i < info.audio.size(); ++i) {
    if (info.audio[i].is_default) {
      info.chosen_audio = static_cast<int>(i);
      break;
    }
  }
  if (info.chosen_audio < 0 && !info.audio.empty()) info.chosen_audio = 0;
  return info;
}

Status CheckLimits(const MediaInfo& info, const InputLimits& limits) {
  if (!info.video) {
    if (!info.audio.empty()) {
      return Status(ErrorCode::kNoVideoStream,
                    "The file has audio but no video stream; there is no picture to process.");
    }
    return Status(ErrorCode::kNoVideoStream, "The file contains no video stream.");
  }
  if (info.stream_count > limits.max_streams) {
    return Status(ErrorCode::kTooManyStreams,
                  "The file has " + std::to_string(info.stream_count) + " streams; at most " +
                      std::to_string(limits.max_streams) + " are accepted.");
  }
  const VideoStreamInfo& v = *info.video;
  RETURN_IF_ERROR(CheckCodecAllowed(v.codec_id, /*video=*/true));
  if (!avcodec_find_decoder(static_cast<AVCodecID>(v.codec_id))) {
    return Status(ErrorCode::kUnsupportedCodec,
                  "The video codec '" + v.codec + "' is not supported.");
  }
  if (v.width <= 0 || v.height <= 0) {
    return Status(ErrorCode::kCorruptInput, "The video stream declares no picture size.");
  }
  RETURN_IF_ERROR(CheckPictureSize(v.width, v.height, limits));
  if (info.duration_s > limits.max_duration_s) {
    return Status(ErrorCode::kTooLong,
                  "The video lasts " + std::to_string(static_cast<int64_t>(info.duration_s / 60)) +
                      " minutes; the limit is " +
                      std::to_string(static_cast<int64_t>(limits.max_duration_s / 60)) +
                      " minutes.");
  }
  if (v.frame_rate > limits.max_frame_rate) {
    return Status(ErrorCode::kTooHighFrameRate,
                  "The video declares " + std::to_string(static_cast<int>(v.frame_rate)) +
                      " frames per second; at most " +
                      std::to_string(static_cast<int>(limits.max_frame_rate)) + " are accepted.");
  }
  return Status::Ok();
}

nlohmann::json ToJson(const MediaInfo& info) {
  nlohmann::json j = {
      {"container", info.container},
      {"size_bytes", info.size_bytes},
      {"duration_s", info.duration_s},
      {"duration_estimated", info.duration_estimated},
      {"bit_rate", info.bit_rate},
      {"stream_count", info.stream_count},
      {"subtitle_streams", info.subtitle_streams},
      {"data_streams", info.data_streams},
  };
  if (info.video) {
    const VideoStreamInfo& v = *info.video;
    j["video"] = {
        {"index", v.index},
        {"codec", v.codec},
        {"profile", v.profile},
        {"width", v.width},
        {"height", v.height},
        {"sample_aspect_ratio",
         std::to_string(v.sample_aspect.num) + ":" + std::to_string(v.sample_aspect.den)},
        {"display_width", v.display_width()},
        {"display_height", v.display_height()},
        {"pixel_format", v.pixel_format},
        {"bit_depth", v.bit_depth},
        {"frame_rate", std::round(v.frame_rate * 1000) / 1000},
        {"rotation", v.rotation},
        {"interlaced", v.interlaced},
        {"color_primaries", v.color_primaries},
        {"color_transfer", v.color_transfer},
        {"color_space", v.color_space},
        {"hdr", v.hdr},
        {"bit_rate", v.bit_rate},
        {"duration_s", v.duration_s},
    };
  } else {
    j["video"] = nullptr;
  }
  j["audio"] = nlohmann::json::array();
  for (size_t i = 0; i < info.audio.size(); ++i) {
    const AudioStreamInfo& a = info.audio[i];
    j["audio"].push_back({{"index", a.index},
                          {"codec", a.codec},
                          {"profile", a.profile},
                          {"channels", a.channels},
                          {"sample_rate", a.sample_rate},
                          {"bit_rate", a.bit_rate},
                          {"default", a.is_default},
                          {"selected", static_cast<int>(i) == info.chosen_audio}});
  }
  return j;
}

namespace {

// Reads `key` of `j` into `out` when present; false when present with the wrong type or out of
// [lo, hi].
template <typename T>
bool ReadNumber(const nlohmann::json& j, const char* key, T lo, T hi, T* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number()) return false;
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < static_cast<double>(lo) || value > static_cast<double>(hi)) {
    return false;
  }
  *out = static_cast<T>(value);
  return true;
}

bool ReadString(const nlohmann::json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_string() || it->get_ref<const std::string&>().size() > 64) return false;
  *out = it->get<std::string>();
  return true;
}

bool ReadBool(const nlohmann::json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_boolean()) return false;
  *out = it->get<bool>();
  return true;
}

}  // namespace

Result<MediaInfo> MediaInfoFromJson(const nlohmann::json& j) {
  const Status bad(ErrorCode::kInvalidArgument, "The probe is not what vidproc probe writes.");
  // What every probe has: a container, a duration and a video member (null when there is none).
  if (!j.is_object() || !j.contains("container") || !j["container"].is_string() ||
      !j.contains("duration_s") || !j.contains("video")) {
    return bad;
  }
  constexpr int64_t kMaxBytes = int64_t{1} << 50;
  constexpr double kMaxSeconds = 1e7;
  constexpr int kMaxSide = 1 << 16;
  MediaInfo info;
  bool ok = ReadString(j, "container", &info.container) &&
            ReadNumber<int64_t>(j, "size_bytes", 0, kMaxBytes, &info.size_bytes) &&
            ReadNumber(j, "duration_s", 0.0, kMaxSeconds, &info.duration_s) &&
            ReadBool(j, "duration_estimated", &info.duration_estimated) &&
            ReadNumber<int64_t>(j, "bit_rate", 0, kMaxBytes, &info.bit_rate) &&
            ReadNumber(j, "stream_count", 0, 1 << 16, &info.stream_count) &&
            ReadNumber(j, "subtitle_streams", 0, 1 << 16, &info.subtitle_streams) &&
            ReadNumber(j, "data_streams", 0, 1 << 16, &info.data_streams);
  if (!ok) return bad;
  if (auto v = j.find("video"); v != j.end() && !v->is_null()) {
    if (!v->is_object()) return bad;
    VideoStreamInfo video;
    std::string sar;
    ok = ReadNumber(*v, "index", 0, 1 << 16, &video.index) &&
         ReadString(*v, "codec", &video.codec) && ReadString(*v, "profile", &video.profile) &&
         ReadNumber(*v, "width", 0, kMaxSide, &video.width) &&
         ReadNumber(*v, "height", 0, kMaxSide, &video.height) &&
         ReadString(*v, "sample_aspect_ratio", &sar) &&
         ReadString(*v, "pixel_format", &video.pixel_format) &&
         ReadNumber(*v, "bit_depth", 1, 32, &video.bit_depth) &&
         ReadNumber(*v, "frame_rate", 0.0, 10'000.0, &video.frame_rate) &&
         ReadNumber(*v, "rotation", 0, 270, &video.rotation) &&
         ReadBool(*v, "interlaced", &video.interlaced) &&
         ReadString(*v, "color_primaries", &video.color_primaries) &&
         ReadString(*v, "color_transfer", &video.color_transfer) &&
         ReadString(*v, "color_space", &video.color_space) && ReadBool(*v, "hdr", &video.hdr) &&
         ReadNumber<int64_t>(*v, "bit_rate", 0, kMaxBytes, &video.bit_rate) &&
         ReadNumber(*v, "duration_s", 0.0, kMaxSeconds, &video.duration_s);
    if (!ok || video.rotation % 90 != 0) return bad;
    int num = 1, den = 1;
    if (!sar.empty() && (std::sscanf(sar.c_str(), "%d:%d", &num, &den) != 2 || num <= 0 ||
                         den <= 0 || num > kMaxSide || den > kMaxSide)) {
      num = den = 1;  // unknown: square pixels, as the engine assumes
    }
    video.sample_aspect = {num, den};
    info.video = std::move(video);
  }
  if (auto audio = j.find("audio"); audio != j.end() && audio->is_array()) {
    if (audio->size() > 1024) return bad;
    for (const auto& a : *audio) {
      if (!a.is_object()) return bad;
      AudioStreamInfo stream;
      bool selected = false;
      ok = ReadNumber(a, "index", 0, 1 << 16, &stream.index) &&
           ReadString(a, "codec", &stream.codec) && ReadString(a, "profile", &stream.profile) &&
           ReadNumber(a, "channels", 0, 1024, &stream.channels) &&
           ReadNumber(a, "sample_rate", 0, 10'000'000, &stream.sample_rate) &&
           ReadNumber<int64_t>(a, "bit_rate", 0, kMaxBytes, &stream.bit_rate) &&
           ReadBool(a, "default", &stream.is_default) && ReadBool(a, "selected", &selected);
      if (!ok) return bad;
      if (selected) info.chosen_audio = static_cast<int>(info.audio.size());
      info.audio.push_back(std::move(stream));
    }
  }
  return info;
}

}  // namespace vidproc::media
