#include "media/plan.h"

#include <gtest/gtest.h>

#include "support/media_info.h"

namespace vidproc::media {
namespace {

MediaInfo CompliantInfo() {
  MediaInfo info = vidproc::testing::ClipInfo({"h264", 1280, 720, 8, 30, false, 60, 1'200'000});
  info.size_bytes = 10'000'000;
  return info;
}

TEST(FitInsideTest, FitsLandscapeAndPortraitInTheSameBox) {
  Size box{1280, 720};
  Size l = FitInside(1920, 1080, box);
  EXPECT_EQ(l.width, 1280);
  EXPECT_EQ(l.height, 720);
  Size p = FitInside(1080, 1920, box);
  EXPECT_EQ(p.width, 720);
  EXPECT_EQ(p.height, 1280);
}

TEST(FitInsideTest, NeverUpscalesAndKeepsDimensionsEven) {
  Size box{1280, 720};
  Size small = FitInside(640, 360, box);
  EXPECT_EQ(small.width, 640);
  EXPECT_EQ(small.height, 360);
  Size odd = FitInside(321, 241, box);
  EXPECT_EQ(odd.width, 320);
  EXPECT_EQ(odd.height, 240);
  Size wide = FitInside(4000, 1000, box);  // limited by the long side
  EXPECT_EQ(wide.width, 1280);
  EXPECT_EQ(wide.height, 320);
}

TEST(PlanTest, CompliantFileIsRemuxed) {
  Plan plan = MakePlan(CompliantInfo(), TranscodeOptions{});
  EXPECT_TRUE(plan.passthrough) << plan.reason;
}

TEST(PlanTest, EachNonCompliancePreventsPassthrough) {
  TranscodeOptions options;
  auto expect_encode = [&](MediaInfo info, const char* what) {
    Plan plan = MakePlan(info, options);
    EXPECT_FALSE(plan.passthrough) << what;
    EXPECT_FALSE(plan.reason.empty()) << what;
  };
  MediaInfo i = CompliantInfo();
  i.video->width = 1920;
  i.video->height = 1080;
  expect_encode(i, "too big");
  i = CompliantInfo();
  i.video->bit_rate = 3'000'000;
  expect_encode(i, "bitrate");
  i = CompliantInfo();
  i.video->rotation = 90;
  expect_encode(i, "rotation");
  i = CompliantInfo();
  i.video->codec = "hevc";
  expect_encode(i, "codec");
  i = CompliantInfo();
  i.video->pixel_format = "yuv420p10le";
  expect_encode(i, "10-bit");
  i = CompliantInfo();
  i.video->sample_aspect = {4, 3};
  expect_encode(i, "sar");
  i = CompliantInfo();
  i.audio[0].codec = "mp3";
  expect_encode(i, "audio codec");
  i = CompliantInfo();
  i.container = "matroska";
  expect_encode(i, "container");
  i = CompliantInfo();
  i.video->interlaced = true;
  expect_encode(i, "interlaced");
  options.allow_passthrough = false;
  expect_encode(CompliantInfo(), "forced");
}

TEST(PlanTest, RotationSwapsTheOutputSize) {
  MediaInfo i = CompliantInfo();
  i.video->width = 1920;
  i.video->height = 1080;
  i.video->rotation = 90;
  Plan plan = MakePlan(i, TranscodeOptions{});
  EXPECT_FALSE(plan.passthrough);
  EXPECT_EQ(plan.width, 720);
  EXPECT_EQ(plan.height, 1280);
  EXPECT_EQ(plan.rotation, 90);
}

TEST(PlanTest, NonSquarePixelsAreAppliedToTheWidth) {
  MediaInfo i = CompliantInfo();
  i.video->width = 720;
  i.video->height = 576;
  i.video->sample_aspect = {16, 11};  // displays as 1047x576
  Plan plan = MakePlan(i, TranscodeOptions{});
  EXPECT_EQ(plan.width, 1046);
  EXPECT_EQ(plan.height, 576);
}

TEST(PlanTest, HighFrameRatesAreCappedAndGopIsTwoSeconds) {
  MediaInfo i = CompliantInfo();
  i.video->frame_rate = 120;
  Plan plan = MakePlan(i, TranscodeOptions{});
  EXPECT_TRUE(plan.cap_frame_rate);
  EXPECT_DOUBLE_EQ(plan.output_frame_rate, 60);
  EXPECT_EQ(plan.gop_frames, 120);
  i.video->frame_rate = 29.97;
  i.video->bit_rate = 5'000'000;
  plan = MakePlan(i, TranscodeOptions{});
  EXPECT_FALSE(plan.cap_frame_rate);
  EXPECT_EQ(plan.gop_frames, 60);
}

TEST(PlanTest, HdrIsToneMapped) {
  MediaInfo i = CompliantInfo();
  i.video->codec = "hevc";
  i.video->pixel_format = "yuv420p10le";
  i.video->color_transfer = "smpte2084";
  i.video->color_primaries = "bt2020";
  i.video->hdr = true;
  Plan plan = MakePlan(i, TranscodeOptions{});
  EXPECT_TRUE(plan.tone_map);
  EXPECT_FALSE(plan.to_bt709);
}

TEST(SplitThreadsTest, BudgetOfOneIsSingleThreaded) {
  Plan plan;
  SplitThreads(1, &plan);
  EXPECT_EQ(plan.decoder_threads, 1);
  EXPECT_EQ(plan.filter_threads, 1);
  EXPECT_EQ(plan.encoder_threads, 1);
  EXPECT_FALSE(plan.pipelined);
  SplitThreads(2, &plan);
  EXPECT_TRUE(plan.pipelined);
  EXPECT_EQ(plan.decoder_threads, 2);
  EXPECT_EQ(plan.filter_threads, 1);
  EXPECT_EQ(plan.encoder_threads, 2);
}

TEST(SplitThreadsTest, A4kSourceFor720pGivesX264OneThreadAndTheDecoderTheBudget) {
  MediaInfo i = CompliantInfo();
  i.video->codec = "hevc";
  i.video->width = 3840;
  i.video->height = 2160;
  TranscodeOptions options;
  options.threads = 2;
  Plan plan = MakePlan(i, options);
  EXPECT_TRUE(plan.pipelined);
  EXPECT_EQ(plan.decoder_threads, 2);
  EXPECT_EQ(plan.encoder_threads, 1);
  // The common case keeps both x264 threads: 1080p for 720p, and 4K for 1080p.
  i.video->width = 1920;
  i.video->height = 1080;
  EXPECT_EQ(MakePlan(i, options).encoder_threads, 2);
  i.video->width = 3840;
  i.video->height = 2160;
  options.max_size = {1920, 1080};
  EXPECT_EQ(MakePlan(i, options).encoder_threads, 2);
}

}  // namespace
}  // namespace vidproc::media
