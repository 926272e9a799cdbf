// The engine on real and synthetic files: every property of a web-ready output is checked by
// probing and decoding the output, never by trusting the engine's own summary.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include "media/thumbnail.h"
#include "media/transcoder.h"
#include "media_test_util.h"
#include "support/shell.h"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;

class TranscodeTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir(); }

  Result<TranscodeResult> Run(const std::string& fixture, TranscodeOptions options = {}) {
    TranscodeRequest request;
    request.input = Fixture(fixture);
    request.output = out();
    request.thumbnail = thumb();
    request.options = options;
    auto r = Transcode(request, nullptr, nullptr);
    passthrough_ = r.ok() && r->passthrough;
    return r;
  }

  // The checks every successful output must pass.
  void ExpectWebReady(const std::string& fixture, int width, int height) {
    MediaInfo src = ProbeFile(Fixture(fixture));
    MediaInfo o = ProbeFile(out());
    ASSERT_TRUE(o.video.has_value());
    EXPECT_EQ(o.container, "mov");
    EXPECT_EQ(o.video->codec, "h264");
    EXPECT_EQ(o.video->width, width);
    EXPECT_EQ(o.video->height, height);
    EXPECT_EQ(o.video->width % 2, 0);
    EXPECT_EQ(o.video->height % 2, 0);
    EXPECT_EQ(o.video->rotation, 0);
    EXPECT_FALSE(HasDisplayMatrix(out())) << "a rotation tag was left in the output";
    VideoCodecFacts facts = VideoFacts(out());
    EXPECT_EQ(facts.pixel_format, "yuv420p");
    EXPECT_TRUE(facts.sar_num == 0 || facts.sar_num == facts.sar_den)
        << facts.sar_num << ":" << facts.sar_den;
    std::vector<std::string> boxes = TopLevelBoxes(out());
    auto moov = std::find(boxes.begin(), boxes.end(), "moov");
    auto mdat = std::find(boxes.begin(), boxes.end(), "mdat");
    ASSERT_NE(moov, boxes.end());
    ASSERT_NE(mdat, boxes.end());
    EXPECT_LT(moov - boxes.begin(), mdat - boxes.begin()) << "moov must come before mdat";
    EXPECT_NEAR(o.duration_s, src.duration_s, 0.1);
    EXPECT_LE(CountStreams(out(), AVMEDIA_TYPE_VIDEO), 1);
    EXPECT_EQ(CountStreams(out(), AVMEDIA_TYPE_SUBTITLE), 0);
    if (const AudioStreamInfo* a = o.audio_stream()) {
      EXPECT_EQ(a->codec, "aac");
      EXPECT_EQ(a->profile, "LC");
      if (passthrough_) {  // remuxed as it is: any AAC-LC a browser plays
        EXPECT_LE(a->channels, 2);
      } else {
        EXPECT_EQ(a->channels, 2);
        EXPECT_EQ(a->sample_rate, 48000);
      }
      EXPECT_EQ(CountStreams(out(), AVMEDIA_TYPE_AUDIO), 1);
    }
    // The thumbnail decodes and fits the box.
    FramePtr t = DecodePictureAt(thumb(), 0);
    ASSERT_TRUE(t) << "the thumbnail does not decode";
    EXPECT_LE(std::max(t->width, t->height), 1280);
    EXPECT_LE(std::min(t->width, t->height), 720);
  }

  std::string out() const { return dir_ + "/out.mp4"; }
  std::string thumb() const { return dir_ + "/thumb.jpg"; }
  std::string dir_;
  bool passthrough_ = false;
};

TEST_F(TranscodeTest, RealLandscape1080pBecomes720pHighProfile) {
  auto r = Run("real_1080p.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->passthrough);
  ExpectWebReady("real_1080p.mp4", 1280, 720);
  EXPECT_EQ(VideoFacts(out()).profile, FF_PROFILE_H264_HIGH);
  EXPECT_TRUE(ProbeFile(out()).audio_stream() != nullptr);
}

TEST_F(TranscodeTest, BitrateStaysInTheTargetBand) {
  auto r = Run("landscape_1080p.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("landscape_1080p.mp4", 1280, 720);
  MediaInfo o = ProbeFile(out());
  double kbps = o.video->bit_rate / 1000.0;
  // ABR with a 2250k VBV cap: on rich synthetic content x264 lands near the 1500k target.
  EXPECT_GT(kbps, 1500 * 0.6);
  EXPECT_LT(kbps, 1500 * 1.25);
}

TEST_F(TranscodeTest, KeyframeAtLeastEveryTwoSeconds) {
  ASSERT_TRUE(Run("landscape_1080p.mp4").ok());
  std::vector<double> keys = VideoFrameTimes(out(), /*keyframes_only=*/true);
  ASSERT_GE(keys.size(), 2u);
  EXPECT_NEAR(keys.front(), 0, 0.05);
  keys.push_back(ProbeFile(out()).duration_s);
  for (size_t i = 1; i < keys.size(); ++i) EXPECT_LE(keys[i] - keys[i - 1], 2.0 + 0.04);
}

struct RotationCase {
  const char* fixture;
  int width, height;
  // Where the white half of the pattern must end up: the fraction rectangle that is white.
  double x0, y0, x1, y1;
};

class RotationTest : public TranscodeTest, public ::testing::WithParamInterface<RotationCase> {};

TEST_P(RotationTest, OutputAndThumbnailAreUpright) {
  const RotationCase& c = GetParam();
  auto r = Run(c.fixture);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady(c.fixture, c.width, c.height);
  // The source's top half is white: after applying the display matrix it lands on the side given.
  for (const std::string& path : {out(), thumb()}) {
    FramePtr p = DecodePictureAt(path, 1.0);
    ASSERT_TRUE(p) << path;
    EXPECT_EQ(p->width, c.width) << path;
    EXPECT_EQ(p->height, c.height) << path;
    double white = MeanLuma(p.get(), c.x0 + 0.05, c.y0 + 0.05, c.x1 - 0.05, c.y1 - 0.05);
    double black =
        MeanLuma(p.get(), 1 - c.x1 + 0.05, 1 - c.y1 + 0.05, 1 - c.x0 - 0.05, 1 - c.y0 - 0.05);
    if (c.x0 == 0 && c.x1 == 1) {  // white is the top or bottom half
      black = MeanLuma(p.get(), 0.05, 1 - c.y1 + 0.05, 0.95, 1 - c.y0 - 0.05);
    } else {
      black = MeanLuma(p.get(), 1 - c.x1 + 0.05, 0.05, 1 - c.x0 - 0.05, 0.95);
    }
    EXPECT_GT(white, 200) << path;
    EXPECT_LT(black, 40) << path;
  }
}

INSTANTIATE_TEST_SUITE_P(Rotations, RotationTest,
                         ::testing::Values(RotationCase{"rot0_pattern.mp4", 640, 360, 0, 0, 1, 0.5},
                                           RotationCase{"rot90.mp4", 360, 640, 0.5, 0, 1, 1},
                                           RotationCase{"rot180.mp4", 640, 360, 0, 0.5, 1, 1},
                                           RotationCase{"rot270.mp4", 360, 640, 0, 0, 0.5, 1}),
                         [](const auto& info) {
                           std::string n = info.param.fixture;
                           return n.substr(0, n.find('.'));
                         });

TEST_F(TranscodeTest, RealPortraitPhoneClipIsTurnedUpright) {
  auto r = Run("real_pens_portrait.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("real_pens_portrait.mp4", 144, 176);
}

TEST_F(TranscodeTest, NonSquarePixelsAreResampledToSquare) {
  auto r = Run("anamorphic.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("anamorphic.mp4", 1046, 576);
}

TEST_F(TranscodeTest, OddDimensionsBecomeEven) {
  auto r = Run("odd_dims.mkv");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("odd_dims.mkv", 320, 240);
}

TEST_F(TranscodeTest, VariableFrameTimingIsKept) {
  auto r = Run("vfr.mkv");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("vfr.mkv", 640, 360);
  std::vector<double> t = VideoFrameTimes(out());
  ASSERT_GT(t.size(), 10u);
  int short_gaps = 0, long_gaps = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    double gap = t[i] - t[i - 1];
    if (std::abs(gap - 1.0 / 30) < 0.005) ++short_gaps;
    if (std::abs(gap - 1.0 / 15) < 0.005) ++long_gaps;
  }
  EXPECT_GT(short_gaps, 5);
  EXPECT_GT(long_gaps, 5);
}

TEST_F(TranscodeTest, FrameRateIsCappedAt60) {
  auto r = Run("fps120.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("fps120.mp4", 640, 360);
  std::vector<double> t = VideoFrameTimes(out());
  EXPECT_NEAR(static_cast<double>(t.size()), 180, 3);  // 3 s at 60 fps
  for (size_t i = 1; i < t.size(); ++i) EXPECT_GE(t[i] - t[i - 1], 1.0 / 60 - 1e-3);
}

// Matroska and WebM write timestamps in milliseconds (1/120 s is 0.008 or 0.009): the cap must
// still keep evenly spaced frames, not let rounding pick a frame one slot early now and then.
TEST_F(TranscodeTest, TheFrameRateCapKeepsAnEvenCadenceFromMillisecondTimestamps) {
  const std::string mkv = dir_ + "/fps120.mkv";
  int code = -1;
  vidproc::testing::Shell(
      "ffmpeg -nostdin -v error -y -i '" + Fixture("fps120.mp4") + "' -c copy '" + mkv + "' 2>&1",
      &code);
  ASSERT_EQ(code, 0);
  for (double cap : {60.0, 30.0, 24.0}) {
    SCOPED_TRACE(cap);
    TranscodeRequest request;
    request.input = mkv;
    request.output = out();
    request.options.max_frame_rate = cap;
    auto r = Transcode(request, nullptr, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<double> t = VideoFrameTimes(out());
    EXPECT_NEAR(static_cast<double>(t.size()), 3 * cap, 2);
    // 120 is a multiple of 60 and 30: every gap is one slot. For 24, a slot is 5 source frames.
    for (size_t i = 1; i < t.size(); ++i) {
      EXPECT_NEAR(t[i] - t[i - 1], 1.0 / cap, 0.0021) << "frame " << i << " at " << t[i];
    }
  }
}

TEST_F(TranscodeTest, InterlacedSourceIsDeinterlaced) {
  MediaInfo src = ProbeFile(Fixture("interlaced.ts"));
  ASSERT_TRUE(src.video && src.video->interlaced);
  auto r = Run("interlaced.ts");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("interlaced.ts", 1280, 720);
  EXPECT_NE(VideoFacts(out()).field_order, "interlaced");
}

TEST_F(TranscodeTest, HdrHevcBecomesSdr8BitWithoutColourCast) {
  for (const char* fixture : {"hdr10_hevc.mp4", "hlg_hevc.mkv"}) {
    SCOPED_TRACE(fixture);
    auto r = Run(fixture);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectWebReady(fixture, 1280, 720);
    MediaInfo o = ProbeFile(out());
    EXPECT_EQ(o.video->bit_depth, 8);
    EXPECT_EQ(o.video->color_transfer, "bt709");
    EXPECT_FALSE(o.video->hdr);
    FramePtr p = DecodePictureAt(out(), 1.0);
    ASSERT_TRUE(p);
    // Not washed out (contrast survives) and not green (chroma near neutral on average).
    FrameScore s = ScoreFrame(p.get());
    EXPECT_GT(s.luma_stddev, 20);
    EXPECT_LT(s.chroma_offset, 30);
  }
}

TEST_F(TranscodeTest, Vp9OpusWebmBecomesH264Aac) {
  auto r = Run("vp9_opus.webm");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("vp9_opus.webm", 640, 360);
  ASSERT_NE(ProbeFile(out()).audio_stream(), nullptr);
}

TEST_F(TranscodeTest, RealFootageInOtherContainers) {
  struct Case {
    const char* fixture;
    int width, height;
  };
  for (Case c : {Case{"real_720p.mp4", 1280, 720}, Case{"real_theora.ogg", 720, 480},
                 Case{"real_mpeg2.mpeg", 640, 480}, Case{"real_h264.avi", 1024, 576}}) {
    SCOPED_TRACE(c.fixture);
    auto r = Run(c.fixture);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectWebReady(c.fixture, c.width, c.height);
  }
}

TEST_F(TranscodeTest, NoAudioSourceGivesNoAudioTrack) {
  auto r = Run("no_audio.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("no_audio.mp4", 640, 360);
  EXPECT_EQ(CountStreams(out(), AVMEDIA_TYPE_AUDIO), 0);
}

TEST_F(TranscodeTest, KeepsOnlyTheDefaultAudioAndDropsSubtitlesAndMetadata) {
  ASSERT_FALSE(ContainerMetadata(Fixture("multi_audio_subs.mkv"), "title").empty());
  auto r = Run("multi_audio_subs.mkv");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("multi_audio_subs.mkv", 640, 360);
  EXPECT_EQ(CountStreams(out(), AVMEDIA_TYPE_AUDIO), 1);
  EXPECT_EQ(CountStreams(out(), AVMEDIA_TYPE_SUBTITLE), 0);
  // The default track is the 880 Hz one (the first track is 440 Hz).
  EXPECT_NEAR(DominantAudioFrequency(out()), 880, 40);
  EXPECT_EQ(ContainerMetadata(out(), "title"), "");
  EXPECT_EQ(ContainerMetadata(out(), "encoder"), "");
}

TEST_F(TranscodeTest, SingleFrameVideo) {
  auto r = Run("one_frame.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(VideoFrameTimes(out()).size(), 1u);
  EXPECT_TRUE(FileExists(thumb()));
}

TEST_F(TranscodeTest, MoovAtTheEndOfTheInputIsMovedToTheFront) {
  std::vector<std::string> in_boxes = TopLevelBoxes(Fixture("moov_at_end.mp4"));
  ASSERT_EQ(in_boxes.back(), "moov");
  auto r = Run("moov_at_end.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectWebReady("moov_at_end.mp4", 640, 360);
}

TEST_F(TranscodeTest, CompliantFileIsRemuxedNotReencoded) {
  auto r = Run("compliant_720p.mp4");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->passthrough) << r->reason;
  ExpectWebReady("compliant_720p.mp4", 1280, 720);
  // Remuxed: the very same number of video packets and a bitrate equal to the source's.
  EXPECT_EQ(VideoFrameTimes(out()).size(), VideoFrameTimes(Fixture("compliant_720p.mp4")).size());
  EXPECT_NEAR(ProbeFile(out()).video->bit_rate,
              ProbeFile(Fixture("compliant_720p.mp4")).video->bit_rate, 20'000);
}

TEST_F(TranscodeTest, ForceEncodeReencodesACompliantFile) {
  TranscodeOptions options;
  options.allow_passthrough = false;
  auto r = Run("compliant_720p.mp4", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->passthrough);
  ExpectWebReady("compliant_720p.mp4", 1280, 720);
}

TEST_F(TranscodeTest, SmallerBoxAndBitrateAreHonoured) {
  TranscodeOptions options;
  options.max_size = {640, 360};
  options.video_bitrate = 600'000;
  auto r = Run("landscape_1080p.mp4", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  MediaInfo o = ProbeFile(out());
  EXPECT_EQ(o.video->width, 640);
  EXPECT_EQ(o.video->height, 360);
  EXPECT_LT(o.video->bit_rate, 600'000 * 1.25);
}

TEST_F(TranscodeTest, ProgressIsMonotonicAndReachesTheEnd) {
  TranscodeRequest request;
  request.input = Fixture("landscape_1080p.mp4");
  request.output = out();
  std::vector<double> seen;
  double total = 0;
  auto r = Transcode(
      request,
      [&](double done, double t) {
        seen.push_back(done);
        total = t;
      },
      nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_GT(seen.size(), 10u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_NEAR(total, 4.0, 0.01);
  EXPECT_NEAR(seen.back(), total, 0.2);
}

class CancellationTest : public TranscodeTest, public ::testing::WithParamInterface<int> {};

TEST_P(CancellationTest, StopsWithinOneSecondAndLeavesNothing) {
  TranscodeRequest request;
  request.input = Fixture("landscape_1080p.mp4");
  request.output = out();
  request.thumbnail = thumb();
  request.options.preset = "medium";     // slow enough to still be running when cancelled
  request.options.threads = GetParam();  // 1: inline; 2: reader thread + encoder thread
  CancelToken cancel;
  std::atomic<bool> started{false};
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // mid-transcode
    cancelled_at = std::chrono::steady_clock::now();
    cancel.Cancel();
  });
  auto r = Transcode(
      request, [&](double, double) { started = true; }, &cancel);
  auto returned_at = std::chrono::steady_clock::now();
  canceller.join();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kCancelled);
  EXPECT_LT(std::chrono::duration<double>(returned_at - cancelled_at).count(), 1.0);
  EXPECT_TRUE(ListDir(dir_).empty()) << "left behind: " << ListDir(dir_).front();
}

INSTANTIATE_TEST_SUITE_P(ThreadBudgets, CancellationTest, ::testing::Values(1, 2));

// Threads of this process, from the kernel.
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST_F(TranscodeTest, ThreadBudgetOfOneRunsOnOneThread) {
  TranscodeRequest request;
  request.input = Fixture("landscape_1080p.mp4");
  request.output = out();
  request.options.threads = 1;
  int baseline = ThreadCount();
  int peak = 0;
  auto r = Transcode(
      request, [&](double, double) { peak = std::max(peak, ThreadCount()); }, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(peak, baseline) << "a one-thread budget started extra threads";
  request.options.threads = 2;
  peak = 0;
  ASSERT_TRUE(Transcode(
                  request, [&](double, double) { peak = std::max(peak, ThreadCount()); }, nullptr)
                  .ok());
  EXPECT_GT(peak, baseline);
}

}  // namespace
}  // namespace vidproc::media
