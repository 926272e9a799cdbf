#include <gtest/gtest.h>

#include "media/video_pipeline.h"

namespace vidproc::media {
namespace {

TEST(FilterChainTest, PlainScaleEndsSquareAndYuv420p) {
  Plan plan;
  plan.width = 1280;
  plan.height = 720;
  EXPECT_EQ(BuildVideoFilterChain(plan, "bt709"),
            "scale=w=1280:h=720:flags=bicubic:out_range=tv,setsar=1,format=yuv420p");
}

TEST(FilterChainTest, QuarterTurnScalesToTheUnrotatedSizeThenTransposes) {
  Plan plan;
  plan.width = 720;
  plan.height = 1280;
  plan.rotation = 90;
  std::string chain = BuildVideoFilterChain(plan, "");
  EXPECT_NE(chain.find("scale=w=1280:h=720"), std::string::npos) << chain;
  EXPECT_NE(chain.find("transpose=clock"), std::string::npos) << chain;
  EXPECT_LT(chain.find("scale="), chain.find("transpose="));
  plan.rotation = 270;
  EXPECT_NE(BuildVideoFilterChain(plan, "").find("transpose=cclock"), std::string::npos);
  plan.rotation = 180;
  EXPECT_NE(BuildVideoFilterChain(plan, "").find("hflip,vflip"), std::string::npos);
}

TEST(FilterChainTest, DeinterlacesFirstAndToneMapsHdr) {
  Plan plan;
  plan.width = 1280;
  plan.height = 720;
  plan.deinterlace = true;
  plan.tone_map = true;
  std::string chain = BuildVideoFilterChain(plan, "arib-std-b67");
  EXPECT_EQ(chain.find("yadif"), 0u) << chain;
  EXPECT_NE(chain.find("tin=arib-std-b67"), std::string::npos) << chain;
  EXPECT_NE(chain.find("tonemap="), std::string::npos) << chain;
}

}  // namespace
}  // namespace vidproc::media
