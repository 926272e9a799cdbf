#include "cli/args.h"

#include <gtest/gtest.h>

namespace vidproc::cli {
namespace {

TEST(ArgsTest, SeparatesPositionalsValuesAndFlags) {
  const char* argv[] = {"vidproc", "transcode", "in.mov",       "--preset",
                        "fast",    "out.mp4",   "--bitrate=2M", "--force-encode"};
  auto args =
      Args::Parse(8, const_cast<char**>(argv), 2, {{"--preset", "--bitrate"}, {"--force-encode"}});
  ASSERT_TRUE(args.ok()) << args.status().ToString();
  ASSERT_EQ(args->positional().size(), 2u);
  EXPECT_EQ(args->positional()[0], "in.mov");
  EXPECT_EQ(args->positional()[1], "out.mp4");
  EXPECT_EQ(args->get("--preset").value(), "fast");
  EXPECT_EQ(args->get("--bitrate").value(), "2M");
  EXPECT_TRUE(args->has("--force-encode"));
}

TEST(ArgsTest, RejectsUnknownOptionsAndMissingValues) {
  const char* unknown[] = {"vidproc", "transcode", "--frobnicate"};
  EXPECT_FALSE(Args::Parse(3, const_cast<char**>(unknown), 2, {}).ok());
  const char* missing[] = {"vidproc", "transcode", "--preset"};
  EXPECT_FALSE(Args::Parse(3, const_cast<char**>(missing), 2, {{"--preset"}, {}}).ok());
}

}  // namespace
}  // namespace vidproc::cli
