#include "core/units.h"

#include <gtest/gtest.h>

namespace vidproc {
namespace {

TEST(UnitsTest, ParsesBitrates) {
  EXPECT_EQ(ParseBitrate("1500k").value(), 1'500'000);
  EXPECT_EQ(ParseBitrate("1.5M").value(), 1'500'000);
  EXPECT_EQ(ParseBitrate("800000").value(), 800'000);
  EXPECT_FALSE(ParseBitrate("fast").ok());
  EXPECT_FALSE(ParseBitrate("1k").ok());  // below 50k
  EXPECT_FALSE(ParseBitrate("").ok());
}

TEST(UnitsTest, ParsesSizes) {
  auto s = ParseSize("1280x720");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->width, 1280);
  EXPECT_EQ(s->height, 720);
  EXPECT_FALSE(ParseSize("1280").ok());
  EXPECT_FALSE(ParseSize("0x720").ok());
  EXPECT_FALSE(ParseSize("axb").ok());
}

TEST(UnitsTest, ParsesBoundedIntegers) {
  EXPECT_EQ(ParseInteger("4", 1, 64).value(), 4);
  EXPECT_FALSE(ParseInteger("0", 1, 64).ok());
  EXPECT_FALSE(ParseInteger("4x", 1, 64).ok());
}

}  // namespace
}  // namespace vidproc
