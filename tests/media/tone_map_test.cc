// The table-driven HDR to SDR mapping against the float zscale + hable chain it replaces, on the
// PQ and HLG fixtures, after a downscale (the table runs on the scaled picture, the reference
// linearises before scaling).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "media/filter_graph.h"
#include "media/media_test_util.h"
#include "media/tone_map_lut.h"
#include "media/video_pipeline.h"
#include "support/picture_ssim.h"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/mastering_display_metadata.h>
}

namespace vidproc::media {
namespace {

using testing::DecodeFrames;
using testing::Fixture;
using vidproc::testing::Ssim;

constexpr int kFrames = 20;

// Runs `frames` through `chain` and returns the pictures that come out.
std::vector<FramePtr> Filter(const std::vector<FramePtr>& frames, const std::string& chain) {
  std::vector<FramePtr> out;
  if (frames.empty()) return out;
  FilterGraphPtr graph(avfilter_graph_alloc());
  graph->nb_threads = 1;
  const AVFrame* first = frames.front().get();
  char args[160];
  snprintf(args, sizeof args, "video_size=%dx%d:pix_fmt=%d:time_base=1/25:pixel_aspect=1/1",
           first->width, first->height, first->format);
  AVFilterContext* source = nullptr;
  AVFilterContext* sink = nullptr;
  EXPECT_GE(avfilter_graph_create_filter(&source, avfilter_get_by_name("buffer"), "in", args,
                                         nullptr, graph.get()),
            0);
  EXPECT_GE(avfilter_graph_create_filter(&sink, avfilter_get_by_name("buffersink"), "out", nullptr,
                                         nullptr, graph.get()),
            0);
  Status linked = LinkFilterChain(graph.get(), source, sink, chain, ErrorCode::kInternal);
  EXPECT_TRUE(linked.ok()) << linked.ToString();
  if (!linked.ok()) return out;
  auto drain = [&] {
    for (FramePtr f = MakeFrame(); av_buffersink_get_frame(sink, f.get()) >= 0; f = MakeFrame())
      out.push_back(std::move(f));
  };
  for (size_t i = 0; i < frames.size(); ++i) {
    frames[i]->pts = static_cast<int64_t>(i);
    EXPECT_GE(av_buffersrc_add_frame_flags(source, frames[i].get(), AV_BUFFERSRC_FLAG_KEEP_REF), 0);
    drain();
  }
  EXPECT_GE(av_buffersrc_add_frame_flags(source, nullptr, 0), 0);
  drain();
  return out;
}

struct Look {
  double luma = 0;        // mean Y', 8-bit codes
  double saturation = 0;  // mean chroma distance from neutral, sqrt(Cb'^2 + Cr'^2), 8-bit codes
};

Look MeasureLook(const std::vector<FramePtr>& pictures) {
  Look look;
  double luma_samples = 0, chroma_samples = 0;
  for (const FramePtr& p : pictures) {
    for (int y = 0; y < p->height; ++y)
      for (int x = 0; x < p->width; ++x) look.luma += p->data[0][y * p->linesize[0] + x];
    luma_samples += static_cast<double>(p->width) * p->height;
    for (int y = 0; y < (p->height + 1) / 2; ++y) {
      for (int x = 0; x < (p->width + 1) / 2; ++x) {
        look.saturation += std::hypot(p->data[1][y * p->linesize[1] + x] - 128.0,
                                      p->data[2][y * p->linesize[2] + x] - 128.0);
      }
    }
    chroma_samples += static_cast<double>((p->width + 1) / 2) * ((p->height + 1) / 2);
  }
  look.luma /= luma_samples;
  look.saturation /= chroma_samples;
  return look;
}

struct Outputs {
  std::vector<FramePtr> reference;  // zscale + hable
  std::vector<FramePtr> table;      // scale, then ToneMapLut
  std::vector<FramePtr> untouched;  // scale only: what skipping the tone mapping looks like
};

Outputs MapBothWays(const std::string& fixture, const std::string& transfer, int nodes) {
  Outputs o;
  std::vector<FramePtr> decoded = DecodeFrames(Fixture(fixture), kFrames);
  EXPECT_EQ(static_cast<int>(decoded.size()), kFrames);
  if (decoded.empty()) return o;
  Plan plan;  // a downscale, as every 4K phone upload gets
  plan.width = 640;
  plan.height = 360;
  plan.tone_map = true;
  o.reference = Filter(decoded, BuildVideoFilterChain(plan, transfer, true));
  auto lut = ToneMapLut::For(transfer, decoded.front().get(), nodes);
  EXPECT_TRUE(lut.ok()) << lut.status().ToString();
  if (!lut.ok()) return o;
  for (FramePtr& scaled : Filter(decoded, BuildVideoFilterChain(plan, transfer))) {
    FramePtr mapped = MakeFrame();
    Status s = (*lut)->Apply(scaled.get(), mapped.get());
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(mapped->color_trc, AVCOL_TRC_BT709);
    EXPECT_EQ(mapped->colorspace, AVCOL_SPC_BT709);
    o.table.push_back(std::move(mapped));
  }
  o.untouched = Filter(decoded, "scale=w=640:h=360:flags=bicubic,format=yuv420p");
  return o;
}

struct Source {
  const char* fixture;
  const char* transfer;
};
constexpr Source kSources[] = {{"hdr10_hevc.mp4", "smpte2084"}, {"hlg_hevc.mkv", "arib-std-b67"}};

TEST(ToneMapLutTest, MatchesTheFloatHableChainWithinSsim099) {
  for (Source src : kSources) {
    SCOPED_TRACE(src.fixture);
    Outputs o = MapBothWays(src.fixture, src.transfer, ToneMapLut::kDefaultNodes);
    ASSERT_EQ(o.table.size(), o.reference.size());
    ASSERT_FALSE(o.table.empty());
    double worst = 1;
    for (size_t i = 0; i < o.table.size(); ++i)
      worst = std::min(worst, Ssim(o.table[i].get(), o.reference[i].get()));
    EXPECT_GE(worst, 0.99);
    RecordProperty(std::string(src.transfer) + "_worst_ssim", std::to_string(worst));
  }
}

// Not washed out, not oversaturated: mean luma within 2 codes (about 1 % of the 219-code range,
// under what a viewer notices side by side) and mean saturation within 5 % of the reference's.
// The same bounds reject the picture with no tone mapping at all, so they can tell.
TEST(ToneMapLutTest, KeepsTheReferenceBrightnessAndSaturation) {
  for (Source src : kSources) {
    SCOPED_TRACE(src.fixture);
    Outputs o = MapBothWays(src.fixture, src.transfer, ToneMapLut::kDefaultNodes);
    ASSERT_FALSE(o.table.empty());
    Look ref = MeasureLook(o.reference), got = MeasureLook(o.table), raw = MeasureLook(o.untouched);
    RecordProperty(std::string(src.transfer) + "_look",
                   "luma " + std::to_string(got.luma) + " vs " + std::to_string(ref.luma) +
                       ", saturation " + std::to_string(got.saturation) + " vs " +
                       std::to_string(ref.saturation));
    EXPECT_NEAR(got.luma, ref.luma, 2.0);
    EXPECT_NEAR(got.saturation / ref.saturation, 1.0, 0.05);
    bool raw_passes = std::abs(raw.luma - ref.luma) <= 2.0 &&
                      std::abs(raw.saturation / ref.saturation - 1.0) <= 0.05;
    EXPECT_FALSE(raw_passes) << "the bounds do not tell a tone-mapped picture from a raw one";
  }
}

// tonemap takes the curve's peak from MaxCLL (else the mastering peak): a PQ stream mastered to
// 4000 cd/m2 gets its own table, darker in the highlights than one mastered to 1000, and each
// agrees with the float chain given the same metadata.
TEST(ToneMapLutTest, LightLevelMetadataSetsThePeak) {
  std::vector<FramePtr> decoded = DecodeFrames(Fixture("hdr10_hevc.mp4"), 1);
  ASSERT_EQ(decoded.size(), 1u);
  ASSERT_NE(av_frame_get_side_data(decoded[0].get(), AV_FRAME_DATA_CONTENT_LIGHT_LEVEL), nullptr)
      << "the fixture carries MaxCLL";
  // A clone shares the side data buffers: replace the entry rather than edit it.
  FramePtr brighter(av_frame_clone(decoded[0].get()));
  av_frame_remove_side_data(brighter.get(), AV_FRAME_DATA_CONTENT_LIGHT_LEVEL);
  AVContentLightMetadata* cll = av_content_light_metadata_create_side_data(brighter.get());
  ASSERT_NE(cll, nullptr);
  cll->MaxCLL = 4000;
  cll->MaxFALL = 400;

  Plan plan;
  plan.width = 640;
  plan.height = 360;
  plan.tone_map = true;
  double mean_luma[2];
  int i = 0;
  for (const FramePtr* like : {&decoded[0], &brighter}) {
    std::vector<FramePtr> one;
    one.emplace_back(av_frame_clone(like->get()));
    std::vector<FramePtr> reference = Filter(one, BuildVideoFilterChain(plan, "smpte2084", true));
    std::vector<FramePtr> scaled = Filter(one, BuildVideoFilterChain(plan, "smpte2084"));
    auto lut = ToneMapLut::For("smpte2084", like->get());
    ASSERT_TRUE(lut.ok()) << lut.status().ToString();
    ASSERT_EQ(reference.size(), 1u);
    ASSERT_EQ(scaled.size(), 1u);
    FramePtr mapped = MakeFrame();
    ASSERT_TRUE((*lut)->Apply(scaled[0].get(), mapped.get()).ok());
    EXPECT_GE(Ssim(mapped.get(), reference[0].get()), 0.99);
    std::vector<FramePtr> pictures;
    pictures.push_back(std::move(mapped));
    mean_luma[i++] = MeasureLook(pictures).luma;
  }
  EXPECT_LT(mean_luma[1], mean_luma[0] - 2) << "a higher peak compresses more";
}

// The AVX2 kernel is the scalar one's arithmetic 8 pixels at a time: on random codes, the ends
// of the 10-bit range and samples past it (which both clamp to 1023), over a width that leaves a
// tail to the scalar code, the two give the same picture bit for bit.
TEST(ToneMapLutTest, Avx2KernelMatchesTheScalarKernelBitForBit) {
  if (!ToneMapLut::HasAvx2()) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> kind(0, 15), code(0, 1023), wild(1024, 65535);
  for (const char* transfer : {"smpte2084", "arib-std-b67"}) {
    SCOPED_TRACE(transfer);
    FramePtr in = MakeFrame();
    in->format = AV_PIX_FMT_YUV444P10LE;
    in->width = 203;
    in->height = 61;
    ASSERT_GE(av_frame_get_buffer(in.get(), 0), 0);
    for (int plane = 0; plane < 3; ++plane) {
      for (int y = 0; y < in->height; ++y) {
        auto* row = reinterpret_cast<uint16_t*>(in->data[plane] + y * in->linesize[plane]);
        for (int x = 0; x < in->width; ++x) {
          int k = kind(rng);
          row[x] = static_cast<uint16_t>(k < 2 ? 0 : k < 4 ? 1023 : k < 5 ? wild(rng) : code(rng));
        }
      }
    }
    for (int nodes : {17, ToneMapLut::kDefaultNodes, 65}) {
      SCOPED_TRACE(nodes);
      auto lut = ToneMapLut::For(transfer, in.get(), nodes);
      ASSERT_TRUE(lut.ok()) << lut.status().ToString();
      FramePtr scalar = MakeFrame(), avx2 = MakeFrame();
      ASSERT_TRUE((*lut)->Apply(in.get(), scalar.get(), ToneMapLut::Kernel::kScalar).ok());
      ASSERT_TRUE((*lut)->Apply(in.get(), avx2.get(), ToneMapLut::Kernel::kAvx2).ok());
      int differing_rows = 0;
      for (int plane = 0; plane < 3; ++plane) {
        int rows = plane == 0 ? in->height : (in->height + 1) / 2;
        int width = plane == 0 ? in->width : (in->width + 1) / 2;
        for (int y = 0; y < rows; ++y) {
          differing_rows += memcmp(scalar->data[plane] + y * scalar->linesize[plane],
                                   avx2->data[plane] + y * avx2->linesize[plane], width) != 0;
        }
      }
      EXPECT_EQ(differing_rows, 0);
    }
  }
}

}  // namespace
}  // namespace vidproc::media
