// Hostile and broken files: each is refused with its stable code, before any damage is done,
// and leaves nothing behind.
#include <gtest/gtest.h>

#include "media/limits.h"
#include "media/transcoder.h"
#include "media_test_util.h"

namespace vidproc::media {
namespace {

using namespace vidproc::media::testing;

struct BadCase {
  const char* fixture;
  ErrorCode expected;
};

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, IsRefusedWithItsCodeAndLeavesNoOutput) {
  const BadCase& c = GetParam();
  std::string dir = MakeTempDir();
  TranscodeRequest request;
  request.input = Fixture(c.fixture);
  request.output = dir + "/out.mp4";
  request.thumbnail = dir + "/thumb.jpg";
  auto r = Transcode(request, nullptr, nullptr);
  ASSERT_FALSE(r.ok()) << c.fixture << " was accepted";
  EXPECT_EQ(r.status().code_name(), CodeName(c.expected)) << r.status().ToString();
  EXPECT_FALSE(r.status().message().empty());
  EXPECT_TRUE(IsInputError(r.status().code()));
  EXPECT_TRUE(ListDir(dir).empty()) << "left behind: " << ListDir(dir).front();
}

INSTANTIATE_TEST_SUITE_P(Files, BadInputTest,
                         ::testing::Values(BadCase{"empty.mp4", ErrorCode::kEmptyFile},
                                           BadCase{"text.mp4", ErrorCode::kNotAVideo},
                                           BadCase{"image.png", ErrorCode::kNotAVideo},
                                           BadCase{"image_as.mp4", ErrorCode::kNotAVideo},
                                           BadCase{"archive.zip", ErrorCode::kNotAVideo},
                                           BadCase{"audio_only.m4a", ErrorCode::kNoVideoStream},
                                           BadCase{"truncated.mp4", ErrorCode::kTruncatedInput},
                                           BadCase{"moov_removed.mp4", ErrorCode::kTruncatedInput},
                                           BadCase{"corrupt.mp4", ErrorCode::kCorruptInput},
                                           BadCase{"huge_dims.mkv", ErrorCode::kTooLargeDimensions},
                                           BadCase{"ten_hours.mkv", ErrorCode::kTooLong},
                                           BadCase{"hls_playlist.mp4",
                                                   ErrorCode::kUnsupportedFormat},
                                           BadCase{"hls_media.mp4", ErrorCode::kUnsupportedFormat},
                                           BadCase{"ffconcat.mov", ErrorCode::kUnsupportedFormat},
                                           BadCase{"qtrle.mov", ErrorCode::kUnsupportedCodec}),
                         [](const auto& info) {
                           std::string n = info.param.fixture;
                           for (char& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(InputFileTest, MissingFileIsNotFound) {
  auto in = InputFile::Open("/nonexistent/video.mp4", InputLimits{}, nullptr);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), ErrorCode::kInputNotFound);
}

TEST(InputFileTest, ADirectoryIsNotAVideo) {
  auto in = InputFile::Open(MakeTempDir(), InputLimits{}, nullptr);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), ErrorCode::kInputReadFailed);
}

TEST(InputFileTest, LimitsAreConfigurable) {
  InputLimits tight;
  tight.max_width = 1000;
  tight.max_height = 1000;
  auto in = InputFile::Open(Fixture("landscape_1080p.mp4"), tight, nullptr);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), ErrorCode::kTooLargeDimensions);

  InputLimits short_only;
  short_only.max_duration_s = 2;
  auto open = InputFile::Open(Fixture("landscape_1080p.mp4"), short_only, nullptr);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(CheckLimits(Describe(*open.value()), short_only).code(), ErrorCode::kTooLong);

  InputLimits small_files;
  small_files.max_file_bytes = 1000;
  auto big = InputFile::Open(Fixture("landscape_1080p.mp4"), small_files, nullptr);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), ErrorCode::kTooLargeFile);
}

TEST(InputFileTest, AnHlsPlaylistIsNeverOpenedEvenWithAnAllowedName) {
  // The playlist points at a local file; the demuxer must not even be chosen, so nothing it
  // references is ever read.
  auto in = InputFile::Open(Fixture("hls_playlist.mp4"), InputLimits{}, nullptr);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), ErrorCode::kUnsupportedFormat);
  EXPECT_NE(in.status().message().find("hls"), std::string::npos);
}

TEST(InputFileTest, OnlyRealVideoContainersAreAllowed) {
  for (const char* ok : {"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts", "ogg"}) {
    EXPECT_TRUE(IsAllowedContainer(ok)) << ok;
  }
  for (const char* refused :
       {"hls", "concat", "image2", "png_pipe", "tty", "data", "dash", "subfile", "lavfi"}) {
    EXPECT_FALSE(IsAllowedContainer(refused)) << refused;
  }
}

TEST(InputFileTest, AnOffListCodecIsRefusedWhenOpenedBeforeAnyDecoding) {
  // qtrle decodes fine in FFmpeg; it is refused because no camera or editor upload needs it.
  auto in = InputFile::Open(Fixture("qtrle.mov"), InputLimits{}, nullptr);
  ASSERT_FALSE(in.ok());
  EXPECT_EQ(in.status().code(), ErrorCode::kUnsupportedCodec);
  EXPECT_NE(in.status().message().find("qtrle"), std::string::npos) << in.status().message();
}

TEST(CodecAllowlistTest, CameraAndEditorCodecsPassObscureOnesAreRefused) {
  for (AVCodecID ok : {AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_CODEC_ID_VP9, AV_CODEC_ID_AV1,
                       AV_CODEC_ID_PRORES, AV_CODEC_ID_MPEG2VIDEO, AV_CODEC_ID_MJPEG}) {
    EXPECT_TRUE(CheckCodecAllowed(ok, /*video=*/true).ok()) << avcodec_get_name(ok);
  }
  for (AVCodecID ok : {AV_CODEC_ID_AAC, AV_CODEC_ID_OPUS, AV_CODEC_ID_PCM_S16LE, AV_CODEC_ID_AMR_NB,
                       AV_CODEC_ID_EAC3, AV_CODEC_ID_ALAC}) {
    EXPECT_TRUE(CheckCodecAllowed(ok, /*video=*/false).ok()) << avcodec_get_name(ok);
  }
  for (AVCodecID refused : {AV_CODEC_ID_SMC, AV_CODEC_ID_QTRLE, AV_CODEC_ID_CINEPAK,
                            AV_CODEC_ID_PNG, AV_CODEC_ID_GIF, AV_CODEC_ID_AAC}) {
    Status s = CheckCodecAllowed(refused, /*video=*/true);
    EXPECT_EQ(s.code(), ErrorCode::kUnsupportedCodec) << avcodec_get_name(refused);
  }
  EXPECT_EQ(CheckCodecAllowed(AV_CODEC_ID_ADPCM_MS, false).code(), ErrorCode::kUnsupportedCodec);
  EXPECT_EQ(CheckCodecAllowed(AV_CODEC_ID_H264, false).code(), ErrorCode::kUnsupportedCodec);

  // The decoders libavcodec may open: those of the list, and only those.
  std::string names = "," + AllowedDecoderNames() + ",";
  for (const char* present : {",h264,", ",hevc,", ",aac,", ",prores,"}) {
    EXPECT_NE(names.find(present), std::string::npos) << present << " missing from " << names;
  }
  for (const char* absent : {",qtrle,", ",smc,", ",cinepak,", ",png,"}) {
    EXPECT_EQ(names.find(absent), std::string::npos) << absent << " in " << names;
  }
}

}  // namespace
}  // namespace vidproc::media
