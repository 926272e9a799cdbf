#include "media/thumbnail.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "media/transcoder.h"
#include "media_test_util.h"

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;

FramePtr Picture(uint8_t y, uint8_t u, uint8_t v, bool noisy) {
  FramePtr f = MakeFrame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = 320;
  f->height = 240;
  av_frame_get_buffer(f.get(), 0);
  for (int row = 0; row < f->height; ++row) {
    for (int x = 0; x < f->width; ++x) {
      int value = y;
      if (noisy) value = (x * 7 + row * 13) % 200 + 28;  // a rich gradient texture
      f->data[0][row * f->linesize[0] + x] = static_cast<uint8_t>(value);
    }
  }
  for (int row = 0; row < f->height / 2; ++row) {
    std::memset(f->data[1] + row * f->linesize[1], u, f->width / 2);
    std::memset(f->data[2] + row * f->linesize[2], v, f->width / 2);
  }
  return f;
}

TEST(ScoreFrameTest, RejectsBlackBlankWhiteAndGreenPictures) {
  EXPECT_FALSE(ScoreFrame(Picture(16, 128, 128, false).get()).acceptable);   // black
  EXPECT_FALSE(ScoreFrame(Picture(120, 128, 128, false).get()).acceptable);  // flat grey
  EXPECT_FALSE(ScoreFrame(Picture(235, 128, 128, false).get()).acceptable);  // white
  EXPECT_FALSE(ScoreFrame(Picture(0, 0, 0, true).get()).acceptable);         // decoder garbage
  EXPECT_TRUE(ScoreFrame(Picture(0, 128, 128, true).get()).acceptable);
}

TEST(ThumbnailPickerTest, PrefersARealPictureOverBlackCandidates) {
  ThumbnailPicker picker(10.0);
  FramePtr black = Picture(16, 128, 128, false);
  FramePtr real = Picture(0, 120, 136, true);
  for (int i = 0; i < 100; ++i) {
    double t = i * 0.1;
    picker.Offer(i < 35 ? black.get() : real.get(), t);
  }
  ASSERT_NE(picker.best(), nullptr);
  EXPECT_TRUE(picker.best_score().acceptable);
  EXPECT_GE(picker.best_seconds(), 3.5);
  EXPECT_LE(picker.best_seconds(), 5.2);
  EXPECT_TRUE(picker.done());
}

TEST(ThumbnailPickerTest, FallsBackToTheFirstPictureOfAVeryShortVideo) {
  ThumbnailPicker picker(0.04);
  FramePtr only = Picture(0, 128, 128, true);
  picker.Offer(only.get(), 0.0);
  ASSERT_NE(picker.best(), nullptr);
}

TEST(ThumbnailTest, SkipsABlackIntroWhenReencoding) {
  std::string dir = MakeTempDir();
  TranscodeRequest request;
  request.input = Fixture("black_intro.mp4");
  request.output = dir + "/out.mp4";
  request.thumbnail = dir + "/thumb.jpg";
  request.options.allow_passthrough = false;
  auto r = Transcode(request, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(r->passthrough);
  EXPECT_GE(r->thumbnail_at_s, 2.0);
  FramePtr t = DecodePictureAt(request.thumbnail, 0);
  ASSERT_TRUE(t);
  FrameScore s = ScoreFrame(t.get());
  EXPECT_TRUE(s.acceptable) << "mean " << s.luma_mean << " stddev " << s.luma_stddev;
}

TEST(ThumbnailTest, SeekingExtractorSkipsABlackIntroToo) {
  std::string dir = MakeTempDir();
  std::string jpeg = dir + "/thumb.jpg";
  auto at = ExtractThumbnail(Fixture("black_intro.mp4"), InputLimits{}, nullptr, jpeg, {1280, 720},
                             85, {320, 160, 640, 1280});
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  EXPECT_GE(at->at_s, 2.0);
  // The thumbnail is 640 wide: only the narrower copies are made, in order.
  EXPECT_EQ(at->widths, (std::vector<int>{160, 320}));
  FramePtr t = DecodePictureAt(jpeg, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->width, 640);
  EXPECT_EQ(t->height, 360);
  EXPECT_TRUE(ScoreFrame(t.get()).acceptable);
}

TEST(ThumbnailTest, PassthroughStillMakesAThumbnailWithinTheBox) {
  std::string dir = MakeTempDir();
  TranscodeRequest request;
  request.input = Fixture("compliant_720p.mp4");
  request.output = dir + "/out.mp4";
  request.thumbnail = dir + "/thumb.jpg";
  request.options.thumbnail_max_size = {320, 180};
  auto r = Transcode(request, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->passthrough);
  FramePtr t = DecodePictureAt(request.thumbnail, 0);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->width, 320);
  EXPECT_EQ(t->height, 180);
  EXPECT_TRUE(ScoreFrame(t.get()).acceptable);
}

TEST(ThumbnailSizesTest, CopiesKeepTheAspectAndAreNeverWiderThanTheThumbnail) {
  std::string dir = MakeTempDir();
  FramePtr landscape = Picture(0, 128, 128, true);  // 320x240
  auto widths =
      WriteThumbnails(landscape.get(), dir + "/t.jpg", {1280, 720}, 85, {640, 160, 100, 320, 160});
  ASSERT_TRUE(widths.ok()) << widths.status().ToString();
  // 320 and 640 are not below the thumbnail's own 320: not made, never upscaled.
  EXPECT_EQ(widths.value(), (std::vector<int>{100, 160}));
  FramePtr full = DecodePictureAt(dir + "/t.jpg", 0);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->width, 320);
  EXPECT_EQ(full->height, 240);
  for (auto [w, h] : {std::pair{100, 76}, std::pair{160, 120}}) {
    FramePtr copy = DecodePictureAt(ThumbnailVariantPath(dir + "/t.jpg", w), 0);
    ASSERT_TRUE(copy) << w;
    EXPECT_EQ(copy->width, w);
    EXPECT_EQ(copy->height, h);  // 4:3, rounded to even
    EXPECT_TRUE(ScoreFrame(copy.get()).acceptable) << w;
  }
  EXPECT_FALSE(std::filesystem::exists(ThumbnailVariantPath(dir + "/t.jpg", 320)));
}

TEST(ThumbnailSizesTest, APortraitVideosCopiesAreNarrowAndTall) {
  std::string dir = MakeTempDir();
  TranscodeRequest request;
  request.input = Fixture("rot90.mp4");
  request.output = dir + "/out.mp4";
  request.thumbnail = dir + "/thumb.jpg";
  request.options.thumbnail_widths = {160, 320, 640};
  auto r = Transcode(request, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  FramePtr full = DecodePictureAt(request.thumbnail, 0);
  ASSERT_TRUE(full);
  ASSERT_LT(full->width, full->height) << "the thumbnail is upright";
  for (int w : r->thumbnail_widths) {
    FramePtr copy = DecodePictureAt(ThumbnailVariantPath(request.thumbnail, w), 0);
    ASSERT_TRUE(copy) << w;
    EXPECT_EQ(copy->width, w);
    EXPECT_NEAR(static_cast<double>(copy->height) / copy->width,
                static_cast<double>(full->height) / full->width, 2.0 / w);
  }
  EXPECT_FALSE(r->thumbnail_widths.empty());
  // The summary a worker reads names them.
  EXPECT_EQ(ToJson(r.value())["output"]["thumbnail_widths"], nlohmann::json(r->thumbnail_widths));
}

}  // namespace
}  // namespace vidproc::media
