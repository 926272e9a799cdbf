// Admission: a job is fitted to its time limit with the cheapest settings it needs, and refused
// before it starts when even the cheapest would not finish. The predictions are the built-in
// model's; the time limits are set around them, so the tests hold for any calibration.
#include "worker/admission.h"

#include <gtest/gtest.h>

#include "support/media_info.h"

namespace vidproc::worker {
namespace {

// A 4K HLG phone clip (HEVC Main10).
media::MediaInfo PhoneClip(double seconds, double fps) {
  return vidproc::testing::ClipInfo({"hevc", 3840, 2160, 10, fps, true, seconds, 50'000'000});
}

class AdmissionTest : public ::testing::Test {
 protected:
  media::CostPrediction Predict(const std::string& preset, int max_fps, double cores = 2) const {
    media::TranscodeOptions options;
    options.threads = configured_.threads;
    options.preset = preset;
    options.max_frame_rate = max_fps;
    return model_.Predict(clip_, options, cores);
  }
  Fit FitIn(double seconds_left, CoreShare cores = {2, 2}) const {
    return FitToTime(model_, clip_, media::TranscodeOptions{}, configured_, cores, seconds_left,
                     600);
  }

  const media::CostModel& model_ = media::CostModel::Builtin();
  const media::MediaInfo clip_ = PhoneClip(180, 60);
  const JobSettings configured_{2, "veryfast", 60};
};

TEST_F(AdmissionTest, AJobThatFitsKeepsTheConfiguredSettings) {
  Fit fit = FitIn(1e9);
  EXPECT_TRUE(fit.refusal.ok());
  EXPECT_FALSE(fit.cheaper);
  EXPECT_EQ(fit.settings.preset, "veryfast");
  EXPECT_EQ(fit.settings.max_fps, 60);
  EXPECT_DOUBLE_EQ(fit.predicted.wall_s, Predict("veryfast", 60).wall_s);
  EXPECT_EQ(AdmissionJson(fit)["fitted_to_timeout"], false);
}

TEST_F(AdmissionTest, AJobThatWouldNotFitGetsTheFirstCheaperSettingsThatDo) {
  const double veryfast = Predict("veryfast", 60).wall_s;
  const double superfast = Predict("superfast", 60).wall_s;
  ASSERT_LT(superfast, veryfast) << "the model must know superfast is cheaper";
  // Between the two: superfast fits the share of the time left, veryfast does not.
  const double left = (veryfast + superfast) / 2 / kTimeShareToFit;
  Fit fit = FitIn(left);
  EXPECT_TRUE(fit.refusal.ok());
  EXPECT_TRUE(fit.cheaper);
  EXPECT_EQ(fit.settings.preset, "superfast");
  EXPECT_EQ(fit.settings.max_fps, 60) << "the frame rate is the last thing given up";
  EXPECT_LE(fit.predicted.wall_s, kTimeShareToFit * left);
  EXPECT_NE(fit.reason.find("VIDEO_PROCESSING_TIMEOUT"), std::string::npos) << fit.reason;
  nlohmann::json summary = AdmissionJson(fit);
  EXPECT_EQ(summary["preset"], "superfast");
  EXPECT_EQ(summary["fitted_to_timeout"], true);
}

TEST_F(AdmissionTest, TheFrameRateCapComesAfterTheFastestPreset) {
  const double ultrafast = Predict("ultrafast", 60).wall_s;
  const double capped = Predict("ultrafast", 30).wall_s;
  ASSERT_LT(capped, ultrafast);
  Fit fit = FitIn((ultrafast + capped) / 2 / kTimeShareToFit);
  EXPECT_TRUE(fit.refusal.ok());
  EXPECT_EQ(fit.settings.preset, "ultrafast");
  EXPECT_EQ(fit.settings.max_fps, 30);
}

TEST_F(AdmissionTest, AJobThatCannotFitEvenAtTheCheapestIsRefusedWithTheSettingToRaise) {
  const double cheapest = Predict("ultrafast", 30).wall_s;
  Fit fit = FitIn(cheapest * 0.9);
  EXPECT_EQ(fit.refusal.code(), ErrorCode::kWouldExceedTimeout);
  EXPECT_EQ(fit.refusal.code_name(), "would_exceed_timeout");
  EXPECT_NE(fit.refusal.message().find("VIDEO_PROCESSING_TIMEOUT"), std::string::npos);
  EXPECT_NE(fit.refusal.message().find(std::to_string(std::lround(cheapest)) + " s"),
            std::string::npos)
      << fit.refusal.message();
  // Over the share but within the time itself: it runs, with the cheapest settings.
  Fit tight = FitIn(cheapest * 1.1);
  EXPECT_TRUE(tight.refusal.ok());
  EXPECT_EQ(tight.settings.preset, "ultrafast");
  EXPECT_EQ(tight.settings.max_fps, 30);
}

TEST_F(AdmissionTest, SettingsAreFittedToTheCoresLeftWhenEverySlotIsBusy) {
  // Alone on two cores the configured settings fit; sharing them with another job they would not.
  const double alone = Predict("veryfast", 60, 2).wall_s;
  const double shared = Predict("veryfast", 60, 1).wall_s;
  ASSERT_LT(alone, shared) << "the model must know a job alone on two cores is faster";
  const double left = (alone + shared) / 2 / kTimeShareToFit;
  EXPECT_FALSE(FitIn(left, {2, 2}).cheaper) << "nothing else can run beside it";
  Fit fit = FitIn(left, {2, 1});
  EXPECT_TRUE(fit.refusal.ok());
  EXPECT_TRUE(fit.cheaper);
  EXPECT_NE(fit.settings.preset, "veryfast");
  EXPECT_NE(fit.reason.find("sharing the cores"), std::string::npos) << fit.reason;
  // What is shown and booked is the prediction for the cores it has now.
  EXPECT_DOUBLE_EQ(fit.predicted.wall_s,
                   Predict(fit.settings.preset, fit.settings.max_fps, 2).wall_s);
  // Refused only when it would not finish even with the cores it has now.
  const double cheapest_alone = Predict("ultrafast", 30, 2).wall_s;
  const double cheapest_shared = Predict("ultrafast", 30, 1).wall_s;
  Fit tight = FitIn((cheapest_alone + cheapest_shared) / 2, {2, 1});
  EXPECT_TRUE(tight.refusal.ok()) << tight.refusal.message();
  EXPECT_EQ(tight.settings.preset, "ultrafast");
  EXPECT_EQ(tight.settings.max_fps, 30);
}

TEST_F(AdmissionTest, ASourceAt30FpsIsNeverCappedAndAFastPresetIsKept) {
  const media::MediaInfo slow = PhoneClip(600, 30);
  Fit fit =
      FitToTime(model_, slow, media::TranscodeOptions{}, {2, "ultrafast", 60}, {2, 2}, 1.0, 600);
  EXPECT_EQ(fit.refusal.code(), ErrorCode::kWouldExceedTimeout);
  EXPECT_EQ(fit.settings.preset, "ultrafast");
  EXPECT_EQ(fit.settings.max_fps, 60) << "a cap above the source's rate saves nothing";
}

}  // namespace
}  // namespace vidproc::worker
