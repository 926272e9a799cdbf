#include "media/probe.h"

#include <gtest/gtest.h>

#include "media_test_util.h"

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;

TEST(ProbeTest, DescribesARealPhoneClip) {
  MediaInfo info = ProbeFile(Fixture("real_1080p.mp4"));
  EXPECT_EQ(info.container, "mov");
  EXPECT_NEAR(info.duration_s, 1.6, 0.01);
  ASSERT_TRUE(info.video);
  EXPECT_EQ(info.video->codec, "h264");
  EXPECT_EQ(info.video->profile, "High");
  EXPECT_EQ(info.video->width, 1920);
  EXPECT_EQ(info.video->height, 1080);
  EXPECT_EQ(info.video->rotation, 0);
  ASSERT_NE(info.audio_stream(), nullptr);
  EXPECT_EQ(info.audio_stream()->codec, "aac");
  EXPECT_TRUE(CheckLimits(info, InputLimits{}).ok());
}

TEST(ProbeTest, ReadsRotationAsClockwiseQuarterTurns) {
  EXPECT_EQ(ProbeFile(Fixture("rot90.mp4")).video->rotation, 90);
  EXPECT_EQ(ProbeFile(Fixture("rot180.mp4")).video->rotation, 180);
  EXPECT_EQ(ProbeFile(Fixture("rot270.mp4")).video->rotation, 270);
  MediaInfo pens = ProbeFile(Fixture("real_pens_portrait.mp4"));
  EXPECT_EQ(pens.video->rotation, 90);
  EXPECT_EQ(pens.video->display_width(), 144);
  EXPECT_EQ(pens.video->display_height(), 176);
}

TEST(ProbeTest, ReadsInterlacingHdrAndAspect) {
  EXPECT_TRUE(ProbeFile(Fixture("interlaced.ts")).video->interlaced);
  EXPECT_FALSE(ProbeFile(Fixture("landscape_1080p.mp4")).video->interlaced);
  MediaInfo hdr = ProbeFile(Fixture("hdr10_hevc.mp4"));
  EXPECT_TRUE(hdr.video->hdr);
  EXPECT_EQ(hdr.video->bit_depth, 10);
  EXPECT_EQ(hdr.video->color_transfer, "smpte2084");
  MediaInfo ana = ProbeFile(Fixture("anamorphic.mp4"));
  EXPECT_EQ(ana.video->sample_aspect.num, 16);
  EXPECT_EQ(ana.video->sample_aspect.den, 11);
  EXPECT_EQ(ana.video->display_width(), 1047);
}

TEST(ProbeTest, PicksTheDefaultAudioTrack) {
  MediaInfo info = ProbeFile(Fixture("multi_audio_subs.mkv"));
  ASSERT_EQ(info.audio.size(), 2u);
  EXPECT_EQ(info.chosen_audio, 1);
  EXPECT_EQ(info.subtitle_streams, 1);
}

TEST(ProbeTest, JsonHasTheFieldsTheApiReports) {
  nlohmann::json j = ToJson(ProbeFile(Fixture("rot90.mp4")));
  EXPECT_EQ(j["container"], "mov");
  EXPECT_EQ(j["video"]["rotation"], 90);
  EXPECT_EQ(j["video"]["display_width"], 360);
  EXPECT_TRUE(j["video"].contains("interlaced"));
  EXPECT_TRUE(j["video"].contains("hdr"));
  EXPECT_EQ(j["audio"][0]["codec"], "aac");
}

}  // namespace
}  // namespace vidproc::media

namespace vidproc::media {
namespace {

// A worker reads the probe a sandboxed child wrote: it must come back as the engine saw it.
TEST(ProbeJsonTest, AProbeReadsBackAsTheEngineSawIt) {
  for (const char* name : {"real_1080p.mp4", "rot90.mp4", "hdr10_hevc.mp4", "anamorphic.mp4",
                           "multi_audio_subs.mkv", "hlg_hevc.mkv"}) {
    SCOPED_TRACE(name);
    MediaInfo info = ProbeFile(Fixture(name));
    auto back = MediaInfoFromJson(ToJson(info));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(ToJson(*back), ToJson(info));
  }
}

TEST(ProbeJsonTest, AMalformedProbeIsRefused) {
  nlohmann::json good = ToJson(ProbeFile(Fixture("real_1080p.mp4")));
  std::vector<nlohmann::json> bad;
  for (auto [key, value] :
       std::vector<std::pair<const char*, nlohmann::json>>{{"width", -1},
                                                           {"width", 1e9},
                                                           {"height", "1080"},
                                                           {"frame_rate", 1e12},
                                                           {"bit_depth", 0},
                                                           {"rotation", 45},
                                                           {"hdr", 1},
                                                           {"codec", std::string(1000, 'h')},
                                                           {"duration_s", -5.0}}) {
    nlohmann::json j = good;
    j["video"][key] = value;
    bad.push_back(j);
  }
  bad.push_back(nlohmann::json::array());
  bad.push_back(nlohmann::json::object());
  bad.push_back({{"container", "mov"}, {"duration_s", "x"}, {"video", nullptr}});
  bad.push_back({{"video", "h264"}});
  bad.push_back({{"audio", {1, 2}}});
  for (const auto& j : bad) {
    EXPECT_EQ(MediaInfoFromJson(j).status().code(), ErrorCode::kInvalidArgument) << j.dump();
  }
}

}  // namespace
}  // namespace vidproc::media
