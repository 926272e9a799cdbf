#include "media_test_util.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>

extern "C" {
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
}

namespace vidproc::media::testing {
namespace {

struct FormatCloser {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
using FormatPtr = std::unique_ptr<AVFormatContext, FormatCloser>;

FormatPtr OpenPlain(const std::string& path) {
  AVFormatContext* f = nullptr;
  if (avformat_open_input(&f, path.c_str(), nullptr, nullptr) < 0) return nullptr;
  FormatPtr owned(f);
  if (avformat_find_stream_info(f, nullptr) < 0) return nullptr;
  return owned;
}

CodecContextPtr OpenPlainDecoder(const AVStream* st) {
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec) return nullptr;
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  avcodec_parameters_to_context(ctx.get(), st->codecpar);
  ctx->pkt_timebase = st->time_base;
  if (avcodec_open2(ctx.get(), codec, nullptr) < 0) return nullptr;
  return ctx;
}

}  // namespace

std::string Fixture(const std::string& name) {
  const char* dir = std::getenv("VIDPROC_FIXTURES");
  return std::string(dir ? dir : VIDPROC_FIXTURES_PATH) + "/" + name;
}

std::string MakeTempDir() {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string templ = base + "vidproc-test-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  return buf.data();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

MediaInfo ProbeFile(const std::string& path) {
  auto in = InputFile::Open(path, InputLimits{}, nullptr);
  if (!in.ok()) throw std::runtime_error("cannot probe " + path + ": " + in.status().ToString());
  return Describe(*in.value());
}

std::vector<FramePtr> DecodeFrames(const std::string& path, int max_frames) {
  std::vector<FramePtr> frames;
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return frames;
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) return frames;
  CodecContextPtr dec = OpenPlainDecoder(fmt->streams[index]);
  if (!dec) return frames;
  FramePtr frame = MakeFrame();
  PacketPtr pkt = MakePacket();
  bool eof = false;
  while (static_cast<int>(frames.size()) < max_frames) {
    if (!eof) {
      if (av_read_frame(fmt.get(), pkt.get()) < 0) {
        eof = true;
        avcodec_send_packet(dec.get(), nullptr);
      } else {
        if (pkt->stream_index == index) avcodec_send_packet(dec.get(), pkt.get());
        av_packet_unref(pkt.get());
      }
    }
    int err = 0;
    while (static_cast<int>(frames.size()) < max_frames &&
           (err = avcodec_receive_frame(dec.get(), frame.get())) >= 0) {
      frames.emplace_back(av_frame_clone(frame.get()));
      av_frame_unref(frame.get());
    }
    if (eof && err == AVERROR_EOF) break;
  }
  return frames;
}

FramePtr DecodePictureAt(const std::string& path, double seconds) {
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return nullptr;
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) return nullptr;
  AVStream* st = fmt->streams[index];
  CodecContextPtr dec = OpenPlainDecoder(st);
  if (!dec) return nullptr;
  int64_t start = st->start_time == AV_NOPTS_VALUE ? 0 : st->start_time;
  FramePtr frame = MakeFrame();
  FramePtr chosen;  // the first picture at or after `seconds`, else the last one
  PacketPtr pkt = MakePacket();
  bool eof = false, reached = false;
  while (!reached) {
    if (!eof) {
      if (av_read_frame(fmt.get(), pkt.get()) < 0) {
        eof = true;
        avcodec_send_packet(dec.get(), nullptr);
      } else {
        if (pkt->stream_index == index) avcodec_send_packet(dec.get(), pkt.get());
        av_packet_unref(pkt.get());
      }
    }
    int err;
    while (!reached && (err = avcodec_receive_frame(dec.get(), frame.get())) >= 0) {
      double t = (frame->best_effort_timestamp - start) * av_q2d(st->time_base);
      chosen.reset(av_frame_clone(frame.get()));
      reached = t + 1e-3 >= seconds;
      av_frame_unref(frame.get());
    }
    if (eof && err == AVERROR_EOF) break;
  }
  if (!chosen) return nullptr;
  // Convert to yuv420p so that tests read 8-bit luma whatever the source format.
  FramePtr out = MakeFrame();
  out->format = AV_PIX_FMT_YUV420P;
  out->width = chosen->width;
  out->height = chosen->height;
  av_frame_get_buffer(out.get(), 0);
  SwsContext* sws = sws_getContext(
      chosen->width, chosen->height, static_cast<AVPixelFormat>(chosen->format), out->width,
      out->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, nullptr, nullptr, nullptr);
  sws_scale(sws, chosen->data, chosen->linesize, 0, chosen->height, out->data, out->linesize);
  sws_freeContext(sws);
  return out;
}

double MeanLuma(const AVFrame* p, double x0, double y0, double x1, double y1) {
  int ax = static_cast<int>(x0 * p->width), bx = static_cast<int>(x1 * p->width);
  int ay = static_cast<int>(y0 * p->height), by = static_cast<int>(y1 * p->height);
  double sum = 0;
  int64_t n = 0;
  for (int y = ay; y < by; ++y) {
    for (int x = ax; x < bx; ++x) {
      sum += p->data[0][y * p->linesize[0] + x];
      ++n;
    }
  }
  return n ? sum / n : 0;
}

std::vector<std::string> TopLevelBoxes(const std::string& path) {
  std::vector<std::string> boxes;
  std::ifstream f(path, std::ios::binary);
  f.seekg(0, std::ios::end);
  const uint64_t size = f.tellg();
  uint64_t pos = 0;
  while (pos + 8 <= size) {
    f.seekg(static_cast<std::streamoff>(pos));
    unsigned char h[16];
    f.read(reinterpret_cast<char*>(h), 8);
    uint64_t len = (uint64_t{h[0]} << 24) | (h[1] << 16) | (h[2] << 8) | h[3];
    std::string type(reinterpret_cast<char*>(h + 4), 4);
    if (len == 1) {
      f.read(reinterpret_cast<char*>(h + 8), 8);
      len = 0;
      for (int i = 8; i < 16; ++i) len = (len << 8) | h[i];
    } else if (len == 0) {
      len = size - pos;
    }
    if (len < 8) break;
    boxes.push_back(type);
    pos += len;
  }
  return boxes;
}

bool HasDisplayMatrix(const std::string& path) {
  FormatPtr fmt = OpenPlain(path);
  for (unsigned i = 0; fmt && i < fmt->nb_streams; ++i) {
    if (av_stream_get_side_data(fmt->streams[i], AV_PKT_DATA_DISPLAYMATRIX, nullptr)) return true;
  }
  return false;
}

VideoCodecFacts VideoFacts(const std::string& path) {
  VideoCodecFacts facts;
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return facts;
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) return facts;
  const AVCodecParameters* par = fmt->streams[index]->codecpar;
  facts.codec = avcodec_get_name(par->codec_id);
  facts.profile = par->profile;
  const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
  facts.pixel_format = pf ? pf : "";
  facts.sar_num = par->sample_aspect_ratio.num;
  facts.sar_den = par->sample_aspect_ratio.den;
  switch (par->field_order) {
    case AV_FIELD_PROGRESSIVE: facts.field_order = "progressive"; break;
    case AV_FIELD_UNKNOWN: facts.field_order = "unknown"; break;
    default: facts.field_order = "interlaced"; break;
  }
  return facts;
}

std::vector<double> VideoFrameTimes(const std::string& path, bool keyframes_only) {
  std::vector<double> times;
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return times;
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  PacketPtr pkt = MakePacket();
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == index && pkt->pts != AV_NOPTS_VALUE &&
        (!keyframes_only || (pkt->flags & AV_PKT_FLAG_KEY))) {
      times.push_back(pkt->pts * av_q2d(fmt->streams[index]->time_base));
    }
    av_packet_unref(pkt.get());
  }
  std::sort(times.begin(), times.end());
  return times;
}

double DominantAudioFrequency(const std::string& path) {
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return 0;
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  if (index < 0) return 0;
  CodecContextPtr dec = OpenPlainDecoder(fmt->streams[index]);
  if (!dec) return 0;
  PacketPtr pkt = MakePacket();
  FramePtr frame = MakeFrame();
  int64_t crossings = 0, samples = 0;
  float previous = 0;
  bool have_previous = false;
  while (av_read_frame(fmt.get(), pkt.get()) >= 0 && samples < 4 * 48000) {
    if (pkt->stream_index == index && avcodec_send_packet(dec.get(), pkt.get()) >= 0) {
      while (avcodec_receive_frame(dec.get(), frame.get()) >= 0) {
        if (frame->format == AV_SAMPLE_FMT_FLTP) {
          const float* s = reinterpret_cast<const float*>(frame->data[0]);
          for (int i = 0; i < frame->nb_samples; ++i) {
            if (have_previous && ((previous < 0) != (s[i] < 0))) ++crossings;
            previous = s[i];
            have_previous = true;
          }
          samples += frame->nb_samples;
        }
        av_frame_unref(frame.get());
      }
    }
    av_packet_unref(pkt.get());
  }
  if (samples == 0) return 0;
  double seconds = static_cast<double>(samples) / dec->sample_rate;
  return crossings / 2.0 / seconds;
}

int CountStreams(const std::string& path, AVMediaType type) {
  FormatPtr fmt = OpenPlain(path);
  int n = 0;
  for (unsigned i = 0; fmt && i < fmt->nb_streams; ++i) {
    if (fmt->streams[i]->codecpar->codec_type == type) ++n;
  }
  return n;
}

std::string ContainerMetadata(const std::string& path, const std::string& key) {
  FormatPtr fmt = OpenPlain(path);
  if (!fmt) return "";
  const AVDictionaryEntry* e = av_dict_get(fmt->metadata, key.c_str(), nullptr, 0);
  return e ? e->value : "";
}

}  // namespace vidproc::media::testing
