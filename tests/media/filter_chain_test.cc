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

TEST(FilterChainTest, DeinterlacesFirstAndScalesHdrInItsOwnEncodingForTheToneMapTable) {
  Plan plan;
  plan.width = 1280;
  plan.height = 720;
  plan.deinterlace = true;
  plan.tone_map = true;
  std::string chain = BuildVideoFilterChain(plan, "arib-std-b67");
  EXPECT_EQ(chain.find("yadif"), 0u) << chain;
  // Scaled in the source's encoding, no linear light and no float stage: ToneMapLut maps the
  // scaled picture, which keeps full chroma for it.
  EXPECT_NE(chain.find("zscale=w=1280:h=720:f=bicubic"), std::string::npos) << chain;
  EXPECT_EQ(chain.find("tonemap"), std::string::npos) << chain;
  EXPECT_EQ(chain.find("linear"), std::string::npos) << chain;
  EXPECT_EQ(chain.find("gbrpf32"), std::string::npos) << chain;
  EXPECT_EQ(chain.substr(chain.rfind(',') + 1), "format=yuv444p10le") << chain;
}

TEST(FilterChainTest, ReferenceToneMapChainIsTheFloatHableChain) {
  Plan plan;
  plan.width = 1280;
  plan.height = 720;
  plan.tone_map = true;
  std::string chain = BuildVideoFilterChain(plan, "arib-std-b67", true);
  EXPECT_NE(chain.find("zscale=w=1280:h=720:f=bicubic:tin=arib-std-b67"), std::string::npos)
      << chain;
  EXPECT_NE(chain.find("tonemap=tonemap=hable:desat=0"), std::string::npos) << chain;
  EXPECT_EQ(chain.substr(chain.rfind(',') + 1), "format=yuv420p") << chain;
}

}  // namespace
}  // namespace vidproc::media
