// Storyboards: the writer on synthetic pictures whose brightness says which second they show
// (so a tile in the wrong place or from the wrong time is caught), and the engine on the
// fixtures, re-encoded and remuxed, with every sheet decoded and every cue checked against it.
#include "media/storyboard.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "media/transcoder.h"
#include "media_test_util.h"
#include "storage/storyboard_vtt.h"

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;

FramePtr Flat(int width, int height, uint8_t luma) {
  FramePtr f = MakeFrame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = width;
  f->height = height;
  EXPECT_GE(av_frame_get_buffer(f.get(), 0), 0);
  for (int p = 0; p < 3; ++p) {
    const int h = p == 0 ? height : height / 2;
    std::memset(f->data[p], p == 0 ? luma : 128, static_cast<size_t>(f->linesize[p]) * h);
  }
  return f;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The brightness of second `s` of the synthetic video: neighbours differ by 37 code values.
uint8_t LumaOfSecond(int s) { return static_cast<uint8_t>(40 + (s * 37) % 160); }

// Mean luma inside a tile (its middle half: JPEG blocks bleed at the edges).
double TileLuma(const AVFrame* sheet, const storage::StoryboardCue& c) {
  return MeanLuma(sheet, (c.x + c.width * 0.25) / sheet->width,
                  (c.y + c.height * 0.25) / sheet->height, (c.x + c.width * 0.75) / sheet->width,
                  (c.y + c.height * 0.75) / sheet->height);
}

TEST(StoryboardIntervalTest, TwoSecondsUntilTheTilesWouldPass200) {
  const StoryboardOptions o;
  EXPECT_EQ(StoryboardInterval(0, o), 2);
  EXPECT_EQ(StoryboardInterval(3, o), 2);
  EXPECT_EQ(StoryboardInterval(400, o), 2);    // 200 tiles
  EXPECT_EQ(StoryboardInterval(401, o), 3);    // 134
  EXPECT_EQ(StoryboardInterval(3600, o), 18);  // 200
  EXPECT_EQ(StoryboardInterval(36000, o), 180);
  for (double d : {401.0, 1000.0, 7201.0, 36000.0}) {
    EXPECT_LE(std::ceil(d / StoryboardInterval(d, o)), o.max_tiles) << d;
  }
}

TEST(StoryboardWriterTest, EachTileShowsItsSecondAcrossSheets) {
  const std::string dir = MakeTempDir();
  const std::string vtt = dir + "/storyboard.vtt";
  StoryboardOptions o;
  o.columns = 4;
  o.rows = 3;
  o.min_interval_s = 1;
  StoryboardWriter writer(vtt, 30.0, o);
  for (int k = 0; k < 30 * 25; ++k) {
    FramePtr f = Flat(320, 180, LumaOfSecond(k / 25));
    writer.Offer(f.get(), k / 25.0);
  }
  auto info = writer.Finish(30.0);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->tiles, 30);
  EXPECT_EQ(info->sheets, 3);  // 12 + 12 + 6
  EXPECT_EQ(info->interval_s, 1);
  EXPECT_EQ(info->tile_width, 160);
  EXPECT_EQ(info->tile_height, 90);
  EXPECT_EQ(ListDir(dir), (std::vector<std::string>{"storyboard-1.jpg", "storyboard-2.jpg",
                                                    "storyboard-3.jpg", "storyboard.vtt"}));
  auto cues = storage::ParseStoryboardIndex(ReadText(vtt), info->sheets);
  ASSERT_TRUE(cues.ok()) << cues.status().ToString() << "\n" << ReadText(vtt);
  ASSERT_EQ(cues->size(), 30u);
  std::map<int, FramePtr> sheets;
  for (int n = 1; n <= 3; ++n) {
    sheets[n] = DecodePictureAt(StoryboardSheetPath(vtt, n), 0);
    ASSERT_TRUE(sheets[n]) << n;
  }
  // Full sheets are 4x3 tiles; the last is cut to the two rows it fills.
  EXPECT_EQ(sheets[1]->width, 640);
  EXPECT_EQ(sheets[1]->height, 270);
  EXPECT_EQ(sheets[3]->width, 640);
  EXPECT_EQ(sheets[3]->height, 180);
  for (int i = 0; i < 30; ++i) {
    const storage::StoryboardCue& c = (*cues)[i];
    EXPECT_EQ(c.start_ms, i * 1000) << i;
    EXPECT_EQ(c.end_ms, (i + 1) * 1000) << i;
    EXPECT_EQ(c.sheet, i / 12 + 1) << i;
    EXPECT_EQ(c.x, i % 12 % 4 * 160) << i;
    EXPECT_EQ(c.y, i % 12 / 4 * 90) << i;
    EXPECT_NEAR(TileLuma(sheets[c.sheet].get(), c), LumaOfSecond(i), 8) << "tile " << i;
  }
}

TEST(StoryboardWriterTest, AGapRepeatsThePictureAfterItAndFarTimestampsAreBounded) {
  const std::string dir = MakeTempDir();
  const std::string vtt = dir + "/storyboard.vtt";
  StoryboardWriter writer(vtt, 20.0);  // 2 s tiles: 10
  FramePtr early = Flat(64, 36, 60), late = Flat(64, 36, 180);
  for (double t = 0; t < 5; t += 0.5) writer.Offer(early.get(), t);
  writer.Offer(late.get(), 11.0);     // a gap: tiles at 6, 8 and 10 s show the 11 s picture
  writer.Offer(late.get(), 5'000.0);  // a timestamp far past the duration
  auto info = writer.Finish(20.0);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->tiles, 11);  // 10 tiles of the duration and one of slack, no more
  EXPECT_EQ(info->tile_height, 90);
  auto cues = storage::ParseStoryboardIndex(ReadText(vtt), 1);
  ASSERT_TRUE(cues.ok()) << cues.status().ToString();
  FramePtr sheet = DecodePictureAt(StoryboardSheetPath(vtt, 1), 0);
  ASSERT_TRUE(sheet);
  for (int i = 0; i < 6; ++i) {
    EXPECT_NEAR(TileLuma(sheet.get(), (*cues)[i]), i < 3 ? 60 : 180, 8) << i;
  }
  EXPECT_EQ(cues->back().end_ms, 22'000);  // the last tile starts at 20 s
}

TEST(StoryboardWriterTest, NothingIsLeftWithoutAFinishOrWhenNoPictureCame) {
  const std::string dir = MakeTempDir();
  {
    StoryboardOptions o;
    o.columns = o.rows = 1;  // a sheet per tile: sheets are written as it goes
    StoryboardWriter writer(dir + "/storyboard.vtt", 10.0, o);
    FramePtr f = Flat(64, 36, 100);
    for (double t = 0; t < 10; t += 1) writer.Offer(f.get(), t);
    EXPECT_FALSE(ListDir(dir).empty());
  }  // abandoned: a failed job
  EXPECT_TRUE(ListDir(dir).empty());
  StoryboardWriter none(dir + "/storyboard.vtt", 10.0);
  auto info = none.Finish(10.0);
  EXPECT_EQ(info.status().code(), ErrorCode::kCorruptInput);
  EXPECT_TRUE(ListDir(dir).empty());
}

// Checks what a transcode made at `vtt`: every cue against its decoded sheet, the timeline
// against the output's duration. Returns the decoded tiles' sheets.
void ExpectStoryboard(const std::string& vtt, const StoryboardInfo& info, double duration_s,
                      int tile_width, int tile_height) {
  EXPECT_EQ(info.tile_width, tile_width);
  EXPECT_EQ(info.tile_height, tile_height);
  EXPECT_EQ(info.interval_s, StoryboardInterval(duration_s, {}));
  EXPECT_EQ(info.tiles, static_cast<int>(std::ceil(duration_s / info.interval_s)));
  EXPECT_EQ(info.sheets, (info.tiles + 99) / 100);
  auto cues = storage::ParseStoryboardIndex(ReadText(vtt), info.sheets);
  ASSERT_TRUE(cues.ok()) << cues.status().ToString() << "\n" << ReadText(vtt);
  ASSERT_EQ(static_cast<int>(cues->size()), info.tiles);
  std::map<int, FramePtr> sheets;
  for (int n = 1; n <= info.sheets; ++n) {
    sheets[n] = DecodePictureAt(StoryboardSheetPath(vtt, n), 0);
    ASSERT_TRUE(sheets[n]) << "sheet " << n << " does not decode";
  }
  EXPECT_EQ(cues->front().start_ms, 0);
  EXPECT_NEAR(cues->back().end_ms / 1000.0, duration_s, 0.1) << "the cues cover the video";
  for (size_t i = 0; i < cues->size(); ++i) {
    const storage::StoryboardCue& c = (*cues)[i];
    EXPECT_EQ(c.start_ms, std::llround(i * info.interval_s * 1000)) << i;
    if (i + 1 < cues->size()) {
      EXPECT_EQ(c.end_ms, (*cues)[i + 1].start_ms) << "contiguous " << i;
    }
    EXPECT_EQ(c.width, tile_width);
    EXPECT_EQ(c.height, tile_height);
    const AVFrame* sheet = sheets[c.sheet].get();
    EXPECT_LE(c.x + c.width, sheet->width) << "tile " << i << " is outside its sheet";
    EXPECT_LE(c.y + c.height, sheet->height) << "tile " << i << " is outside its sheet";
  }
}

class StoryboardTranscodeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }
  Result<TranscodeResult> Run(const std::string& fixture, bool allow_passthrough = true) {
    TranscodeRequest request;
    request.input = Fixture(fixture);
    request.output = dir_ + "/out.mp4";
    request.thumbnail = dir_ + "/thumb.jpg";
    request.storyboard = vtt();
    request.options.allow_passthrough = allow_passthrough;
    return Transcode(request, nullptr, nullptr);
  }
  std::string vtt() const { return dir_ + "/storyboard.vtt"; }
  std::string dir_;
};

TEST_F(StoryboardTranscodeTest, ReencodedVideoHasTilesForItsWholeDuration) {
  auto r = Run("real_720p.mp4", /*allow_passthrough=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->passthrough);
  ASSERT_TRUE(r->storyboard.has_value());
  ExpectStoryboard(vtt(), *r->storyboard, ProbeFile(dir_ + "/out.mp4").duration_s, 160, 90);
  EXPECT_EQ(r->storyboard->tiles, 5);  // 8.3 s
  EXPECT_EQ(ListDir(dir_), (std::vector<std::string>{"out.mp4", "storyboard-1.jpg",
                                                     "storyboard.vtt", "thumb.jpg"}));
  const nlohmann::json j = ToJson(r.value())["output"]["storyboard"];
  EXPECT_EQ(j, nlohmann::json({{"sheets", 1},
                               {"tiles", 5},
                               {"interval_s", 2.0},
                               {"tile_width", 160},
                               {"tile_height", 90},
                               {"columns", 10},
                               {"rows", 10}}));
}

TEST_F(StoryboardTranscodeTest, RemuxedVideoIsSeekedPerTile) {
  auto r = Run("compliant_720p.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->passthrough);
  ASSERT_TRUE(r->storyboard.has_value());
  ExpectStoryboard(vtt(), *r->storyboard, ProbeFile(dir_ + "/out.mp4").duration_s, 160, 90);
}

// The rot*.mp4 fixtures are a white-over-black picture with a display rotation: where the white
// lands upright is what RotationTest (transcode_test.cc) checks of the output.
struct UprightCase {
  const char* fixture;
  int tile_width, tile_height;
  double x0, y0, x1, y1;  // the white part of a tile, as fractions
};

class StoryboardUprightTest : public StoryboardTranscodeTest,
                              public ::testing::WithParamInterface<UprightCase> {
 protected:
  void ExpectUpright(const std::string& vtt_path, const StoryboardInfo& info) {
    const UprightCase& c = GetParam();
    EXPECT_EQ(info.tile_width, c.tile_width);
    EXPECT_EQ(info.tile_height, c.tile_height);
    auto cues = storage::ParseStoryboardIndex(ReadText(vtt_path), info.sheets);
    ASSERT_TRUE(cues.ok()) << cues.status().ToString();
    FramePtr sheet = DecodePictureAt(StoryboardSheetPath(vtt_path, 1), 0);
    ASSERT_TRUE(sheet);
    for (const auto& cue : *cues) {
      auto at = [&](double fx0, double fy0, double fx1, double fy1) {
        return MeanLuma(sheet.get(), (cue.x + fx0 * cue.width) / sheet->width,
                        (cue.y + fy0 * cue.height) / sheet->height,
                        (cue.x + fx1 * cue.width) / sheet->width,
                        (cue.y + fy1 * cue.height) / sheet->height);
      };
      const double white = at(c.x0 + 0.1, c.y0 + 0.1, c.x1 - 0.1, c.y1 - 0.1);
      // The black half is the white one mirrored through the middle.
      const double black = at(1 - c.x1 + 0.1, 1 - c.y1 + 0.1, 1 - c.x0 - 0.1, 1 - c.y0 - 0.1);
      EXPECT_GT(white, 200) << c.fixture << " tile at " << cue.start_ms << " ms";
      EXPECT_LT(black, 40) << c.fixture << " tile at " << cue.start_ms << " ms";
    }
  }
};

TEST_P(StoryboardUprightTest, ReencodedTilesAreUpright) {
  auto r = Run(GetParam().fixture, /*allow_passthrough=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->storyboard.has_value());
  ExpectUpright(vtt(), *r->storyboard);
}

// Remuxed files are never rotated (a rotated file is re-encoded), but the seeking path turns
// pictures upright by the display matrix on its own: called directly on the rotated fixtures.
TEST_P(StoryboardUprightTest, SeekedTilesAreUpright) {
  auto made = ExtractStoryboard(Fixture(GetParam().fixture), {}, nullptr, vtt(), {}, 1);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->tiles, 2);  // 3 s
  ExpectUpright(vtt(), *made);
}

INSTANTIATE_TEST_SUITE_P(Rotations, StoryboardUprightTest,
                         ::testing::Values(UprightCase{"rot0_pattern.mp4", 160, 90, 0, 0, 1, 0.5},
                                           UprightCase{"rot90.mp4", 160, 284, 0.5, 0, 1, 1},
                                           UprightCase{"rot180.mp4", 160, 90, 0, 0.5, 1, 1},
                                           UprightCase{"rot270.mp4", 160, 284, 0, 0, 0.5, 1}),
                         [](const auto& info) {
                           std::string n = info.param.fixture;
                           return n.substr(0, n.find('.'));
                         });

TEST_F(StoryboardTranscodeTest, AStoryboardThatCannotBeWrittenLeavesNothing) {
  TranscodeRequest request;
  request.output = dir_ + "/out.mp4";
  request.thumbnail = dir_ + "/thumb.jpg";
  request.storyboard = dir_ + "/missing/storyboard.vtt";
  // Re-encoded, then remuxed: the MP4 and the thumbnail were made and must go too.
  for (const char* fixture : {"real_720p.mp4", "compliant_720p.mp4"}) {
    request.input = Fixture(fixture);
    request.options.allow_passthrough = std::string(fixture) == "compliant_720p.mp4";
    auto r = Transcode(request, nullptr, nullptr);
    EXPECT_EQ(r.status().code(), ErrorCode::kOutputWriteFailed) << r.status().ToString();
    EXPECT_TRUE(ListDir(dir_).empty()) << fixture;
  }
}

}  // namespace
}  // namespace vidproc::media
