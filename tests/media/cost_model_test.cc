#include "media/cost_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "media/media_test_util.h"
#include "support/media_info.h"

namespace vidproc::media {
namespace {

// A phone clip as the probe describes it; a re-encode (1080p does not fit the 720p box).
MediaInfo PhoneClip(const std::string& codec, int width, int height, int bit_depth, double fps,
                    bool hdr, double seconds) {
  return vidproc::testing::ClipInfo(
      {codec, width, height, bit_depth, fps, hdr, seconds, 20'000'000});
}

MediaInfo H264At1080p(double seconds = 60) {
  return PhoneClip("h264", 1920, 1080, 8, 30, false, seconds);
}
MediaInfo Hevc4k(double fps = 60, double seconds = 60) {
  return PhoneClip("hevc", 3840, 2160, 10, fps, true, seconds);
}

// What the worker passes its child, by default.
TranscodeOptions WorkerOptions(int threads = 2, const std::string& preset = "veryfast") {
  TranscodeOptions o;
  o.threads = threads;
  o.preset = preset;
  o.thumbnail_widths = {160, 320, 640};
  return o;
}

const CostModel& Model() { return CostModel::Builtin(); }

nlohmann::json BuiltinJson() { return nlohmann::json::parse(BuiltinCostModelJson()); }

TEST(CostModelTest, BuiltinModelRoundTripsThroughItsJson) {
  auto again = CostModel::FromJson(Model().ToJson());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  CostPrediction a = Model().Predict(Hevc4k(), WorkerOptions(), 2);
  CostPrediction b = again->Predict(Hevc4k(), WorkerOptions(), 2);
  EXPECT_DOUBLE_EQ(a.cpu_s, b.cpu_s);
  EXPECT_DOUBLE_EQ(a.peak_memory_mb, b.peak_memory_mb);
  EXPECT_DOUBLE_EQ(a.wall_s, b.wall_s);
}

TEST(CostModelTest, FromJsonRefusesAMissingCoefficient) {
  for (const char* section : {"cpu", "memory"}) {
    nlohmann::json j = BuiltinJson();
    j[section].erase(j[section].begin());
    EXPECT_FALSE(CostModel::FromJson(j).ok()) << section;
  }
  nlohmann::json j = BuiltinJson();
  j["passthrough"].erase("memory_mb");
  EXPECT_FALSE(CostModel::FromJson(j).ok());
  j = BuiltinJson();
  j.erase("threads");
  EXPECT_FALSE(CostModel::FromJson(j).ok());
  EXPECT_FALSE(CostModel::FromJson(nlohmann::json::array()).ok());
}

TEST(CostModelTest, FromJsonRefusesNegativeOrNonNumericCoefficients) {
  nlohmann::json j = BuiltinJson();
  j["cpu"]["encode_veryfast_s_per_mpix"] = -0.001;
  auto refused = CostModel::FromJson(j);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("encode_veryfast_s_per_mpix"), std::string::npos);
  j = BuiltinJson();
  j["memory"]["const_mb"] = "60";
  EXPECT_FALSE(CostModel::FromJson(j).ok());
  j = BuiltinJson();
  j["threads"]["parallel_fraction"] = 1.5;
  EXPECT_FALSE(CostModel::FromJson(j).ok());
  j = BuiltinJson();
  j["unmeasured_presets"]["medium"] = -2;
  EXPECT_FALSE(CostModel::FromJson(j).ok());
  j = BuiltinJson();
  j["cpu"]["const_s"] = 0;  // would make an empty job free
  EXPECT_FALSE(CostModel::FromJson(j).ok());
}

TEST(CostModelTest, FourKCostsMoreThan1080p) {
  MediaInfo hd = PhoneClip("hevc", 1920, 1080, 10, 60, true, 30);
  MediaInfo uhd = PhoneClip("hevc", 3840, 2160, 10, 60, true, 30);
  CostPrediction a = Model().Predict(hd, WorkerOptions(), 2);
  CostPrediction b = Model().Predict(uhd, WorkerOptions(), 2);
  EXPECT_GT(b.cpu_s, a.cpu_s * 1.5);
  EXPECT_GT(b.wall_s, a.wall_s);
  EXPECT_GT(b.peak_memory_mb, a.peak_memory_mb);
}

TEST(CostModelTest, HevcTenBitCostsMoreThanH264EightBit) {
  CostPrediction h264 = Model().Predict(H264At1080p(), WorkerOptions(), 2);
  CostPrediction hevc =
      Model().Predict(PhoneClip("hevc", 1920, 1080, 10, 30, false, 60), WorkerOptions(), 2);
  EXPECT_GT(hevc.cpu_s, h264.cpu_s);
  EXPECT_GE(hevc.peak_memory_mb, h264.peak_memory_mb);
  // Codecs the bench did not measure are costed like HEVC, not like the cheaper H.264.
  CostPrediction vp9 =
      Model().Predict(PhoneClip("vp9", 1920, 1080, 8, 30, false, 60), WorkerOptions(), 2);
  CostPrediction hevc8 =
      Model().Predict(PhoneClip("hevc", 1920, 1080, 8, 30, false, 60), WorkerOptions(), 2);
  EXPECT_DOUBLE_EQ(vp9.cpu_s, hevc8.cpu_s);
  EXPECT_GE(vp9.cpu_s, h264.cpu_s);
}

TEST(CostModelTest, AHigherBitrateCostsMoreToDecode) {
  MediaInfo modest = Hevc4k();
  MediaInfo phone = Hevc4k();
  modest.video->bit_rate = 2'000'000;
  phone.video->bit_rate = 60'000'000;
  EXPECT_GT(Model().Predict(phone, WorkerOptions(), 2).cpu_s,
            Model().Predict(modest, WorkerOptions(), 2).cpu_s);
  // Without the stream's rate, the file's size stands for it.
  MediaInfo unknown = phone;
  unknown.video->bit_rate = 0;
  unknown.size_bytes = 60'000'000 / 8 * 60;
  EXPECT_NEAR(Model().Predict(unknown, WorkerOptions(), 2).cpu_s,
              Model().Predict(phone, WorkerOptions(), 2).cpu_s, 1e-6);
}

TEST(CostModelTest, HdrCostsMoreThanTheSameSdrPictures) {
  CostPrediction sdr =
      Model().Predict(PhoneClip("hevc", 3840, 2160, 10, 60, false, 30), WorkerOptions(), 2);
  CostPrediction hdr = Model().Predict(Hevc4k(60, 30), WorkerOptions(), 2);
  EXPECT_GT(hdr.cpu_s, sdr.cpu_s);
  EXPECT_GT(hdr.peak_memory_mb, sdr.peak_memory_mb);
}

TEST(CostModelTest, FasterPresetsCostLessCpu) {
  double veryfast = Model().Predict(Hevc4k(), WorkerOptions(2, "veryfast"), 2).cpu_s;
  double superfast = Model().Predict(Hevc4k(), WorkerOptions(2, "superfast"), 2).cpu_s;
  double ultrafast = Model().Predict(Hevc4k(), WorkerOptions(2, "ultrafast"), 2).cpu_s;
  double medium = Model().Predict(Hevc4k(), WorkerOptions(2, "medium"), 2).cpu_s;
  EXPECT_LT(ultrafast, veryfast);
  EXPECT_LE(ultrafast, superfast);
  EXPECT_LE(superfast, veryfast);
  EXPECT_GT(medium, veryfast);
}

TEST(CostModelTest, AThirtyFpsCapCostsLessOnASixtyFpsSource) {
  TranscodeOptions capped = WorkerOptions();
  capped.max_frame_rate = 30;
  CostPrediction full = Model().Predict(Hevc4k(60), WorkerOptions(), 2);
  CostPrediction half = Model().Predict(Hevc4k(60), capped, 2);
  EXPECT_LT(half.cpu_s, full.cpu_s);
  EXPECT_LT(half.wall_s, full.wall_s);
  // The dropped pictures are still decoded: more than a 30 fps source of the same length.
  CostPrediction native30 = Model().Predict(Hevc4k(30), capped, 2);
  EXPECT_GT(half.cpu_s, native30.cpu_s);
  // A cap above the source's rate changes nothing.
  EXPECT_DOUBLE_EQ(Model().Predict(Hevc4k(30), WorkerOptions(), 2).cpu_s, native30.cpu_s);
}

TEST(CostModelTest, APassthroughRemuxCostsFarLessThanAReEncode) {
  MediaInfo compliant = PhoneClip("h264", 1280, 720, 8, 30, false, 60);
  compliant.video->bit_rate = 1'000'000;
  TranscodeOptions forced = WorkerOptions();
  forced.allow_passthrough = false;
  ASSERT_TRUE(MakePlan(compliant, WorkerOptions()).passthrough);
  CostPrediction remux = Model().Predict(compliant, WorkerOptions(), 2);
  CostPrediction encode = Model().Predict(compliant, forced, 2);
  EXPECT_GT(remux.cpu_s, 0);
  // Not free: the storyboard and thumbnail still decode part of the video (measured: about a
  // fifth of a second of CPU per second of 720p with the clips' sparse keyframes).
  EXPECT_LT(remux.cpu_s * 2, encode.cpu_s);
  EXPECT_LT(remux.peak_memory_mb, encode.peak_memory_mb);
}

TEST(CostModelTest, MoreThreadsNeverMeanMoreWall) {
  double previous = Model().Predict(Hevc4k(), WorkerOptions(1), 8).wall_s;
  for (int threads = 2; threads <= 8; ++threads) {
    double wall = Model().Predict(Hevc4k(), WorkerOptions(threads), 8).wall_s;
    EXPECT_LE(wall, previous) << threads << " threads";
    previous = wall;
  }
  // Threads beyond the cores the job has buy nothing.
  CostPrediction two_on_one = Model().Predict(Hevc4k(), WorkerOptions(2), 1);
  CostPrediction two_on_two = Model().Predict(Hevc4k(), WorkerOptions(2), 2);
  EXPECT_GT(two_on_one.wall_s, two_on_two.wall_s);
  EXPECT_NEAR(two_on_one.wall_s, two_on_one.cpu_s, 1e-9);
}

TEST(CostModelTest, TimeGrowsWithDurationAndMemoryDoesNot) {
  CostPrediction one = Model().Predict(Hevc4k(60, 60), WorkerOptions(), 2);
  CostPrediction three = Model().Predict(Hevc4k(60, 180), WorkerOptions(), 2);
  // Proportional apart from the fixed start-up: the per-second part triples.
  const double fixed = Model().Predict(Hevc4k(60, 0), WorkerOptions(), 2).cpu_s;
  EXPECT_GT(one.cpu_s, fixed);
  EXPECT_NEAR((three.cpu_s - fixed) / (one.cpu_s - fixed), 3.0, 1e-6);
  EXPECT_GT(three.wall_s, 2.5 * one.wall_s);
  EXPECT_DOUBLE_EQ(one.peak_memory_mb, three.peak_memory_mb);
}

TEST(CostModelTest, RenditionsAndABiggerOutputCostMore) {
  TranscodeOptions with_rung = WorkerOptions();
  with_rung.renditions = {360};
  TranscodeOptions full_hd = WorkerOptions();
  full_hd.max_size = {1920, 1080};
  CostPrediction base = Model().Predict(Hevc4k(), WorkerOptions(), 2);
  EXPECT_GT(Model().Predict(Hevc4k(), with_rung, 2).cpu_s, base.cpu_s);
  EXPECT_GT(Model().Predict(Hevc4k(), full_hd, 2).cpu_s, base.cpu_s);
  EXPECT_GT(Model().Predict(Hevc4k(), full_hd, 2).peak_memory_mb, base.peak_memory_mb);
}

TEST(CostModelTest, PortraitCostsTheSameAsLandscape) {
  CostPrediction landscape = Model().Predict(Hevc4k(), WorkerOptions(), 2);
  CostPrediction portrait =
      Model().Predict(PhoneClip("hevc", 2160, 3840, 10, 60, true, 60), WorkerOptions(), 2);
  EXPECT_NEAR(portrait.cpu_s, landscape.cpu_s, 1e-9);
  EXPECT_NEAR(portrait.peak_memory_mb, landscape.peak_memory_mb, 1e-9);
}

// The model's inputs come from real probes, as the worker stores them.
TEST(CostModelTest, BuiltinPredictsFinitePositiveCostsForTheFixtures) {
  for (const char* name : {"landscape_1080p.mp4", "compliant_720p.mp4", "hdr10_hevc.mp4",
                           "rot90.mp4", "fps120.mp4", "interlaced.ts", "real_pens_portrait.mp4"}) {
    MediaInfo probed = testing::ProbeFile(testing::Fixture(name));
    ASSERT_TRUE(probed.video) << name;
    auto stored = MediaInfoFromJson(ToJson(probed));
    ASSERT_TRUE(stored.ok()) << name << ": " << stored.status().ToString();
    for (int threads : {1, 2}) {
      CostPrediction p = Model().Predict(stored.value(), WorkerOptions(threads), threads);
      EXPECT_TRUE(std::isfinite(p.cpu_s) && p.cpu_s > 0) << name;
      EXPECT_TRUE(std::isfinite(p.wall_s) && p.wall_s > 0) << name;
      EXPECT_TRUE(std::isfinite(p.peak_memory_mb) && p.peak_memory_mb > 0) << name;
      EXPECT_LE(p.wall_s, p.cpu_s + 1e-9) << name;
      CostPrediction direct = Model().Predict(probed, WorkerOptions(threads), threads);
      // The stored probe rounds the frame rate to 3 decimals (29.97): nearly the same.
      EXPECT_NEAR(p.cpu_s, direct.cpu_s, 1e-4 * direct.cpu_s) << name;
    }
  }
}

}  // namespace
}  // namespace vidproc::media
