#include <gtest/gtest.h>

#include "media/stage.h"

namespace vidproc::media {
namespace {

TEST(RescaleTimestampTest, MissingTimestampStaysMissing) {
  // A filter may hand out a picture without a timestamp; rescaled as a number it would look like
  // a real (very early) time and pass the pipeline's "strictly increasing" check.
  EXPECT_EQ(RescaleTimestamp(AV_NOPTS_VALUE, {1, 90000}, {1, 30}), AV_NOPTS_VALUE);
  EXPECT_EQ(RescaleTimestamp(AV_NOPTS_VALUE, {1, 1000}, {1, 1000}), AV_NOPTS_VALUE);
}

TEST(RescaleTimestampTest, OrdinaryTimestampIsRescaled) {
  EXPECT_EQ(RescaleTimestamp(180000, {1, 90000}, {1, 30}), 60);
  EXPECT_EQ(RescaleTimestamp(-3000, {1, 90000}, {1, 1000}), -33);
  EXPECT_EQ(RescaleTimestamp(0, {1, 90000}, {1, 48000}), 0);
}

}  // namespace
}  // namespace vidproc::media
