#include <gtest/gtest.h>

#include <cerrno>

#include "media/av_error.h"

extern "C" {
#include <libavutil/error.h>
}

namespace vidproc::media {
namespace {

TEST(ReadStopStatusTest, EndOfDataIsLeftToTheFileChecks) {
  EXPECT_TRUE(ReadStopStatus(AVERROR_EOF, 0).ok());
  EXPECT_TRUE(ReadStopStatus(AVERROR_EOF, AVERROR_EOF).ok());
}

TEST(ReadStopStatusTest, DamagedDataIsLeftToTheFileChecks) {
  EXPECT_TRUE(ReadStopStatus(AVERROR_INVALIDDATA, 0).ok());
  EXPECT_TRUE(ReadStopStatus(AVERROR(EINVAL), 0).ok());
  EXPECT_TRUE(ReadStopStatus(AVERROR(ENOMEM), 0).ok());
}

TEST(ReadStopStatusTest, SystemReadErrorIsRetriedNotAVerdictOnTheFile) {
  for (int e : {EIO, ENXIO, ENODEV, ESTALE, ETIMEDOUT, ENOLINK, EREMOTEIO, ECONNRESET}) {
    Status s = ReadStopStatus(AVERROR(e), 0);
    EXPECT_EQ(s.code(), ErrorCode::kInputReadFailed) << e << ": " << s.ToString();
    EXPECT_FALSE(IsInputError(s.code())) << e;
  }
}

TEST(ReadStopStatusTest, FailedReadReportedAsEndOfFileIsASystemError) {
  // Demuxers often see a failed read only as a short one; the I/O context keeps the real error.
  Status eof = ReadStopStatus(AVERROR_EOF, AVERROR(EIO));
  EXPECT_EQ(eof.code(), ErrorCode::kInputReadFailed) << eof.ToString();
  Status damaged = ReadStopStatus(AVERROR_INVALIDDATA, AVERROR(EBADF));
  EXPECT_EQ(damaged.code(), ErrorCode::kInputReadFailed) << damaged.ToString();
}

TEST(ReadStopStatusTest, InterruptIsCancellation) {
  EXPECT_EQ(ReadStopStatus(AVERROR_EXIT, 0).code(), ErrorCode::kCancelled);
  EXPECT_EQ(ReadStopStatus(AVERROR_EOF, AVERROR_EXIT).code(), ErrorCode::kCancelled);
}

}  // namespace
}  // namespace vidproc::media
