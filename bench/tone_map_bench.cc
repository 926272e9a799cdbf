// tone_map_bench: CPU cost of the HDR video chain against the SDR chain on the same pictures,
// and how close the table-driven tone mapping stays to the float zscale + hable chain.
//
//   tone_map_bench INPUT [--size 1280x720] [--frames N] [--nodes N] [--kernel auto|scalar|avx2]
//
// Every decoded picture of INPUT (PQ or HLG) goes through three filter graphs, one thread each:
//   sdr    the chain a plain SDR source of that size gets (scale to yuv420p),
//   table  the HDR chain vidproc runs (zscale in the source's encoding, then ToneMapLut),
//   float  the float chain it replaced (zscale linear, tonemap=hable, zscale), the reference.
// The three run in turn on each picture (their order rotating), each timed with the thread's
// CPU clock, so machine noise hits all of them alike. Decoding is not counted. Prints one
// line of key=value pairs. Not a test: bench/hdr_bench.sh runs it.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "media/av_ptr.h"
#include "media/filter_graph.h"
#include "media/tone_map_lut.h"
#include "media/video_pipeline.h"
#include "support/picture_ssim.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
}

namespace vidproc::media {
namespace {

using vidproc::testing::Ssim;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "tone_map_bench: %s\n", what.c_str());
  exit(1);
}

// One filter chain with a buffer source and a sink, fed one picture at a time.
class Chain {
 public:
  Chain(const AVFrame* like, AVRational time_base, const std::string& chain) {
    graph_.reset(avfilter_graph_alloc());
    graph_->nb_threads = 1;
    char args[160];
    snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=1/1",
             like->width, like->height, like->format, time_base.num, time_base.den);
    if (avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in", args, nullptr,
                                     graph_.get()) < 0 ||
        avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr,
                                     nullptr, graph_.get()) < 0) {
      Die("cannot create a filter graph");
    }
    Status s = LinkFilterChain(graph_.get(), source_, sink_, chain, ErrorCode::kInternal);
    if (!s.ok()) Die(s.ToString());
  }
  // The picture out for `in` (the chains here emit one per input).
  FramePtr Run(AVFrame* in) {
    FramePtr out = MakeFrame();
    if (av_buffersrc_add_frame_flags(source_, in, AV_BUFFERSRC_FLAG_KEEP_REF) < 0 ||
        av_buffersink_get_frame(sink_, out.get()) < 0) {
      Die("a picture did not come through");
    }
    return out;
  }

 private:
  FilterGraphPtr graph_;
  AVFilterContext* source_ = nullptr;
  AVFilterContext* sink_ = nullptr;
};

int Main(int argc, char** argv) {
  if (argc < 2) {
    Die("usage: tone_map_bench INPUT [--size WxH] [--frames N] [--nodes N] "
        "[--kernel auto|scalar|avx2]");
  }
  std::string input = argv[1];
  int width = 1280, height = 720, max_frames = 1 << 30, nodes = ToneMapLut::kDefaultNodes;
  ToneMapLut::Kernel kernel = ToneMapLut::Kernel::kAuto;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--size" && sscanf(argv[i + 1], "%dx%d", &width, &height) == 2) continue;
    if (opt == "--nodes") {
      nodes = atoi(argv[i + 1]);
      continue;
    }
    if (opt == "--kernel") {
      std::string k = argv[i + 1];
      if (k == "scalar")
        kernel = ToneMapLut::Kernel::kScalar;
      else if (k == "avx2")
        kernel = ToneMapLut::Kernel::kAvx2;
      else if (k != "auto")
        Die("--kernel takes auto, scalar or avx2");
      continue;
    }
    if (opt == "--frames") {
      max_frames = atoi(argv[i + 1]);
      continue;
    }
    Die("unknown option " + opt);
  }
  AVFormatContext* raw_fmt = nullptr;
  if (avformat_open_input(&raw_fmt, input.c_str(), nullptr, nullptr) < 0) Die("cannot open input");
  std::unique_ptr<AVFormatContext, void (*)(AVFormatContext*)> fmt(
      raw_fmt, [](AVFormatContext* f) { avformat_close_input(&f); });
  if (avformat_find_stream_info(fmt.get(), nullptr) < 0) Die("cannot read stream info");
  int index = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) Die("no video stream");
  AVStream* st = fmt->streams[index];
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  CodecContextPtr dec(avcodec_alloc_context3(codec));
  avcodec_parameters_to_context(dec.get(), st->codecpar);
  if (avcodec_open2(dec.get(), codec, nullptr) < 0) Die("cannot open the decoder");
  const char* trc = av_color_transfer_name(st->codecpar->color_trc);
  std::string transfer = trc ? trc : "";

  Plan sdr_plan;
  sdr_plan.width = width;
  sdr_plan.height = height;
  Plan hdr_plan = sdr_plan;
  hdr_plan.tone_map = true;
  std::unique_ptr<Chain> chains[3];
  std::shared_ptr<const ToneMapLut> lut;
  double cpu[3] = {0, 0, 0}, apply_cpu = 0, table_build_s = 0, ssim_sum = 0, ssim_min = 1;
  int frames = 0;

  FramePtr frame = MakeFrame();
  PacketPtr pkt = MakePacket();
  bool eof = false;
  while (frames < max_frames) {
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
    while (frames < max_frames && (err = avcodec_receive_frame(dec.get(), frame.get())) >= 0) {
      if (!chains[0]) {
        chains[0] = std::make_unique<Chain>(frame.get(), st->time_base,
                                            BuildVideoFilterChain(sdr_plan, transfer));
        chains[1] = std::make_unique<Chain>(frame.get(), st->time_base,
                                            BuildVideoFilterChain(hdr_plan, transfer));
        chains[2] = std::make_unique<Chain>(frame.get(), st->time_base,
                                            BuildVideoFilterChain(hdr_plan, transfer, true));
        double t0 = ThreadCpuSeconds();
        auto built = ToneMapLut::For(transfer, frame.get(), nodes);
        if (!built.ok()) Die(built.status().ToString());
        lut = *built;
        table_build_s = ThreadCpuSeconds() - t0;
      }
      FramePtr out[3];
      for (int k = 0; k < 3; ++k) {
        int which = (frames + k) % 3;
        double t0 = ThreadCpuSeconds();
        out[which] = chains[which]->Run(frame.get());
        if (which == 1) {
          double t1 = ThreadCpuSeconds();
          FramePtr mapped = MakeFrame();
          Status s = lut->Apply(out[1].get(), mapped.get(), kernel);
          if (!s.ok()) Die(s.ToString());
          out[1] = std::move(mapped);
          apply_cpu += ThreadCpuSeconds() - t1;
        }
        cpu[which] += ThreadCpuSeconds() - t0;
      }
      double ssim = Ssim(out[1].get(), out[2].get());
      ssim_sum += ssim;
      ssim_min = std::min(ssim_min, ssim);
      ++frames;
      av_frame_unref(frame.get());
    }
    if (eof && err == AVERROR_EOF) break;
  }
  if (frames == 0) Die("no pictures decoded");
  printf(
      "frames=%d transfer=%s kernel=%s sdr_cpu_s=%.3f table_cpu_s=%.3f float_cpu_s=%.3f "
      "table_over_sdr=%.3f float_over_sdr=%.3f table_apply_cpu_s=%.3f table_build_cpu_s=%.3f "
      "ssim_mean=%.5f "
      "ssim_min=%.5f\n",
      frames, transfer.c_str(),
      kernel == ToneMapLut::Kernel::kScalar                          ? "scalar"
      : kernel == ToneMapLut::Kernel::kAvx2 || ToneMapLut::HasAvx2() ? "avx2"
                                                                     : "scalar",
      cpu[0], cpu[1], cpu[2], cpu[1] / cpu[0], cpu[2] / cpu[0], apply_cpu, table_build_s,
      ssim_sum / frames, ssim_min);
  return 0;
}

}  // namespace
}  // namespace vidproc::media

int main(int argc, char** argv) { return vidproc::media::Main(argc, argv); }
