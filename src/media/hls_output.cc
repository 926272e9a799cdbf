#include "media/hls_output.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "media/av_error.h"
#include "media/av_ptr.h"

namespace vidproc::media {
namespace {

// Bits/s assumed for a stream that does not say (a copied stream without a bit rate).
constexpr int64_t kUnknownStreamBitrate = 2'000'000;
// The encoders' rate control lets a segment reach this much above the average.
constexpr double kPeakOverAverage = 1.5;

std::string Hex2(int v) {
  char buf[3];
  std::snprintf(buf, sizeof buf, "%02x", v & 0xff);
  return buf;
}

std::string H264CodecString(const uint8_t* data, int size) {
  // avcC: version 1, then profile, constraint flags, level.
  if (size >= 4 && data[0] == 1) return "avc1." + Hex2(data[1]) + Hex2(data[2]) + Hex2(data[3]);
  // Annex B: the SPS (NAL type 7) after a start code.
  for (int i = 0; i + 6 < size; ++i) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 && (data[i + 3] & 0x1f) == 7) {
      return "avc1." + Hex2(data[i + 4]) + Hex2(data[i + 5]) + Hex2(data[i + 6]);
    }
  }
  return "avc1.640028";  // High 4.0: covers 1280x720 at 60 fps
}

// Writes `path` under a temporary name in the same directory, then renames it into place.
Status WriteFileAtomically(const std::string& dir, const std::string& name, const void* data,
                           size_t size) {
  const std::string path = dir + "/" + name;
  const std::string temp = dir + "/." + name + ".tmp";
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  bool ok = f && (size == 0 || std::fwrite(data, 1, size, f) == size);
  if (f && std::fclose(f) != 0) ok = false;
  if (!ok || std::rename(temp.c_str(), path.c_str()) != 0) {
    std::remove(temp.c_str());
    return Status(ErrorCode::kOutputWriteFailed,
                  "Cannot write " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", s);
  return buf;
}

}  // namespace

std::string CodecString(const AVCodecParameters* codec) {
  switch (codec->codec_id) {
    case AV_CODEC_ID_H264: return H264CodecString(codec->extradata, codec->extradata_size);
    case AV_CODEC_ID_AAC:
      // The MPEG-4 audio object type: profile + 1 (LC = 2, HE = 5, HEv2 = 29).
      if (codec->profile == FF_PROFILE_AAC_HE) return "mp4a.40.5";
      if (codec->profile == FF_PROFILE_AAC_HE_V2) return "mp4a.40.29";
      return "mp4a.40.2";
    default: return "";
  }
}

Status WriteMasterPlaylist(const std::string& dir, const std::vector<HlsRungInfo>& rungs) {
  std::string text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  for (const HlsRungInfo& r : rungs) {
    text += "#EXT-X-STREAM-INF:BANDWIDTH=" + std::to_string(r.peak_bandwidth);
    if (r.average_bandwidth > 0) {
      text += ",AVERAGE-BANDWIDTH=" + std::to_string(r.average_bandwidth);
    }
    text += ",RESOLUTION=" + std::to_string(r.width) + "x" + std::to_string(r.height);
    if (!r.codecs.empty()) text += ",CODECS=\"" + r.codecs + "\"";
    text += "\n" + r.playlist + "\n";
  }
  return WriteFileAtomically(dir, kMasterPlaylistName, text.data(), text.size());
}

Result<std::unique_ptr<HlsOutput>> HlsOutput::Create(const std::string& dir, Options options) {
  std::unique_ptr<HlsOutput> out(new HlsOutput());
  out->dir_ = dir;
  out->options_ = std::move(options);
  int err = avformat_alloc_output_context2(&out->format_, nullptr, "mp4", nullptr);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the HLS muxer");
  out->scratch_ = MakePacket();
  if (!out->scratch_) return Status(ErrorCode::kInternal, "Out of memory.");
  err = avio_open_dyn_buf(&out->format_->pb);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot create the HLS muxer");
  return out;
}

HlsOutput::~HlsOutput() {
  if (!finished_) Abort();
  if (format_) {
    if (format_->pb) {
      uint8_t* unused = nullptr;
      avio_close_dyn_buf(format_->pb, &unused);
      av_free(unused);
    }
    avformat_free_context(format_);
  }
}

void HlsOutput::Abort() {
  // The playlist first: a reader never sees it name a segment already removed.
  std::stable_partition(written_.begin(), written_.end(),
                        [](const std::string& name) { return name.ends_with(".m3u8"); });
  for (const std::string& name : written_) std::remove((dir_ + "/" + name).c_str());
  written_.clear();
}

Status HlsOutput::AddStream(const AVCodecParameters* codec, AVRational time_base) {
  AVStream* st = avformat_new_stream(format_, nullptr);
  if (!st) return Status(ErrorCode::kInternal, "Out of memory.");
  int err = avcodec_parameters_copy(st->codecpar, codec);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot set up an HLS stream");
  st->codecpar->codec_tag = 0;
  st->time_base = time_base;
  if (codec->codec_type == AVMEDIA_TYPE_VIDEO && video_index_ < 0) video_index_ = st->index;
  int64_t rate = codec->bit_rate > 0 ? codec->bit_rate : kUnknownStreamBitrate;
  estimated_bandwidth_ += static_cast<int64_t>(rate * kPeakOverAverage);
  return Status::Ok();
}

Status HlsOutput::AddEncodedStream(const AVCodecContext* encoder) {
  std::unique_ptr<AVCodecParameters, void (*)(AVCodecParameters*)> par(
      avcodec_parameters_alloc(), [](AVCodecParameters* p) { avcodec_parameters_free(&p); });
  if (!par) return Status(ErrorCode::kInternal, "Out of memory.");
  int err = avcodec_parameters_from_context(par.get(), encoder);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot set up an HLS stream");
  return AddStream(par.get(), encoder->time_base);
}

Status HlsOutput::WriteHeader() {
  if (video_index_ < 0) return Status(ErrorCode::kInternal, "HLS output without a video stream.");
  Dictionary options;
  // Fragments only when asked (one per segment), the init segment's moov empty of samples, and
  // offsets relative to each moof, as CMAF and every HLS player expect.
  options.Set("movflags", "+frag_custom+empty_moov+default_base_moof+skip_trailer");
  format_->flags |= AVFMT_FLAG_BITEXACT;
  int err = avformat_write_header(format_, options.get());
  if (err < 0)
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot start the HLS output");
  uint8_t* data = nullptr;
  int size = avio_close_dyn_buf(format_->pb, &data);
  format_->pb = nullptr;
  Status s = WriteFile(options_.rung + "-init.mp4", data, static_cast<size_t>(size));
  av_free(data);
  RETURN_IF_ERROR(s);
  err = avio_open_dyn_buf(&format_->pb);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot continue the HLS output");
  header_written_ = true;
  return Status::Ok();
}

Status HlsOutput::WritePacket(const AVPacket* packet, AVRational time_base, int index) {
  if (index < 0 || index >= static_cast<int>(format_->nb_streams)) {
    return Status(ErrorCode::kInternal, "HLS packet for an unknown stream.");
  }
  if (!video_started_ && index != video_index_ && held_.size() < kMaxHeldPackets) {
    // The muxer shifts every stream by the first packet's timestamp so that none is negative;
    // the video's first DTS is (B-frames), the audio's is not: the video goes first.
    PacketPtr copy(av_packet_clone(packet));
    if (!copy) return Status(ErrorCode::kInternal, "Out of memory.");
    held_.push_back({std::move(copy), time_base, index});
    return Status::Ok();
  }
  RETURN_IF_ERROR(Mux(packet, time_base, index));
  if (index == video_index_ && !video_started_) {
    video_started_ = true;
    for (const Held& h : held_) RETURN_IF_ERROR(Mux(h.packet.get(), h.time_base, h.index));
    held_.clear();
  }
  return Status::Ok();
}

Status HlsOutput::Mux(const AVPacket* packet, AVRational time_base, int index) {
  const AVStream* st = format_->streams[index];
  if (index == video_index_ && packet->pts != AV_NOPTS_VALUE) {
    const double pts_s = packet->pts * av_q2d(time_base);
    if (!segment_has_video_) {
      segment_start_s_ = pts_s;
    } else if ((packet->flags & AV_PKT_FLAG_KEY) &&
               pts_s >= segment_start_s_ +
                            (segments_.empty() ? options_.first_segment_s : options_.segment_s) -
                            1e-3) {
      RETURN_IF_ERROR(CutSegment(pts_s));
      segment_start_s_ = pts_s;
    }
    segment_has_video_ = true;
    const double end_s = pts_s + std::max<int64_t>(packet->duration, 0) * av_q2d(time_base);
    video_end_s_ = std::max(video_end_s_, end_s);
  }
  int err = av_packet_ref(scratch_.get(), packet);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot copy a packet for HLS");
  av_packet_rescale_ts(scratch_.get(), time_base, st->time_base);
  scratch_->stream_index = index;
  scratch_->pos = -1;
  // Not interleaved: a fragment holds each track's samples apart until it is cut, so the order
  // across tracks does not matter, and a packet held back by interleaving would land in the
  // wrong segment.
  err = av_write_frame(format_, scratch_.get());
  av_packet_unref(scratch_.get());
  if (err < 0)
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot write an HLS segment");
  return Status::Ok();
}

Status HlsOutput::CutSegment(double end_s) {
  int err = av_write_frame(format_, nullptr);  // frag_custom: the fragment so far, flushed
  if (err < 0) return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot cut an HLS segment");
  RETURN_IF_ERROR(StoreSegment(end_s));
  err = avio_open_dyn_buf(&format_->pb);
  if (err < 0) return FromAvError(err, ErrorCode::kInternal, "Cannot continue the HLS output");
  return WriteMediaPlaylist(/*ended=*/false);
}

Status HlsOutput::StoreSegment(double end_s) {
  uint8_t* data = nullptr;
  int size = avio_close_dyn_buf(format_->pb, &data);
  format_->pb = nullptr;
  char name[64];
  std::snprintf(name, sizeof name, "%s-%05zu.m4s", options_.rung.c_str(), segments_.size());
  Status s = WriteFile(name, data, static_cast<size_t>(size));
  av_free(data);
  RETURN_IF_ERROR(s);
  const double duration = std::max(end_s - segment_start_s_, 0.0);
  segments_.push_back({name, duration, size});
  max_duration_s_ = std::max(max_duration_s_, duration);
  return Status::Ok();
}

Status HlsOutput::WriteMediaPlaylist(bool ended) {
  // The target must cover every segment: the GOP makes them segment_s plus at most one keyframe
  // interval, but a copied stream's keyframes may be further apart.
  const int target = static_cast<int>(std::ceil(std::max(max_duration_s_, options_.segment_s)));
  std::string text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:" + std::to_string(target) +
                     "\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:EVENT\n"
                     "#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"" +
                     options_.rung + "-init.mp4\"\n";
  double total = 0;
  for (const Segment& s : segments_) {
    text += "#EXTINF:" + Seconds(s.duration_s) + ",\n" + s.name + "\n";
    total += s.duration_s;
  }
  if (ended) text += "#EXT-X-ENDLIST\n";
  RETURN_IF_ERROR(WriteFile(options_.rung + ".m3u8", reinterpret_cast<const uint8_t*>(text.data()),
                            text.size()));
  if (listener_ && !segments_.empty()) listener_(static_cast<int>(segments_.size()), total);
  return Status::Ok();
}

Status HlsOutput::Finish() {
  if (!header_written_) return Status(ErrorCode::kInternal, "Finish() before WriteHeader().");
  for (const Held& h : held_) RETURN_IF_ERROR(Mux(h.packet.get(), h.time_base, h.index));
  held_.clear();
  int err = av_write_trailer(format_);  // the last fragment; skip_trailer: no mfra index
  if (err < 0)
    return FromAvError(err, ErrorCode::kOutputWriteFailed, "Cannot finish the HLS output");
  if (segment_has_video_) RETURN_IF_ERROR(StoreSegment(video_end_s_));
  RETURN_IF_ERROR(WriteMediaPlaylist(/*ended=*/true));
  finished_ = true;
  return Status::Ok();
}

HlsRungInfo HlsOutput::RungInfo() const {
  HlsRungInfo info;
  info.playlist = options_.rung + ".m3u8";
  std::vector<std::string> codecs;
  for (unsigned i = 0; i < format_->nb_streams; ++i) {
    const AVCodecParameters* par = format_->streams[i]->codecpar;
    if (static_cast<int>(i) == video_index_) {
      info.width = par->width;
      info.height = par->height;
    }
    std::string name = CodecString(par);
    if (!name.empty()) info.codecs += (info.codecs.empty() ? "" : ",") + name;
  }
  int64_t bytes = 0;
  double seconds = 0;
  int64_t peak = 0;
  for (const Segment& s : segments_) {
    bytes += s.bytes;
    seconds += s.duration_s;
    if (s.duration_s > 0.5) peak = std::max(peak, static_cast<int64_t>(s.bytes * 8 / s.duration_s));
  }
  if (seconds > 0 && peak > 0) {
    info.peak_bandwidth = peak;
    info.average_bandwidth = static_cast<int64_t>(bytes * 8 / seconds);
  } else {
    info.peak_bandwidth = estimated_bandwidth_;
  }
  return info;
}

Status HlsOutput::WriteFile(const std::string& name, const uint8_t* data, size_t size) {
  RETURN_IF_ERROR(WriteFileAtomically(dir_, name, data, size));
  if (std::find(written_.begin(), written_.end(), name) == written_.end()) written_.push_back(name);
  return Status::Ok();
}

}  // namespace vidproc::media
