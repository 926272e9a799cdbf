// Hostile and broken files: each is refused with its stable code, before any damage is done,
// and leaves nothing behind.
#include <gtest/gtest.h>

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
                                           BadCase{"ffconcat.mov", ErrorCode::kUnsupportedFormat}),
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

}  // namespace
}  // namespace vidproc::media
